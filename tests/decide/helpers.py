"""Calling the decide API as a workspace: catalog, placements, events, decisions."""

from __future__ import annotations

from typing import Any

import httpx2
from sqlalchemy import select

from tests.conftest import T0, Workspace
from unico.container import Container
from unico.db.decide_schema import decision

DAY = 86_400_000

#: A small catalog: running shoes of two brands, shirts, an item out of stock, an expired offer.
ITEMS: list[dict[str, Any]] = [
    {
        "id": "s1",
        "title": "Road shoe",
        "category": ["Shoes", "Running"],
        "brand": "Acme",
        "price": 80,
        "tags": ["road"],
        "value": 10,
    },
    {
        "id": "s2",
        "title": "Trail shoe",
        "category": ["Shoes", "Running"],
        "brand": "Bolt",
        "price": 120,
        "tags": ["trail"],
        "value": 30,
    },
    {
        "id": "s3",
        "title": "Race shoe",
        "category": ["Shoes", "Running"],
        "brand": "Acme",
        "price": 150,
        "tags": ["race"],
        "value": 5,
    },
    {
        "id": "s4",
        "title": "Walk shoe",
        "category": ["Shoes", "Walking"],
        "brand": "Bolt",
        "price": 60,
        "attributes": {"colour": "red"},
    },
    {
        "id": "t1",
        "title": "Running shirt",
        "category": ["Apparel", "Shirts"],
        "brand": "Acme",
        "price": 30,
    },
    {
        "id": "t2",
        "title": "Rain jacket",
        "category": ["Apparel", "Jackets"],
        "brand": "Bolt",
        "price": 90,
    },
    {
        "id": "gone",
        "title": "Sold out shoe",
        "category": ["Shoes", "Running"],
        "in_stock": False,
        "price": 70,
    },
    {"id": "old", "kind": "offer", "title": "Past offer", "valid_until": T0 - DAY},
]
SHOWN = ["s1", "s2", "s3", "s4", "t1", "t2"]


def stock(container: Container, ws: Workspace, items: list[dict[str, Any]] = ITEMS) -> None:
    container.catalog.upsert(ws.id, items)


def create_placement(ws: Workspace, **spec: Any) -> dict[str, Any]:
    r = ws.client.post("/v1/placements", json=spec, headers=ws.admin)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def manual(ws: Workspace, name: str, items: list[str], size: int = 3, **spec: Any) -> None:
    create_placement(ws, name=name, strategy="manual", items=items, size=size, **spec)


def ask(ws: Workspace, *placements: str, **body: Any) -> httpx2.Response:
    return ws.client.post(
        "/v1/decide",
        json={"placements": list(placements), **body},
        auth=(ws.created.write_key, ""),
    )


def decide(ws: Workspace, *placements: str, **body: Any) -> dict[str, Any]:
    """The decisions of one call; asserts a 200."""
    r = ask(ws, *placements, **body)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()["decisions"]
    assert list(out) == list(placements)
    return out


def ids(one: dict[str, Any]) -> list[str]:
    """The item ids of one placement's decision, in position order."""
    items = one["items"]
    assert [i["position"] for i in items] == list(range(1, len(items) + 1))
    return [i["id"] for i in items]


def rule(one: dict[str, Any], name: str) -> list[dict[str, Any]]:
    return [r for r in one["explanation"]["rules"] if r["rule"] == name]


def track(ws: Workspace, user: str, event: str, at: int = T0, **props: Any) -> None:
    from tests.profiles.helpers import iso

    body = {"userId": user, "event": event, "properties": props, "timestamp": iso(at)}
    r = ws.send("track", body)
    assert r.status_code == 200 and r.json()["accepted"] == 1, r.text


def view(ws: Workspace, user: str, *items: str) -> None:
    for n, item in enumerate(items):
        track(ws, user, "Product Viewed", T0 - 1000 + n, product_id=item)


def logged(container: Container, ws: Workspace) -> list[dict[str, Any]]:
    """Every logged decision of the workspace, oldest first."""
    container.decisions.log.flush()
    with container.store.read() as conn:
        rows = conn.execute(
            select(decision).where(decision.c.workspace_id == ws.id).order_by(decision.c.at)
        )
        return [dict(r._mapping) for r in rows]
