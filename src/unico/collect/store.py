"""What the collect context needs from a store; implemented in ``unico.store.events``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection

from unico.core.event import Event
from unico.core.types import EpochMs
from unico.profiles.events import PersonEvents


@dataclass(slots=True)
class DeadLetter:
    """A message that could not be accepted, kept with the reason."""

    code: str
    reason: str
    field: str | None
    payload: str
    anonymous_id: str | None = None
    user_id: str | None = None


#: (day, type, name, profiled) -> count
AggregateKey = tuple[int, str, str, bool]


class EventStore(PersonEvents, Protocol):
    """The event log, message de-duplication, anonymous aggregates and dead letters; what
    profiles reads and erases of it (`PersonEvents`) is declared there."""

    def claim(
        self, conn: Connection, workspace_id: str, message_ids: list[str], now: EpochMs
    ) -> set[str]:
        """Record message ids; return those never seen before."""

    def insert_events(
        self, conn: Connection, workspace_id: str, rows: Iterable[tuple[Event, str]]
    ) -> None:
        """Append (event, profile id) pairs to the log."""

    def bump_aggregates(
        self, conn: Connection, workspace_id: str, counts: Mapping[AggregateKey, int]
    ) -> None: ...

    def insert_dead_letters(
        self, conn: Connection, workspace_id: str, letters: list[DeadLetter], now: EpochMs
    ) -> None: ...

    def dead_letters(
        self, conn: Connection, workspace_id: str, *, limit: int, before: int | None
    ) -> list[dict[str, Any]]: ...

    def aggregates(
        self, conn: Connection, workspace_id: str, *, since_day: int
    ) -> list[dict[str, Any]]: ...
