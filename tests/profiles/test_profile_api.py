"""The profile admin API: auth, lookups, paging and filters, errors, and workspace isolation."""

from __future__ import annotations

import secrets
from typing import Any

import httpx2
import pytest
from fastapi.testclient import TestClient

from tests.conftest import T0, Workspace
from tests.profiles.helpers import (
    DAY,
    HOUR,
    export,
    get,
    iso,
    list_all,
    ref_path,
    rows,
    send,
    status,
)
from unico.container import Container
from unico.core.clock import ManualClock
from unico.db.schema import dead_letter

ENDPOINTS = [
    ("GET", "/v1/profiles"),
    ("GET", "/v1/profiles/user_id:u1"),
    ("GET", "/v1/profiles/user_id:u1/export"),
    ("DELETE", "/v1/profiles/user_id:u1"),
    ("GET", "/v1/consent/user_id:u1"),
    ("GET", "/v1/workspace"),
    ("GET", "/v1/stats/events"),
    ("GET", "/v1/dead-letters"),
]


def _other(ws: Workspace, container: Container) -> Workspace:
    return Workspace(container.workspaces.create(f"other-{secrets.token_hex(3)}"), ws.client)


def _page(ws: Workspace, **params: Any) -> httpx2.Response:
    return ws.client.get("/v1/profiles", params=params, headers=ws.admin)


@pytest.mark.parametrize(("method", "path"), ENDPOINTS)
def test_only_the_secret_key_reaches_the_admin_api(ws: Workspace, method: str, path: str) -> None:
    send(ws, "identify", {"userId": "u1"})
    client: TestClient = ws.client
    write = ws.created.write_key
    cases: list[tuple[dict[str, str], Any, int]] = [
        ({}, None, 401),
        ({"Authorization": "Bearer sk_unknown"}, None, 401),
        ({"Authorization": "Bearer "}, None, 401),
        ({"Authorization": "Token abc"}, None, 401),
        ({"Authorization": f"Bearer {write}"}, None, 403),
        ({}, (write, ""), 403),
    ]
    for headers, auth, expected in cases:
        r = client.request(method, path, headers=headers, auth=auth)
        assert r.status_code == expected, (headers, auth, r.text)
        assert r.json()["error"]["code"] in ("unauthorized", "wrong_key_kind")
    assert status(ws, "user_id:u1") == 200  # nothing was erased


def test_get_by_profile_id_and_by_kind_value(ws: Workspace) -> None:
    send(
        ws,
        "identify",
        {
            "userId": "u1",
            "anonymousId": "a1",
            "traits": {"email": "Ada@Example.com", "plan": "pro"},
        },
    )
    by_user = get(ws, "user_id:u1")
    pid = by_user["profile_id"]
    assert pid.startswith("p_")
    for ref in (pid, "anonymous_id:a1", "email:ada@example.com"):
        same = get(ws, ref)
        assert same["profile_id"] == pid and same["traits"] == by_user["traits"]
    assert set(by_user) >= {
        "profile_id",
        "traits",
        "computed",
        "soft",
        "consent",
        "identities",
        "merged_from",
        "recent_events",
        "created_at",
        "updated_at",
    }
    assert by_user["recent_events"][0]["type"] == "identify"
    assert by_user["recent_events"][0]["timestamp"] == iso(T0)
    out = export(ws, "user_id:u1")
    assert out["profile_id"] == pid and out["exported_at"] == iso(T0)
    assert {i["kind"] for i in out["identities"]} == {
        "user_id",
        "anonymous_id",
        "email",
        "email_sha256",
    }
    assert all(i["created_at"] == iso(T0) for i in out["identities"])
    assert [e["type"] for e in out["events"]] == ["identify"]


