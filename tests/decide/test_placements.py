"""Placements: the admin API, validation against the schema and the catalog, isolation."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Workspace
from tests.decide.helpers import create_placement, stock
from tests.web.helpers import error_of, ok
from unico.container import Container


def test_create_read_list_replace_patch_delete(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    made = create_placement(
        ws,
        name="home_hero",
        strategy="popular",
        size=4,
        default_items=["s1", "s2"],
        rules={"price_max": 100, "pins": [{"item": "s3", "position": 1}]},
        description="Home page hero",
    )
    assert made["name"] == "home_hero" and made["size"] == 4
    assert made["default"] == {"items": ["s1", "s2"], "strategy": "popular"}
    assert made["rules"] == {"price_max": 100.0, "pins": [{"item": "s3", "position": 1}]}
    assert made["created_at"] and made["updated_at"]
    assert ok(ws.client.get("/v1/placements/home_hero", headers=ws.admin)) == made
    listed = ok(ws.client.get("/v1/placements", headers=ws.admin))["placements"]
    assert [p["name"] for p in listed] == ["home_hero"]

    again = ws.client.post(
        "/v1/placements", json={"name": "home_hero", "strategy": "als", "size": 2}, headers=ws.admin
    )
    assert error_of(again, 409)["field"] == "name"

    put = ok(
        ws.client.put(
            "/v1/placements/home_hero", json={"strategy": "als", "size": 2}, headers=ws.admin
        )
    )
    assert (put["strategy"], put["size"], put["rules"]) == ("als", 2, {})
    patched = ok(ws.client.patch("/v1/placements/home_hero", json={"size": 6}, headers=ws.admin))
    assert (patched["strategy"], patched["size"]) == ("als", 6)

    assert ok(ws.client.delete("/v1/placements/home_hero", headers=ws.admin)) == {
        "deleted": "home_hero"
    }
    assert error_of(ws.client.get("/v1/placements/home_hero", headers=ws.admin), 404)
    assert error_of(ws.client.delete("/v1/placements/home_hero", headers=ws.admin), 404)
    gone = ws.client.patch("/v1/placements/home_hero", json={"size": 1}, headers=ws.admin)
    assert error_of(gone, 404)["field"] == "name"


BASE = {"name": "p", "strategy": "popular", "size": 3}


@pytest.mark.parametrize(
    ("spec", "status", "field"),
    [
        ({"strategy": "popular", "size": 3}, 400, "name"),
        ({**BASE, "name": "has space"}, 400, "name"),
        ({**BASE, "strategy": "magic"}, 400, "strategy"),
        ({**BASE, "size": 0}, 400, "size"),
        ({**BASE, "size": "three"}, 400, "size"),
        ({**BASE, "colour": "red"}, 400, "colour"),
        ({**BASE, "strategy": "manual"}, 400, None),
        ({**BASE, "items": ["s1"]}, 400, None),
        ({**BASE, "kinds": ["car"]}, 400, "kinds[0]"),
        ({**BASE, "epsilon": 2}, 400, "epsilon"),
        ({**BASE, "rules": {"price_min": 50, "price_max": 10}}, 400, "rules"),
        ({**BASE, "rules": {"price_min": -1}}, 400, "rules.price_min"),
        ({**BASE, "rules": {"stock": True}}, 400, "rules.stock"),
        ({**BASE, "rules": {"boosts": [{"brand": "Acme"}]}}, 400, "rules.boosts[0].factor"),
        ({**BASE, "rules": {"boosts": [{"brand": "A", "tag": "b", "factor": 2}]}}, 400, None),
        ({**BASE, "rules": {"pins": [{"item": "s1", "position": 0}]}}, 400, None),
        ({**BASE, "rules": {"max_impressions": {"count": 0}}}, 400, None),
        ({**BASE, "rules": {"diversity": {"max_per_brand": "x"}}}, 400, None),
        ({**BASE, "strategy": "manual", "items": ["s1", "nope"]}, 422, "items[1]"),
        ({**BASE, "default_items": ["nope"]}, 422, "default_items[0]"),
        ({**BASE, "default": {"items": ["s1", "nope"]}}, 422, "default.items[1]"),
        ({**BASE, "rules": {"pins": [{"item": "nope", "position": 1}]}}, 422, "rules.pins[0].item"),
        ({**BASE, "default": {"strategy": "als"}}, 400, "default.strategy"),
    ],
)
def test_invalid_placements_are_refused_with_the_field(
    container: Container, ws: Workspace, spec: dict[str, Any], status: int, field: str | None
) -> None:
    stock(container, ws)
    error = error_of(ws.client.post("/v1/placements", json=spec, headers=ws.admin), status)
    if field is not None:
        assert error["field"] is not None and error["field"].startswith(field), error
    assert ok(ws.client.get("/v1/placements", headers=ws.admin))["placements"] == []


@pytest.mark.parametrize("body", ["[1, 2]", "{", ""])
def test_placement_bodies_that_are_not_objects(ws: Workspace, body: str) -> None:
    r = ws.client.post(
        "/v1/placements", content=body, headers={**ws.admin, "content-type": "application/json"}
    )
    assert error_of(r, 400)["field"] == "body"


def test_the_admin_api_needs_the_secret_key(ws: Workspace) -> None:
    assert error_of(ws.client.get("/v1/placements"), 401)
    write = ws.client.get("/v1/placements", auth=(ws.created.write_key, ""))
    assert error_of(write, 403)["field"] == "authorization"
    bearer_write = {"Authorization": f"Bearer {ws.created.write_key}"}
    assert error_of(ws.client.get("/v1/placements", headers=bearer_write), 403)


def test_placements_belong_to_one_workspace(container: Container, ws: Workspace) -> None:
    other = Workspace(container.workspaces.create("other"), ws.client)
    create_placement(ws, name="home", strategy="popular", size=2)
    assert ok(ws.client.get("/v1/placements", headers=other.admin))["placements"] == []
    assert error_of(ws.client.get("/v1/placements/home", headers=other.admin), 404)
    create_placement(other, name="home", strategy="trending", size=5)
    assert ok(ws.client.get("/v1/placements/home", headers=ws.admin))["strategy"] == "popular"


def test_decisions_see_changes_made_by_another_process(container: Container, ws: Workspace) -> None:
    """The cache compares the workspace's placement revision with the store's."""
    create_placement(ws, name="home", strategy="popular", size=2)
    assert container.placements.active(ws.id)["home"].size == 2
    twin = Container.build(container.settings, container.clock)
    try:
        twin.placements.update(ws.id, "home", {"size": 5})
    finally:
        twin.store.dispose()
    assert container.placements.active(ws.id)["home"].size == 5
