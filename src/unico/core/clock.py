"""Injectable clocks: code asks its clock for the time, so tests move time instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

from unico.core.types import EpochMs


class Clock(Protocol):
    """Anything that tells the time in epoch milliseconds.

    >>> ManualClock(1_000).now_ms()
    1000
    """

    def now_ms(self) -> EpochMs: ...


class SystemClock:
    """The wall clock."""

    def now_ms(self) -> EpochMs:
        return time.time_ns() // 1_000_000


class ManualClock:
    """A clock that only moves when told to (for tests).

    >>> c = ManualClock(0)
    >>> c.advance(1.5)
    >>> c.now_ms()
    1500
    """

    def __init__(self, start_ms: EpochMs) -> None:
        self._now = start_ms

    def now_ms(self) -> EpochMs:
        return self._now

    def advance(self, seconds: float) -> None:
        self._now += int(seconds * 1000)

    def set(self, now_ms: EpochMs) -> None:
        self._now = now_ms


def to_iso(ms: EpochMs | None) -> str | None:
    """Render epoch milliseconds as an ISO 8601 UTC string (``None`` stays ``None``).

    >>> to_iso(0)
    '1970-01-01T00:00:00.000Z'
    """
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds")[:-6] + "Z"


def parse_iso_ms(value: str) -> EpochMs:
    """Parse an ISO 8601 timestamp into epoch milliseconds; naive times are UTC.

    Raises ValueError on anything that is not a timestamp.

    >>> parse_iso_ms("2024-01-01T00:00:00Z")
    1704067200000
    """
    dt = datetime.fromisoformat(value.strip())
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000)
