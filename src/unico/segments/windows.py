"""Windowed aggregates kept incrementally: per profile and aggregate, the matching events
still inside the window, so that every event costs a bounded update and no history is
rescanned.

A window keeps points ``[timestamp, value, n]`` in time order: one event is ``[ts, v, 1]``.
Its value at ``now`` aggregates the points with ``timestamp > now - window`` (the same
bound the evaluator and the SQL compiler use), and `Window.next_change_at` tells when the
oldest point leaves, which is when the sweeper must look again.

Exactness: up to ``max_points`` points every value is exact. Beyond that the oldest points
are folded into buckets (a minute, then an hour, then a day): a bucket keeps the count and
the sum (or the min, the max) of its events and carries the timestamp of its *latest*
event, so its events leave the window together, at most one bucket width late. Counts,
sums and averages stay exact while the events are inside; only the moment of leaving is
coarser. Windows are pruned on every update, so state never outgrows the window.

>>> from unico.segments.ast import EventAggregate
>>> w = Window.empty(EventAggregate("count", "Viewed", None, None, 1000))
>>> w.add(100, None)
>>> w.add(500, None)
>>> w.value(900), w.value(1100), w.value(1500)
(2, 1, 0)
>>> w.next_change_at(900)
1100
"""

from __future__ import annotations

import hashlib
import math
from bisect import insort
from dataclasses import dataclass, field
from typing import Any

from unico.core.types import EpochMs
from unico.segments.ast import EventAggregate

#: Points kept exactly per window before the oldest are folded into buckets.
DEFAULT_MAX_POINTS = 1000
_BUCKETS_MS = (60_000, 3_600_000, 86_400_000)


def aggregate_key(agg: EventAggregate) -> str:
    """A stable key for an aggregate node (its state's row key in every process).

    >>> aggregate_key(EventAggregate("count", "A", None, None, 1)) == aggregate_key(
    ...     EventAggregate("count", "A", None, None, 1))
    True
    """
    return hashlib.blake2b(repr(agg).encode(), digest_size=12).hexdigest()


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


@dataclass(slots=True)
class Window:
    """The events of one aggregate for one profile that are still inside its window."""

    agg: EventAggregate
    points: list[list[Any]] = field(default_factory=list)
    max_points: int = DEFAULT_MAX_POINTS
    #: Changed since loaded (so it must be written back).
    dirty: bool = False

    @classmethod
    def empty(cls, agg: EventAggregate, max_points: int = DEFAULT_MAX_POINTS) -> Window:
        return cls(agg, [], max_points)

    @classmethod
    def load(cls, agg: EventAggregate, state: Any, max_points: int = DEFAULT_MAX_POINTS) -> Window:
        points = state.get("p") if isinstance(state, dict) else None
        # Sorted here, whoever wrote them: states built on the server come from an SQL
        # aggregate whose order SQLite does not promise.
        loaded = sorted(list(p) for p in points) if isinstance(points, list) else []
        return cls(agg, loaded, max_points)

    def dump(self) -> dict[str, Any]:
        return {"p": self.points}

    def add(self, timestamp: EpochMs, value: Any) -> None:
        """Record one matching event (its ``of`` value for sum/avg/min/max). Events without
        a usable number do not count for those; events already out of the window (late
        arrivals) are dropped by the next prune."""
        if self.agg.fn == "count":
            number = 0.0
        else:
            found = _number(value)
            if found is None:
                return
            number = found
        insort(self.points, [timestamp, number, 1])
        self.dirty = True
        if len(self.points) > self.max_points:
            self._compress()

    def merge(self, other: Window) -> None:
        """Fold another profile's window in (the loser of a merge)."""
        if other.points:
            self.points = sorted(self.points + other.points)
            self.dirty = True
            if len(self.points) > self.max_points:
                self._compress()

    def prune(self, now: EpochMs) -> None:
        """Drop points that have left the window."""
        bound = now - self.agg.window_ms
        cut = 0
        while cut < len(self.points) and self.points[cut][0] <= bound:
            cut += 1
        if cut:
            del self.points[:cut]
            self.dirty = True

    def value(self, now: EpochMs) -> float | int | None:
        """The aggregate at ``now``: count and sum of nothing are 0; avg/min/max None."""
        bound = now - self.agg.window_ms
        live = [p for p in self.points if p[0] > bound]
        fn = self.agg.fn
        if fn == "count":
            return int(sum(p[2] for p in live))
        values = [float(p[1]) for p in live]
        if fn == "sum":
            return sum(values)
        if not values:
            return None
        if fn == "avg":
            return sum(values) / int(sum(p[2] for p in live))
        return min(values) if fn == "min" else max(values)

    def next_change_at(self, now: EpochMs) -> EpochMs | None:
        """The earliest time after ``now`` when a point leaves (None: nothing to leave)."""
        for point in self.points:
            leaves = point[0] + self.agg.window_ms
            if leaves > now:
                return int(leaves)
        return None

    def _compress(self) -> None:
        for width in _BUCKETS_MS:
            self.points = self._fold(width)
            if len(self.points) <= self.max_points:
                return
        # Still too many day buckets (a window of years): keep the newest.
        del self.points[: len(self.points) - self.max_points]

    def _fold(self, width: int) -> list[list[Any]]:
        """Fold the older half of the points into buckets of ``width`` ms."""
        half = len(self.points) // 2
        older, newer = self.points[:half], self.points[half:]
        buckets: dict[int, list[Any]] = {}
        for ts, value, n in older:
            slot = ts // width
            bucket = buckets.get(slot)
            if bucket is None:
                buckets[slot] = [ts, value, n]
                continue
            bucket[0] = max(bucket[0], ts)
            bucket[1] = self._combine(bucket[1], value)
            bucket[2] += n
        return sorted(buckets.values()) + newer

    def _combine(self, a: float, b: float) -> float:
        if self.agg.fn == "min":
            return min(a, b)
        if self.agg.fn == "max":
            return max(a, b)
        return a + b
