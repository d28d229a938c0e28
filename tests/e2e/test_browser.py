"""The web tag in a real browser (Debian's Chromium, headless) against a real ``unico serve``.

A visitor browses the demo shop; recommendations follow what they did; clicks and
impressions are recorded; withdrawing consent brings back the default experience; events
sent while the server is down arrive once it is back; Global Privacy Control is honoured.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.e2e.conftest import Server
from unico.demo_shop import catalog_items, category_of, default_items, placement_specs

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
WAIT_MS = 15_000
QUEUE_EMPTY = "() => !(JSON.parse(localStorage.getItem('unico:q') || '[]').length)"
QUEUED = "() => JSON.parse(localStorage.getItem('unico:q') || '[]').length"
FILLED = "document.querySelector('{0}[data-unico-decision]:not([data-unico-decision=\"\"])')"
SHOWN = "[...document.querySelectorAll('{0} [data-unico-item-id]')].map(n => n.dataset.unicoItemId)"
GPC_SCRIPT = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():  # a missing browser is a broken machine, never a skip
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox", "--headless=new", "--disable-gpu"]
        )
        yield launched
        launched.close()


@dataclass
class Shop:
    """A running server with a workspace, and the admin API to look behind the pages."""

    server: Server
    keys: dict[str, Any]

    def url(self, path: str) -> str:
        return f"{self.server.base_url}{path}"

    def admin(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys['secret_key']}"}
        return httpx.request(method, self.url(path), headers=headers, timeout=10, **kwargs)

    def events(self, anonymous_id: str) -> list[dict[str, Any]]:
        """The person's events, oldest first (none when there is no profile yet)."""
        response = self.admin("GET", f"/v1/profiles/anonymous_id:{anonymous_id}/export")
        if response.status_code == 404:
            return []
        assert response.status_code == 200, response.text
        return list(reversed(response.json()["events"]))

    def consent(self, anonymous_id: str) -> dict[str, Any]:
        response = self.admin("GET", f"/v1/consent/anonymous_id:{anonymous_id}")
        assert response.status_code == 200, response.text
        consent: dict[str, Any] = response.json()["consent"]
        return consent


@pytest.fixture
def shop(start_server: Callable[[str], Server], e2e_database: str, keys: dict[str, Any]) -> Shop:
    return Shop(start_server(e2e_database), keys)


@pytest.fixture
def seeded(shop: Shop) -> Shop:
    """The shop with the demo catalogue and placements, loaded through the admin API."""
    response = shop.admin("POST", "/v1/catalog/items", json=catalog_items())
    assert response.status_code in (200, 201), response.text
    for spec in placement_specs():
        response = shop.admin("POST", "/v1/placements", json=spec)
        assert response.status_code in (200, 201), response.text
    # Fit the recommenders on the catalogue now rather than at the next scheduled run.
    assert shop.admin("POST", "/v1/models/train").status_code == 202
    assert wait_for(lambda: trained(shop, "hybrid")), shop.admin("GET", "/v1/models").text
    return shop


def trained(shop: Shop, model: str) -> bool:
    status = shop.admin("GET", "/v1/models").json()
    return not status["training"] and any(
        m["name"] == model and m["trained_at"] for m in status["models"]
    )


@pytest.fixture
def context(browser: Browser) -> Iterator[BrowserContext]:
    ctx = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-GB")
    yield ctx
    ctx.close()


def visit(page: Page, shop: Shop, path: str) -> None:
    """Open a demo page (the first one with the write key) and wait for the tag."""
    joiner = "&" if "?" in path else "?"
    page.goto(shop.url(f"{path}{joiner}key={shop.keys['write_key']}"))
    page.wait_for_function("() => window.unico && window.unico.loaded === true")


def delivered(page: Page) -> None:
    """Wait until the tag's queue is empty: every event is acknowledged by the server."""
    page.wait_for_function(QUEUE_EMPTY, timeout=WAIT_MS)


def shown(page: Page, selector: str) -> list[str]:
    page.wait_for_function(f"() => {FILLED.format(selector)}", timeout=WAIT_MS)
    ids: list[str] = page.evaluate(SHOWN.format(selector))
    return ids


