"""Window states built on the server by a back-fill are the ones real time keeps: the same
points for counts with ``where`` and for sums (values that are not numbers left out), with
merged profiles' events counted for the survivor and crowded windows folded into buckets."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from tests.conftest import Workspace
from tests.segments.helpers import create, pid, send, track
from unico.container import Container
from unico.core.clock import ManualClock
from unico.db.schema import profile
from unico.segments import ast
from unico.segments.batch import Backfill
from unico.segments.parser import parse
from unico.segments.windows import Window, aggregate_key

VIEWS = 'count(event "Product Viewed" where properties.category == "shoes" within 1d) >= 1'
SPEND = 'sum(event "Order Completed" of properties.revenue within 7d) > 0'


def _states(container: Container, ws: Workspace, condition: str) -> dict[tuple[str, str], Any]:
    """Every stored state of the condition's aggregates, pruned now, as comparable points."""
    aggs = {aggregate_key(a): a for a in ast.aggregates(parse(condition))}
    now = container.clock.now_ms()
    with container.store.read() as conn:
        profiles = container.segments.segments.windows(conn, ws.id, _profiles(container, ws))
    out = {}
    for profile_id, states in profiles.items():
        for key, state in states.items():
            if key in aggs:
                window = Window.load(aggs[key], state)
                window.prune(now)
                if window.points:
                    out[(profile_id, key)] = [[t, float(v), n] for t, v, n in window.points]
    return out


def _profiles(container: Container, ws: Workspace) -> list[str]:
    query = select(profile.c.profile_id).where(profile.c.workspace_id == ws.id)
    with container.store.read() as conn:
        return list(conn.execute(query).scalars())


def test_back_filled_states_are_the_ones_kept_in_real_time(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    create(ws, "shoe browsers", VIEWS)
    create(ws, "spenders", SPEND)
    for i, (user, category) in enumerate([("a", "shoes"), ("a", "hats"), ("b", "shoes")] * 3):
        track(ws, user, "Product Viewed", category=category)
        track(ws, user, "Order Completed", order_id=f"o{i}", revenue=[10, 2.5, "12", None][i % 4])
        clock.advance(3 * 3600)  # seconds
    # Two anonymous visitors with history become one person: the survivor's windows hold both.
    shoes, seven = {"category": "shoes"}, {"revenue": 7}
    send(ws, "track", {"anonymousId": "x", "event": "Product Viewed", "properties": shoes})
    send(ws, "track", {"anonymousId": "y", "event": "Order Completed", "properties": seven})
    send(ws, "identify", {"anonymousId": "x", "userId": "c"})
    send(ws, "identify", {"anonymousId": "y", "userId": "c"})
    clock.advance(3600)
    kept = {c: _states(container, ws, c) for c in (VIEWS, SPEND)}
    assert kept[VIEWS] and kept[SPEND]
    survivor = pid(ws, "c")
    assert any(p == survivor for p, _ in kept[VIEWS])
    [spent] = [points for (p, _), points in kept[SPEND].items() if p == survivor]
    assert spent == [[clock.now_ms() - 3_600_000, 7.0, 1]]  # the merged visitor's order
    for name in ("shoe browsers", "spenders"):
        container.segments.recompute(ws.id, name)
    assert {c: _states(container, ws, c) for c in (VIEWS, SPEND)} == kept


def test_crowded_windows_are_folded_as_in_real_time(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    for _ in range(7):
        track(ws, "d", "Product Viewed", category="shoes")
        clock.advance(60)
    [agg] = ast.aggregates(parse(VIEWS))
    backfill = Backfill(container.segments.segments, max_points=4)
    with container.store.write() as conn:
        backfill.windows(conn, ws.id, {aggregate_key(agg): agg}, clock.now_ms())
    expected = Window.empty(agg, max_points=4)
    with container.store.read() as conn:
        rows = container.events.events_of(conn, ws.id, [pid(ws, "d")], limit=None)
        stored = container.segments.segments.windows(conn, ws.id, [pid(ws, "d")])
    for row in sorted(rows, key=lambda r: r["timestamp"]):
        expected.add(row["timestamp"], None)
    state = stored[pid(ws, "d")][aggregate_key(agg)]
    assert Window.load(agg, state).points == expected.points
    assert len(expected.points) <= 4 and expected.value(clock.now_ms()) == 7
