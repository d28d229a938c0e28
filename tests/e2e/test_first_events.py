"""A new shop recommends from its first events: a new workspace, a catalog, 200
``Product Viewed`` events, and within 2 seconds, with no training asked for, an anonymous
visitor on a product page gets the items other visitors viewed with it (``unico serve``,
one serving process and two)."""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

#: Six groups of four products: visitors view the products of one group.
GROUPS = [[f"p{4 * g + n:02d}" for n in range(4)] for g in range(6)]
ITEMS = [{"id": item, "title": f"Product {item}"} for group in GROUPS for item in group]
#: The first group's products are the least viewed: popularity would show the others.
VISITORS = [0] * 5 + [g for g in range(1, 6) for _ in range(9)]
DEADLINE_S = 2.0
#: New connections per round of questions.
CONNECTIONS = 4


def _events() -> list[dict[str, Any]]:
    """200 ``Product Viewed`` events: each of 50 visitors views the 4 products of a group."""
    return [
        {
            "type": "track",
            "event": "Product Viewed",
            "anonymousId": f"visitor-{v}",
            "properties": {"product_id": item},
        }
        for v, group in enumerate(VISITORS)
        for item in GROUPS[group]
    ]


def _co_viewed(events: list[dict[str, Any]]) -> dict[str, set[str]]:
    """Item -> the items the visitors who viewed it also viewed."""
    seen: defaultdict[str, set[str]] = defaultdict(set)
    for e in events:
        seen[e["anonymousId"]].add(e["properties"]["product_id"])
    out: defaultdict[str, set[str]] = defaultdict(set)
    for items in seen.values():
        for item in items:
            out[item] |= items - {item}
    return dict(out)


def _viewed_most(events: list[dict[str, Any]]) -> set[str]:
    counts: defaultdict[str, int] = defaultdict(int)
    for e in events:
        counts[e["properties"]["product_id"]] += 1
    top = max(counts.values())
    return {item for item, n in counts.items() if n == top}


def _pdp(http: httpx.Client, write: tuple[str, str], visitor: str, item: str) -> dict[str, Any]:
    body = {
        "anonymousId": visitor,
        "context": {
            "page": {"type": "product", "url": f"https://shop.test/p/{item}"},
            "item": item,
        },
        "placements": ["pdp"],
    }
    r = http.post("/v1/decide", json=body, auth=write)
    assert r.status_code == 200, r.text
    decision: dict[str, Any] = r.json()["decisions"]["pdp"]
    return decision


def _all_right(
    server: Server, keys: dict[str, Any], expected: dict[str, set[str]], visitor: str
) -> list[tuple[dict[str, Any], dict[str, Any]]] | None:
    """A round of new connections (with two workers, either may answer each): each
    decision and the models' status of the process that made it (asked on the same
    connection), if every decision showed the expected co-viewed items, else None."""
    write = (keys["write_key"], "")
    admin = {"Authorization": f"Bearer {keys['secret_key']}"}
    out = []
    for _ in range(CONNECTIONS):
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            found = [_pdp(http, write, visitor, item) for item in expected]
            status = http.get("/v1/models", headers=admin).json()
        for one, wanted in zip(found, expected.values(), strict=True):
            if one["is_default"] or {i["id"] for i in one["items"]} != wanted:
                return None
            out.append((one, status))
    return out


@pytest.mark.parametrize("workers", [1, 2])
def test_an_anonymous_visitor_gets_co_viewed_items_within_two_seconds_of_the_first_events(
    start_server: Callable[..., Server], e2e_database: str, keys: dict[str, Any], workers: int
) -> None:
    server = start_server(e2e_database, workers=workers)
    write = (keys["write_key"], "")
    admin = {"Authorization": f"Bearer {keys['secret_key']}"}
    events = _events()
    assert len(events) == 200
    co_viewed = _co_viewed(events)
    expected = {item: co_viewed[item] for item in ("p00", "p05")}
    assert expected["p00"] == {"p01", "p02", "p03"}  # what the events say, not popularity:
    assert not expected["p00"] & _viewed_most(events)
    with httpx.Client(base_url=server.base_url, timeout=30) as http:
        r = http.post("/v1/catalog/items", json=ITEMS, headers=admin)
        assert r.status_code == 200, r.text
        spec = {"name": "pdp", "strategy": "also_viewed", "size": 3, "epsilon": 0}
        r = http.post("/v1/placements", json=spec, headers=admin)
        assert r.status_code == 201, r.text
        r = http.post("/v1/batch", json={"batch": events}, auth=write)
        assert r.status_code == 200 and r.json()["accepted"] == 200, r.text
        acknowledged = time.monotonic()
    tries = 0
    while (answers := _all_right(server, keys, expected, f"newcomer-{tries}")) is None:
        assert time.monotonic() - acknowledged < DEADLINE_S, "no co-viewed items in time"
        tries += 1
        time.sleep(0.02)
    assert time.monotonic() - acknowledged < DEADLINE_S
    for found, status in answers:
        # Learnt in real time from the store's tail: the process that answered had trained
        # no model yet (the first training waits for the events to pause a few seconds).
        assert status["learnt_online"] >= 200, status
        assert all(m["trained_at"] is None for m in status["models"]), status
        assert {m["name"]: m["serving"] for m in status["models"]}["also_viewed"] is True
        assert found["explanation"]["model"] == "also_viewed"
        assert "page's items only" in found["explanation"]["reason"]
    # The first training starts by itself soon after (the events stopped): every model is
    # trained, and the answer stays the co-viewed items.
    deadline = time.monotonic() + 60
    while True:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:
            status = http.get("/v1/models", headers=admin).json()
            if all(m["trained_at"] for m in status["models"]) and not status["training"]:
                found = _pdp(http, write, "later", "p00")
                break
        assert time.monotonic() < deadline, status
        time.sleep(0.2)
    assert {i["id"] for i in found["items"]} == expected["p00"] and not found["is_default"]
