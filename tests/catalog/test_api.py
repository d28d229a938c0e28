"""The catalog admin API: every endpoint, every kind of bad input, workspace isolation."""

from __future__ import annotations

import gzip

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.conftest import Workspace
from tests.web.helpers import error_of, ok
from unico.container import Container

ITEMS = [
    {"id": "s1", "title": "Trail shoe", "category": "Shoes > Running", "price": 89},
    {"id": "s2", "title": "Road shoe", "category": "Shoes > Road", "price": 79},
    {"id": "a/b", "title": "A slash", "kind": "content"},
]


def _post(ws: Workspace, body: object) -> dict[str, object]:
    return ok(ws.client.post("/v1/catalog/items", json=body, headers=ws.admin))


def test_upsert_list_get_and_delete(ws: Workspace) -> None:
    assert _post(ws, ITEMS) == {"upserted": 3}
    assert _post(ws, {"items": [{"id": "s3", "category": ["Shoes"]}]}) == {"upserted": 1}
    page = ok(ws.client.get("/v1/catalog/items?limit=2", headers=ws.admin))
    assert [it["id"] for it in page["items"]] == ["a/b", "s1"]
    rest = ok(ws.client.get(f"/v1/catalog/items?cursor={page['next_cursor']}", headers=ws.admin))
    assert [it["id"] for it in rest["items"]] == ["s2", "s3"] and rest["next_cursor"] is None
    running = ok(
        ws.client.get("/v1/catalog/items", params={"category": "Shoes > Running"}, headers=ws.admin)
    )
    assert [it["id"] for it in running["items"]] == ["s1"]

    shoe = ok(ws.client.get("/v1/catalog/items/s1", headers=ws.admin))
    assert shoe["category"] == ["Shoes", "Running"] and shoe["price"] == 89.0
    assert shoe["in_stock"] is True and shoe["attributes"] == {}
    assert ok(ws.client.get("/v1/catalog/items/a/b", headers=ws.admin))["kind"] == "content"

    assert ok(ws.client.delete("/v1/catalog/items/s1", headers=ws.admin)) == {"deleted": "s1"}
    gone = ws.client.get("/v1/catalog/items/s1", headers=ws.admin)
    assert error_of(gone, 404)["code"] == "not_found"
    assert error_of(ws.client.delete("/v1/catalog/items/s1", headers=ws.admin), 404)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([{"id": "ok"}, {"id": "x", "price": "cheap"}], "items[1].price"),
        ([{"title": "no id"}], "items[0].id"),
        ([5], "items[0]"),
        ({"items": [{"id": "x", "kind": "car"}]}, "items[0].kind"),
        ([{"id": "x", "category": 3}], "items[0].category"),
        ([{"id": "x", "tags": "a|b"}], "items[0].tags"),
        ([{"id": "x", "attributes": {"size": {"eu": 42}}}], "items[0].attributes.size"),
        ([{"id": "x", "valid_from": 10, "valid_until": 5}], "items[0].valid_until"),
        ([{"id": "x", "title": "nul\u0000"}], "items[0].title"),
        ([{"id": "x" * 256}], "items[0].id"),
        ({"item": []}, "items"),
        ("text", "items"),
    ],
)
def test_bad_items_are_refused_whole_and_named(ws: Workspace, body: object, field: str) -> None:
    r = ws.client.post("/v1/catalog/items", json=body, headers=ws.admin)
    error = error_of(r, 400)
    assert error["field"] == field
    listed = ok(ws.client.get("/v1/catalog/items", headers=ws.admin))
    assert listed["items"] == []  # nothing of a refused request was stored


def test_bodies_that_are_not_json_or_too_large(
    ws: Workspace, container: Container, client: TestClient
) -> None:
    r = ws.client.post("/v1/catalog/items", content=b"{nope", headers=ws.admin)
    assert error_of(r, 400)["code"] == "invalid_json"
    limit = container.settings.catalog_max_body_bytes
    big = b'[{"id": "' + b"x" * limit + b'"}]'
    assert error_of(ws.client.post("/v1/catalog/items", content=big, headers=ws.admin), 413)
    headers = {**ws.admin, "content-type": "text/csv"}
    r = ws.client.post("/v1/catalog/import", content=big, headers=headers)
    assert error_of(r, 413)["code"] == "payload_too_large"
    zipped = gzip.compress(orjson.dumps([{"id": "z"}]))
    r = ws.client.post(
        "/v1/catalog/items", content=zipped, headers={**ws.admin, "content-encoding": "gzip"}
    )
    assert ok(r) == {"upserted": 1}


