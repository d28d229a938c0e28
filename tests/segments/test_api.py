"""The segments API: definitions, errors with line and column, members, CSV export,
explanations, and every kind of bad input."""

from __future__ import annotations

import csv
import io
from typing import Any

import pytest

from tests.conftest import Workspace
from tests.segments.helpers import create, pid, send, track


def _error(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.text
    error: dict[str, Any] = r.json()["error"]
    return error


def test_create_list_get_patch_delete(ws: Workspace) -> None:
    send(ws, "identify", {"userId": "a", "traits": {"country": "IT"}})
    created = create(ws, "italians", 'traits.country == "IT"', description="IT shoppers")
    assert created["segment_id"].startswith("seg_") and created["size"] == 1
    listed = ws.client.get("/v1/segments", headers=ws.admin).json()["segments"]
    assert [(s["name"], s["size"]) for s in listed] == [("italians", 1)]
    one = ws.client.get(f"/v1/segments/{created['segment_id']}", headers=ws.admin).json()
    assert one["description"] == "IT shoppers" and one["condition"] == 'traits.country == "IT"'
    r = ws.client.patch(
        "/v1/segments/italians", json={"condition": 'traits.country == "FR"'}, headers=ws.admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["size"] == 0
    r = ws.client.delete("/v1/segments/italians", headers=ws.admin)
    assert r.status_code == 200 and r.json()["deleted"] == created["segment_id"]
    _error(ws.client.get("/v1/segments/italians", headers=ws.admin), 404)


def test_syntax_errors_answer_422_with_line_and_column(ws: Workspace) -> None:
    body = {"name": "x", "condition": 'computed.orders >= 1\nand traits.country = "IT"'}
    error = _error(ws.client.post("/v1/segments", json=body, headers=ws.admin), 422)
    assert error["code"] == "condition_syntax"
    assert error["line"] == 2 and error["column"] == 20
    assert error["field"] == "condition"
    preview = {"condition": "count(event within 7d"}
    error = _error(ws.client.post("/v1/segments/preview", json=preview, headers=ws.admin), 422)
    assert error["line"] == 1 and isinstance(error["column"], int)


def test_type_errors_and_unknown_segments_answer_422(ws: Workspace) -> None:
    body = {"name": "x", "condition": 'in_segment("nowhere")'}
    error = _error(ws.client.post("/v1/segments", json=body, headers=ws.admin), 422)
    assert "nowhere" in error["message"]
    body = {"name": "x", "condition": 'consented("telepathy")'}
    _error(ws.client.post("/v1/segments", json=body, headers=ws.admin), 422)


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"name": "x"},
        {"condition": "computed.orders > 1"},
        {"name": "", "condition": "computed.orders > 1"},
        {"name": "x" * 201, "condition": "computed.orders > 1"},
        {"name": "x", "condition": 42},
        {"name": "x", "condition": ""},
        {"name": "x", "condition": "computed.orders > 1", "colour": "red"},
        {"name": "x", "condition": "computed.orders > 1", "kind": "smart"},
        {"name": "x", "condition": "x" * 10_001},
        [1, 2],
    ],
)
def test_bad_bodies_are_refused_with_4xx(ws: Workspace, body: Any) -> None:
    r = ws.client.post("/v1/segments", json=body, headers=ws.admin)
    assert r.status_code in (400, 422), r.text
    assert "error" in r.json()
    assert ws.client.get("/v1/segments", headers=ws.admin).json() == {"segments": []}


