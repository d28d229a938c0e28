"""A synthetic population for results tests: people exposed through ``/v1/decide``, then
events sent with known values, so the expected statistics can be computed by hand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tests.conftest import T0, Workspace
from tests.experiments.helpers import variant_of
from tests.profiles.helpers import batch, iso
from unico.core.clock import ManualClock

HOUR = 3_600_000
#: (event name, properties, at) of one person
Events = list[tuple[str, dict[str, Any], int]]


def expose(ws: Workspace, n: int, prefix: str = "u") -> dict[str, str]:
    """Identify ``n`` people and ask for the hero placement once: user -> variant."""
    out = {}
    batch(ws, [{"type": "identify", "userId": f"{prefix}{i}"} for i in range(n)])
    for i in range(n):
        user = f"{prefix}{i}"
        variant = variant_of(ws, userId=user)
        assert variant is not None
        out[user] = variant
    return out


def behave(
    ws: Workspace,
    clock: ManualClock,
    people: dict[str, str],
    events_of: Callable[[int, str], Events],
) -> None:
    """Send each person's events (the clock moved past the latest first)."""
    items = []
    latest = T0
    for i, (user, variant) in enumerate(people.items()):
        for name, properties, at in events_of(i, variant):
            latest = max(latest, at)
            items.append(
                {
                    "type": "track",
                    "userId": user,
                    "event": name,
                    "properties": properties,
                    "timestamp": iso(at),
                }
            )
    clock.set(latest + 1000)
    for start in range(0, len(items), 500):
        batch(ws, items[start : start + 500])


def ranks(people: dict[str, str]) -> list[int]:
    """Each person's index among the people of their variant (in order): patterns on it
    give every variant exactly the rates asked for, whatever the split."""
    seen: dict[str, int] = {}
    out = []
    for variant in people.values():
        out.append(seen.get(variant, 0))
        seen[variant] = out[-1] + 1
    return out
