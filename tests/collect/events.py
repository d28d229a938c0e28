"""Building events and submissions directly, and reading back what the store holds."""

from __future__ import annotations

from collections import Counter

from sqlalchemy import select

from unico.collect.pipeline import Submission
from unico.collect.store import DeadLetter
from unico.container import Container
from unico.core.event import Event
from unico.db.schema import dead_letter, event
from unico.profiles.consent import DEFAULT_CONSENT

#: 2026-01-15T10:00:00Z, the tests' clock.
T0 = 1_768_471_200_000


def track(message_id: str, user_id: str = "u1", timestamp: int = T0) -> Event:
    return Event(
        type="track",
        message_id=message_id,
        timestamp=timestamp,
        received_at=T0,
        user_id=user_id,
        name="Product Viewed",
    )


def submission(
    workspace_id: str, events: list[Event], letters: list[DeadLetter] | None = None
) -> Submission:
    return Submission(workspace_id, DEFAULT_CONSENT, events, letters or [])


def stored_message_ids(container: Container, workspace_id: str) -> Counter[str]:
    """How many event rows each message id has."""
    with container.store.read() as conn:
        rows = conn.execute(select(event.c.message_id).where(event.c.workspace_id == workspace_id))
        return Counter(r.message_id for r in rows)


def stored_dead_letters(container: Container, workspace_id: str) -> list[tuple[str, str]]:
    """(code, payload) of every dead letter, oldest first."""
    with container.store.read() as conn:
        rows = conn.execute(
            select(dead_letter.c.code, dead_letter.c.payload)
            .where(dead_letter.c.workspace_id == workspace_id)
            .order_by(dead_letter.c.id)
        )
        return [(r.code, r.payload) for r in rows]