def test_more_bad_input(ws: Workspace) -> None:
    create(ws, "a", "computed.orders >= 1")
    error = _error(
        ws.client.post(
            "/v1/segments", json={"name": "a", "condition": "traits.x exists"}, headers=ws.admin
        ),
        409,
    )
    assert error["field"] == "name"
    static_with_rule = {"name": "l", "condition": "traits.x exists", "kind": "static"}
    _error(ws.client.post("/v1/segments", json=static_with_rule, headers=ws.admin), 400)
    name_quote = {"name": 'a"b', "condition": "traits.x exists"}
    _error(ws.client.post("/v1/segments", json=name_quote, headers=ws.admin), 400)
    _error(ws.client.get("/v1/segments/a/members?limit=0", headers=ws.admin), 422)
    _error(ws.client.get("/v1/segments/a/members?format=xml", headers=ws.admin), 422)
    _error(ws.client.get("/v1/segments/a%00/members", headers=ws.admin), 400)
    _error(ws.client.patch("/v1/segments/a", json={"colour": 1}, headers=ws.admin), 422)
    _error(ws.client.patch("/v1/segments/zz", json={"name": "b"}, headers=ws.admin), 404)
    _error(ws.client.delete("/v1/segments/zz", headers=ws.admin), 404)
    _error(ws.client.get("/v1/profiles/user_id:nobody/segments", headers=ws.admin), 404)
    _error(ws.client.get("/v1/profiles/nokind:/segments", headers=ws.admin), 404)


def test_keys_are_required(ws: Workspace) -> None:
    error = _error(ws.client.get("/v1/segments"), 401)
    assert (error["code"], error["field"]) == ("unauthorized", "authorization")
    assert "secret key is required" in error["message"]
    # A write key is a known key of the wrong kind: forbidden, not unauthenticated.
    body = {"name": "x", "condition": "traits.x exists"}
    for r in (
        ws.client.get("/v1/segments", auth=(ws.created.write_key, "")),
        ws.client.post("/v1/segments", json=body, auth=(ws.created.write_key, "")),
    ):
        error = _error(r, 403)
        assert (error["code"], error["field"]) == ("wrong_key_kind", "authorization")
        assert "write key cannot reach the admin API" in error["message"]
    assert ws.client.get("/v1/segments", headers=ws.admin).json() == {"segments": []}


def test_delete_with_dependents_is_409_unless_forced(ws: Workspace) -> None:
    create(ws, "buyers", "computed.orders >= 1")
    create(ws, "vip", 'in_segment("buyers") and computed.revenue > 100')
    error = _error(ws.client.delete("/v1/segments/buyers", headers=ws.admin), 409)
    assert "vip" in error["message"]
    r = ws.client.delete("/v1/segments/buyers?force=true", headers=ws.admin)
    assert r.status_code == 200 and r.json()["dependents"] == ["vip"]


def test_members_are_paged_and_exported_as_csv(ws: Workspace) -> None:
    for i in range(5):
        send(ws, "identify", {"userId": f"u{i}", "traits": {"plan": "pro"}})
    create(ws, "pros", 'traits.plan == "pro"')
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = ws.client.get("/v1/segments/pros/members", params=params, headers=ws.admin).json()
        seen += [m["profile_id"] for m in page["members"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert len(seen) == 5 == len(set(seen)) and seen == sorted(seen)
    r = ws.client.get("/v1/segments/pros/members?format=csv", headers=ws.admin)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(r.text)))
    assert rows[0] == ["profile_id", "since"]
    assert sorted(row[0] for row in rows[1:]) == sorted(seen)
    assert all(row[1].endswith("Z") for row in rows[1:])
    _error(ws.client.get("/v1/segments/nothing/members?format=csv", headers=ws.admin), 404)


def test_profile_segments_say_why(ws: Workspace) -> None:
    create(ws, "viewers", 'count(event "Product Viewed" within 7d) >= 1')
    create(ws, "other", "computed.orders >= 10")
    track(ws, "vi", "Product Viewed")
    r = ws.client.get("/v1/profiles/user_id:vi/segments", headers=ws.admin)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["profile_id"] == pid(ws, "vi")
    [seg] = body["segments"]
    assert seg["name"] == "viewers" and seg["since"].endswith("Z")
    assert seg["reason"]["trigger"] == "event"
    assert seg["why"]["result"] is True
    assert seg["why"]["value"] == 1


def test_preview_is_not_saved(ws: Workspace) -> None:
    send(ws, "identify", {"userId": "p1", "traits": {"plan": "pro"}})
    r = ws.client.post(
        "/v1/segments/preview", json={"condition": 'traits.plan == "pro"'}, headers=ws.admin
    )
    assert r.status_code == 200, r.text
    assert r.json()["estimate"] == 1
    assert r.json()["sample"][0]["traits"] == {"plan": "pro"}
    assert ws.client.get("/v1/segments", headers=ws.admin).json() == {"segments": []}