@pytest.mark.parametrize("ref", ["user_id:nobody", "p_nothere", "email:nobody@example.com"])
def test_unknown_profiles_are_404(ws: Workspace, ref: str) -> None:
    for method, suffix in (("GET", ""), ("GET", "/export"), ("DELETE", "")):
        r = ws.client.request(method, f"/v1/profiles/{ref_path(ref)}{suffix}", headers=ws.admin)
        assert r.status_code == 404, r.text
        assert r.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("ref", ["email:not-an-email", "user_id:", "phone:12", ":x"])
def test_malformed_refs_are_400(ws: Workspace, ref: str) -> None:
    for method, suffix in (("GET", ""), ("GET", "/export"), ("DELETE", "")):
        r = ws.client.request(method, f"/v1/profiles/{ref_path(ref)}{suffix}", headers=ws.admin)
        assert r.status_code == 400, r.text
        assert r.json()["error"]["field"] == "id"


def test_list_pages_in_creation_order(ws: Workspace, clock: ManualClock) -> None:
    created = []
    for i in range(7):
        send(ws, "track", {"anonymousId": f"a{i}", "event": "Visit"})
        created.append(get(ws, f"anonymous_id:a{i}")["profile_id"])
        clock.advance(1)
    send(ws, "identify", {"anonymousId": "a6", "userId": "u6"})
    seen, cursor, pages = [], None, 0
    while True:
        body = _page(ws, limit=3, **({"cursor": cursor} if cursor else {})).json()
        pages += 1
        seen += [p["profile_id"] for p in body["profiles"]]
        assert len(body["profiles"]) <= 3
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == created and pages == 3
    assert _page(ws, limit=7).json()["next_cursor"] is None
    assert [
        p["profile_id"] for p in _page(ws, limit=2, cursor=created[4]).json()["profiles"]
    ] == created[5:7]
    for bad in (
        {"limit": 0},
        {"limit": 501},
        {"seen_since": "yesterday"},
        {"seen_before": "2026-13-01"},
    ):
        r = _page(ws, **bad)
        assert 400 <= r.status_code < 500, (bad, r.text)


def test_merged_profiles_are_not_listed(ws: Workspace) -> None:
    send(ws, "track", {"anonymousId": "a1", "event": "Visit"})
    send(ws, "identify", {"userId": "u1"})
    assert len(list_all(ws)) == 2
    send(ws, "identify", {"userId": "u1", "anonymousId": "a1"})
    assert [p["profile_id"] for p in list_all(ws)] == [get(ws, "user_id:u1")["profile_id"]]


def test_list_filters_by_traits_of_any_type(ws: Workspace) -> None:
    people: dict[str, dict[str, Any]] = {
        "u1": {"plan": "pro", "age": 42, "vip": True, "dotted.name": "x"},
        "u2": {"plan": "pro", "age": 30, "vip": False},
        "u3": {"plan": "free", "age": 42, "city": None},
    }
    for user, traits in people.items():
        send(ws, "identify", {"userId": user, "traits": traits})
    pid = {u: get(ws, f"user_id:{u}")["profile_id"] for u in people}

    def found(**params: str) -> set[str]:
        return {p["profile_id"] for p in list_all(ws, **params)}

    assert found(**{"trait.plan": "pro"}) == {pid["u1"], pid["u2"]}
    assert found(**{"trait.age": "42"}) == {pid["u1"], pid["u3"]}
    assert found(**{"trait.vip": "true"}) == {pid["u1"]}
    assert found(**{"trait.vip": "false"}) == {pid["u2"]}
    assert found(**{"trait.plan": "pro", "trait.age": "42"}) == {pid["u1"]}
    assert found(**{"trait.dotted.name": "x"}) == {pid["u1"]}
    assert found(**{'trait.we"ird': "x"}) == set()
    assert found(**{"trait.plan": "enterprise"}) == set()
    assert found(**{"trait.nope": "pro"}) == set()


