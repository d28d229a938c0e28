"""Interactions and catalog freshness from ingested events, through the real API."""

from __future__ import annotations

from typing import Any

import numpy as np

from tests.conftest import T0, Workspace
from tests.profiles.helpers import get, iso, send
from unico.catalog.interactions import Interaction
from unico.container import Container
from unico.core.clock import ManualClock


def _track(ws: Workspace, who: dict[str, str], event: str, at: int, **props: Any) -> None:
    send(ws, "track", {**who, "event": event, "timestamp": iso(at), "properties": props})


def _pid(ws: Workspace, ref: str) -> str:
    return str(get(ws, ref)["profile_id"])


def test_ecommerce_events_become_weighted_interactions(container: Container, ws: Workspace) -> None:
    ada = {"userId": "ada"}
    _track(ws, ada, "Product Viewed", T0 - 5000, product_id="p1")
    _track(ws, ada, "Product Clicked", T0 - 4000, sku="p2")
    _track(ws, ada, "Product Added", T0 - 3000, id=3)
    _track(
        ws,
        ada,
        "Order Completed",
        T0 - 2000,
        order_id="o1",
        products=[{"product_id": "p1"}, {"sku": "p4"}, {"name": "no id"}, "junk"],
    )
    _track(ws, ada, "Page Scrolled", T0 - 1000, product_id="p9")
    _track(ws, ada, "Product Viewed", T0 - 500)  # no product id: nothing to record
    recent = container.interactions.recent(ws.id, _pid(ws, "user_id:ada"))
    # newest first; one order's products in the order they were listed, last first
    assert recent == [
        Interaction("p4", "purchase", 5.0, T0 - 2000),
        Interaction("p1", "purchase", 5.0, T0 - 2000),
        Interaction("3", "cart", 3.0, T0 - 3000),
        Interaction("p2", "click", 2.0, T0 - 4000),
        Interaction("p1", "view", 1.0, T0 - 5000),
    ]
    assert len(container.interactions.recent(ws.id, _pid(ws, "user_id:ada"), limit=2)) == 2


def test_tailing_returns_new_rows_in_id_order(container: Container, ws: Workspace) -> None:
    _track(ws, {"userId": "u"}, "Product Viewed", T0 - 100, product_id="a")
    _track(ws, {"userId": "u"}, "Product Added", T0 - 50, product_id="b")
    rows = container.interactions.since(ws.id, 0, limit=10)
    pid = _pid(ws, "user_id:u")
    assert [(r[1], r[2], r[3], r[4]) for r in rows] == [
        (pid, "a", 1.0, T0 - 100),
        (pid, "b", 3.0, T0 - 50),
    ]
    assert rows[0][0] < rows[1][0]
    assert container.interactions.since(ws.id, rows[0][0], limit=10) == rows[1:]
    assert container.interactions.since(ws.id, rows[1][0], limit=10) == []