def anonymous_id(page: Page) -> str:
    found: str = page.evaluate("unico.user().anonymousId")
    return found


def named(events: list[dict[str, Any]], name: str) -> list[dict[str, Any]]:
    return [e for e in events if e.get("name") == name]


def wait_for(check: Callable[[], Any], seconds: float = 15.0) -> Any:
    """Poll ``check`` until it returns something truthy (server-side state settles async)."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def recorded(shop: Shop, visitor: str) -> dict[str, Any] | None:
    """The visitor's consent once their choice has reached the profile."""
    consent = shop.consent(visitor)
    return consent if consent["personalization"]["default"] is False else None


def _conversions(shop: Shop, decision: str, count: int) -> list[dict[str, Any]] | None:
    found = shop.admin("GET", f"/v1/decisions/{decision}")
    assert found.status_code == 200, found.text
    conversions: list[dict[str, Any]] = found.json()["conversions"]
    return conversions if len(conversions) >= count else None


def test_recommendations_follow_the_visitor_and_consent(seeded: Shop, context: BrowserContext):
    page = context.new_page()
    visit(page, seeded, "/demo")
    before = shown(page, "#home-reco")
    visitor = anonymous_id(page)
    assert len(before) == len(default_items("home_reco"))
    assert page.get_attribute("#home-reco", "data-unico-default") in ("true", "false")
    mix_before = Counter(category_of(i) for i in before)
    target = "Swimming"
    assert mix_before[target] <= 2, mix_before
    delivered(page)

    for item in [i["id"] for i in catalog_items() if category_of(i["id"]) == target][:5]:
        visit(page, seeded, f"/demo/product/{item}")
        assert page.text_content("#product-title")
        delivered(page)
    # The product page's placement renders with the page's own <template>.
    also = shown(page, "#also-like")
    assert also and "swi-05" not in also
    assert "/demo/product/" in (page.get_attribute("#also-like a.card", "href") or "")
    # Cart adds are tracked, and the cart page asks with the cart in its context.
    page.click("#add-to-cart")
    visit(page, seeded, "/demo/cart")
    assert page.get_attribute("body", "data-unico-cart") == "swi-05"
    assert shown(page, "#cross-sell")
    delivered(page)
    added = named(seeded.events(visitor), "Product Added")
    assert [e["properties"]["product_id"] for e in added] == ["swi-05"]
    viewed = named(seeded.events(visitor), "Product Viewed")
    assert [e["properties"]["product_id"] for e in viewed][-5:] == [
        f"swi-0{n}" for n in range(1, 6)
    ]

    visit(page, seeded, "/demo")
    after = shown(page, "#home-reco")
    mix_after = Counter(category_of(i) for i in after)
    assert mix_after[target] >= mix_before[target] + 2, (mix_before, mix_after)
    # The most shown category now (a tie with another counts: exploration may add one).
    assert mix_after[target] == max(mix_after.values()), mix_after
    assert page.get_attribute("#home-reco", "data-unico-default") == "false"
    decision = page.get_attribute("#home-reco", "data-unico-decision")
    assert decision

    # A click on a recommendation is recorded, and the product view it leads to names it.
    clicked = page.locator("#home-reco [data-unico-item-id]").first
    item, position = clicked.get_attribute("data-unico-item-id"), 1
    with page.expect_navigation():
        clicked.click()
    assert page.url.endswith(f"/demo/product/{item}")
    page.wait_for_function("() => window.unico && window.unico.loaded === true")
    delivered(page)
    events = seeded.events(visitor)
    clicks = named(events, "Placement Clicked")
    assert [c["properties"] for c in clicks] == [
        {"decision_id": decision, "placement": "home_reco", "item_id": item, "position": position}
    ]
    views = [
        e for e in named(events, "Placement Viewed") if e["properties"]["decision_id"] == decision
    ]
    assert views and views[0]["properties"]["item_ids"] == after
    assert named(events, "Product Viewed")[-1]["properties"]["decision_id"] == decision

    # Buying the recommended item counts for the decision: the add, then the order.
    page.click("#add-to-cart")
    visit(page, seeded, "/demo/cart")
    cart = list(dict.fromkeys(["swi-05", item]))
    assert page.get_attribute("body", "data-unico-cart") == ",".join(cart)
    with page.expect_navigation():
        page.click("#checkout")
    page.wait_for_function("() => window.unico && window.unico.loaded === true")
    delivered(page)
    ordered = named(seeded.events(visitor), "Order Completed")[-1]["properties"]["products"]
    assert {p["product_id"]: p.get("decision_id") for p in ordered} == {
        **{p["product_id"]: None for p in ordered},
        item: decision,
    }
    assert [p["product_id"] for p in ordered] == cart
    logged = wait_for(lambda: _conversions(seeded, decision, 2))
    assert [(c["kind"], c["item_id"]) for c in logged] == [("add", item), ("order", item)]

    # Withdrawing personalization in the banner brings back the default experience.
    visit(page, seeded, "/demo")
    shown(page, "#home-reco")
    # The banner is up until the visitor chooses (it covers the footer's "Privacy choices").
    assert page.is_visible("#consent-banner")
    page.click("#consent-withdraw")
    page.wait_for_selector('#home-reco[data-unico-default="true"]', timeout=WAIT_MS)
    assert page.evaluate(SHOWN.format("#home-reco")) == default_items("home_reco")
    assert seeded.consent(visitor)["personalization"]["granted"] is False
    # It holds on the next page too: the server decides, not the page.
    visit(page, seeded, "/demo")
    page.wait_for_selector('#home-reco[data-unico-default="true"]', timeout=WAIT_MS)
    assert shown(page, "#home-reco") == default_items("home_reco")


