"""The ingest pipeline inside one transaction: de-duplication, dead letters, workspaces."""

from __future__ import annotations

from tests.collect.events import T0, stored_dead_letters, stored_message_ids, submission, track
from unico.collect.store import DeadLetter
from unico.container import Container
from unico.workspaces.model import CreatedWorkspace


def test_a_message_id_twice_in_one_group_is_stored_once(
    container: Container, workspace: CreatedWorkspace
) -> None:
    first = submission(workspace.workspace_id, [track("m1"), track("m2")])
    second = submission(workspace.workspace_id, [track("m2"), track("m3"), track("m3")])
    with container.store.write() as conn:
        receipts = container.ingestor.pipeline.process(conn, [first, second], T0)
    assert (receipts[0].accepted, receipts[0].duplicates) == (2, 0)
    assert (receipts[1].accepted, receipts[1].duplicates) == (1, 2)
    assert stored_message_ids(container, workspace.workspace_id) == {"m1": 1, "m2": 1, "m3": 1}


def test_a_message_id_seen_in_an_earlier_transaction_is_a_duplicate(
    container: Container, workspace: CreatedWorkspace
) -> None:
    with container.store.write() as conn:
        container.ingestor.pipeline.process(
            conn, [submission(workspace.workspace_id, [track("m1")])], T0
        )
    with container.store.write() as conn:
        [receipt] = container.ingestor.pipeline.process(
            conn, [submission(workspace.workspace_id, [track("m1"), track("m2")])], T0
        )
    assert (receipt.accepted, receipt.duplicates) == (1, 1)
    assert stored_message_ids(container, workspace.workspace_id) == {"m1": 1, "m2": 1}


def test_message_ids_are_unique_per_workspace_not_globally(container: Container) -> None:
    a = container.workspaces.create("a").workspace_id
    b = container.workspaces.create("b").workspace_id
    with container.store.write() as conn:
        receipts = container.ingestor.pipeline.process(
            conn, [submission(a, [track("same")]), submission(b, [track("same")])], T0
        )
    assert [r.accepted for r in receipts] == [1, 1]
    assert stored_message_ids(container, a) == {"same": 1}
    assert stored_message_ids(container, b) == {"same": 1}


def test_dead_letters_are_stored_with_the_events_and_counted_as_rejected(
    container: Container, workspace: CreatedWorkspace
) -> None:
    letter = DeadLetter("invalid_input", "no id", "userId", '{"event":"E"}')
    with container.store.write() as conn:
        [receipt] = container.ingestor.pipeline.process(
            conn, [submission(workspace.workspace_id, [track("m1")], [letter])], T0
        )
    assert (receipt.accepted, receipt.rejected) == (1, 1)
    assert stored_dead_letters(container, workspace.workspace_id) == [
        ("invalid_input", '{"event":"E"}')
    ]
