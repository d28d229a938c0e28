"""The collect service's rules for Segment's batches, called without HTTP."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from sqlalchemy import select

from tests.collect.events import T0, stored_dead_letters, stored_message_ids
from unico.collect.service import BATCH_BODY, MAX_REPORTED_ERRORS, Answer, write_key_of
from unico.container import Container
from unico.core.clock import to_iso
from unico.core.errors import InvalidInput
from unico.db.schema import event


def batch(container: Container, workspace_id: str, raw: dict[str, Any]) -> Answer:
    return asyncio.run(container.collect.batch(workspace_id, raw, gpc=False))


def message(message_id: str, **fields: Any) -> dict[str, Any]:
    return {"type": "track", "event": "Viewed", "userId": "u1", "messageId": message_id, **fields}


def stored(container: Container, workspace_id: str) -> dict[str, Any]:
    """Each stored event by message id: its timestamp, context and integrations."""
    with container.store.read() as conn:
        rows = conn.execute(
            select(
                event.c.message_id, event.c.timestamp, event.c.context, event.c.integrations
            ).where(event.c.workspace_id == workspace_id)
        )
        return {r.message_id: r for r in rows}


def test_batch_context_and_integrations_are_defaults_under_each_message_s_own(
    running: Container,
) -> None:
    ws = running.workspaces.create("w").workspace_id
    answer = batch(
        running,
        ws,
        {
            "context": {"locale": "it-IT", "app": {"name": "shop"}},
            "integrations": {"All": False},
            "batch": [
                message("plain"),
                message("own", context={"locale": "en-GB"}, integrations={"All": True}),
            ],
        },
    )
    assert answer.status == 200
    rows = stored(running, ws)
    assert rows["plain"].context == {"locale": "it-IT", "app": {"name": "shop"}}
    assert rows["plain"].integrations == {"All": False}
    assert rows["own"].context == {"locale": "en-GB", "app": {"name": "shop"}}
    assert rows["own"].integrations == {"All": True}


def test_batch_sent_at_corrects_each_message_s_clock_unless_it_has_its_own(
    running: Container,
) -> None:
    ws = running.workspaces.create("w").workspace_id
    batch(
        running,
        ws,
        {
            # The client's clock runs 5 s behind the server's.
            "sentAt": to_iso(T0 - 5_000),
            "batch": [
                message("batch-clock", timestamp=to_iso(T0 - 10_000)),
                message("own-clock", timestamp=to_iso(T0 - 10_000), sentAt=to_iso(T0 - 10_000)),
            ],
        },
    )
    rows = stored(running, ws)
    assert rows["batch-clock"].timestamp == T0 - 5_000
    assert rows["own-clock"].timestamp == T0


def test_invalid_messages_are_dead_lettered_with_their_batch_path_and_counted(
    running: Container,
) -> None:
    ws = running.workspaces.create("w").workspace_id
    answer = batch(
        running,
        ws,
        {"batch": [message("good"), {"type": "track", "event": "No one"}, message("good")]},
    )
    assert answer.status == 200
    assert answer.body["success"] is True
    assert (answer.body["accepted"], answer.body["rejected"], answer.body["duplicates"]) == (
        1,
        1,
        1,
    )
    [error] = answer.body["errors"]
    assert error["index"] == 1
    assert error["field"] == "batch[1].userId"
    assert stored_message_ids(running, ws) == {"good": 1}
    [(code, payload)] = stored_dead_letters(running, ws)
    assert code == error["code"]
    assert "No one" in payload


def test_a_batch_with_no_valid_message_answers_400_with_its_first_error(
    running: Container,
) -> None:
    ws = running.workspaces.create("w").workspace_id
    bad = [{"type": "nonsense", "userId": "u"} for _ in range(MAX_REPORTED_ERRORS + 5)]
    answer = batch(running, ws, {"batch": bad})
    assert answer.status == 400
    assert answer.body["success"] is False
    assert answer.body["rejected"] == MAX_REPORTED_ERRORS + 5
    assert len(answer.body["errors"]) == MAX_REPORTED_ERRORS
    first = answer.body["errors"][0]
    assert answer.body["error"] == {k: first[k] for k in ("code", "message", "field")}
    assert first["field"] == "batch[0].type"
    assert len(stored_dead_letters(running, ws)) == MAX_REPORTED_ERRORS + 5


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ({}, "batch"),
        ({"batch": {"0": {}}}, "batch"),
        ({"batch": [], "context": "it-IT"}, "context"),
        ({"batch": [], "integrations": []}, "integrations"),
    ],
)
def test_a_malformed_batch_document_is_refused_whole(
    running: Container, raw: dict[str, Any], field: str
) -> None:
    ws = running.workspaces.create("w").workspace_id
    with pytest.raises(InvalidInput) as caught:
        batch(running, ws, raw)
    assert caught.value.field == field
    assert stored_dead_letters(running, ws) == []


def test_a_batch_over_the_limit_is_refused_before_any_message_is_read(
    running: Container,
) -> None:
    ws = running.workspaces.create("w").workspace_id
    too_many = running.settings.max_batch_events + 1
    with pytest.raises(InvalidInput, match=f"batch has {too_many} messages"):
        batch(running, ws, {"batch": [message(f"m{i}") for i in range(too_many)]})
    assert stored_message_ids(running, ws) == {}


def test_the_write_key_of_a_body() -> None:
    assert write_key_of({"writeKey": "wk"}) == "wk"
    assert write_key_of([1, 2]) is None
    with pytest.raises(InvalidInput) as caught:
        write_key_of({"writeKey": 42})
    assert caught.value.field == "writeKey"
    with pytest.raises(InvalidInput, match=BATCH_BODY):
        write_key_of([1, 2], body_error=BATCH_BODY)
