"""The sweeper: due checks, the earliest one, batches, the background thread."""

from __future__ import annotations

import time

from tests.conftest import Workspace
from tests.segments.helpers import DAY, HOUR, create, member_ids, pid, send, track
from unico.container import Container
from unico.core.clock import ManualClock
from unico.db.segments_schema import segment_schedule


def _schedule(container: Container, ws: Workspace) -> dict[str, int]:
    with container.store.read() as conn:
        rows = conn.execute(
            segment_schedule.select().where(segment_schedule.c.workspace_id == ws.id)
        ).all()
    return {r.profile_id: r.next_check_at for r in rows}


def test_every_evaluation_keeps_the_next_check(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    create(ws, "recent", 'did event "Product Viewed" within 1h')
    create(ws, "pro", 'traits.plan == "pro"')
    start = clock.now_ms()
    track(ws, "a", "Product Viewed")
    track(ws, "b", "Page Viewed")  # nothing in any window: no check needed
    assert _schedule(container, ws) == {pid(ws, "a"): start + HOUR}
    assert container.segment_sweeper.earliest() is not None
    assert container.segment_sweeper.earliest() <= start + HOUR  # type: ignore[operator]
    clock.advance(600)
    track(ws, "a", "Product Viewed")
    assert _schedule(container, ws) == {pid(ws, "a"): start + HOUR}  # the first view leaves first


def test_run_due_works_through_many_people_and_only_once(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    create(ws, "recent", 'did event "Product Viewed" within 1d')
    batch = [{"type": "track", "userId": f"u{i}", "event": "Product Viewed"} for i in range(30)]
    r = ws.send("batch", {"batch": batch})
    assert r.status_code == 200, r.text
    assert len(member_ids(ws, "recent")) == 30
    clock.advance(DAY / 1000)
    container.segment_sweeper.run_due()  # (the background sweeper may have been first)
    assert member_ids(ws, "recent") == set()
    assert _schedule(container, ws) == {}
    assert container.segment_sweeper.run_due() == 0


def test_deleted_segments_leave_nothing_due(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    create(ws, "recent", 'did event "Product Viewed" within 1h')
    track(ws, "a", "Product Viewed")
    container.segments.delete(ws.id, "recent")
    clock.advance(2 * HOUR / 1000)
    container.segment_sweeper.run_due()
    assert _schedule(container, ws) == {}


def test_the_background_thread_sweeps_when_due(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    create(ws, "recent", 'did event "Product Viewed" within 1h')
    track(ws, "a", "Product Viewed")
    assert member_ids(ws, "recent") == {pid(ws, "a")}
    clock.advance(HOUR / 1000)
    container.segment_sweeper.poke()
    deadline = time.monotonic() + 10
    while member_ids(ws, "recent") and time.monotonic() < deadline:
        time.sleep(0.05)  # waiting for another thread, not for the clock
    assert member_ids(ws, "recent") == set()


def test_back_fills_schedule_relative_dates(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    """Time columns are scheduled by one statement on the server, dates inside JSON by the
    evaluator's own reading; both give the moment the result flips, the earliest wins."""
    seen = clock.now_ms()
    track(ws, "a", "Page Viewed")
    track(ws, "b", "Page Viewed")
    send(ws, "identify", {"userId": "b", "traits": {"renewal": "2026-02-01T00:00:00.000Z"}})
    a, b = pid(ws, "a"), pid(ws, "b")
    container.segment_sweeper.run_due()
    with container.store.write() as conn:  # as before any segment existed
        conn.execute(segment_schedule.delete().where(segment_schedule.c.workspace_id == ws.id))
    clock.set(seen + HOUR)
    create(ws, "lapsed", "profile.last_seen < now - 30d")
    # The clock passes last_seen + 30d then (the check at that instant schedules one ms on).
    assert _schedule(container, ws) == {a: seen + 30 * DAY, b: seen + 30 * DAY}
    create(ws, "fresh", "profile.last_seen > now - 2d or profile.first_seen > now - 1d")
    assert _schedule(container, ws) == {a: seen + DAY, b: seen + DAY}
    create(ws, "renewing", "traits.renewal < now + 16d")
    renewal = 1_769_904_000_000 - 16 * DAY  # 2026-02-01 minus the offset: 01-16T00:00
    assert renewal < seen + DAY
    assert _schedule(container, ws) == {a: seen + DAY, b: renewal}
    clock.set(seen + 2 * DAY + 1)
    container.segment_sweeper.run_due()
    assert member_ids(ws, "fresh") == set()
