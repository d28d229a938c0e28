"""The identity graph through the tracking and admin APIs: linking, merging, alias, shared
devices, and merge history. Every test runs on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib

from tests.conftest import T0, Workspace
from tests.profiles.helpers import (
    HOUR,
    MINUTE,
    batch,
    export,
    get,
    identities,
    iso,
    list_all,
    send,
    status,
)
from unico.core.clock import ManualClock


def test_identify_links_an_anonymous_visitor_to_a_user(ws: Workspace) -> None:
    send(ws, "track", {"anonymousId": "a1", "event": "Product Viewed"})
    send(ws, "page", {"anonymousId": "a1", "name": "Home"})
    visitor = get(ws, "anonymous_id:a1")
    send(
        ws,
        "identify",
        {"anonymousId": "a1", "userId": "u1", "traits": {"email": " Ada@Example.COM "}},
    )
    person = get(ws, "user_id:u1")
    assert person["profile_id"] == visitor["profile_id"]
    sha = hashlib.sha256(b"ada@example.com").hexdigest()
    for ref in (
        "anonymous_id:a1",
        "email:ada@example.com",
        "email:ADA@example.com ",
        f"email_sha256:{sha}",
    ):
        assert get(ws, ref)["profile_id"] == person["profile_id"], ref
    assert identities(person) == {
        ("anonymous_id", "a1"),
        ("user_id", "u1"),
        ("email", "ada@example.com"),
        ("email_sha256", sha),
    }
    assert person["computed"]["events"] == 3
    assert person["merged_from"] == []
    assert len(list_all(ws)) == 1


def test_every_identity_kind_finds_the_profile(ws: Workspace) -> None:
    send(
        ws,
        "identify",
        {
            "anonymousId": "a1",
            "traits": {"phone": "+39 333 123-4567", "loyaltyId": "L-77"},
            "context": {"externalIds": [{"id": "C-9", "type": "crm_id", "collection": "users"}]},
        },
    )
    pid = get(ws, "anonymous_id:a1")["profile_id"]
    for ref in (
        "phone:+393331234567",
        "phone:+39 (333) 1234567",
        "loyalty_id:L-77",
        "crm_id:C-9",
        pid,
    ):
        assert get(ws, ref)["profile_id"] == pid, ref
    # A later event carrying only one of those ids lands on the same profile.
    send(
        ws,
        "track",
        {
            "anonymousId": "a2",
            "event": "Visit",
            "context": {"externalIds": [{"id": "C-9", "type": "crm_id"}]},
        },
    )
    assert get(ws, "anonymous_id:a2")["profile_id"] == pid
    assert status(ws, "loyalty_id:L-78") == 404


def test_identify_merges_two_existing_profiles_into_the_user(
    ws: Workspace, clock: ManualClock
) -> None:
    send(ws, "track", {"anonymousId": "a1", "event": "Product Viewed"})
    send(ws, "track", {"anonymousId": "a1", "event": "Product Added"})
    visitor = get(ws, "anonymous_id:a1")["profile_id"]
    clock.advance(60)
    send(ws, "identify", {"userId": "u1", "traits": {"email": "ada@example.com"}})
    send(
        ws,
        "track",
        {
            "userId": "u1",
            "event": "Order Completed",
            "properties": {"order_id": "o1", "revenue": 10},
        },
    )
    known = get(ws, "user_id:u1")["profile_id"]
    assert known != visitor
    clock.advance(60)

    r = send(ws, "identify", {"userId": "u1", "anonymousId": "a1"})
    assert r["accepted"] == 1

    # The user's profile survives even though the visitor's is older.
    for ref in ("anonymous_id:a1", "user_id:u1", "email:ada@example.com", visitor, known):
        assert get(ws, ref)["profile_id"] == known, ref
    profile = get(ws, visitor)
    assert profile["merged_from"] == [visitor]
    assert profile["computed"]["events"] == 5
    assert profile["computed"]["event_counts"] == {
        "Product Viewed": 1,
        "Product Added": 1,
        "Order Completed": 1,
    }
    assert profile["computed"]["orders"] == 1
    assert profile["created_at"] == iso(T0)  # the older of the two
    # Events recorded before the merge, on the loser, are the survivor's now.
    names = [e["name"] for e in profile["recent_events"]]
    assert sorted(n for n in names if n) == ["Order Completed", "Product Added", "Product Viewed"]

    out = export(ws, visitor)
    assert [(m["from_profile"], m["into_profile"]) for m in out["merge_history"]] == [
        (visitor, known)
    ]
    assert out["merge_history"][0]["at"] == iso(T0 + 2 * MINUTE)
    assert out["merge_history"][0]["reason"].startswith("identify")
    assert len(out["events"]) == 5
    assert len(list_all(ws)) == 1


def test_shared_email_merges_into_the_oldest_profile(ws: Workspace, clock: ManualClock) -> None:
    send(ws, "identify", {"anonymousId": "a1", "traits": {"email": "bea@example.com"}})
    first = get(ws, "anonymous_id:a1")["profile_id"]
    clock.advance(60)
    send(ws, "track", {"anonymousId": "a2", "event": "Product Viewed"})
    second = get(ws, "anonymous_id:a2")["profile_id"]
    assert first != second
    send(ws, "identify", {"anonymousId": "a2", "traits": {"email": "BEA@example.com"}})
    assert get(ws, "anonymous_id:a2")["profile_id"] == first
    assert get(ws, second)["profile_id"] == first
    assert get(ws, first)["computed"]["events"] == 3


def test_chained_merges_keep_every_old_id_resolvable(ws: Workspace, clock: ManualClock) -> None:
    send(ws, "track", {"anonymousId": "a1", "event": "One"})
    p1 = get(ws, "anonymous_id:a1")["profile_id"]
    clock.advance(1)
    send(ws, "track", {"anonymousId": "a2", "event": "Two"})
    p2 = get(ws, "anonymous_id:a2")["profile_id"]
    clock.advance(1)
    send(ws, "identify", {"userId": "u1"})
    p3 = get(ws, "user_id:u1")["profile_id"]
    clock.advance(1)
    send(ws, "identify", {"anonymousId": "a2", "traits": {"email": "c@example.com"}})
    send(ws, "identify", {"anonymousId": "a1", "traits": {"email": "c@example.com"}})  # p2 -> p1
    assert get(ws, p2)["profile_id"] == p1
    send(ws, "identify", {"anonymousId": "a1", "userId": "u1"})  # p1 -> p3
    for ref in (p1, p2, p3, "anonymous_id:a1", "anonymous_id:a2", "email:c@example.com"):
        assert get(ws, ref)["profile_id"] == p3, ref
    survivor = get(ws, p3)
    assert sorted(survivor["merged_from"]) == sorted([p1, p2])
    assert survivor["computed"]["events"] == 6
    assert identities(survivor) >= {
        ("anonymous_id", "a1"),
        ("anonymous_id", "a2"),
        ("user_id", "u1"),
    }
    history = export(ws, "user_id:u1")["merge_history"]
    assert [(m["from_profile"], m["into_profile"]) for m in history] == [(p2, p1), (p1, p3)]
    assert len(export(ws, p2)["events"]) == 6


def test_merges_inside_one_batch_move_every_identity(ws: Workspace) -> None:
    """A profile created and merged away within one batch leaves no identity behind on it."""
    batch(
        ws,
        [
            {"type": "track", "anonymousId": "a1", "event": "One"},
            {"type": "identify", "userId": "u1", "anonymousId": "a2"},
            {
                "type": "identify",
                "userId": "u1",
                "anonymousId": "a1",
                "traits": {"email": "d@example.com"},
            },
            {"type": "track", "anonymousId": "a1", "event": "Two"},
        ],
    )
    profiles = list_all(ws)
    assert len(profiles) == 1
    person = get(ws, "user_id:u1")
    assert identities(person) >= {
        ("anonymous_id", "a1"),
        ("anonymous_id", "a2"),
        ("user_id", "u1"),
        ("email", "d@example.com"),
    }
    assert person["computed"]["events"] == 4
    assert len(person["merged_from"]) == 1
    assert len(export(ws, "anonymous_id:a1")["events"]) == 4


def test_two_user_ids_on_one_device_never_merge(ws: Workspace, clock: ManualClock) -> None:
    send(ws, "identify", {"userId": "u1", "anonymousId": "dev", "traits": {"name": "Ada"}})
    send(ws, "track", {"anonymousId": "dev", "event": "Ada Browses"})
    ada = get(ws, "user_id:u1")["profile_id"]
    assert get(ws, "anonymous_id:dev")["profile_id"] == ada
    clock.advance(60)

    send(ws, "identify", {"userId": "u2", "anonymousId": "dev", "traits": {"name": "Bob"}})
    bob = get(ws, "user_id:u2")["profile_id"]
    assert bob != ada
    # The device follows whoever logged in last; Ada keeps her own history.
    assert get(ws, "anonymous_id:dev")["profile_id"] == bob
    send(ws, "track", {"anonymousId": "dev", "event": "Bob Browses"})
    ada_now, bob_now = get(ws, ada), get(ws, bob)
    assert ada_now["traits"]["name"] == "Ada" and bob_now["traits"]["name"] == "Bob"
    assert ada_now["computed"]["event_counts"] == {"Ada Browses": 1}
    assert bob_now["computed"]["event_counts"] == {"Bob Browses": 1}

    # Ada logs in again on the device: the device moves back, nobody merges.
    send(ws, "identify", {"userId": "u1", "anonymousId": "dev"})
    assert get(ws, "anonymous_id:dev")["profile_id"] == ada
    assert {p["profile_id"] for p in list_all(ws)} == {ada, bob}
    assert export(ws, ada)["merge_history"] == [] and export(ws, bob)["merge_history"] == []
    assert ("user_id", "u2") not in identities(get(ws, ada))


def test_a_shared_email_does_not_merge_two_users(ws: Workspace) -> None:
    send(ws, "identify", {"userId": "u1", "traits": {"email": "family@example.com"}})
    send(ws, "identify", {"userId": "u2", "traits": {"email": "family@example.com"}})
    assert get(ws, "user_id:u1")["profile_id"] != get(ws, "user_id:u2")["profile_id"]
    assert len(list_all(ws)) == 2


def test_alias_from_an_anonymous_id(ws: Workspace) -> None:
    send(ws, "track", {"anonymousId": "a1", "event": "Browse"})
    visitor = get(ws, "anonymous_id:a1")["profile_id"]
    send(ws, "alias", {"previousId": "a1", "userId": "u1"})
    person = get(ws, "user_id:u1")
    assert person["profile_id"] == visitor
    assert identities(person) == {("anonymous_id", "a1"), ("user_id", "u1")}
    # previousId was an anonymous id, so it did not become a user id.
    assert status(ws, "user_id:a1") == 404


def test_alias_from_an_older_user_id_merges_two_known_people(
    ws: Workspace, clock: ManualClock
) -> None:
    send(ws, "identify", {"userId": "old-42", "traits": {"email": "e@example.com"}})
    old = get(ws, "user_id:old-42")["profile_id"]
    clock.advance(60)
    send(ws, "identify", {"userId": "new-42", "traits": {"plan": "pro"}})
    new = get(ws, "user_id:new-42")["profile_id"]
    send(ws, "alias", {"previousId": "old-42", "userId": "new-42"})
    for ref in ("user_id:old-42", "user_id:new-42", "email:e@example.com", old):
        assert get(ws, ref)["profile_id"] == new, ref
    person = get(ws, new)
    assert person["traits"] == {"email": "e@example.com", "plan": "pro"}
    assert identities(person) >= {("user_id", "old-42"), ("user_id", "new-42")}
    assert status(ws, "anonymous_id:old-42") == 404
    assert [m["reason"] for m in export(ws, new)["merge_history"]] == ["alias"]


def test_alias_of_two_unknown_ids_creates_one_profile(ws: Workspace) -> None:
    send(ws, "alias", {"previousId": "a9", "userId": "u9"})
    assert get(ws, "anonymous_id:a9")["profile_id"] == get(ws, "user_id:u9")["profile_id"]
    send(ws, "track", {"anonymousId": "a9", "event": "Later"})
    assert get(ws, "user_id:u9")["computed"]["events"] == 2


def test_anonymous_events_after_a_merge_reach_the_survivor(
    ws: Workspace, clock: ManualClock
) -> None:
    send(ws, "track", {"anonymousId": "a1", "event": "Before"})
    send(ws, "identify", {"userId": "u1"})
    clock.advance(3600)
    send(ws, "identify", {"userId": "u1", "anonymousId": "a1"})
    send(ws, "track", {"anonymousId": "a1", "event": "After"})
    person = get(ws, "user_id:u1")
    assert person["computed"]["event_counts"] == {"Before": 1, "After": 1}
    assert len(list_all(ws)) == 1


def test_alias_of_a_shared_device_does_not_merge_its_other_user(
    ws: Workspace, clock: ManualClock
) -> None:
    """analytics.js sends the current anonymous id as previousId: on a device Ada used, Bob
    signing up must get the device, not Ada's profile."""
    send(ws, "identify", {"userId": "ada", "anonymousId": "dev", "traits": {"name": "Ada"}})
    ada = get(ws, "user_id:ada")["profile_id"]
    clock.advance(60)
    send(ws, "alias", {"previousId": "dev", "userId": "bob"})
    bob = get(ws, "user_id:bob")
    assert bob["profile_id"] != ada
    assert identities(bob) == {("user_id", "bob"), ("anonymous_id", "dev")}
    assert identities(get(ws, ada)) == {("user_id", "ada")}
    assert get(ws, ada)["traits"] == {"name": "Ada"}
    # The same when Bob is already known.
    send(ws, "identify", {"userId": "ada", "anonymousId": "dev"})
    send(ws, "identify", {"userId": "cy"})
    send(ws, "alias", {"previousId": "dev", "userId": "cy"})
    assert get(ws, "anonymous_id:dev")["profile_id"] == get(ws, "user_id:cy")["profile_id"]
    assert len(list_all(ws)) == 3
    assert export(ws, ada)["merge_history"] == []


def test_ids_linked_without_profiling_record_when(ws: Workspace, clock: ManualClock) -> None:
    send(ws, "identify", {"userId": "u1"})
    consent = {"event": "Consent Updated", "properties": {"analytics": False}}
    send(ws, "track", {"userId": "u1", **consent})
    clock.advance(3600)
    # Nothing changes but a new device id, linked by a consent message.
    send(ws, "track", {"userId": "u1", "anonymousId": "a2", **consent})
    created = {i["value"]: i["created_at"] for i in export(ws, "user_id:u1")["identities"]}
    assert created == {"u1": iso(T0), "a2": iso(T0 + HOUR)}
