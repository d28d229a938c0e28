"""The web tag's endpoint, CORS on the write-key API (and not on the admin API), the demo pages."""

from __future__ import annotations

import gzip
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.conftest import Workspace
from unico.demo_shop import catalog_items

SDK = Path(__file__).parents[2] / "src" / "unico" / "web" / "static" / "unico.js"
ORIGIN = "https://shop.example"
WRITE_PATHS = [
    "/v1/track",
    "/v1/identify",
    "/v1/page",
    "/v1/screen",
    "/v1/group",
    "/v1/alias",
    "/v1/batch",
    "/v1/decide",
    "/v1/consent",
]
ADMIN_PATHS = ["/v1/profiles", "/v1/workspace", "/v1/dead-letters", "/v1/consent/user_id:1"]


def _preflight(client: TestClient, path: str, headers: str = "content-type") -> dict[str, str]:
    response = client.options(
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": headers,
        },
    )
    return {"status": str(response.status_code), **dict(response.headers)}


def test_the_tag_is_served_as_javascript_with_caching_headers(client: TestClient) -> None:
    response = client.get("/sdk/unico.js")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/javascript; charset=utf-8"
    assert response.content == SDK.read_bytes()
    assert "max-age=300" in response.headers["cache-control"]
    assert "public" in response.headers["cache-control"]
    etag = response.headers["etag"]
    assert re.fullmatch(r'"[0-9a-f]{20}"', etag)

    again = client.get("/sdk/unico.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag

    changed = client.get("/sdk/unico.js", headers={"If-None-Match": '"something-else"'})
    assert changed.status_code == 200
    assert changed.content == SDK.read_bytes()


def test_the_tag_stays_small() -> None:
    """Small once comments and white space go (a minifier also shortens names: ~8 KB)."""
    text = re.sub(r"/\*.*?\*/", "", SDK.read_text(encoding="utf-8"), flags=re.S)
    text = ";".join(re.sub(r"^\s+|\s*//\s.*$", "", line) for line in text.splitlines())
    text = re.sub(r"\s*([{}()\[\];,:=<>+\-*/?&|!])\s*", r"\1", text)
    assert len(text.encode()) < 12 * 1024
    assert len(gzip.compress(text.encode())) < 5 * 1024


@pytest.mark.parametrize("path", WRITE_PATHS)
def test_write_endpoints_answer_preflights_from_any_origin(client: TestClient, path: str) -> None:
    answer = _preflight(client, path, "authorization, content-type")
    assert answer["status"] == "200"
    assert answer["access-control-allow-origin"] == "*"
    assert "POST" in answer["access-control-allow-methods"]
    allowed = answer["access-control-allow-headers"].lower()
    assert "authorization" in allowed and "content-type" in allowed
    assert int(answer["access-control-max-age"]) >= 600
    assert "access-control-allow-credentials" not in answer


def test_write_responses_carry_the_allow_origin_header(ws: Workspace) -> None:
    body = {"anonymousId": "a-cors", "event": "Product Viewed", "writeKey": ws.created.write_key}
    response = ws.client.post(
        "/v1/track", json=body, headers={"Origin": ORIGIN, "Content-Type": "text/plain"}
    )
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == "*"
    # Errors too, or the page could not read why it was refused.
    refused = ws.client.post("/v1/batch", json={"batch": []}, headers={"Origin": ORIGIN})
    assert refused.status_code == 401
    assert refused.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize("path", ADMIN_PATHS)
def test_admin_endpoints_stay_closed_to_other_origins(ws: Workspace, path: str) -> None:
    answer = _preflight(ws.client, path, "authorization")
    assert not any(k.startswith("access-control-") for k in answer), answer
    assert answer["status"] in {"404", "405"}
    response = ws.client.get(path, headers={"Origin": ORIGIN, **ws.admin})
    assert response.status_code in {200, 404}, response.text
    assert not any(k.startswith("access-control-") for k in response.headers)


def test_demo_asks_for_a_write_key_and_refuses_a_secret_one(ws: Workspace) -> None:
    asked = ws.client.get("/demo")
    assert asked.status_code == 200
    assert 'name="key"' in asked.text and "/sdk/unico.js" not in asked.text

    refused = ws.client.get("/demo", params={"key": ws.created.secret_key})
    assert refused.status_code == 401
    assert ws.created.secret_key not in refused.text
    assert "not a write key" in refused.text


def test_demo_pages_carry_the_tag_the_key_and_the_placements(ws: Workspace) -> None:
    key = ws.created.write_key
    home = ws.client.get("/demo", params={"key": key})
    assert home.status_code == 200
    assert f'data-write-key="{key}"' in home.text
    assert 'data-unico-placement="home_reco"' in home.text
    assert 'data-unico-placement="trending"' in home.text
    assert home.text.count('class="card"') == len(catalog_items())

    # The key is remembered for the other demo pages.
    product = ws.client.get("/demo/product/run-01")
    assert product.status_code == 200
    assert f'data-write-key="{key}"' in product.text
    assert 'data-unico-item="run-01"' in product.text
    assert 'data-unico-placement="pdp_also_like"' in product.text
    assert "Tempo road shoe" in product.text

    ws.client.cookies.set("unico_demo_cart", "run-01,hik-02,nope")
    cart = ws.client.get("/demo/cart")
    assert cart.status_code == 200
    assert 'data-unico-cart="run-01,hik-02"' in cart.text
    assert 'data-unico-placement="cart_cross_sell"' in cart.text
    assert cart.text.count('<tr data-product="') == 2

    assert ws.client.get("/demo/product/zzz-99").status_code == 404
    assert ws.client.get("/demo/product/not an id").status_code == 422


def test_demo_images_are_svg_drawn_by_the_server(client: TestClient) -> None:
    image = client.get("/demo/img/yog-01.svg")
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/svg+xml"
    assert image.text.startswith("<svg") and "Grip yoga mat" in image.text
    assert client.get("/demo/img/zzz-01.svg").status_code == 404


def test_every_demo_item_links_to_its_page_and_picture() -> None:
    items = catalog_items()
    assert len({i["id"] for i in items}) == len(items) == 40
    for item in items:
        assert item["url"] == f"/demo/product/{item['id']}"
        assert item["image"] == f"/demo/img/{item['id']}.svg"
        assert item["price"] > 0 and item["brand"] and " > " in item["category"]
