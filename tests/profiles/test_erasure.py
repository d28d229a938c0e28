"""Erasure: everything about a person goes, a hashed suppression stays, nobody else is touched."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table

from tests.conftest import Workspace
from tests.profiles.helpers import count, export, get, identities, list_all, rows, send, status
from unico.container import Container
from unico.core.clock import ManualClock
from unico.db.schema import (
    consent_log,
    dead_letter,
    event,
    event_aggregate,
    identity,
    profile,
    profile_merge,
    suppression,
)

PERSON_IDS = {"user-one", "anon-one", "anon-two", "p@example.com", "+393330000001"}


def _consent(ws: Workspace, body: dict[str, Any]) -> None:
    r = ws.client.post("/v1/consent", json=body, auth=(ws.created.write_key, ""))
    assert r.status_code == 200, r.text


def _erase(ws: Workspace, ref: str) -> dict[str, Any]:
    r = ws.client.delete(f"/v1/profiles/{ref}", headers=ws.admin)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _snapshot(container: Container, ws: Workspace) -> dict[str, int]:
    tables: list[Table] = [profile, identity, event, consent_log, profile_merge, dead_letter]
    return {t.name: count(container, t, ws.id) for t in tables}


def _person(ws: Workspace, clock: ManualClock) -> None:
    """user-one: two anonymous visits merged by an identify, consent changes, two dead letters."""
    send(ws, "track", {"anonymousId": "anon-one", "event": "Product Viewed"})
    clock.advance(1)
    send(ws, "track", {"anonymousId": "anon-two", "event": "Product Viewed"})
    send(
        ws,
        "identify",
        {
            "userId": "user-one",
            "anonymousId": "anon-one",
            "traits": {"email": "P@example.com", "phone": "+39 333 000 0001"},
        },
    )
    send(ws, "identify", {"userId": "user-one", "anonymousId": "anon-two"})
    _consent(ws, {"userId": "user-one", "purposes": {"marketing": True}})
    assert ws.send("track", {"userId": "user-one", "properties": {}}).status_code == 400
    assert ws.send("page", {"anonymousId": "anon-one", "timestamp": "soon"}).status_code == 400


def _other(ws: Workspace) -> None:
    send(
        ws, "identify", {"userId": "q1", "anonymousId": "b1", "traits": {"email": "q@example.com"}}
    )
    send(ws, "track", {"userId": "q1", "event": "Order Completed", "properties": {"revenue": 5}})
    _consent(ws, {"userId": "q1", "purposes": {"sensors": True}})
    assert ws.send("track", {"userId": "q1"}).status_code == 400


def test_erase_removes_everything_and_keeps_only_hashes(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    _other(ws)
    other_before = export(ws, "user_id:q1")
    _person(ws, clock)
    person = export(ws, "user_id:user-one")
    old_ids = [person["profile_id"], *person["merged_from"]]
    assert len(old_ids) == 2 and len(person["events"]) == 5 and person["merge_history"]
    n_identities = len(person["identities"])

    out = _erase(ws, "anonymous_id:anon-two")
    assert out["profile_id"] == person["profile_id"]
    assert out["erased"]["profiles"] == 2
    assert out["erased"]["identities"] == n_identities == 6
    assert out["erased"]["events"] == 5
    assert out["erased"]["dead_letters"] == 2
    assert out["erased"]["merges"] == 1
    assert out["erased"]["consent_changes"] == 1
    assert out["erased"]["suppressions"] == n_identities

    for ref in (
        "user_id:user-one",
        "anonymous_id:anon-one",
        "anonymous_id:anon-two",
        "email:p@example.com",
        *old_ids,
    ):
        assert status(ws, ref) == 404, ref
    # The other person is exactly as before, and is now the workspace's only profile.
    assert export(ws, "user_id:q1") | {"exported_at": None} == other_before | {"exported_at": None}
    assert [p["profile_id"] for p in list_all(ws)] == [other_before["profile_id"]]
    assert _snapshot(container, ws) == {
        "profile": 1,
        "identity": 4,
        "event": 3,
        "consent_log": 1,
        "profile_merge": 0,
        "dead_letter": 1,
    }
    for table in (profile, identity, event, consent_log, profile_merge, dead_letter):
        text = str(rows(container, table, ws.id))
        for plain in PERSON_IDS | set(old_ids):
            assert plain not in text, (table.name, plain)

    hashes = rows(container, suppression, ws.id)
    assert len(hashes) == n_identities
    for row in hashes:
        assert len(row["hash"]) == 64 and set(row["hash"]) <= set("0123456789abcdef")
    text = str(hashes)
    for plain in PERSON_IDS:
        assert plain not in text


def test_late_events_with_an_erased_id_create_nothing(
    ws: Workspace, container: Container, clock: ManualClock
) -> None:
    _other(ws)
    _person(ws, clock)
    _erase(ws, "user_id:user-one")
    before = _snapshot(container, ws)
    aggregates = rows(container, event_aggregate, ws.id)
    late: list[tuple[str, dict[str, Any]]] = [
        ("track", {"anonymousId": "anon-one", "event": "Late"}),
        ("identify", {"userId": "user-one", "traits": {"name": "Back?"}}),
        ("identify", {"anonymousId": "fresh", "traits": {"email": " p@EXAMPLE.com"}}),
        (
            "page",
            {
                "anonymousId": "fresh2",
                "context": {"externalIds": [{"type": "phone", "id": "+393330000001"}]},
            },
        ),
        ("alias", {"previousId": "anon-two", "userId": "new-id"}),
    ]
    for kind, body in late:
        assert send(ws, kind, body)["accepted"] == 1
    _consent(ws, {"userId": "user-one", "purposes": {"analytics": False}})
    assert _snapshot(container, ws) == before
    assert rows(container, event_aggregate, ws.id) == aggregates
    for ref in ("user_id:user-one", "anonymous_id:fresh", "anonymous_id:fresh2", "user_id:new-id"):
        assert status(ws, ref) == 404, ref
    # Someone new is still welcome.
    send(ws, "track", {"anonymousId": "z1", "event": "Hello"})
    assert get(ws, "anonymous_id:z1")["computed"]["events"] == 1


def test_erasing_one_user_of_a_shared_device_spares_the_other(
    ws: Workspace, container: Container
) -> None:
    send(ws, "identify", {"userId": "ada", "anonymousId": "dev"})
    send(ws, "track", {"anonymousId": "dev", "event": "Ada Reads"})
    assert ws.send("track", {"userId": "ada", "anonymousId": "dev"}).status_code == 400
    send(ws, "identify", {"userId": "bob", "anonymousId": "dev"})
    send(ws, "track", {"anonymousId": "dev", "event": "Bob Reads"})
    assert ws.send("track", {"userId": "bob", "anonymousId": "dev"}).status_code == 400
    ada = export(ws, "user_id:ada")
    assert len(ada["events"]) == 2

    out = _erase(ws, "user_id:bob")
    assert out["erased"]["events"] == 2 and out["erased"]["dead_letters"] == 1
    assert export(ws, "user_id:ada")["events"] == ada["events"]
    assert identities(get(ws, "user_id:ada")) == {("user_id", "ada")}
    letters = rows(container, dead_letter, ws.id)
    assert [(d["user_id"], d["anonymous_id"]) for d in letters] == [("ada", "dev")]


def test_erase_by_a_merged_profile_id_and_twice(ws: Workspace, clock: ManualClock) -> None:
    _person(ws, clock)
    merged = get(ws, "user_id:user-one")["merged_from"][0]
    assert _erase(ws, merged)["erased"]["profiles"] == 2
    r = ws.client.delete(f"/v1/profiles/{merged}", headers=ws.admin)
    assert r.status_code == 404
    assert ws.client.delete("/v1/profiles/user_id:user-one", headers=ws.admin).status_code == 404


def test_erase_a_person_known_only_by_a_consent_withdrawal(
    ws: Workspace, container: Container
) -> None:
    _consent(ws, {"anonymousId": "shy", "purposes": {"analytics": False}})
    send(ws, "track", {"anonymousId": "shy", "event": "Visit"})
    out = _erase(ws, "anonymous_id:shy")
    assert out["erased"]["profiles"] == 1 and out["erased"]["consent_changes"] == 1
    assert count(container, consent_log, ws.id) == 0
    assert list_all(ws) == []
