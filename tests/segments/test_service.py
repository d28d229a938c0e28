"""Batch work through the service: back-fill on create, window states built from history,
edits, preview, recompute, dependents, erasure."""

from __future__ import annotations

import pytest

from tests.conftest import Workspace
from tests.segments.helpers import (
    DAY,
    create,
    member_ids,
    pid,
    segment_events,
    segments_of,
    send,
    track,
)
from unico.container import Container
from unico.core.clock import ManualClock
from unico.core.errors import Conflict, NotFound, Unprocessable
from unico.db.segments_schema import segment_membership, segment_schedule, segment_window


def _people(ws: Workspace) -> dict[str, str]:
    for name, country, orders in (("a", "IT", 2), ("b", "IT", 0), ("c", "FR", 3)):
        send(ws, "identify", {"userId": name, "traits": {"country": country}})
        for i in range(orders):
            track(ws, name, "Order Completed", order_id=f"{name}{i}", revenue=10)
    return {n: pid(ws, n) for n in "abc"}


def test_create_back_fills_members_without_events(ws: Workspace, container: Container) -> None:
    people = _people(ws)
    created = create(ws, "italian buyers", 'traits.country == "IT" and computed.orders >= 1')
    assert created["size"] == 1 and created["kind"] == "dynamic"
    assert member_ids(ws, "italian buyers") == {people["a"]}
    reason = ws.client.get("/v1/segments/italian buyers/members", headers=ws.admin).json()
    assert reason["members"][0]["reason"]["kind"] == "backfill"
    assert segment_events(container, ws, people["a"]) == []  # a definition is not behaviour