def test_bad_parameters(ws: Workspace) -> None:
    r = ws.client.get("/v1/catalog/items?limit=0", headers=ws.admin)
    assert error_of(r, 422)["field"] == "limit"
    r = ws.client.get("/v1/catalog/items", params={"cursor": "a\x00"}, headers=ws.admin)
    assert error_of(r, 400)["field"] == "cursor"
    r = ws.client.get("/v1/catalog/items/" + "x" * 256, headers=ws.admin)
    assert error_of(r, 422)["field"] == "item_id"


def test_the_secret_key_is_required(ws: Workspace) -> None:
    assert error_of(ws.client.get("/v1/catalog/items"), 401)["code"] == "unauthorized"
    write = {"Authorization": f"Bearer {ws.created.write_key}"}
    assert error_of(ws.client.post("/v1/catalog/items", json=[], headers=write), 403)
    assert error_of(ws.client.delete("/v1/catalog/items/x", headers=write), 403)


def test_workspaces_are_isolated(ws: Workspace, container: Container, client: TestClient) -> None:
    other = Workspace(container.workspaces.create("other"), client)
    _post(ws, ITEMS)
    assert ok(other.client.get("/v1/catalog/items", headers=other.admin))["items"] == []
    assert error_of(other.client.get("/v1/catalog/items/s1", headers=other.admin), 404)
    assert error_of(other.client.delete("/v1/catalog/items/s1", headers=other.admin), 404)
    _post(other, [{"id": "s1", "title": "Theirs"}])
    assert ok(ws.client.get("/v1/catalog/items/s1", headers=ws.admin))["title"] == "Trail shoe"


def test_import_csv_json_and_json_lines_by_content_type(ws: Workspace) -> None:
    csv_body = "id,title,price,tags\nc1,One,1,a|b\nc2,Two,two,\n"
    r = ws.client.post(
        "/v1/catalog/import",
        content=csv_body.encode(),
        headers={**ws.admin, "content-type": "text/csv; charset=utf-8"},
    )
    assert ok(r) == {
        "rows": 2,
        "imported": 1,
        "rejected": [
            {
                "line": 3,
                "index": None,
                "field": "price",
                "message": r.json()["rejected"][0]["message"],
            }
        ],
    }
    body = orjson.dumps({"items": [{"id": "j1"}, {"id": "j2", "price": -3}]})
    r = ws.client.post(
        "/v1/catalog/import", content=body, headers={**ws.admin, "content-type": "application/json"}
    )
    report = ok(r)
    assert report["imported"] == 1 and report["rejected"][0]["field"] == "items[1].price"
    lines = b'{"id": "n1"}\n{"id": 2}\n[]\n'
    r = ws.client.post(
        "/v1/catalog/import",
        content=lines,
        headers={**ws.admin, "content-type": "application/x-ndjson"},
    )
    report = ok(r)
    assert report["imported"] == 2 and report["rejected"][0]["line"] == 3
    ids = [it["id"] for it in ok(ws.client.get("/v1/catalog/items", headers=ws.admin))["items"]]
    assert ids == ["2", "c1", "j1", "n1"]
    assert ok(ws.client.get("/v1/catalog/items/c1", headers=ws.admin))["tags"] == ["a", "b"]


def test_import_refuses_unknown_types_and_unusable_documents(ws: Workspace) -> None:
    r = ws.client.post(
        "/v1/catalog/import", content=b"<x/>", headers={**ws.admin, "content-type": "text/xml"}
    )
    assert error_of(r, 415)["field"] == "content-type"
    json_type = {**ws.admin, "content-type": "application/json"}
    r = ws.client.post("/v1/catalog/import", content=b"{broken", headers=json_type)
    assert error_of(r, 400)["code"] == "invalid_json"
    r = ws.client.post("/v1/catalog/import", content=b'{"items": 1}', headers=json_type)
    assert error_of(r, 400)["field"] == "items"
    r = ws.client.post(
        "/v1/catalog/import", content=b"\xff\xfe", headers={**ws.admin, "content-type": "text/csv"}
    )
    assert error_of(r, 400)["field"] == "body"
