"""Traits: last write wins by event time, per trait, also across merges."""

from __future__ import annotations

from tests.conftest import T0, Workspace
from tests.profiles.helpers import HOUR, MINUTE, export, get, iso, send


def test_an_older_identify_never_overwrites_a_newer_trait(ws: Workspace) -> None:
    send(
        ws,
        "identify",
        {"userId": "u1", "timestamp": iso(T0), "traits": {"name": "New", "plan": "pro"}},
    )
    send(
        ws,
        "identify",
        {"userId": "u1", "timestamp": iso(T0 - HOUR), "traits": {"name": "Old", "city": "Roma"}},
    )
    profile = get(ws, "user_id:u1")
    assert profile["traits"] == {"name": "New", "plan": "pro", "city": "Roma"}
    times = export(ws, "user_id:u1")["trait_times"]
    assert times == {"name": iso(T0), "plan": iso(T0), "city": iso(T0 - HOUR)}

    send(
        ws, "identify", {"userId": "u1", "timestamp": iso(T0 + MINUTE), "traits": {"name": "Newer"}}
    )
    assert get(ws, "user_id:u1")["traits"]["name"] == "Newer"


def test_other_event_types_do_not_change_traits(ws: Workspace) -> None:
    send(ws, "identify", {"userId": "u1", "traits": {"name": "Ada"}})
    send(ws, "track", {"userId": "u1", "event": "Signed Up", "properties": {"name": "Not a trait"}})
    send(ws, "group", {"userId": "u1", "groupId": "g1", "traits": {"name": "Acme"}})
    send(ws, "group", {"userId": "u1", "groupId": "g1"})
    traits = get(ws, "user_id:u1")["traits"]
    assert traits == {"name": "Ada", "groups": ["g1"]}


def test_merge_keeps_the_newest_value_of_each_trait(ws: Workspace) -> None:
    # The anonymous profile has the newer name, the user profile the newer city.
    anon, user = {"anonymousId": "a1"}, {"userId": "u1"}
    for who, at, traits in (
        (anon, T0 - 2 * HOUR, {"city": "Old"}),
        (anon, T0 - MINUTE, {"name": "Fresh"}),
        (user, T0 - HOUR, {"name": "Stale"}),
        (user, T0 - 3 * HOUR, {"city": "Older"}),
        (user, T0 - 30 * MINUTE, {"city": "New"}),
    ):
        send(ws, "identify", {**who, "timestamp": iso(at), "traits": traits})
    send(ws, "identify", {"userId": "u1", "anonymousId": "a1", "timestamp": iso(T0 - 4 * HOUR)})
    profile = get(ws, "anonymous_id:a1")
    assert profile["profile_id"] == get(ws, "user_id:u1")["profile_id"]
    assert profile["traits"] == {"name": "Fresh", "city": "New"}
    assert export(ws, "user_id:u1")["trait_times"] == {
        "name": iso(T0 - MINUTE),
        "city": iso(T0 - 30 * MINUTE),
    }
