"""The reads a decision makes, on both stores: a person's profile and consent from an
identity (`SqlProfileStore.consent_of`), their latest interactions (`SqlCatalogStore.recent`)."""

from __future__ import annotations

from tests.conftest import T0
from unico.container import Container
from unico.core.ids import new_id
from unico.profiles.identity import IdentityKey
from unico.profiles.store import ProfileChanges, ProfileState
from unico.store.catalog import SqlCatalogStore
from unico.store.profiles import SqlProfileStore

WITHDRAWN = {"personalization": {"granted": False, "at": T0, "source": "api"}}


def _profiles(container: Container) -> SqlProfileStore:
    store = container.profiles.profiles
    assert isinstance(store, SqlProfileStore)
    return store


def _write(
    container: Container, ws: str, states: dict[str, ProfileState], ids: dict[IdentityKey, str]
) -> None:
    changes = ProfileChanges(at=T0)
    changes.profiles.update(states)
    changes.identities.update(ids)
    with container.store.write() as conn:
        _profiles(container).write(conn, ws, changes)


def test_consent_of_prefers_the_first_key_and_follows_merges(container: Container) -> None:
    store = _profiles(container)
    ws = container.workspaces.create("consent-of").workspace_id
    known, anon, loser = (ProfileState.new(new_id("p_", T0), T0) for _ in range(3))
    known.consent = WITHDRAWN
    # An identity still pointing at a merged-away profile leads to the survivor.
    loser.merged_into = known.profile_id
    _write(
        container,
        ws,
        {p.profile_id: p for p in (known, anon, loser)},
        {
            ("user_id", "ada"): known.profile_id,
            ("anonymous_id", "a1"): anon.profile_id,
            ("anonymous_id", "old"): loser.profile_id,
        },
    )
    with container.store.read() as conn:
        both = [("user_id", "ada"), ("anonymous_id", "a1")]
        assert store.consent_of(conn, ws, both) == (known.profile_id, WITHDRAWN)
        assert store.consent_of(conn, ws, [("user_id", "bo"), ("anonymous_id", "a1")]) == (
            anon.profile_id,
            {},
        )
        assert store.consent_of(conn, ws, [("anonymous_id", "old")]) == (
            known.profile_id,
            WITHDRAWN,
        )
        assert store.consent_of(conn, ws, [("user_id", "nobody")]) is None
        other = container.workspaces.create("other").workspace_id
        assert store.consent_of(conn, other, both) is None


def test_recent_is_newest_first_and_limited(container: Container) -> None:
    items = container.catalog.items
    assert isinstance(items, SqlCatalogStore)
    ws = container.workspaces.create("recent").workspace_id
    rows = [("p1", f"i{n}", "view", 1.0, T0 + n) for n in range(5)]
    rows.append(("p1", "i9", "purchase", 5.0, T0 + 2))  # same time as i2, written later
    rows.append(("p2", "x", "view", 1.0, T0 + 100))
    with container.store.write() as conn:
        items.add_interactions(conn, ws, rows)
    with container.store.read() as conn:
        found = items.recent(conn, ws, "p1", 4)
    assert found == [
        ("i4", "view", 1.0, T0 + 4),
        ("i3", "view", 1.0, T0 + 3),
        ("i9", "purchase", 5.0, T0 + 2),
        ("i2", "view", 1.0, T0 + 2),
    ]
    assert all(isinstance(r[2], float) and isinstance(r[3], int) for r in found)