def test_product_events_create_and_refresh_items(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    who = {"anonymousId": "a1"}
    _track(
        ws,
        who,
        "Product Viewed",
        T0 - 60_000,
        product_id="p1",
        name="Trail shoe",
        price=89,
        currency="eur",
        category="Shoes > Running",
        brand="Acme",
        url="https://shop/p1",
        image_url="https://shop/p1.jpg",
        variant="red",
    )
    item = container.catalog.get(ws.id, "p1")
    assert (item.title, item.price, item.currency, item.category) == (
        "Trail shoe",
        89.0,
        "EUR",
        ("Shoes", "Running"),
    )
    assert (item.brand, item.url, item.image) == ("Acme", "https://shop/p1", "https://shop/p1.jpg")
    assert item.attributes == {"variant": "red"} and item.updated_at == T0 - 60_000
    assert "p1" in container.catalog.snapshot(ws.id).items  # seen at once by this process

    _track(ws, who, "Product Added", T0 - 30_000, product_id="p1", price=79, price_note="x")
    assert container.catalog.get(ws.id, "p1").price == 79.0
    assert container.catalog.get(ws.id, "p1").title == "Trail shoe"  # absent fields stay
    _track(ws, who, "Product Viewed", T0 - 45_000, product_id="p1", price=99)  # older
    assert container.catalog.get(ws.id, "p1").price == 79.0
    _track(ws, who, "Product Viewed", T0 - 20_000, product_id="p1", price=-5, currency="euro")
    assert container.catalog.get(ws.id, "p1").price == 79.0  # invalid values are ignored
    assert container.catalog.snapshot(ws.id).items["p1"].price == 79.0


def test_an_upsert_beats_older_events_and_a_delete_is_not_undone(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    container.catalog.upsert(ws.id, [{"id": "p1", "title": "From the feed", "price": 10}])
    who = {"anonymousId": "a1"}
    _track(ws, who, "Product Viewed", T0 - 1000, product_id="p1", name="Old page", price=9)
    assert container.catalog.get(ws.id, "p1").title == "From the feed"
    clock.advance(5)
    _track(ws, who, "Product Viewed", T0 + 1000, product_id="p1", name="New page")
    item = container.catalog.get(ws.id, "p1")
    assert (item.title, item.price) == ("New page", 10.0)
    version = container.catalog.snapshot(ws.id).version
    _track(ws, who, "Product Viewed", T0 + 2000, product_id="p1", name="New page")
    assert container.catalog.snapshot(ws.id).version == version  # nothing changed: no bump

    container.catalog.delete(ws.id, "p1")
    _track(ws, who, "Product Viewed", T0 + 3000, product_id="p1", name="Again")
    assert "p1" not in container.catalog.snapshot(ws.id).items
    assert container.catalog.list(ws.id).items == []
    # the interaction is still recorded: it happened
    kinds = [i.item_id for i in container.interactions.recent(ws.id, _pid(ws, "anonymous_id:a1"))]
    assert kinds.count("p1") == 4


def test_merges_repoint_interactions_to_the_survivor(container: Container, ws: Workspace) -> None:
    _track(ws, {"anonymousId": "anon"}, "Product Viewed", T0 - 3000, product_id="a")
    _track(ws, {"userId": "bob"}, "Product Viewed", T0 - 2000, product_id="b")
    before = {_pid(ws, "anonymous_id:anon"), _pid(ws, "user_id:bob")}
    assert len(before) == 2
    send(ws, "identify", {"userId": "bob", "anonymousId": "anon"})
    survivor = _pid(ws, "user_id:bob")
    assert _pid(ws, "anonymous_id:anon") == survivor and survivor in before
    (loser,) = before - {survivor}
    items = [i.item_id for i in container.interactions.recent(ws.id, survivor)]
    assert items == ["b", "a"]
    assert container.interactions.recent(ws.id, loser) == []
    assert {row[1] for row in container.interactions.since(ws.id, 0, 100)} == {survivor}


def test_erasure_deletes_a_persons_interactions_only(container: Container, ws: Workspace) -> None:
    _track(ws, {"anonymousId": "e-anon"}, "Product Viewed", T0 - 3000, product_id="a")
    send(ws, "identify", {"userId": "eve", "anonymousId": "e-anon"})
    _track(ws, {"userId": "eve"}, "Product Added", T0 - 2000, product_id="b")
    _track(ws, {"userId": "other"}, "Product Added", T0 - 2000, product_id="b")
    eve, other = _pid(ws, "user_id:eve"), _pid(ws, "user_id:other")
    assert len(container.interactions.recent(ws.id, eve)) == 2
    r = ws.client.delete("/v1/profiles/user_id:eve", headers=ws.admin)
    assert r.status_code == 200, r.text
    assert r.json()["erased"]["interaction"] == 2
    assert container.interactions.recent(ws.id, eve) == []
    assert [i.item_id for i in container.interactions.recent(ws.id, other)] == ["b"]
    assert all(row[1] != eve for row in container.interactions.since(ws.id, 0, 100))


def test_training_data_sums_weights_per_person_and_item(
    container: Container, ws: Workspace
) -> None:
    container.catalog.upsert(ws.id, [{"id": "cold", "title": "Nobody saw me"}])
    _track(ws, {"userId": "u1"}, "Product Viewed", T0 - 9000, product_id="a")
    _track(ws, {"userId": "u1"}, "Product Added", T0 - 8000, product_id="a")
    _track(ws, {"userId": "u1"}, "Product Viewed", T0 - 7000, product_id="b")
    _track(ws, {"userId": "u2"}, "Order Completed", T0 - 1000, products=[{"product_id": "b"}])
    u1, u2 = _pid(ws, "user_id:u1"), _pid(ws, "user_id:u2")
    data = container.interactions.training_data(ws.id, now_ms=T0)
    assert list(data.users) == sorted([u1, u2]) and list(data.items) == ["a", "b"]
    assert data.matrix.shape == (2, 2) and data.now_ms == T0
    row = {u: i for i, u in enumerate(data.users)}
    dense = data.matrix.toarray()
    assert dense[row[u1]].tolist() == [4.0, 1.0] and dense[row[u2]].tolist() == [0.0, 5.0]
    assert data.last_seen is not None
    seen = data.last_seen.toarray()
    assert seen[row[u1]].tolist() == [T0 - 8000, T0 - 7000]
    assert np.array_equal(data.matrix.indices, data.last_seen.indices)
    # events naming only an id add no item: the catalog is what the feed and pages describe
    assert set(data.catalog) == {"cold"} and data.catalog["cold"].text == "Nobody saw me"

    recent = container.interactions.training_data(ws.id, since_ms=T0 - 7500, now_ms=T0)
    assert list(recent.items) == ["b"] and recent.matrix.sum() == 6.0
    newest = container.interactions.training_data(ws.id, max_rows=1, now_ms=T0)
    assert list(newest.users) == [u2] and newest.matrix.sum() == 5.0
    # A training run's cut: the newest row id, and the snapshot of the rows up to it.
    rows = container.interactions.since(ws.id, 0, 100)
    assert container.interactions.last_id(ws.id) == rows[-1][0] == max(r[0] for r in rows)
    cut = container.interactions.training_data(ws.id, max_id=rows[2][0], now_ms=T0)
    assert list(cut.users) == [u1] and cut.matrix.toarray().tolist() == [[4.0, 1.0]]
    both = container.interactions.training_data(ws.id, max_id=rows[2][0], max_rows=1, now_ms=T0)
    assert list(both.items) == ["b"] and both.matrix.sum() == 1.0
    assert container.interactions.last_id("ws_nobody") == 0


def test_training_data_orders_ids_as_python_does_whatever_the_database_collation(
    container: Container, ws: Workspace
) -> None:
    # Mixed case and punctuation sort differently under a database's locale collation.
    items = ["b", "B", "_x", "a-1", "a1", "Z", "é"]
    for n, item in enumerate(items):
        for user in ("zed", "Amy", "_bot"):
            _track(ws, {"userId": user}, "Product Viewed", T0 - 1000 * n, product_id=item)
    _track(ws, {"userId": "Amy"}, "Product Added", T0, product_id="Z")
    data = container.interactions.training_data(ws.id, now_ms=T0)
    assert list(data.items) == sorted(items)
    pids = {u: _pid(ws, f"user_id:{u}") for u in ("zed", "Amy", "_bot")}
    assert list(data.users) == sorted(pids.values())
    dense = data.matrix.toarray()
    seen = data.last_seen.toarray() if data.last_seen is not None else None
    assert seen is not None
    for user, pid in pids.items():
        row = data.users.index(pid)
        for item in items:
            col = data.items.index(item)
            extra = 3.0 if (user, item) == ("Amy", "Z") else 0.0
            assert dense[row, col] == 1.0 + extra
            expected = T0 if extra else T0 - 1000 * items.index(item)
            assert seen[row, col] == expected
