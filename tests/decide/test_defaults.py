"""A default experience is never empty while the catalog has an eligible item: after its
listed items and its strategy's, it shows the catalog's newest items, and says so."""

from __future__ import annotations

from typing import Any

from tests.conftest import Workspace
from tests.decide.helpers import ITEMS, create_placement, decide, ids, stock, view
from unico.container import Container
from unico.core.clock import ManualClock

#: The test catalog's items a default can show: in stock and within their validity window.
ELIGIBLE = sorted(i["id"] for i in ITEMS if i["id"] not in ("gone", "old"))


def _reason(one: dict[str, Any]) -> str:
    reason: str = one["explanation"]["reason"]
    return reason


def test_a_new_shop_shows_its_catalog_before_any_event(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    stock(container, ws)
    clock.advance(60)
    newer = [{"id": "z1", "title": "New arrival"}, {"id": "a9", "title": "Another one"}]
    container.catalog.upsert(ws.id, newer)
    create_placement(ws, name="pdp", strategy="also_viewed", size=4, epsilon=0)
    create_placement(ws, name="top", strategy="popular", size=3, epsilon=0)
    pdp = decide(ws, "pdp", anonymousId="x", context={"item": "s1"})["pdp"]
    assert pdp["is_default"] is True
    # The latest added first, then the others in id order; never one that cannot be shown,
    # nor the page's own item.
    assert ids(pdp) == ["a9", "z1", "s2", "s3"]
    assert _reason(pdp) == (
        "model also_viewed is not trained yet: default experience; "
        "4 of the catalog's newest items (popular has too few yet)"
    )
    # The same for a popular placement before any event, whoever asks.
    top = decide(ws, "top", userId="ada")["top"]
    assert (ids(top), top["is_default"]) == (["a9", "z1", "s1"], True)
    assert "3 of the catalog's newest items" in _reason(top)


def test_the_catalog_fills_only_what_the_listed_items_and_the_strategy_leave(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    create_placement(ws, name="reco", strategy="als", size=4, epsilon=0, default_items=["t2"])
    view(ws, "bo", "t1", "s4")
    view(ws, "cy", "t1")
    container.models.poll_once(ws.id)  # popular learns the views in real time
    one = decide(ws, "reco", userId="bo")["reco"]
    assert one["is_default"] is True
    # The listed item, popular's two, then the newest of the rest (all equally new: by id).
    assert ids(one) == ["t2", "t1", "s4", "s1"]
    assert _reason(one).endswith("; 1 of the catalog's newest items (popular has too few yet)")
    assert [i["score"] for i in one["items"]] == sorted(
        (i["score"] for i in one["items"]), reverse=True
    )
    # Enough from popular: no catalog item, and the reason says nothing of the catalog.
    for person, seen in enumerate(["s1", "s2", "s3", "s4", "t1"]):
        view(ws, f"p{person}", seen)
    container.models.poll_once(ws.id)
    create_placement(ws, name="small", strategy="als", size=2, epsilon=0, default_items=["t2"])
    small = decide(ws, "small", userId="bo")["small"]
    assert ids(small) == ["t2", "t1"]
    assert "catalog" not in _reason(small)


def test_rules_still_apply_and_the_catalog_is_searched_to_its_end(
    container: Container, ws: Workspace, clock: ManualClock
) -> None:
    """Many newer items the rules remove come first: the default looks past them."""
    stock(container, ws)
    filler = [{"id": f"x{n:03d}", "title": f"Sock {n}", "category": ["Socks"]} for n in range(300)]
    clock.advance(60)
    container.catalog.upsert(ws.id, filler)
    jackets = {"categories": {"include": ["Apparel"]}}
    create_placement(ws, name="apparel", strategy="popular", size=3, epsilon=0, rules=jackets)
    one = decide(ws, "apparel", anonymousId="y")["apparel"]
    assert (ids(one), one["is_default"]) == (["t1", "t2"], True)  # the only two eligible
    assert "2 of the catalog's newest items" in _reason(one)
    removed = {r["rule"]: r["removed"] for r in one["explanation"]["rules"] if "removed" in r}
    assert removed["categories"] >= 300


def test_never_empty_while_an_item_is_eligible_and_empty_when_none_is(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    for size in (1, 3, 6, 10):
        create_placement(ws, name=f"n{size}", strategy="trending", size=size, epsilon=0)
        got = decide(ws, f"n{size}")[f"n{size}"]
        assert ids(got) == ELIGIBLE[:size]
    # Offers only: the one offer has expired, so there is nothing to show.
    create_placement(ws, name="offers", strategy="popular", size=3, kinds=["offer"])
    assert ids(decide(ws, "offers")["offers"]) == []
    # An explicit "none" shows its listed items alone.
    create_placement(
        ws,
        name="listed",
        strategy="als",
        size=3,
        default={"items": ["s2"], "strategy": "none"},
    )
    listed = decide(ws, "listed", userId="ada")["listed"]
    assert ids(listed) == ["s2"] and "catalog" not in _reason(listed)


def test_a_short_personalized_list_is_not_padded_with_the_catalog(
    container: Container, ws: Workspace
) -> None:
    """The catalog stands in for a default experience, not for a strategy's own answer: a
    manual list that the rules shorten stays short."""
    stock(container, ws)
    create_placement(ws, name="hand", strategy="manual", items=["s1", "gone"], size=3)
    one = decide(ws, "hand")["hand"]
    assert (ids(one), one["is_default"]) == (["s1"], False)