def test_events_sent_while_the_server_is_down_arrive_later(shop: Shop, context: BrowserContext):
    page = context.new_page()
    visit(page, shop, "/demo")
    delivered(page)
    visitor = anonymous_id(page)

    shop.server.kill()
    for n in range(3):
        page.evaluate("n => unico.track('Offline Step', {n})", n)
    page.wait_for_timeout(1500)  # the first attempt fails; the tag backs off
    assert page.evaluate(QUEUED) == 3
    shop.server.start()
    page.wait_for_function(QUEUE_EMPTY, timeout=45_000)

    # Across pages too: queued on one page, the visitor leaves, the next page sends them.
    shop.server.kill()
    page.evaluate("unico.track('Offline Step', {n: 3})")
    page.wait_for_timeout(300)
    page.close()
    shop.server.start()
    later = context.new_page()
    later.goto(shop.url("/demo"))  # the key is in the shop's cookie now
    later.wait_for_function("() => window.unico && window.unico.loaded === true")
    delivered(later)

    steps = named(shop.events(visitor), "Offline Step")
    assert sorted(e["properties"]["n"] for e in steps) == [0, 1, 2, 3]
    dead = shop.admin("GET", "/v1/dead-letters").json()["dead_letters"]
    assert dead == []


@pytest.mark.parametrize("signal", ["navigator", "header"])
def test_global_privacy_control_keeps_marketing_off(shop: Shop, browser: Browser, signal: str):
    gpc = browser.new_context(extra_http_headers={"Sec-GPC": "1"} if signal == "header" else None)
    if signal == "navigator":
        gpc.add_init_script(GPC_SCRIPT)
    plain = browser.new_context()
    try:
        visitors = {}
        for name, ctx in (("gpc", gpc), ("plain", plain)):
            page = ctx.new_page()
            visit(page, shop, "/demo")
            page.click("#consent-accept")  # accepts every purpose, marketing included
            delivered(page)
            visitors[name] = anonymous_id(page)
        for name, granted in (("plain", True), ("gpc", False)):
            consent = wait_for(lambda v=visitors[name]: recorded(shop, v))
            assert consent["personalization"]["granted"] is True, consent
            assert consent["marketing"]["granted"] is granted, consent
            assert consent["marketing"]["default"] is False, consent
    finally:
        gpc.close()
        plain.close()
