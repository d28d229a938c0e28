"""Static lists: CSV uploads in every form and identity kind, people who appear later,
manual add and remove, in_segment over a list, consent."""

from __future__ import annotations

from typing import Any

from tests.conftest import Workspace
from tests.segments.helpers import (
    create,
    get,
    member_ids,
    pid,
    segment_events,
    send,
    transitions,
)
from unico.container import Container


def _upload(ws: Workspace, segment: str, text: str, status: int = 200) -> dict[str, Any]:
    r = ws.client.post(
        f"/v1/segments/{segment}/members",
        content=text.encode(),
        headers={**ws.admin, "content-type": "text/csv"},
    )
    assert r.status_code == status, r.text
    out: dict[str, Any] = r.json()
    return out


def _people(ws: Workspace) -> dict[str, str]:
    send(ws, "identify", {"userId": "u1", "traits": {"email": "Ada@Example.com"}})
    send(ws, "identify", {"userId": "u2", "traits": {"phone": "+39 333 123 4567"}})
    send(ws, "identify", {"anonymousId": "anon-3", "traits": {"loyaltyId": "L-3"}})
    send(ws, "identify", {"userId": "u4"})
    return {
        "u1": pid(ws, "u1"),
        "u2": pid(ws, "u2"),
        "a3": get(ws, "anonymous_id:anon-3")["profile_id"],
        "u4": pid(ws, "u4"),
    }


def test_upload_with_identity_column_and_several_kinds(ws: Workspace, container: Container) -> None:
    people = _people(ws)
    create(ws, "vip list", None, kind="static")
    text = (
        "identity\n"
        "email: ADA@example.com \n"  # normalized like the profiles do
        "phone:+393331234567\n"
        "loyalty_id:L-3\n"
        f"profile_id:{people['u4']}\n"
        "user_id:someone-new\n"
        "not an identity\n"
    )
    out = _upload(ws, "vip list", text)
    assert out["matched"] == 4 and out["pending"] == 1
    assert out["rejected"] == [{"line": 7, "message": "not an identity: not an identity"}]
    assert member_ids(ws, "vip list") == set(people.values())
    [entered] = segment_events(container, ws, people["u1"])
    assert entered["properties"]["reason"]["kind"] == "list"
    assert entered["properties"]["reason"]["trigger"] == "upload"
    # The unknown user joins when they first show up.
    send(ws, "track", {"userId": "someone-new", "event": "Signed Up"})
    assert pid(ws, "someone-new") in member_ids(ws, "vip list")


def test_upload_with_kind_and_value_columns_or_a_kind_column(ws: Workspace) -> None:
    people = _people(ws)
    create(ws, "by columns", None, kind="static")
    out = _upload(ws, "by columns", "kind,value\nuser_id,u1\nEmail,ada@example.com\nphone,12\n")
    assert out["matched"] == 2 and len(out["rejected"]) == 1  # u1 twice, same person
    assert member_ids(ws, "by columns") == {people["u1"]}
    create(ws, "by email", None, kind="static")
    out = _upload(ws, "by email", "email\nada@example.com\n\nnobody@example.com\n")
    assert out["matched"] == 1 and out["pending"] == 1
    send(ws, "identify", {"userId": "late", "traits": {"email": "NOBODY@example.com"}})
    assert member_ids(ws, "by email") == {people["u1"], pid(ws, "late")}


def test_bad_uploads(ws: Workspace) -> None:
    create(ws, "l", None, kind="static")
    create(ws, "rule", "traits.x exists")
    assert _upload(ws, "l", "", 400)["error"]["field"] == "body"
    assert _upload(ws, "l", "a,b,c\n1,2,3\n", 400)["error"]["code"] == "invalid_input"
    assert _upload(ws, "rule", "identity\nuser_id:x\n", 400)["error"]["field"] == "segment"
    assert _upload(ws, "missing", "identity\nuser_id:x\n", 404)["error"]["code"] == "not_found"
    r = ws.client.post(
        "/v1/segments/l/members",
        content=b"\xff\xfe",
        headers={**ws.admin, "content-type": "text/csv"},
    )
    assert r.status_code == 400
    r = ws.client.post("/v1/segments/l/members", json={"identity": "x"}, headers=ws.admin)
    assert r.status_code == 415
    r = ws.client.post(
        "/v1/segments/l/members",
        content=b"identity\nuser_id:a\x00b\n",
        headers={**ws.admin, "content-type": "text/csv"},
    )
    assert r.status_code == 400
    assert member_ids(ws, "l") == set()


def test_manual_add_and_remove(ws: Workspace, container: Container) -> None:
    people = _people(ws)
    create(ws, "manual", None, kind="static")
    r = ws.client.put("/v1/segments/manual/members/email:ada@example.com", headers=ws.admin)
    assert r.status_code == 200 and r.json()["status"] == "member"
    r = ws.client.put(f"/v1/segments/manual/members/{people['u2']}", headers=ws.admin)
    assert r.status_code == 200
    r = ws.client.put("/v1/segments/manual/members/user_id:ghost", headers=ws.admin)
    assert r.status_code == 200 and r.json()["status"] == "pending"
    assert member_ids(ws, "manual") == {people["u1"], people["u2"]}
    r = ws.client.delete("/v1/segments/manual/members/user_id:u1", headers=ws.admin)
    assert r.status_code == 200 and r.json()["removed"] == 1
    assert member_ids(ws, "manual") == {people["u2"]}
    assert transitions(container, ws, people["u1"]) == [("in", "manual"), ("out", "manual")]
    r = ws.client.delete("/v1/segments/manual/members/user_id:ghost", headers=ws.admin)
    assert r.status_code == 200
    r = ws.client.delete("/v1/segments/manual/members/user_id:ghost", headers=ws.admin)
    assert r.status_code == 404
    r = ws.client.put("/v1/segments/manual/members/p_nobody", headers=ws.admin)
    assert r.status_code == 404
    r = ws.client.put("/v1/segments/manual/members/user_id:", headers=ws.admin)
    assert r.status_code == 400


def test_segments_built_on_a_list_follow_it(ws: Workspace) -> None:
    people = _people(ws)
    create(ws, "beta", None, kind="static")
    create(ws, "beta with email", 'in_segment("beta") and traits.email exists')
    _upload(ws, "beta", "user_id\nu1\nu2\n")
    assert member_ids(ws, "beta with email") == {people["u1"]}
    r = ws.client.delete("/v1/segments/beta/members/user_id:u1", headers=ws.admin)
    assert r.status_code == 200
    assert member_ids(ws, "beta with email") == set()


def test_withdrawn_analytics_takes_people_off_lists_until_it_returns(ws: Workspace) -> None:
    people = _people(ws)
    create(ws, "l", None, kind="static")
    _upload(ws, "l", "user_id\nu1\n")
    consent = {"userId": "u1", "purposes": {"analytics": False}}
    assert ws.client.post("/v1/consent", json=consent, auth=(ws.created.write_key, "")).is_success
    assert member_ids(ws, "l") == set()
    consent = {"userId": "u1", "purposes": {"analytics": True}}
    assert ws.client.post("/v1/consent", json=consent, auth=(ws.created.write_key, "")).is_success
    assert member_ids(ws, "l") == {people["u1"]}