def test_list_filters_by_last_seen(ws: Workspace, clock: ManualClock) -> None:
    for user, at in (("old", T0 - 2 * DAY), ("mid", T0 - DAY), ("new", T0 - HOUR)):
        send(ws, "track", {"userId": user, "event": "Visit", "timestamp": iso(at)})
    pid = {u: get(ws, f"user_id:{u}")["profile_id"] for u in ("old", "mid", "new")}

    def found(**params: str) -> set[str]:
        return {p["profile_id"] for p in list_all(ws, **params)}

    assert found(seen_since=iso(T0 - DAY)) == {pid["mid"], pid["new"]}
    assert found(seen_before=iso(T0 - DAY)) == {pid["old"]}
    assert found(seen_since=iso(T0 - 2 * DAY), seen_before="2026-01-15T08:00:00+00:00") == {
        pid["old"],
        pid["mid"],
    }
    assert found(seen_since=iso(T0)) == set()


def test_no_request_sees_another_workspace(ws: Workspace, container: Container) -> None:
    other = _other(ws, container)
    for w, name in ((ws, "Ada"), (other, "Zed")):
        send(
            w,
            "identify",
            {
                "userId": "u1",
                "anonymousId": "a1",
                "traits": {"name": name, "email": "same@example.com"},
            },
        )
        send(w, "track", {"userId": "u1", "event": f"{name} Visit"})
        assert w.send("track", {"userId": "u1"}).status_code == 400  # a dead letter each
    send(
        ws, "track", {"userId": "u1", "event": "Consent Updated", "properties": {"marketing": True}}
    )
    mine, theirs = get(ws, "user_id:u1"), get(other, "user_id:u1")
    assert mine["profile_id"] != theirs["profile_id"]
    assert (mine["traits"]["name"], theirs["traits"]["name"]) == ("Ada", "Zed")
    assert get(other, "email:same@example.com")["profile_id"] == theirs["profile_id"]
    assert mine["computed"]["event_counts"] == {"Ada Visit": 1, "Consent Updated": 1}

    # The other workspace's key cannot reach this one's profile by id.
    path = f"/v1/profiles/{mine['profile_id']}"
    assert ws.client.get(path, headers=other.admin).status_code == 404
    assert ws.client.get(f"{path}/export", headers=other.admin).status_code == 404
    assert ws.client.delete(path, headers=other.admin).status_code == 404
    assert status(ws, mine["profile_id"]) == 200
    consent = ws.client.get(f"/v1/consent/{mine['profile_id']}", headers=other.admin).json()
    assert consent["consent"]["marketing"] == {"granted": False, "default": True}
    assert container.profiles.is_granted(ws.id, mine["profile_id"], "marketing")
    assert not container.profiles.is_granted(other.id, mine["profile_id"], "marketing")
    assert not container.profiles.is_granted(other.id, "user_id:u1", "marketing")

    assert [p["profile_id"] for p in list_all(ws)] == [mine["profile_id"]]
    assert [p["profile_id"] for p in list_all(other)] == [theirs["profile_id"]]
    assert {p["profile_id"] for p in list_all(other, **{"trait.name": "Ada"})} == set()
    out = export(other, "user_id:u1")
    assert [e["name"] for e in out["events"] if e["type"] == "track"] == ["Zed Visit"]
    assert out["consent_history"] == [] and out["merge_history"] == []
    stats = ws.client.get("/v1/stats/events", headers=other.admin).json()["days"]
    assert {d["name"] for d in stats} == {"", "Zed Visit"}
    letters = ws.client.get("/v1/dead-letters", headers=other.admin).json()["dead_letters"]
    assert len(letters) == 1

    # Erasing here leaves the other workspace's person, and their later events, alone.
    assert ws.client.delete("/v1/profiles/user_id:u1", headers=ws.admin).status_code == 200
    assert get(other, "user_id:u1")["profile_id"] == theirs["profile_id"]
    send(other, "track", {"userId": "u1", "anonymousId": "a1", "event": "Zed Again"})
    assert get(other, "user_id:u1")["computed"]["events"] == 3
    assert len(rows(container, dead_letter, other.id)) == 1
    assert status(ws, "user_id:u1") == 404
