"""Traits in ``context.traits``, where RudderStack's libraries send an identify's traits:
read like top-level ``traits``, which win key by key. Every test runs on SQLite and
PostgreSQL."""

from __future__ import annotations

from tests.conftest import T0, Workspace
from tests.profiles.helpers import MINUTE, batch, export, get, identities, iso, list_all, send
from tests.web.helpers import error_of


def test_an_identify_with_traits_only_in_context_sets_identities_and_traits(
    ws: Workspace,
) -> None:
    send(ws, "track", {"anonymousId": "a1", "event": "Product Viewed"})
    send(
        ws,
        "identify",
        {
            "anonymousId": "a1",
            "userId": "u1",
            "context": {
                "traits": {"email": " Ada@Example.COM ", "phone": "+39 333 1234567", "plan": "pro"}
            },
        },
    )
    person = get(ws, "user_id:u1")
    assert get(ws, "email:ada@example.com")["profile_id"] == person["profile_id"]
    assert get(ws, "anonymous_id:a1")["profile_id"] == person["profile_id"]
    assert {("email", "ada@example.com"), ("phone", "+393331234567")} <= identities(person)
    assert person["traits"] == {
        "email": " Ada@Example.COM ",
        "phone": "+39 333 1234567",
        "plan": "pro",
    }
    assert person["computed"]["events"] == 2
    assert len(list_all(ws)) == 1


def test_top_level_traits_win_over_context_traits_key_by_key(ws: Workspace) -> None:
    send(
        ws,
        "identify",
        {
            "userId": "u1",
            "timestamp": iso(T0),
            "traits": {"plan": "pro", "email": "top@example.com"},
            "context": {"traits": {"plan": "free", "email": "nested@example.com", "city": "Roma"}},
        },
    )
    person = get(ws, "user_id:u1")
    assert person["traits"] == {"plan": "pro", "email": "top@example.com", "city": "Roma"}
    assert ("email", "top@example.com") in identities(person)
    assert ("email", "nested@example.com") not in identities(person)
    times = export(ws, "user_id:u1")["trait_times"]
    assert times == {"plan": iso(T0), "email": iso(T0), "city": iso(T0)}


def test_context_traits_in_a_batch_follow_the_same_rule(ws: Workspace) -> None:
    batch(
        ws,
        [
            {"type": "track", "anonymousId": "a1", "event": "Product Viewed"},
            {
                "type": "identify",
                "anonymousId": "a1",
                "userId": "u1",
                "timestamp": iso(T0 + MINUTE),
                "context": {"traits": {"email": "ada@example.com", "name": "Ada"}},
            },
        ],
    )
    person = get(ws, "email:ada@example.com")
    assert person["profile_id"] == get(ws, "anonymous_id:a1")["profile_id"]
    assert person["traits"] == {"email": "ada@example.com", "name": "Ada"}


def test_context_traits_on_a_track_identify_the_person_but_set_no_trait(ws: Workspace) -> None:
    # As Segment's spec has it: the traits of the event's user, who is found by them.
    send(ws, "identify", {"userId": "u1", "traits": {"email": "ada@example.com"}})
    send(
        ws,
        "track",
        {
            "anonymousId": "phone-1",
            "event": "App Opened",
            "context": {"traits": {"email": "ADA@example.com", "plan": "trial"}},
        },
    )
    send(
        ws,
        "page",
        {
            "anonymousId": "tablet-1",
            "name": "Home",
            "context": {"traits": {"email": "ada@example.com"}},
        },
    )
    person = get(ws, "user_id:u1")
    assert get(ws, "anonymous_id:phone-1")["profile_id"] == person["profile_id"]
    assert get(ws, "anonymous_id:tablet-1")["profile_id"] == person["profile_id"]
    assert person["traits"] == {"email": "ada@example.com"}
    assert person["computed"]["events"] == 3


def test_context_traits_that_are_not_an_object_are_refused(ws: Workspace) -> None:
    r = ws.send("identify", {"userId": "u1", "context": {"traits": "vip"}})
    assert error_of(r, 400)["field"] == "context.traits"
    out = batch(
        ws,
        [
            {"type": "identify", "userId": "u1", "context": {"traits": {"plan": "pro"}}},
            {"type": "identify", "userId": "u1", "context": {"traits": ["vip"]}},
        ],
    )
    assert (out["accepted"], out["rejected"]) == (1, 1)
    assert out["errors"][0]["field"] == "batch[1].context.traits"
    assert get(ws, "user_id:u1")["traits"] == {"plan": "pro"}
