"""The segments context's store protocols (`unico.segments.store`): what any implementation
must do, run against the SQL adapters on SQLite and PostgreSQL. Each test names the protocol
it covers; a second implementation passes by being returned from the `segments` fixture."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import ColumnElement, Select, literal, select, union_all

from tests.conftest import T0
from unico.core.ids import new_id
from unico.db.engine import Store
from unico.db.schema import profile
from unico.profiles.store import ProfileChanges, ProfileState
from unico.segments.store import SegmentRow, SegmentStore
from unico.store.profiles import SqlProfileStore
from unico.store.segments import SqlSegmentStore


@pytest.fixture
def store(database_url: str) -> Iterator[Store]:
    s = Store(database_url)
    yield s
    s.dispose()


@pytest.fixture
def segments(store: Store) -> SegmentStore:
    return SqlSegmentStore(store)


def _ws() -> str:
    return new_id("ws_", T0)


def _row(segment_id: str, at: int, *, kind: str = "dynamic") -> SegmentRow:
    condition = None if kind == "static" else "traits.plan = 'pro'"
    return SegmentRow(segment_id, f"name {segment_id}", kind, condition, "déjà vu", at, at)


# -- SegmentDefinitions -----------------------------------------------------------------------


def test_definitions_round_trip_in_creation_order_and_bump_the_version(
    store: Store, segments: SegmentStore
) -> None:
    ws, other = _ws(), _ws()
    with store.read() as conn:
        assert segments.version(conn, ws) == 0
        assert segments.segments(conn, ws) == []
    late, early, tie = _row("seg_b", T0 + 10), _row("seg_z", T0), _row("seg_a", T0 + 10)
    with store.write() as conn:
        for row in (late, early, tie):
            segments.insert(conn, ws, row)
        segments.insert(conn, other, _row("seg_o", T0, kind="static"))
    with store.read() as conn:
        assert segments.segments(conn, ws) == [early, tie, late]
        assert segments.version(conn, ws) == 3
        assert segments.version(conn, other) == 1
        assert [r.segment_id for r in segments.segments(conn, other)] == ["seg_o"]
        assert {ws, other} <= set(segments.workspaces_with_segments(conn))
    changed = SegmentRow("seg_b", "renamed", "static", "events > 1", None, T0 + 99, T0 + 50)
    with store.write() as conn:
        segments.update(conn, ws, changed)
        segments.bump_version(conn, ws)
    with store.read() as conn:
        (row,) = [r for r in segments.segments(conn, ws) if r.segment_id == "seg_b"]
        # The kind and the creation time are the definition's for good.
        assert row == SegmentRow(
            "seg_b", "renamed", "dynamic", "events > 1", None, T0 + 10, T0 + 50
        )
        assert segments.version(conn, ws) == 5


def test_deleting_a_definition_takes_its_members_and_entries_only(
    store: Store, segments: SegmentStore
) -> None:
    ws = _ws()
    with store.write() as conn:
        segments.insert(conn, ws, _row("seg_a", T0))
        segments.insert(conn, ws, _row("seg_b", T0))
        segments.write_memberships(conn, ws, [("seg_a", "p1", T0, {}), ("seg_b", "p1", T0, {})], [])
        segments.add_entries(conn, ws, "seg_a", [("email", "a@x.io", "p1")], T0)
        segments.add_entries(conn, ws, "seg_b", [("email", "a@x.io", "p1")], T0)
        segments.delete(conn, ws, "seg_a")
    with store.read() as conn:
        assert [r.segment_id for r in segments.segments(conn, ws)] == ["seg_b"]
        assert set(segments.memberships(conn, ws, ["p1"])["p1"]) == {"seg_b"}
        assert segments.entries(conn, ws, ["p1"]) == {"p1": {"seg_b"}}
        assert segments.version(conn, ws) == 3


# -- SegmentMemberships -----------------------------------------------------------------------


def test_memberships_upsert_delete_and_stay_in_their_workspace(
    store: Store, segments: SegmentStore
) -> None:
    ws, other = _ws(), _ws()
    reason = {"why": ["plan", "Zoë 🌍"], "n": 2.5}
    with store.write() as conn:
        segments.write_memberships(conn, ws, [("s1", "p1", T0, reason)], [])
        segments.write_memberships(conn, ws, [("s2", "p1", T0 + 1, {}), ("s1", "p2", T0, {})], [])
        segments.write_memberships(conn, other, [("s1", "p1", T0 + 7, {})], [])
    with store.read() as conn:
        found = segments.memberships(conn, ws, ["p1", "p2", "p3", "p1"])
        assert set(found) == {"p1", "p2"}
        assert (found["p1"]["s1"].since, found["p1"]["s1"].reason) == (T0, reason)
        assert found["p1"]["s2"].since == T0 + 1
        assert segments.sizes(conn, ws) == {"s1": 2, "s2": 1}
        assert segments.size(conn, ws, "s1") == 2
        assert segments.size(conn, ws, "nope") == 0
    with store.write() as conn:
        segments.write_memberships(conn, ws, [("s1", "p1", T0 + 5, {"new": True})], [("s2", "p1")])
    with store.read() as conn:
        found = segments.memberships(conn, ws, ["p1"])
        assert set(found["p1"]) == {"s1"}
        assert (found["p1"]["s1"].since, found["p1"]["s1"].reason) == (T0 + 5, {"new": True})
        assert segments.memberships(conn, other, ["p1"])["p1"]["s1"].since == T0 + 7


def test_members_page_in_profile_id_order(store: Store, segments: SegmentStore) -> None:
    ws = _ws()
    with store.write() as conn:
        segments.write_memberships(
            conn, ws, [("s", p, T0 + i, {"i": i}) for i, p in enumerate(["p3", "p1", "p2"])], []
        )
        segments.write_memberships(conn, ws, [("other", "p0", T0, {})], [])
    with store.read() as conn:
        every = list(segments.members(conn, ws, "s", after=None, limit=None))
        assert every == [("p1", T0 + 1, {"i": 1}), ("p2", T0 + 2, {"i": 2}), ("p3", T0, {"i": 0})]
        page = list(segments.members(conn, ws, "s", after="p1", limit=1))
        assert page == [("p2", T0 + 2, {"i": 2})]


def _profiles(store: Store, ws: str, plans: dict[str, str]) -> dict[str, str]:
    """Write one profile per plan; returns plan -> profile id."""
    changes = ProfileChanges(at=T0)
    ids = {}
    for plan in plans:
        state = ProfileState.new(new_id("p_", T0), T0)
        state.traits = {"plan": plans[plan]}
        state.trait_times = {"plan": T0}
        state.first_seen = state.last_seen = T0
        changes.profiles[state.profile_id] = state
        ids[plan] = state.profile_id
    with store.write() as conn:
        SqlProfileStore(store).write(conn, ws, changes)
    return ids


def test_replace_members_makes_the_members_exactly_those_who_qualify(
    store: Store, segments: SegmentStore
) -> None:
    ws = _ws()
    ids = _profiles(store, ws, {"a": "pro", "b": "pro", "c": "free"})

    def chosen(*names: str) -> ColumnElement[bool]:
        return (profile.c.workspace_id == ws) & profile.c.profile_id.in_([ids[n] for n in names])

    with store.write() as conn:
        first = segments.replace_members(conn, ws, "s", chosen("a", "b"), T0, {"r": 1})
    with store.write() as conn:
        second = segments.replace_members(conn, ws, "s", chosen("b", "c"), T0 + 9, {"r": 2})
    assert (first, second) == ((2, 0), (1, 1))
    with store.read() as conn:
        found = segments.memberships(conn, ws, ids.values())
    assert set(found) == {ids["b"], ids["c"]}
    # Who stays keeps when and why they joined.
    assert (found[ids["b"]]["s"].since, found[ids["b"]]["s"].reason) == (T0, {"r": 1})
    assert (found[ids["c"]]["s"].since, found[ids["c"]]["s"].reason) == (T0 + 9, {"r": 2})


# -- SegmentWindows ---------------------------------------------------------------------------


def _points(rows: list[tuple[str, int, float]]) -> Select[tuple[str, int, float]]:
    """(profile id, timestamp, value) rows as a query, ordered as the store expects."""
    parts = [
        select(literal(p).label("owner"), literal(t).label("ts"), literal(v).label("value"))
        for p, t, v in rows
    ]
    u = union_all(*parts).subquery("u")
    return select(u.c.owner, u.c.ts, u.c.value).order_by(u.c.owner, u.c.ts, u.c.value)


def test_windows_upsert_delete_drop_and_build_on_the_server(
    store: Store, segments: SegmentStore
) -> None:
    ws, other = _ws(), _ws()
    with store.write() as conn:
        segments.write_windows(
            conn, ws, [("p1", "k1", {"p": [[T0, 1.0, 1]]}), ("p1", "k2", {})], []
        )
        segments.write_windows(conn, ws, [("p2", "k1", {"v": "é"}), ("p1", "k1", {"v": 2})], [])
        segments.write_windows(conn, other, [("p1", "k1", {"other": 1})], [])
        segments.write_windows(conn, ws, [], [("p2", "k1")])
    with store.read() as conn:
        assert segments.windows(conn, ws, ["p1", "p2"]) == {"p1": {"k1": {"v": 2}, "k2": {}}}
    with store.write() as conn:
        segments.drop_windows(conn, ws, {"k2"})
    with store.read() as conn:
        assert segments.windows(conn, ws, ["p1"]) == {"p1": {"k2": {}}}
        assert segments.windows(conn, other, ["p1"]) == {"p1": {"k1": {"other": 1}}}
    points = _points([("p1", T0 + 5, 2.0), ("p1", T0, 1.5), ("p2", T0, 1.0), ("p2", T0 + 1, 1.0)])
    with store.write() as conn:
        written = segments.write_windows_from(conn, ws, "k3", points, limit=2)
    assert written == 2
    with store.read() as conn:
        states = segments.windows(conn, ws, ["p1", "p2"])
    assert states["p1"]["k3"] == {"p": [[T0, 1.5, 1], [T0 + 5, 2.0, 1]]}
    assert states["p2"]["k3"] == {"p": [[T0, 1.0, 1], [T0 + 1, 1.0, 1]]}
    many = _points([("p1", T0 + i, 1.0) for i in range(3)])
    with store.write() as conn:
        assert segments.write_windows_from(conn, ws, "k4", many, limit=2) == 0
        segments.drop_windows(conn, ws, set())
    with store.read() as conn:
        assert segments.windows(conn, ws, ["p1", "p2"]) == {}


# -- SegmentSchedule --------------------------------------------------------------------------


def test_schedule_sets_clears_and_lists_what_is_due_soonest_first(
    store: Store, segments: SegmentStore
) -> None:
    ws, other = _ws(), _ws()
    with store.read() as conn:
        assert segments.earliest_due(conn, ws) is None
    with store.write() as conn:
        segments.write_schedule(conn, ws, [("p1", T0 + 30), ("p2", T0 + 10), ("p3", T0 + 20)])
        segments.write_schedule(conn, other, [("p0", T0)])
        segments.write_schedule(conn, ws, [("p3", None), ("p4", T0 + 5)])
    with store.read() as conn:
        assert segments.due(conn, ws, T0 + 30, 10) == ["p4", "p2", "p1"]
        assert segments.due(conn, ws, T0 + 10, 1) == ["p4"]
        assert segments.due(conn, ws, T0 + 4, 10) == []
        assert segments.earliest_due(conn, ws) == T0 + 5
    with store.write() as conn:
        segments.schedule_earlier(conn, ws, [("p1", T0 + 1), ("p2", T0 + 99), ("p5", T0 + 50)])
    with store.read() as conn:
        assert segments.due(conn, ws, T0 + 100, 10) == ["p1", "p4", "p2", "p5"]


def test_schedule_earlier_from_a_query_and_least_of_columns(
    store: Store, segments: SegmentStore
) -> None:
    ws = _ws()
    with store.write() as conn:
        segments.write_schedule(conn, ws, [("p1", T0 + 30), ("p2", T0 + 10)])
        parts = [
            select(literal(ws).label("w"), literal(p).label("p"), literal(at).label("at"))
            for p, at in [("p1", T0 + 20), ("p2", T0 + 40), ("p3", T0 + 5)]
        ]
        u = union_all(*parts).subquery("u")
        segments.schedule_earlier_from(conn, select(u.c.w, u.c.p, u.c.at))
    with store.read() as conn:
        assert segments.due(conn, ws, T0 + 100, 10) == ["p3", "p2", "p1"]
        assert segments.earliest_due(conn, ws) == T0 + 5
        least = segments.least(conn, [literal(3), literal(None), literal(2)])
        assert conn.execute(select(least)).scalar() == 2
        none = segments.least(conn, [literal(None), literal(None)])
        assert conn.execute(select(none)).scalar() is None
        one = segments.least(conn, [literal(7)])
        assert conn.execute(select(one)).scalar() == 7


# -- SegmentLists -----------------------------------------------------------------------------


def test_list_entries_resolve_count_and_remove(store: Store, segments: SegmentStore) -> None:
    ws, other = _ws(), _ws()
    with store.write() as conn:
        segments.add_entries(
            conn,
            ws,
            "list",
            [("email", "a@x.io", "p1"), ("email", "b@x.io", None), ("user_id", "u9", None)],
            T0,
        )
        segments.add_entries(conn, ws, "list2", [("email", "b@x.io", None)], T0)
        segments.add_entries(conn, other, "list", [("email", "a@x.io", None)], T0)
    with store.read() as conn:
        assert segments.entries(conn, ws, ["p1", "p2"]) == {"p1": {"list"}}
        assert sorted(segments.pending(conn, ws, [("email", "b@x.io"), ("email", "a@x.io")])) == [
            ("list", "email", "b@x.io"),
            ("list2", "email", "b@x.io"),
        ]
        assert segments.entry_counts(conn, ws, "list") == {"matched": 1, "pending": 2}
        assert segments.entry_counts(conn, ws, "empty") == {"matched": 0, "pending": 0}
    with store.write() as conn:
        segments.resolve_pending(conn, ws, {("email", "b@x.io"): "p2"})
        # Adding an entry again gives it the new resolution.
        segments.add_entries(conn, ws, "list", [("email", "a@x.io", None)], T0 + 1)
    with store.read() as conn:
        assert segments.entries(conn, ws, ["p1", "p2"]) == {"p2": {"list", "list2"}}
        assert segments.pending(conn, ws, [("email", "b@x.io")]) == []
        assert segments.pending(conn, other, [("email", "a@x.io")]) == [("list", "email", "a@x.io")]
    with store.write() as conn:
        assert segments.remove_entries(conn, ws, "list", "p2") == 1
        assert segments.remove_pending(conn, ws, "list", ("email", "a@x.io")) == 1
        assert segments.remove_pending(conn, ws, "list", ("email", "a@x.io")) == 0
    with store.read() as conn:
        assert segments.entry_counts(conn, ws, "list") == {"matched": 0, "pending": 1}
        assert segments.entries(conn, ws, ["p2"]) == {"p2": {"list2"}}


# -- SegmentPersonData ------------------------------------------------------------------------


def _person_state(store: Store, segments: SegmentStore, ws: str, pid: str) -> None:
    with store.write() as conn:
        segments.write_memberships(conn, ws, [("s", pid, T0, {"r": pid})], [])
        segments.write_windows(conn, ws, [(pid, "k", {"p": []})], [])
        segments.write_schedule(conn, ws, [(pid, T0 + 1)])
        segments.add_entries(conn, ws, "list", [("user_id", f"u-{pid}", pid)], T0)


def test_merged_profiles_entries_follow_the_survivor_and_the_rest_goes(
    store: Store, segments: SegmentStore
) -> None:
    ws = _ws()
    _person_state(store, segments, ws, "loser")
    _person_state(store, segments, ws, "survivor")
    with store.write() as conn:
        segments.move_profiles(conn, ws, {"loser": "survivor"})
    with store.read() as conn:
        assert segments.memberships(conn, ws, ["loser"]) == {}
        assert segments.windows(conn, ws, ["loser"]) == {}
        assert segments.due(conn, ws, T0 + 1, 10) == ["survivor"]
        assert segments.entries(conn, ws, ["loser", "survivor"]) == {"survivor": {"list"}}
        assert segments.entry_counts(conn, ws, "list") == {"matched": 2, "pending": 0}


def test_export_then_erase_a_person_leaves_the_others(store: Store, segments: SegmentStore) -> None:
    ws, other = _ws(), _ws()
    _person_state(store, segments, ws, "p1")
    _person_state(store, segments, ws, "p2")
    _person_state(store, segments, other, "p1")
    with store.write() as conn:
        segments.add_entries(conn, ws, "list", [("email", "p1@x.io", None)], T0 + 2)
    keys = [("email", "p1@x.io")]
    with store.read() as conn:
        exported = segments.export_person(conn, ws, ["p1"], keys)
    assert set(exported) == {
        "segment_membership",
        "segment_window",
        "segment_schedule",
        "segment_list_entry",
    }
    assert exported["segment_membership"] == [
        {"segment_id": "s", "profile_id": "p1", "since": T0, "reason": {"r": "p1"}}
    ]
    assert exported["segment_window"] == [{"profile_id": "p1", "agg_key": "k", "state": {"p": []}}]
    assert exported["segment_schedule"] == [{"profile_id": "p1", "next_check_at": T0 + 1}]
    assert sorted(e["value"] for e in exported["segment_list_entry"]) == ["p1@x.io", "u-p1"]
    with store.write() as conn:
        counts = segments.erase(conn, ws, ["p1"])
        pending = segments.erase_pending(conn, ws, keys)
    assert counts == {
        "segment_membership": 1,
        "segment_window": 1,
        "segment_schedule": 1,
        "segment_list_entry": 1,
    }
    assert pending == 1
    with store.read() as conn:
        assert segments.export_person(conn, ws, ["p1"], keys) == {name: [] for name in exported}
        assert segments.memberships(conn, ws, ["p2"])["p2"]["s"].reason == {"r": "p2"}
        assert segments.memberships(conn, other, ["p1"])["p1"]["s"].reason == {"r": "p1"}
        assert segments.due(conn, ws, T0 + 1, 10) == ["p2"]
