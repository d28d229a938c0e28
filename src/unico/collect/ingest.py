"""The ingest writer: one thread that commits submissions in groups.

Requests hand their validated events to `Ingestor.submit` and wait. The writer
takes everything queued (up to ``group_events``), processes it in one
transaction and answers every waiting request once the commit has returned, so
a 2xx always means "durably stored". While one group commits the next one
queues up, so the commit cost is shared by however many requests are waiting
(group commit): throughput grows with load instead of collapsing under it.

A group that fails is retried one submission at a time, and a submission that
fails alone is retried one event at a time; an event that still fails goes to
the dead-letter table with the database's reason. Nothing accepted is lost, and
one submission's failure is reported to that submission alone.

A request that stops waiting (its timeout passed: it answered 503) cancels its
submission if the writer has not taken it yet; once taken, a submission is
always committed, so a client that retries after a 503 must reuse its
``messageId`` (Segment clients do) to avoid a duplicate.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections import deque
from concurrent.futures import Future
from dataclasses import replace

import orjson
from sqlalchemy.exc import DBAPIError, OperationalError

from unico.collect.pipeline import IngestPipeline, Receipt, Submission
from unico.collect.store import DeadLetter
from unico.core.clock import Clock
from unico.core.errors import Overloaded, QueueFull
from unico.core.event import Event
from unico.db.engine import Store

log = logging.getLogger("unico.ingest")

RETRIES = 5


def _retryable(exc: BaseException) -> bool:
    """Deadlocks and serialization failures on PostgreSQL, 'database is locked' on SQLite."""
    if not isinstance(exc, OperationalError | DBAPIError):
        return False
    code = getattr(getattr(exc, "orig", None), "sqlstate", None)
    return code in ("40001", "40P01") or "locked" in str(exc).lower()


def _event_payload(event: Event) -> str:
    # In the writer process the context is cut to what profiles read; its text is whole.
    context = orjson.Fragment(event.encoded["context"]) if event.encoded else event.context
    return orjson.dumps(
        {
            "type": event.type,
            "messageId": event.message_id,
            "anonymousId": event.anonymous_id,
            "userId": event.user_id,
            "event": event.name,
            "properties": event.properties,
            "traits": event.traits,
            "context": context,
        },
        default=str,
    ).decode()


class Ingestor:
    """Accepts submissions from any thread or event loop; commits them in groups.

    >>> # receipt = await ingestor.submit(submission)   # from async code
    >>> # receipt = ingestor.submit_sync(submission)    # from a thread
    """

    def __init__(
        self,
        store: Store,
        pipeline: IngestPipeline,
        clock: Clock,
        *,
        group_events: int = 5000,
        queue_events: int = 200_000,
        timeout: float = 30.0,
    ) -> None:
        self.store = store
        self.pipeline = pipeline
        self.clock = clock
        self.group_events = group_events
        self.queue_events = queue_events
        self.timeout = timeout
        self._queue: deque[tuple[Submission, Future[Receipt]]] = deque()
        self._queued_events = 0
        self._cond = threading.Condition()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.committed_groups = 0

    # -- lifecycle --------------------------------------------------------------------------

    def start(self) -> None:
        self.store.start_checkpointer()
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="unico-writer", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Finish what is queued, then stop the writer."""
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.store.stop_checkpointer()

    @property
    def queued_events(self) -> int:
        """Events waiting for the writer (not counting the group being committed)."""
        return self._queued_events

    @property
    def running(self) -> bool:
        """Whether the writer thread is alive."""
        return self._thread is not None and self._thread.is_alive()

    # -- submitting --------------------------------------------------------------------------

    def _enqueue(self, submission: Submission) -> Future[Receipt]:
        future: Future[Receipt] = Future()
        size = max(1, len(submission.events))
        with self._cond:
            if self._stopping or self._thread is None:
                raise Overloaded("the server is shutting down; retry shortly")
            if self._queued_events + size > self.queue_events:
                raise QueueFull("the ingest queue is full; retry shortly")
            self._queue.append((submission, future))
            self._queued_events += size
            self._cond.notify()
        return future

    async def submit(self, submission: Submission) -> Receipt:
        """Queue a submission and wait until it is committed."""
        future = self._enqueue(submission)
        try:
            return await asyncio.wait_for(asyncio.wrap_future(future), self.timeout)
        except TimeoutError:
            raise Overloaded("the store did not commit in time; retry shortly") from None

    def submit_sync(self, submission: Submission) -> Receipt:
        return self._enqueue(submission).result(timeout=self.timeout)

    # -- the writer -------------------------------------------------------------------------

    def _take(self) -> list[tuple[Submission, Future[Receipt]]] | None:
        with self._cond:
            while True:
                while not self._queue:
                    if self._stopping:
                        return None
                    self._cond.wait(timeout=0.5)
                group: list[tuple[Submission, Future[Receipt]]] = []
                events = 0
                while self._queue and (not group or events < self.group_events):
                    item = self._queue.popleft()
                    size = max(1, len(item[0].events))
                    self._queued_events -= size
                    # False when the request gave up waiting (and answered 503): skip it.
                    # True makes the future uncancellable, so its result can always be set.
                    if item[1].set_running_or_notify_cancel():
                        events += size
                        group.append(item)
                if group:
                    return group

    def _run(self) -> None:
        while (group := self._take()) is not None:
            try:
                outcomes = self._commit_group([s for s, _ in group])
            except BaseException as exc:  # the writer must survive anything
                log.exception("ingest group failed")
                outcomes = [exc] * len(group)
            for (_, future), outcome in zip(group, outcomes, strict=True):
                if isinstance(outcome, BaseException):
                    future.set_exception(outcome)
                else:
                    future.set_result(outcome)

    def _transaction(self, submissions: list[Submission]) -> list[Receipt]:
        for attempt in range(RETRIES):
            try:
                with self.store.write() as conn:
                    receipts = self.pipeline.process(conn, submissions, self.clock.now_ms())
                self.committed_groups += 1
                return receipts
            except Exception as exc:
                self.pipeline.rollback()
                if not _retryable(exc) or attempt == RETRIES - 1:
                    raise
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")

    def _commit_group(self, submissions: list[Submission]) -> list[Receipt | BaseException]:
        """One outcome per submission: its receipt, or the error that stopped it alone."""
        try:
            return list(self._transaction(submissions))
        except Exception:
            log.warning("group of %d failed; retrying piece by piece", len(submissions))
        if len(submissions) > 1:
            return [self._commit_group([s])[0] for s in submissions]
        try:
            if len(submissions[0].events) <= 1:
                return [self._dead_letter_all(submissions[0])]
            return [self._commit_events_one_by_one(submissions[0])]
        except Exception as exc:
            log.exception("a submission could not be stored")
            return [exc]

    def _commit_events_one_by_one(self, submission: Submission) -> Receipt:
        total = Receipt(rejected=len(submission.dead_letters))
        if submission.dead_letters:
            self._transaction([replace(submission, events=[])])
        for event in submission.events:
            single = replace(submission, events=[event], dead_letters=[])
            try:
                [receipt] = self._transaction([single])
            except Exception:
                receipt = self._dead_letter_all(single)
            for field in ("accepted", "duplicates", "rejected", "suppressed", "anonymous"):
                setattr(total, field, getattr(total, field) + getattr(receipt, field))
        return total

    def _dead_letter_all(self, submission: Submission) -> Receipt:
        letters = list(submission.dead_letters)
        for event in submission.events:
            log.error("event %s rejected by the store", event.message_id)
            letters.append(
                DeadLetter(
                    code="store_rejected",
                    reason="the store could not save this event",
                    field=None,
                    payload=_event_payload(event),
                    anonymous_id=event.anonymous_id,
                    user_id=event.user_id,
                )
            )
        self._transaction([replace(submission, events=[], dead_letters=letters)])
        return Receipt(rejected=len(letters))
