"""A page's whole context (Segment's, with Unico's fields among it): what Unico reads is
checked and used, the rest is ignored, named in the explanation and not logged."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Workspace
from tests.decide.helpers import ask, create_placement, decide, ids, logged, manual, stock, view
from tests.web.helpers import error_of
from unico.container import Container
from unico.decide.request import MAX_IGNORED_LISTED

#: What Segment's analytics.js puts in a page's context, and Unico's fields beside it.
SEGMENT_CONTEXT: dict[str, Any] = {
    "userAgent": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0",
    "userAgentData": {"brands": [{"brand": "Chromium", "version": "126"}], "mobile": False},
    "ip": "203.0.113.7",
    "locale": "it-IT",
    "timezone": "Europe/Rome",
    "library": {"name": "analytics.js", "version": "next-1.84.3"},
    "campaign": {"name": "spring", "source": "newsletter", "medium": "email"},
    "screen": {"width": 1280, "height": 800, "density": 2},
    "traits": {"email": "someone@example.com"},
    "consent": {"categoryPreferences": {"marketing": False}},
    "page": {
        "path": "/p/t1",
        "referrer": "https://search.example/?q=shirt",
        "search": "?utm_source=newsletter",
        "title": "Running shirt",
        "url": "https://shop.example/p/t1?utm_source=newsletter",
        "type": "product",
    },
    "channel": "web",
    "item": "t1",
    "location": {"city": "Milano", "country": "IT", "latitude": 45.46, "longitude": 9.19},
    "local_time": "2026-01-15T11:00:00+01:00",
}
IGNORED = [
    "campaign",
    "consent",
    "ip",
    "library",
    "locale",
    "page.path",
    "page.referrer",
    "page.search",
    "page.title",
    "screen",
    "timezone",
    "traits",
    "userAgent",
    "userAgentData",
]
#: What the decision log keeps of it: the fields Unico reads.
LOGGED = {
    "page": {"url": "https://shop.example/p/t1?utm_source=newsletter", "type": "product"},
    "channel": "web",
    "item": "t1",
    "location": {"city": "Milano", "country": "IT", "latitude": 45.46, "longitude": 9.19},
    "local_time": "2026-01-15T11:00:00+01:00",
}


@pytest.fixture
def shop(container: Container, ws: Workspace) -> Workspace:
    """People who viewed t1 also viewed t2; a manual placement beside the model's."""
    stock(container, ws)
    create_placement(ws, name="pdp", strategy="also_viewed", size=1)
    manual(ws, "home", ["s1", "s2"], size=2)
    view(ws, "di", "t1", "t2")
    view(ws, "ed", "t1", "t2")
    container.models.train_now(ws.id)
    return ws


def test_a_segment_context_is_answered_from_the_fields_unico_reads(
    container: Container, shop: Workspace
) -> None:
    answer = decide(shop, "pdp", "home", anonymousId="new", context=SEGMENT_CONTEXT)
    pdp, home = answer["pdp"], answer["home"]
    # The page's item drove the model: t1's co-viewed item, not a default.
    assert (ids(pdp), pdp["is_default"]) == (["t2"], False)
    assert "page's items only" in pdp["explanation"]["reason"]
    assert (ids(home), home["is_default"]) == (["s1", "s2"], False)
    for one in (pdp, home):
        assert one["explanation"]["ignored_context"] == IGNORED
        assert "ignored_context_more" not in one["explanation"]
    rows = logged(container, shop)
    assert sorted(r["placement"] for r in rows) == ["home", "pdp"]
    for row in rows:
        assert row["context"] == LOGGED
        assert row["explanation"]["ignored_context"] == IGNORED


def test_without_unknown_fields_nothing_is_listed(container: Container, shop: Workspace) -> None:
    context = dict(LOGGED)
    one = decide(shop, "pdp", anonymousId="new", context=context)["pdp"]
    assert ids(one) == ["t2"]
    assert "ignored_context" not in one["explanation"]
    assert logged(container, shop)[0]["context"] == LOGGED


def test_a_flood_of_unknown_fields_is_listed_short_and_never_logged(
    container: Container, shop: Workspace
) -> None:
    junk = {f"k{n:03d}": "x" * 20 for n in range(200)}
    long_name = "z" * 300
    context = {"item": "t1", **junk, long_name: 1, "a\x00b": 2}
    one = decide(shop, "pdp", anonymousId="new", context=context)["pdp"]
    assert ids(one) == ["t2"]
    listed = one["explanation"]["ignored_context"]
    assert listed == ["a\ufffdb", *sorted(junk)[: MAX_IGNORED_LISTED - 1]]
    assert one["explanation"]["ignored_context_more"] == 202 - MAX_IGNORED_LISTED
    # Written on both stores (PostgreSQL refuses NUL in JSON), with only what Unico reads.
    (row,) = logged(container, shop)
    assert row["context"] == {"item": "t1"}
    assert row["explanation"]["ignored_context"] == listed


@pytest.mark.parametrize(
    ("context", "field"),
    [
        ({"item": 5}, "context.item"),
        ({"cart": "s1"}, "context.cart"),
        ({"cart": ["s1", 2]}, "context.cart[1]"),
        ({"page": "/p/t1"}, "context.page"),
        ({"page": {"url": ["https://shop.example/"], "title": "T"}}, "context.page.url"),
        ({"page": {"type": 3, "path": "/"}}, "context.page.type"),
        ({"location": "Milano"}, "context.location"),
        ({"location": {"city": "Mi\x00lano"}}, "context.location.city"),
        ({"local_time": "this morning"}, "context.local_time"),
        ({"language": 7}, "context.language"),
        # Segment's mobile libraries send a device object; Unico's `device` is a short name.
        ({"device": {"type": "ios", "model": "iPhone"}}, "context.device"),
    ],
)
def test_wrong_types_on_known_fields_stay_400(
    shop: Workspace, context: dict[str, Any], field: str
) -> None:
    r = ask(shop, "pdp", context={**SEGMENT_CONTEXT, **context})
    assert error_of(r, 400)["field"] == field
