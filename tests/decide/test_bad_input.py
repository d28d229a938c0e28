"""Bad requests to /v1/decide get a 4xx naming the field, never a 500."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.conftest import Workspace
from tests.decide.helpers import decide, ids, logged, manual, stock
from tests.web.helpers import error_of
from unico.container import Container


@pytest.fixture
def shop(container: Container, ws: Workspace) -> Workspace:
    stock(container, ws)
    manual(ws, "home", ["s1", "s2"], size=2)
    return ws


@pytest.mark.parametrize(
    ("body", "status", "field"),
    [
        ({"placements": ["home", "nope"]}, 404, "placements[1]"),
        ({"placements": []}, 400, "placements"),
        ({"placements": "home"}, 400, "placements"),
        ({"placements": [7]}, 400, "placements[0]"),
        ({"placements": ["home", "home"]}, 400, "placements"),
        ({"placements": ["p"] * 11}, 400, "placements"),
        ({}, 400, "placements"),
        ({"placements": ["home"], "userId": {"a": 1}}, 400, "userId"),
        ({"placements": ["home"], "anonymousId": ""}, 400, "anonymousId"),
        ({"placements": ["home"], "userId": "x" * 300}, 400, "userId"),
        ({"placements": ["home"], "user": "ada"}, 400, "user"),
        ({"placements": ["home"], "context": []}, 400, "context"),
        ({"placements": ["home"], "context": {"cart": "s1"}}, 400, "context.cart"),
        ({"placements": ["home"], "context": {"cart": ["s1", 2]}}, 400, "context.cart[1]"),
        ({"placements": ["home"], "context": {"cart": ["s"] * 101}}, 400, "context.cart"),
        ({"placements": ["home"], "context": {"item": 5}}, 400, "context.item"),
        ({"placements": ["home"], "context": {"page": "x"}}, 400, "context.page"),
        ({"placements": ["home"], "context": {"page": {"url": 1}}}, 400, "context.page.url"),
        ({"placements": ["home"], "context": {"channel": 3}}, 400, "context.channel"),
        ({"placements": ["home"], "context": {"location": 3}}, 400, "context.location"),
        ({"placements": ["home"], "context": {"local_time": "soon"}}, 400, "context.local_time"),
        (
            {"placements": ["home"], "context": {"page": {"type": ["pdp"]}}},
            400,
            "context.page.type",
        ),
        ({"placements": ["home"], "context": {"channel": "w\x00b"}}, 400, "context.channel"),
        (
            {"placements": ["home"], "context": {"location": {"city": ["M\x00"]}}},
            400,
            "context.location.city[0]",
        ),
    ],
)
def test_bad_bodies(shop: Workspace, body: dict[str, Any], status: int, field: str) -> None:
    r = shop.client.post("/v1/decide", json=body, auth=(shop.created.write_key, ""))
    assert error_of(r, status)["field"] == field


def test_a_good_context_is_accepted(container: Container, shop: Workspace) -> None:
    context = {
        "channel": "web",
        "device": "mobile",
        "language": "it",
        "page": {"url": "https://shop/x", "type": "product"},
        "item": "s1",
        "cart": ["s2"],
        "location": {"city": "Milano"},
        "local_time": "2026-01-15T11:00:00+01:00",
    }
    one = decide(shop, "home", anonymousId="a1", context=context)["home"]
    assert one["decision_id"].startswith("d_")
    assert one["is_default"] is False
    assert ids(one) == ["s1", "s2"]
    assert [i["title"] for i in one["items"]] == ["Road shoe", "Trail shoe"]
    explanation = one["explanation"]
    assert (explanation["strategy"], explanation["reason"]) == ("manual", "manual")
    assert explanation["personalized"] is False  # nobody known by that anonymous id
    assert "ignored_context" not in explanation  # every field is one Unico reads
    (row,) = logged(container, shop)
    assert row["decision_id"] == one["decision_id"]
    assert row["context"] == context
    assert row["explanation"] == explanation


def test_bodies_over_the_limit_get_413(shop: Workspace) -> None:
    body = {"placements": ["home"], "context": {"location": {"x": "y" * 20_000}}}
    r = shop.client.post("/v1/decide", json=body, auth=(shop.created.write_key, ""))
    assert error_of(r, 413)["field"] == "body"


@pytest.mark.parametrize("raw", [b"", b"{", b"[1]", b"null"])
def test_bodies_that_are_not_objects(shop: Workspace, raw: bytes) -> None:
    r = shop.client.post(
        "/v1/decide",
        content=raw,
        auth=(shop.created.write_key, ""),
        headers={"content-type": "application/json"},
    )
    assert error_of(r, 400)["field"] == "body"


def test_keys(shop: Workspace) -> None:
    body = {"placements": ["home"]}
    assert error_of(shop.client.post("/v1/decide", json=body), 401)["field"] == "writeKey"
    wrong = shop.client.post("/v1/decide", json=body, auth=("wk_nope", ""))
    assert error_of(wrong, 401)
    secret = shop.client.post("/v1/decide", json=body, auth=(shop.created.secret_key, ""))
    assert error_of(secret, 403)["code"] == "wrong_key_kind"
    number = shop.client.post("/v1/decide", json={**body, "writeKey": 5})
    assert error_of(number, 400)["field"] == "writeKey"
    in_body = shop.client.post("/v1/decide", json={**body, "writeKey": shop.created.write_key})
    assert in_body.status_code == 200, in_body.text
    basic = base64.b64encode(f"{shop.created.write_key}:".encode()).decode()
    header = shop.client.post("/v1/decide", json=body, headers={"Authorization": f"Basic {basic}"})
    assert header.status_code == 200