def test_window_states_are_built_from_history(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    first = clock.now_ms()
    track(ws, "ann", "Product Viewed")
    clock.advance(600)
    track(ws, "ann", "Product Viewed")
    clock.advance(600)
    create(ws, "browsers", 'count(event "Product Viewed" within 1d) >= 2')
    p = pid(ws, "ann")
    assert member_ids(ws, "browsers") == {p}
    clock.set(first + DAY - 1)
    container.segment_sweeper.run_due()
    assert member_ids(ws, "browsers") == {p}
    clock.set(first + DAY)
    container.segment_sweeper.run_due()
    assert member_ids(ws, "browsers") == set()
    # A third view within a day of the second puts her back, counting the stored state.
    track(ws, "ann", "Product Viewed")
    assert member_ids(ws, "browsers") == {p}


def test_relative_dates_are_scheduled_by_the_back_fill(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    seen = clock.now_ms()
    track(ws, "old", "Page Viewed")
    create(ws, "lapsed", "profile.last_seen < now - 7d")
    assert member_ids(ws, "lapsed") == set()
    clock.set(seen + 7 * DAY + 1)
    container.segment_sweeper.run_due()
    assert member_ids(ws, "lapsed") == {pid(ws, "old")}


def test_update_recomputes_and_rename_is_refused_while_used(
    ws: Workspace, container: Container
) -> None:
    people = _people(ws)
    created = create(ws, "buyers", "computed.orders >= 1")
    create(ws, "big buyers", 'in_segment("buyers") and computed.orders >= 3')
    assert member_ids(ws, "big buyers") == {people["c"]}
    changed = container.segments.update(
        ws.id, created["segment_id"], condition="computed.orders >= 3"
    )
    assert changed["size"] == 1
    assert member_ids(ws, "buyers") == {people["c"]}
    with pytest.raises(Conflict, match="big buyers"):
        container.segments.update(ws.id, "buyers", name="purchasers")
    renamed = container.segments.update(ws.id, "big buyers", name="whales", description="3+")
    assert renamed["name"] == "whales" and renamed["description"] == "3+"


def test_cycles_and_type_errors_are_refused(ws: Workspace, container: Container) -> None:
    create(ws, "a", "computed.orders >= 1")
    create(ws, "b", 'in_segment("a")')
    with pytest.raises(Unprocessable) as caught:
        container.segments.update(ws.id, "a", condition='in_segment("b")')
    assert caught.value.code == "cycle"
    with pytest.raises(Unprocessable):
        container.segments.create(ws.id, "c", 'in_segment("nowhere")')
    with pytest.raises(Unprocessable):
        container.segments.create(ws.id, "d", 'traits.country > now and consented("telepathy")')


def test_delete_warns_about_dependents(ws: Workspace, container: Container) -> None:
    _people(ws)
    create(ws, "buyers", "computed.orders >= 1")
    create(ws, "italian buyers", 'in_segment("buyers") and traits.country == "IT"')
    with pytest.raises(Conflict, match="italian buyers"):
        container.segments.delete(ws.id, "buyers")
    out = container.segments.delete(ws.id, "buyers", force=True)
    assert out["dependents"] == ["italian buyers"]
    with pytest.raises(NotFound):
        container.segments.get(ws.id, "buyers")
    names = [s["name"] for s in container.segments.list(ws.id)]
    assert names == ["italian buyers"]


def test_preview_estimates_and_samples_without_saving(ws: Workspace, container: Container) -> None:
    people = _people(ws)
    out = container.segments.preview(ws.id, 'traits.country == "IT"', sample=1)
    assert out["estimate"] == 2
    assert len(out["sample"]) == 1 and out["sample"][0]["profile_id"] in people.values()
    assert container.segments.list(ws.id) == []


def test_recompute_repairs_membership(ws: Workspace, container: Container) -> None:
    people = _people(ws)
    create(ws, "buyers", "computed.orders >= 1")
    with container.store.write() as conn:
        conn.execute(segment_membership.delete().where(segment_membership.c.workspace_id == ws.id))
    assert member_ids(ws, "buyers") == set()
    steps: list[str] = []
    out = container.segments.recompute(ws.id, "buyers", lambda s, d, t: steps.append(s))
    assert out["size"] == 2 and out["entered"] == 2
    assert member_ids(ws, "buyers") == {people["a"], people["c"]}
    assert "members" in steps


def test_erasure_removes_memberships_windows_and_schedule(
    ws: Workspace, container: Container
) -> None:
    create(ws, "browsers", 'did event "Product Viewed" within 1d')
    track(ws, "eve", "Product Viewed")
    p = pid(ws, "eve")
    assert segments_of(ws, p) == {"browsers"}
    r = ws.client.delete("/v1/profiles/user_id:eve", headers=ws.admin)
    assert r.status_code == 200, r.text
    erased = r.json()["erased"]
    assert erased["segment_membership"] == 1 and erased["segment_window"] == 1
    assert erased["segment_schedule"] == 1
    with container.store.read() as conn:
        for table in (segment_membership, segment_window, segment_schedule):
            rows = conn.execute(table.select().where(table.c.profile_id == p)).all()
            assert rows == []
    assert member_ids(ws, "browsers") == set()


def test_window_states_go_only_when_no_segment_uses_them(
    ws: Workspace, container: Container
) -> None:
    def keys() -> set[str]:
        with container.store.read() as conn:
            rows = conn.execute(
                segment_window.select().where(segment_window.c.workspace_id == ws.id)
            ).all()
        return {r.agg_key for r in rows}

    create(ws, "buyers", 'did event "Order Completed" within 7d')
    create(ws, "viewers", 'did event "Product Viewed" within 7d')
    _people(ws)
    track(ws, "a", "Product Viewed")
    both = keys()
    assert len(both) == 2
    create(ws, "italians", 'traits.country == "IT"')
    container.segments.recompute(ws.id, "viewers")
    assert keys() == both
    container.segments.update(ws.id, "buyers", condition='traits.country == "FR"')
    assert len(keys()) == 1 and keys() < both
    assert member_ids(ws, "buyers") == {pid(ws, "c")}
