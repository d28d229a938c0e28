"""`SqlProfileStore` contract: the same behaviour on SQLite and PostgreSQL."""

from __future__ import annotations

from tests.conftest import T0
from unico.container import Container
from unico.core.ids import new_id
from unico.profiles.identity import suppression_hash
from unico.profiles.store import Merge, ProfileChanges, ProfileState
from unico.store.profiles import SqlProfileStore


def _store(container: Container) -> SqlProfileStore:
    store = container.profiles.profiles
    assert isinstance(store, SqlProfileStore)
    return store


def _new(traits: dict[str, object], at: int = T0) -> ProfileState:
    state = ProfileState.new(new_id("p_", at), at)
    state.traits = traits
    state.trait_times = {k: at for k in traits}
    state.first_seen = state.last_seen = at
    return state


def test_write_then_read_round_trips_every_field(container: Container) -> None:
    store = _store(container)
    ws = container.workspaces.create("roundtrip").workspace_id
    state = _new({"name": "Zoë 🌍", "nested": {"a": [1, 2.5, None, True]}, "big": 2**53})
    state.computed = {"events": 3, "event_counts": {"Ordine Completato": 1}}
    state.consent = {"marketing": {"granted": True, "at": T0, "source": "api"}}
    changes = ProfileChanges(at=T0)
    changes.profiles[state.profile_id] = state
    changes.identities[("user_id", "u1")] = state.profile_id
    changes.identities[("email", "zoe@example.com")] = state.profile_id
    with container.store.write() as conn:
        store.write(conn, ws, changes)
    with container.store.read() as conn:
        loaded = store.load_profiles(conn, ws, [state.profile_id], lock=False)[state.profile_id]
        assert store.resolve(conn, ws, "email:ZOE@example.com") == state.profile_id
        assert store.resolve(conn, ws, "user_id:u1") == state.profile_id
        assert store.user_ids(conn, ws, [state.profile_id]) == {state.profile_id: {"u1"}}
        assert [i["kind"] for i in store.identities_of(conn, ws, state.profile_id)] == [
            "email",
            "user_id",
        ]
    for field in ("traits", "trait_times", "computed", "consent", "first_seen", "created_at"):
        assert getattr(loaded, field) == getattr(state, field), field
    assert not loaded.is_new and loaded.merged_into is None


def test_merges_repoint_identities_and_older_losers(container: Container) -> None:
    store = _store(container)
    ws = container.workspaces.create("merges").workspace_id
    a, b, c = _new({}), _new({}), _new({})
    first = ProfileChanges(at=T0)
    for state, anon in ((a, "a"), (b, "b"), (c, "c")):
        first.profiles[state.profile_id] = state
        first.identities[("anonymous_id", anon)] = state.profile_id
    with container.store.write() as conn:
        store.write(conn, ws, first)
    # a -> b, then (in another transaction) b -> c.
    for loser, into in ((a, b), (b, c)):
        loser.merged_into = into.profile_id
        changes = ProfileChanges(at=T0)
        changes.profiles[loser.profile_id] = loser
        changes.merges.append(Merge(loser.profile_id, into.profile_id, T0, "test", None))
        with container.store.write() as conn:
            store.write(conn, ws, changes)
    with container.store.read() as conn:
        for ref in ("anonymous_id:a", "anonymous_id:b", a.profile_id, b.profile_id):
            assert store.resolve(conn, ws, ref) == c.profile_id, ref
        assert sorted(store.merged_from(conn, ws, c.profile_id)) == sorted(
            [a.profile_id, b.profile_id]
        )
        assert {i["value"] for i in store.identities_of(conn, ws, c.profile_id)} == {"a", "b", "c"}
        history = store.history(conn, ws, c.profile_id)["merges"]
        assert [(m["from_profile"], m["into_profile"]) for m in history] == [
            (a.profile_id, b.profile_id),
            (b.profile_id, c.profile_id),
        ]
        listed = store.list_profiles(
            conn, ws, limit=10, after=None, traits={}, seen_since=None, seen_before=None
        )
        assert [s.profile_id for s in listed] == [c.profile_id]
        assert store.count(conn, ws) == 1


def test_erase_leaves_only_salted_hashes(container: Container) -> None:
    store = _store(container)
    ws = container.workspaces.create("erase").workspace_id
    state = _new({"name": "Ada"})
    changes = ProfileChanges(at=T0)
    changes.profiles[state.profile_id] = state
    keys = [("user_id", "ada"), ("email", "ada@example.com")]
    for key in keys:
        changes.identities[key] = state.profile_id
    with container.store.write() as conn:
        store.write(conn, ws, changes)
    with container.store.write() as conn:
        counts = store.erase(conn, ws, [state.profile_id], T0)
    assert counts["profiles"] == 1 and counts["identities"] == 2 and counts["suppressions"] == 2
    hashes = {suppression_hash(ws, k) for k in keys}
    with container.store.read() as conn:
        assert store.suppressed(conn, ws, [*hashes, "f" * 64]) == hashes
        assert store.suppressed(conn, "ws_other", hashes) == set()
        assert store.resolve(conn, ws, "user_id:ada") is None
        assert store.resolve(conn, ws, state.profile_id) is None


def test_list_filters_compare_traits_as_text(container: Container) -> None:
    store = _store(container)
    ws = container.workspaces.create("filters").workspace_id
    people = [
        _new({"score": 4.5, "tags": ["a"], "none": None, "n": 0}),
        _new({"score": 4, "n": "0"}),
    ]
    changes = ProfileChanges(at=T0)
    for state in people:
        changes.profiles[state.profile_id] = state
    with container.store.write() as conn:
        store.write(conn, ws, changes)

    def found(**traits: str) -> list[str]:
        with container.store.read() as conn:
            rows = store.list_profiles(
                conn, ws, limit=10, after=None, traits=traits, seen_since=None, seen_before=None
            )
        return [s.profile_id for s in rows]

    first, second = (p.profile_id for p in people)
    assert found(score="4.5") == [first]
    assert found(score="4") == [second]
    assert found(n="0") == sorted([first, second])
    assert found(none="null") == []
    assert found(none="") == []
