"""Every business rule, on manual placements (fixed candidate lists), and how each is
reported in the explanation."""

from __future__ import annotations

from tests.conftest import Workspace
from tests.decide.helpers import SHOWN, decide, ids, manual, rule, stock, track, view
from unico.container import Container

ALL = ["s1", "s2", "s3", "s4", "t1", "t2", "gone", "old"]


def test_stock_and_validity_always_filter_and_are_reported(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    manual(ws, "all", ALL, size=8)
    one = decide(ws, "all", userId="ada")["all"]
    assert ids(one) == SHOWN
    assert rule(one, "in_stock") == [{"rule": "in_stock", "removed": 1}]
    assert rule(one, "validity") == [{"rule": "validity", "removed": 1}]
    manual(ws, "any", ALL, size=8, rules={"in_stock": False})
    assert "gone" in ids(decide(ws, "any")["any"])


def test_category_include_and_exclude(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    manual(ws, "shoes", ALL, size=8, rules={"categories": {"include": ["Shoes"]}})
    manual(ws, "running", ALL, size=8, rules={"categories": {"include": ["Shoes > Running"]}})
    manual(ws, "no_shoes", ALL, size=8, rules={"categories": {"exclude": ["Shoes"]}})
    assert ids(decide(ws, "shoes")["shoes"]) == ["s1", "s2", "s3", "s4"]
    running = decide(ws, "running")["running"]
    assert ids(running) == ["s1", "s2", "s3"]
    assert {"rule": "categories", "removed": 3} in running["explanation"]["rules"]
    assert ids(decide(ws, "no_shoes")["no_shoes"]) == ["t1", "t2"]


def test_price_range(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    manual(ws, "mid", ALL, size=8, rules={"price_min": 60, "price_max": 120})
    one = decide(ws, "mid")["mid"]
    assert ids(one) == ["s1", "s2", "s4", "t2"]
    assert rule(one, "price_min") == [{"rule": "price_min", "removed": 1}]  # t1
    assert rule(one, "price_max") == [{"rule": "price_max", "removed": 1}]


def test_kinds(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    manual(ws, "offers", ALL, size=8, kinds=["offer"], rules={})
    one = decide(ws, "offers")["offers"]
    assert ids(one) == []  # the only offer expired
    assert rule(one, "kinds") == [{"rule": "kinds", "removed": 7}]


def test_exclude_purchased_and_viewed_use_fresh_history(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    manual(ws, "bought", SHOWN, size=6, rules={"exclude_purchased": True})
    manual(ws, "seen", SHOWN, size=6, rules={"exclude_viewed": True})
    view(ws, "ada", "s2")
    track(ws, "ada", "Order Completed", order_id="o1", products=[{"product_id": "s1"}])
    bought = decide(ws, "bought", userId="ada")["bought"]
    assert ids(bought) == ["s2", "s3", "s4", "t1", "t2"]
    assert rule(bought, "exclude_purchased") == [{"rule": "exclude_purchased", "excluded": 1}]
    seen = decide(ws, "seen", userId="ada")["seen"]
    assert ids(seen) == ["s3", "s4", "t1", "t2"]
    # Someone else, and someone unknown, are not affected.
    assert ids(decide(ws, "seen", userId="bo")["seen"]) == SHOWN
    skipped = rule(decide(ws, "seen", anonymousId="who")["seen"], "personal rules")
    assert skipped and "unknown person" in skipped[0]["skipped"]


def test_max_impressions_counts_placement_viewed_events(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    manual(ws, "capped", SHOWN, size=2, rules={"max_impressions": {"count": 2}})
    view(ws, "ada", "t2")  # makes ada known
    first = decide(ws, "capped", userId="ada")["capped"]
    assert ids(first) == ["s1", "s2"]
    for _ in range(2):
        track(
            ws,
            "ada",
            "Placement Viewed",
            decision_id=first["decision_id"],
            placement="capped",
            item_ids=["s1"],
        )
    capped = decide(ws, "capped", userId="ada")["capped"]
    assert ids(capped) == ["s2", "s3"]
    assert rule(capped, "max_impressions") == [{"rule": "max_impressions", "excluded": 1}]
    # Outside the window (24 hours by default) the cap no longer holds.
    container.clock.advance(25 * 3600)  # type: ignore[attr-defined]
    assert ids(decide(ws, "capped", userId="ada")["capped"]) == ["s1", "s2"]


def test_boosts_reorder_and_are_reported(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    boosts = [{"brand": "Bolt", "factor": 3}]
    manual(ws, "brand", ["s1", "s3", "s2", "t1"], size=4, rules={"boosts": boosts})
    one = decide(ws, "brand")["brand"]
    assert ids(one) == ["s2", "s1", "s3", "t1"]
    assert rule(one, "boost") == [{"rule": "boost", "brand": "Bolt", "factor": 3.0, "changed": 1}]
    tag = [{"tag": "race", "factor": 10}]
    manual(ws, "tag", ["s1", "s2", "s3"], size=3, rules={"boosts": tag})
    assert ids(decide(ws, "tag")["tag"])[0] == "s3"
    attribute = [{"attribute": {"name": "colour", "value": "red"}, "factor": 10}]
    manual(ws, "attr", ["s1", "s2", "s4"], size=3, rules={"boosts": attribute})
    assert ids(decide(ws, "attr")["attr"])[0] == "s4"
    margin = [{"value": True, "factor": 5}]
    manual(ws, "margin", ["s1", "s3", "s2"], size=3, rules={"boosts": margin})
    assert ids(decide(ws, "margin")["margin"]) == ["s1", "s2", "s3"]  # s2 passes s3


def test_pins_take_their_positions(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    pins = [{"item": "t2", "position": 1}, {"item": "gone", "position": 2}]
    manual(ws, "pinned", ["s1", "s2", "s3"], size=3, rules={"pins": pins})
    one = decide(ws, "pinned")["pinned"]
    assert ids(one) == ["t2", "s1", "s2"]
    reports = rule(one, "pins")
    assert {"rule": "pins", "pinned": [["t2", 1]]} in reports
    assert {"rule": "pins", "dropped": [{"item": "gone", "because": "in_stock"}]} in reports


def test_diversity_caps_brands_and_categories(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    brand = {"diversity": {"max_per_brand": 1}}
    manual(ws, "brands", ["s1", "s3", "t1", "s2", "s4"], size=3, rules=brand)
    one = decide(ws, "brands")["brands"]
    assert ids(one) == ["s1", "s2"]  # one Acme, one Bolt: nothing else is left
    assert rule(one, "diversity") == [{"rule": "diversity", "passed_over": 2}]
    category = {"diversity": {"max_per_category": 2}}
    manual(ws, "cats", ["s1", "s2", "s3", "t1"], size=3, rules=category)
    assert ids(decide(ws, "cats")["cats"]) == ["s1", "s2", "t1"]
    deep = {"diversity": {"max_per_category": 1, "category_depth": 2}}
    manual(ws, "deep", ["s1", "s2", "s4", "t1"], size=3, rules=deep)
    assert ids(decide(ws, "deep")["deep"]) == ["s1", "s4", "t1"]


def test_no_item_twice_across_the_placements_of_one_call(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    manual(ws, "first", ["s1", "s2"], size=2)
    manual(ws, "second", ["s2", "s1", "s3", "s4"], size=2)
    both = decide(ws, "first", "second")
    assert ids(both["first"]) == ["s1", "s2"]
    assert ids(both["second"]) == ["s3", "s4"]
    assert rule(both["second"], "dedupe") == [{"rule": "dedupe", "removed": 2}]
    # Earlier placements win: the other order gives "second" its favourites.
    swapped = decide(ws, "second", "first")
    assert ids(swapped["second"]) == ["s2", "s1"]
    assert ids(swapped["first"]) == []
