"""Recompute of many segments at once: the same members, windows and schedules as real time
kept, segments after the ones they name with ``in_segment``, side by side on PostgreSQL."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest
from sqlalchemy import delete, select
from typer.testing import CliRunner

from tests.conftest import Workspace
from tests.segments.helpers import create, member_ids, send, track
from unico.commands.segments import segments_app
from unico.container import Container
from unico.core.clock import ManualClock
from unico.core.errors import NotFound
from unico.db.segments_schema import segment_membership, segment_schedule, segment_window
from unico.segments.recompute import _STATE, _schedule

SEGMENTS = {
    "italians": 'traits.country == "IT"',
    "buyers": "computed.orders >= 1",
    "browsers": 'count(event "Product Viewed" within 1d) >= 2',
    "recent": "profile.last_seen > now - 1d",
    "italian buyers": 'in_segment("italians") and in_segment("buyers")',
    "italian browsers": 'in_segment("italians") and not in_segment("italian buyers")',
}


def _people(ws: Workspace, clock: ManualClock) -> None:
    for name, country, orders, views in (("a", "IT", 2, 3), ("b", "IT", 0, 2), ("c", "FR", 1, 0)):
        send(ws, "identify", {"userId": name, "traits": {"country": country}})
        for i in range(orders):
            track(ws, name, "Order Completed", order_id=f"{name}{i}", revenue=10)
        for _ in range(views):
            track(ws, name, "Product Viewed")
        clock.advance(3_600)  # seconds


def _state(container: Container, ws: Workspace) -> dict[str, Any]:
    """Who is in which segment, and which window states and next checks are kept."""
    m, w, s = segment_membership.c, segment_window.c, segment_schedule.c
    with container.store.read() as conn:
        return {
            "members": set(
                conn.execute(select(m.segment_id, m.profile_id).where(m.workspace_id == ws.id))
            ),
            "windows": set(
                conn.execute(select(w.profile_id, w.agg_key).where(w.workspace_id == ws.id))
            ),
            "schedule": set(
                conn.execute(select(s.profile_id, s.next_check_at).where(s.workspace_id == ws.id))
            ),
        }


def _wipe(container: Container, ws: Workspace) -> None:
    with container.store.write() as conn:
        for table in (segment_membership, segment_window, segment_schedule):
            conn.execute(delete(table).where(table.c.workspace_id == ws.id))


def test_recompute_all_rebuilds_what_real_time_kept(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    for name, condition in SEGMENTS.items():
        create(ws, name, condition)
    create(ws, "picked", None, kind="static")
    create(ws, "picked buyers", 'in_segment("picked") and in_segment("buyers")')
    _people(ws, clock)
    for user in ("a", "b"):
        r = ws.client.put(f"/v1/segments/picked/members/user_id:{user}", headers=ws.admin)
        assert r.status_code == 200, r.text
    kept = _state(container, ws)
    assert kept["members"] and kept["windows"] and kept["schedule"]
    _wipe(container, ws)
    steps: list[tuple[str, int, int]] = []
    results = container.segments.recompute_all(
        ws.id, workers=2, progress=lambda *step: steps.append(step)
    )
    assert sorted(r["name"] for r in results) == sorted([*SEGMENTS, "picked", "picked buyers"])
    assert _state(container, ws) == kept
    assert {r["name"]: r["size"] for r in results} == {
        s["name"]: s["size"] for s in container.segments.list(ws.id)
    }
    assert all(r["entered"] == r["size"] and r["exited"] == 0 for r in results)
    assert ("members", len(results), len(results)) in steps
    assert {r["name"]: r["size"] for r in results}["picked buyers"] == 1
    assert ("schedule", 1, 1) in steps
    again = container.segments.recompute_all(ws.id)  # nothing changed: nothing rewritten
    assert {r["name"]: (r["size"], r["entered"], r["exited"]) for r in again} == {
        r["name"]: (r["size"], 0, 0) for r in results
    }
    assert _state(container, ws) == kept


def test_recompute_all_of_some_segments_by_name(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    for name, condition in SEGMENTS.items():
        create(ws, name, condition)
    _people(ws, clock)
    italians = member_ids(ws, "italians")
    _wipe(container, ws)
    [result] = container.segments.recompute_all(ws.id, ["italians"])
    assert result["name"] == "italians" and result["size"] == len(italians) == 2
    assert member_ids(ws, "italians") == italians and member_ids(ws, "buyers") == set()
    with pytest.raises(NotFound):
        container.segments.recompute_all(ws.id, ["nobody"])


def test_jobs_wait_for_the_ones_they_need() -> None:
    order: list[str] = []
    lock = threading.Lock()

    def job(key: str, seconds: float) -> Any:
        def run() -> dict[str, Any]:
            with lock:
                order.append(f"start {key}")
            time.sleep(seconds)
            with lock:
                order.append(f"end {key}")
            return {"key": key}

        return run

    jobs = {_STATE: job("state", 0.0), "a": job("a", 0.05)}
    jobs |= {"b": job("b", 0.0), "c": job("c", 0.0)}
    needs = {"c": {"a", "b"}}
    steps: list[tuple[str, int, int]] = []
    done = _schedule(jobs, needs, 2, lambda *step: steps.append(step))
    assert set(done) == {_STATE, "a", "b", "c"}
    assert order.index("start c") > max(order.index("end a"), order.index("end b"))
    assert steps[0] == ("members", 0, 3) and steps[-1] == ("members", 3, 3)


def test_a_failure_stops_the_jobs_that_need_it() -> None:
    ran: list[str] = []

    def fails() -> dict[str, Any]:
        raise RuntimeError("boom")

    jobs = {"a": fails, "b": lambda: ran.append("b") or {}}
    with pytest.raises(RuntimeError, match="boom"):
        _schedule(jobs, {"b": {"a"}}, 2, lambda *_: None)
    assert ran == []


def test_the_command_recomputes_one_or_every_segment(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    create(ws, "italians", SEGMENTS["italians"])
    create(ws, "french", 'traits.country == "FR"')
    _people(ws, clock)
    _wipe(container, ws)
    database = ["--database", container.settings.database_url, "--json"]
    every = CliRunner().invoke(segments_app, ["recompute", ws.id, *database])
    assert every.exit_code == 0, every.output
    sizes = {r["name"]: r["size"] for r in json.loads(every.stdout)}
    assert sizes == {"italians": 2, "french": 1}
    one = CliRunner().invoke(segments_app, ["recompute", ws.id, "french", *database])
    assert one.exit_code == 0, one.output
    assert json.loads(one.stdout)["size"] == 1 and json.loads(one.stdout)["entered"] == 0
