"""The ingest writer: group commit, per-submission outcomes, and surviving impatient callers."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor

import pytest

from tests.collect.events import (
    stored_dead_letters,
    stored_message_ids,
    submission,
    track,
)
from tests.collect.store_lock import hold_write_lock
from unico.collect.pipeline import Receipt, Submission
from unico.collect.store import DeadLetter
from unico.container import Container
from unico.core.errors import Overloaded

DEADLINE_SECONDS = 10.0


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + DEADLINE_SECONDS
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"timed out waiting until {what}")
        time.sleep(0.005)


def submit_async(container: Container, sub: Submission) -> Receipt:
    return asyncio.run(container.ingestor.submit(sub))


def test_a_group_of_submissions_is_committed_and_each_gets_its_receipt(
    running: Container,
) -> None:
    ws = running.workspaces.create("w").workspace_id
    subs = [submission(ws, [track(f"m{i}-{j}") for j in range(i + 1)]) for i in range(5)]
    with ThreadPoolExecutor(5) as pool:
        receipts = list(pool.map(running.ingestor.submit_sync, subs))
    assert [r.accepted for r in receipts] == [1, 2, 3, 4, 5]
    assert sum(stored_message_ids(running, ws).values()) == 15


def test_the_writer_survives_requests_that_stopped_waiting(
    impatient: Container, database_url: str
) -> None:
    """A request that times out answers 503. The writer must neither crash when it later
    settles that request (it used to die on the cancelled future, and every later request
    timed out) nor commit a submission it had not started when its caller gave up."""
    ws = impatient.workspaces.create("w").workspace_id
    with hold_write_lock(database_url):
        with pytest.raises(Overloaded):
            submit_async(impatient, submission(ws, [track("taken")]))  # the writer holds it
        with pytest.raises(Overloaded):
            submit_async(impatient, submission(ws, [track("never-started")]))
    wait_until(lambda: impatient.ingestor.queued_events == 0, "the writer drains its queue")
    receipt = submit_async(impatient, submission(ws, [track("after")]))
    assert receipt.accepted == 1
    assert impatient.ingestor.running
    # Taken before the caller gave up: committed (a client retry is de-duplicated).
    assert stored_message_ids(impatient, ws) == {"taken": 1, "after": 1}
    retry = submit_async(impatient, submission(ws, [track("taken")]))
    assert (retry.accepted, retry.duplicates) == (0, 1)


def test_a_submission_the_store_cannot_save_fails_alone(
    running: Container, database_url: str
) -> None:
    """Only the broken submission reports an error; its group-mates are committed and say so."""
    ws = running.workspaces.create("w").workspace_id
    unstorable = DeadLetter("invalid_input", "bad", None, payload="\ud800")  # no store takes it
    with ThreadPoolExecutor(3) as pool:
        with hold_write_lock(database_url):
            blocker = pool.submit(running.ingestor.submit_sync, submission(ws, [track("first")]))
            wait_until(lambda: running.ingestor.queued_events == 0, "the writer takes the blocker")
            good: Future[Receipt] = pool.submit(
                running.ingestor.submit_sync, submission(ws, [track("good")])
            )
            bad: Future[Receipt] = pool.submit(
                running.ingestor.submit_sync, submission(ws, [], [unstorable])
            )
            wait_until(lambda: running.ingestor.queued_events == 2, "both wait in one group")
        outcomes = [f.exception(DEADLINE_SECONDS) for f in (blocker, good, bad)]
    assert outcomes[:2] == [None, None]
    assert blocker.result().accepted == 1
    assert good.result().accepted == 1
    assert "surrogates not allowed" in str(outcomes[2])
    assert running.ingestor.running
    assert stored_message_ids(running, ws) == {"first": 1, "good": 1}


def test_an_event_the_store_rejects_is_dead_lettered_and_its_batch_mates_kept(
    running: Container,
) -> None:
    ws = running.workspaces.create("w").workspace_id
    # Validation bounds timestamps; this one bypasses it and overflows a BIGINT column.
    broken = track("broken", timestamp=2**70)
    receipt = running.ingestor.submit_sync(submission(ws, [track("a"), broken, track("b")]))
    assert (receipt.accepted, receipt.rejected) == (2, 1)
    assert stored_message_ids(running, ws) == {"a": 1, "b": 1}
    [(code, payload)] = stored_dead_letters(running, ws)
    assert code == "store_rejected"
    assert '"messageId":"broken"' in payload
    # Not claimed: once fixed, the same message id is accepted.
    fixed = running.ingestor.submit_sync(submission(ws, [track("broken")]))
    assert fixed.accepted == 1
