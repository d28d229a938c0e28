"""Models are asked for only the candidates slot filling can use, and for more when the
rules leave too few: the slots are the same as when every placement asks for many."""

from __future__ import annotations

from typing import Any

from tests.conftest import Workspace
from tests.decide.helpers import create_placement, decide, ids, rule, stock
from unico.container import Container
from unico.decide.ranking import pool_size
from unico.decide.service import CANDIDATES, SLACK

N = 80


def _shop(container: Container, ws: Workspace) -> None:
    """N items, every third one cheap; item i viewed by a number of people falling with i."""
    items: list[dict[str, Any]] = [
        {"id": f"i{n:02d}", "title": f"Item {n}", "price": 10 if n % 3 == 0 else 100}
        for n in range(N)
    ]
    stock(container, ws, items)
    batch = [
        {
            "type": "track",
            "event": "Product Viewed",
            "userId": f"p{person}",
            "properties": {"product_id": f"i{n:02d}"},
            "timestamp": "2026-01-15T10:00:00Z",
        }
        for n in range(N)
        for person in range(1 + (N - n) // 8)
    ]
    r = ws.send("batch", {"batch": batch})
    assert r.status_code == 200, r.text
    container.models.train_now(ws.id)


def _pair(ws: Workspace, size: int, rules: dict[str, Any]) -> None:
    """Placements "narrow" and "wide" with ``rules``; a boost matching nothing changes no
    score in "wide", but makes it ask its model for the full list at once."""
    wide = {**rules, "boosts": [{"brand": "nobody", "factor": 2}]}
    for name, spec in (("narrow", rules), ("wide", wide)):
        create_placement(ws, name=name, strategy="popular", size=size, epsilon=0, rules=spec)


def test_few_candidates_when_they_suffice(container: Container, ws: Workspace) -> None:
    _shop(container, ws)
    _pair(ws, 4, {"price_min": 50})  # keeps two items in three
    asked = pool_size(4) + SLACK
    assert asked < CANDIDATES
    narrow = decide(ws, "narrow", userId="p1")["narrow"]
    wide = decide(ws, "wide", userId="p1")["wide"]
    assert ids(narrow) == ids(wide) == ["i01", "i02", "i04", "i05"]
    cheap_among = len(range(0, asked, 3))
    assert rule(narrow, "price_min") == [{"rule": "price_min", "removed": cheap_among}]
    assert rule(wide, "price_min") == [
        {"rule": "price_min", "removed": len(range(0, CANDIDATES, 3))}
    ]


def test_rules_removing_many_candidates_ask_again_for_more(
    container: Container, ws: Workspace
) -> None:
    _shop(container, ws)
    _pair(ws, 6, {"price_max": 20})  # keeps one item in three: too few of the narrow list
    narrow = decide(ws, "narrow", userId="p1")["narrow"]
    wide = decide(ws, "wide", userId="p1")["wide"]
    assert ids(narrow) == ids(wide) == [f"i{n:02d}" for n in range(0, 18, 3)]
    expensive = CANDIDATES - len(range(0, CANDIDATES, 3))
    assert rule(narrow, "price_max") == [{"rule": "price_max", "removed": expensive}]
    assert narrow["explanation"]["filled_from_default"] == 0
