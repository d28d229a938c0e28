"""The collect service: Segment's collection rules, from a parsed body to a committed answer.

The routers read the body and authenticate; everything after is here. A single message,
a batch document or a consent request becomes validated events and dead letters (one bad
message in a batch is dead-lettered, never failing the batch), goes to the ingest writer,
and comes back as the answer's JSON once it is committed.

Segment's batch rules: the batch-level ``context`` and ``integrations`` are defaults under
each message's own, the batch's ``sentAt`` corrects every message's clock, and each message
is validated on its own with errors named ``batch[i].field``.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from anyio import to_thread

from unico.collect.dead_letters import dead_letter_for
from unico.collect.models import ConsentRequest
from unico.collect.pipeline import Receipt, Submission
from unico.collect.store import DeadLetter, EventStore
from unico.collect.validation import Limits, parse_time, validate_event
from unico.core.clock import Clock, to_iso
from unico.core.errors import InvalidInput, Overloaded, UnicoError
from unico.core.event import Event
from unico.core.ids import new_id
from unico.db.engine import Store
from unico.profiles.consent import PURPOSES

#: The logger these failures were always reported on, so that log routing keeps working.
log = logging.getLogger("unico.web")

#: Most per-message errors a batch answer lists (the counts cover them all).
MAX_REPORTED_ERRORS = 50
#: What a batch or consent body that is not a JSON object is told.
BATCH_BODY = "the body must be an object with a batch list"
CONSENT_BODY = "the body must be a JSON object"
_CONSENT_FIELDS = ("userId", "anonymousId", "timestamp", "messageId", "context")


class Submitter(Protocol):
    """The ingest writer, in this process (`Ingestor`) or in a writer process."""

    async def submit(self, submission: Submission) -> Receipt: ...


def write_key_of(raw: Any, *, body_error: str | None = None) -> str | None:
    """The ``writeKey`` of a parsed body, when it has one. With ``body_error``, a body that
    is not an object is refused with it (before authentication, as Segment's API does)."""
    if not isinstance(raw, dict):
        if body_error is not None:
            raise InvalidInput(body_error, field="body")
        return None
    key = raw.get("writeKey")
    if key is not None and not isinstance(key, str):
        raise InvalidInput("writeKey must be a string", field="writeKey")
    return key


@dataclass(slots=True)
class Answer:
    """What a tracking request answers: the status and the JSON body."""

    body: dict[str, Any]
    status: int = 200


class CollectService:
    """Turns tracking requests into submissions for the ingest writer and answers them."""

    def __init__(
        self,
        store: Store,
        events: EventStore,
        ingestor: Submitter,
        clock: Clock,
        limits: Limits,
        consent_defaults: Callable[[str], Mapping[str, bool]],
        consent_of: Callable[[str, str], dict[str, Any]],
        *,
        max_batch_events: int,
    ) -> None:
        self._store = store
        self._events = events
        self._ingestor = ingestor
        self._clock = clock
        self._limits = limits
        self._consent_defaults = consent_defaults
        self._consent_of = consent_of
        self._max_batch_events = max_batch_events

    async def submit(
        self, workspace_id: str, events: list[Event], letters: list[DeadLetter]
    ) -> Receipt:
        """Queue events and dead letters and wait for their commit."""
        defaults = self._consent_defaults(workspace_id)
        try:
            return await self._ingestor.submit(Submission(workspace_id, defaults, events, letters))
        except UnicoError:
            raise
        except Exception:
            # Nothing of this request was committed (the writer reports per submission).
            log.exception("the store failed to save a submission")
            raise Overloaded("the store could not save this request; retry shortly") from None

    async def message(self, workspace_id: str, raw: Any, kind: str, *, gpc: bool) -> Answer:
        """One message posted to its type's path; an invalid one is dead-lettered, then
        refused."""
        now = self._clock.now_ms()
        try:
            event = validate_event(
                raw,
                received_at=now,
                limits=self._limits,
                message_id=new_id("m_", now),
                type_hint=kind,
                gpc=gpc,
            )
        except UnicoError as exc:
            await self.submit(workspace_id, [], [dead_letter_for(raw, exc)])
            raise
        receipt = await self.submit(workspace_id, [event], [])
        return Answer(_ingest_body(receipt, []))

    async def batch(self, workspace_id: str, raw: dict[str, Any], *, gpc: bool) -> Answer:
        """A batch document: each valid message is stored, each invalid one dead-lettered
        with its reason. A 400 only when no message was valid."""
        items = raw.get("batch")
        if not isinstance(items, list):
            raise InvalidInput("batch must be a list of messages", field="batch")
        if len(items) > self._max_batch_events:
            raise InvalidInput(
                f"batch has {len(items)} messages; the limit is {self._max_batch_events}",
                field="batch",
            )
        top_context = _batch_object(raw, "context")
        top_integrations = _batch_object(raw, "integrations")
        now = self._clock.now_ms()
        sent_at = parse_time(raw, "sentAt", "")
        limits = self._limits
        events: list[Event] = []
        letters: list[DeadLetter] = []
        errors: list[dict[str, Any]] = []
        for index, item in enumerate(items):
            if isinstance(item, dict) and (top_context or top_integrations):
                item = _with_defaults(item, top_context, top_integrations)
            try:
                events.append(
                    validate_event(
                        item,
                        received_at=now,
                        limits=limits,
                        message_id=new_id("m_", now),
                        sent_at=sent_at,
                        prefix=f"batch[{index}].",
                        gpc=gpc,
                    )
                )
            except UnicoError as exc:
                letters.append(dead_letter_for(item, exc))
                errors.append(
                    {"index": index, "code": exc.code, "message": exc.message, "field": exc.field}
                )
        receipt = await self.submit(workspace_id, events, letters)
        body = _ingest_body(receipt, errors)
        if errors and not events:
            first = errors[0]
            body["success"] = False
            body["error"] = {
                "code": first["code"],
                "message": first["message"],
                "field": first["field"],
            }
            return Answer(body, 400)
        return Answer(body)

    async def consent(self, workspace_id: str, raw: dict[str, Any], *, gpc: bool) -> Answer:
        """A consent request, stored as a ``Consent Updated`` event; answers with the
        person's consent after the change."""
        unknown = set(raw) - set(ConsentRequest.model_fields)
        if unknown:
            raise InvalidInput(f"unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
        purposes = raw.get("purposes")
        if not isinstance(purposes, dict) or not purposes:
            raise InvalidInput(
                f"purposes must map any of {', '.join(PURPOSES)} to true/false", field="purposes"
            )
        message = {
            "type": "track",
            "event": "Consent Updated",
            "properties": {"purposes": purposes},
            **{k: raw[k] for k in _CONSENT_FIELDS if k in raw},
        }
        now = self._clock.now_ms()
        try:
            event = validate_event(
                message,
                received_at=now,
                limits=self._limits,
                message_id=new_id("m_", now),
                gpc=gpc,
            )
        except UnicoError as exc:
            # Name the field as this endpoint's caller sent it, not as the inner event has it.
            if exc.field and exc.field.startswith("properties.purposes"):
                exc.field = exc.field.removeprefix("properties.")
            raise
        event.source = "api"
        receipt = await self.submit(workspace_id, [event], [])
        ref = f"user_id:{event.user_id}" if event.user_id else f"anonymous_id:{event.anonymous_id}"
        state = await to_thread.run_sync(self._consent_of, workspace_id, ref)
        return Answer(
            {
                "success": True,
                "accepted": receipt.accepted,
                "duplicates": receipt.duplicates,
                "consent": state,
            }
        )

    def dead_letters(self, workspace_id: str, *, limit: int, before: int | None) -> dict[str, Any]:
        """Messages that were not accepted, newest first, a page of ``limit``."""
        with self._store.read() as conn:
            rows = self._events.dead_letters(conn, workspace_id, limit=limit, before=before)
        for row in rows:
            row["received_at"] = to_iso(row["received_at"])
        return {"dead_letters": rows, "next_before": rows[-1]["id"] if len(rows) == limit else None}

    def event_counts(self, workspace_id: str, *, days: int) -> dict[str, Any]:
        """Daily event counts of the last ``days`` days (profiled and anonymous)."""
        since = self._clock.now_ms() // 86_400_000 - days + 1
        with self._store.read() as conn:
            rows = self._events.aggregates(conn, workspace_id, since_day=since)
        for row in rows:
            row["day"] = (to_iso(row["day"] * 86_400_000) or "")[:10]
        return {"days": rows}


def _ingest_body(receipt: Receipt, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "success": True,
        "accepted": receipt.accepted,
        "rejected": receipt.rejected,
        "duplicates": receipt.duplicates,
        "errors": errors[:MAX_REPORTED_ERRORS],
    }


def _batch_object(raw: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The batch-level ``context`` or ``integrations``, merged into every message."""
    value = raw.get(key)
    if value is not None and not isinstance(value, dict):
        raise InvalidInput(f"{key} must be an object", field=key)
    return value or None


def _with_defaults(
    item: dict[str, Any], context: dict[str, Any] | None, integrations: dict[str, Any] | None
) -> dict[str, Any]:
    """The item with the batch's context and integrations under its own (an item's value of
    the wrong type is left alone, for validation to refuse)."""
    merged = dict(item)
    for key, shared in (("context", context), ("integrations", integrations)):
        own = item.get(key)
        if shared and own is None:
            merged[key] = shared
        elif shared and isinstance(own, dict):
            merged[key] = {**shared, **own}
    return merged
