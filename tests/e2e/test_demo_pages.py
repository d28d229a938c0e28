"""Every demo shop page in Chromium at desktop (1280 x 800) and phone (390 x 844) sizes, as
``make run`` serves it: ``unico demo`` on SQLite, opened at the address it prints.

The personalized slots lay their items out side by side (never one full-width item a row),
axe-core finds no serious or critical accessibility violation, keyboard focus is visible,
and the consent banner never hides the end of a page.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.e2e.conftest import UNICO, Server, clean_env
from unico.web.sdk import router

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
AXE = Path(__file__).parent / "js" / "node_modules" / "axe-core" / "axe.min.js"
WAIT_MS = 15_000
WIDTHS = {"desktop": (1280, 800), "phone": (390, 844)}
CART = "run-01,swi-03"
#: name -> (path, cart cookie, with the write key). Every demo route is here (checked below).
PAGES: dict[str, tuple[str, str, bool]] = {
    "home": ("/demo", "", True),
    "category": ("/demo/category/hiking", "", True),
    "product": ("/demo/product/run-02", "", True),
    "cart": ("/demo/cart", CART, True),
    "empty-cart": ("/demo/cart", "", True),
    "missing": ("/demo/product/zzz-99", "", True),
    "key": ("/demo", "", False),
}
ROUTES = {
    "/demo": "home",
    "/demo/category/{slug}": "category",
    "/demo/product/{item_id}": "product",
    "/demo/cart": "cart",
}
SETTLED = """() => [...document.querySelectorAll('[data-unico-placement]')].every(
  b => b.getAttribute('data-unico-decision') || b.hasAttribute('data-unico-error'))"""
#: Each slot: its placement, whether the tag failed, the box of the items' container, how it
#: scrolls, and the boxes of the items and their pictures.
SLOTS = """() => [...document.querySelectorAll('[data-unico-placement]')].map(b => {
  const items = [...b.querySelectorAll('[data-unico-item-id]')];
  const box = (e) => { const r = e.getBoundingClientRect();
    return {top: r.top, left: r.left, right: r.right, width: r.width, height: r.height}; };
  const holder = items.length ? items[0].parentElement : b;
  return {
    placement: b.dataset.unicoPlacement, error: b.hasAttribute('data-unico-error'),
    container: box(holder), overflowX: getComputedStyle(holder).overflowX,
    scrollWidth: holder.scrollWidth, clientWidth: holder.clientWidth,
    items: items.map(box),
    pictures: items.map(i => i.querySelector('img')).filter(Boolean).map(box),
  };
})"""
AXE_RUN = "async () => await axe.run(document, {resultTypes: ['violations']})"


@dataclass
class DemoServer(Server):
    """``unico demo``: what ``make run`` starts, with the demo workspace and fresh keys."""

    def start(self) -> DemoServer:
        with self.log.open("wb") as log:
            self.process = subprocess.Popen(
                [UNICO, "demo", "--port", str(self.port), "--database", self.database],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=clean_env(),
                cwd=self.workdir,
            )
        self._wait_until_ready()
        return self

    def printed(self, label: str) -> str:
        """The value printed after ``label:`` at start-up."""
        found = re.search(rf"^\s*{label}:\s+(\S+)\s*$", self.log.read_text(), re.M)
        assert found, f"`unico demo` printed no {label!r}:\n{self.log.read_text()}"
        return found.group(1)


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoServer]:
    # SQLite only: the pages are the same on either store, and SQLite is what `make run` uses.
    workdir = tmp_path_factory.mktemp("demo")
    server = DemoServer(f"sqlite:///{workdir / 'demo.db'}", workdir)
    try:
        yield server.start()
    finally:
        server.kill()


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


@pytest.fixture
def open_page(demo: DemoServer, browser: Browser) -> Iterator[Any]:
    """Open a demo page at a width as a first-time visitor; wait until its slots settle."""
    contexts = []

    def open_(name: str, width: str) -> Page:
        path, cart, with_key = PAGES[name]
        w, h = WIDTHS[width]
        ctx = browser.new_context(viewport={"width": w, "height": h}, locale="en-GB")
        contexts.append(ctx)
        if cart:
            ctx.add_cookies([{"name": "unico_demo_cart", "value": cart, "url": demo.base_url}])
        page = ctx.new_page()
        key = demo.printed("write key")
        page.goto(f"{demo.base_url}{path}?key={key}" if with_key else f"{demo.base_url}{path}")
        page.wait_for_function(SETTLED, timeout=WAIT_MS)
        return page

    yield open_
    for ctx in contexts:
        ctx.close()


def test_unico_demo_prints_the_shop_address_with_its_write_key(demo: DemoServer) -> None:
    address, key = demo.printed("Demo shop"), demo.printed("write key")
    assert key.startswith("wk_")
    assert address == f"{demo.base_url}/demo?key={key}"
    # The address opens the shop (a wrong or missing key gets the key form instead).
    opened = httpx.get(address, timeout=10)
    assert opened.status_code == 200
    assert f'data-write-key="{key}"' in opened.text
    assert 'name="key"' not in httpx.get(f"{demo.base_url}/demo", cookies=opened.cookies).text


def test_every_demo_page_is_tested() -> None:
    pages = {r.path for r in router.routes if getattr(r, "path", "").startswith("/demo")}
    html = {p for p in pages if not re.search(r"\.(svg|css)$", p)}
    assert html == set(ROUTES), "a new demo page: add it to PAGES and ROUTES"
    assert set(ROUTES.values()) <= set(PAGES)


def _row_problems(slot: dict[str, Any], width: str) -> list[str]:
    """Why the slot's items do not share a row (nothing when they do)."""
    items, box = slot["items"], slot["container"]
    tops = {round(i["top"]) for i in items}
    lefts = [round(i["left"]) for i in items]
    problems = []
    if len(tops) != 1:
        problems.append(f"items on {len(tops)} rows (tops {sorted(tops)})")
    if len(set(lefts)) != len(lefts):
        problems.append(f"items stacked at the same left (lefts {lefts})")
    scrolls = slot["overflowX"] in ("auto", "scroll") and slot["scrollWidth"] > slot["clientWidth"]
    if width == "phone" and scrolls:
        return problems  # a row that scrolls sideways: a part of it is out of view by design
    if any(i["width"] >= box["width"] / 2 for i in items):
        widths = [round(i["width"]) for i in items]
        problems.append(f"items {widths} px wide in a {round(box['width'])} px container")
    if any(i["right"] > box["right"] + 1 or i["left"] < box["left"] - 1 for i in items):
        problems.append("items overflow a container that does not scroll")
    return problems


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", [n for n, (_, _, with_key) in PAGES.items() if with_key])
def test_the_items_of_each_slot_share_a_row(open_page: Any, name: str, width: str) -> None:
    page = open_page(name, width)
    slots = page.evaluate(SLOTS)
    assert slots, f"{name} has no personalized slot"
    for slot in slots:
        assert not slot["error"], f"{slot['placement']}: the tag could not fill it"
        assert len(slot["items"]) >= 2, slot
        problems = _row_problems(slot, width)
        assert not problems, f"{name} at {width}, {slot['placement']}: {problems}"
        # Pictures of one size and a fixed 4:3 shape, whatever the picture file.
        shapes = {(round(p["width"]), round(p["height"])) for p in slot["pictures"]}
        assert len(shapes) == 1, shapes
        ((w, h),) = shapes
        assert abs(h / w - 0.75) < 0.02, shapes


def _axe(page: Page) -> list[dict[str, Any]]:
    if not AXE.exists():
        pytest.fail(f"{AXE} is missing: run `make browser-libs` (npm ci in tests/e2e/js)")
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    violations: list[dict[str, Any]] = page.evaluate(AXE_RUN)["violations"]
    return violations


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("name", PAGES)
def test_axe_finds_no_serious_violation(open_page: Any, name: str, width: str) -> None:
    page = open_page(name, width)
    found = [v for v in _axe(page) if v["impact"] in ("serious", "critical")]
    shown = [
        {"id": v["id"], "impact": v["impact"], "help": v["help"]}
        | {"nodes": [(n["target"], n["failureSummary"]) for n in v["nodes"][:5]]}
        for v in found
    ]
    assert not found, json.dumps(shown, indent=1)


def test_axe_here_does_catch_a_contrast_failure(open_page: Any) -> None:
    """The check above can fail: the old accent colour (white on #2d7dd2, 4.22:1) is caught."""
    page = open_page("product", "desktop")
    page.add_style_tag(content="#add-to-cart { background: #2d7dd2; border-color: #2d7dd2 }")
    caught = {v["id"] for v in _axe(page) if v["impact"] == "serious"}
    assert "color-contrast" in caught


@pytest.mark.parametrize("width", WIDTHS)
def test_keyboard_focus_is_visible(open_page: Any, width: str) -> None:
    page = open_page("home", width)
    seen = []
    for _ in range(12):
        page.keyboard.press("Tab")
        outline = page.evaluate(
            """() => { const e = document.activeElement, s = getComputedStyle(e);
              return [e.tagName, s.outlineStyle, parseFloat(s.outlineWidth)]; }"""
        )
        seen.append(outline)
    assert all(tag != "BODY" for tag, _, _ in seen), seen
    assert all(style != "none" and px >= 2 for _, style, px in seen), seen


@pytest.mark.parametrize("width", WIDTHS)
def test_the_consent_banner_hides_nothing_for_good(open_page: Any, width: str) -> None:
    page = open_page("product", width)
    banner = page.locator("#consent-banner")
    assert banner.is_visible()
    # Scrolled to the end, the page's last content sits above the banner.
    page.evaluate("window.scrollTo(0, document.documentElement.scrollHeight)")
    footer = page.locator("footer").bounding_box()
    over = banner.bounding_box()
    assert footer and over and footer["y"] + footer["height"] <= over["y"] + 1, (footer, over)
    page.click("#consent-accept")
    assert banner.is_hidden()
    assert page.evaluate("document.body.style.paddingBottom") == ""
    # Reopened from the footer, it takes the keyboard focus.
    page.click("#privacy-choices")
    assert banner.is_visible()
    assert page.evaluate("document.activeElement.id") == "consent-accept"


#: A site of its own with no stylesheet: only the tag's default look lays the items out.
PLAIN_SITE = """<!doctype html><html lang="en"><head><title>Plain</title>
<style>.mine {{ display: flex }}</style>
<script async src="{base}/sdk/unico.js" data-write-key="{key}"></script></head><body>
<section data-unico-placement="home_reco" id="plain"><h2>For you</h2>
  <div data-unico-items></div></section>
<section data-unico-placement="trending" id="styled">
  <div class="mine" data-unico-items></div></section>
</body></html>"""


@pytest.mark.parametrize("width", WIDTHS)
def test_the_tags_default_template_lays_items_out_in_a_grid(
    demo: DemoServer, browser: Browser, width: str
) -> None:
    w, h = WIDTHS[width]
    ctx = browser.new_context(viewport={"width": w, "height": h})
    try:
        html = PLAIN_SITE.format(base=demo.base_url, key=demo.printed("write key"))
        # A page of a site with no stylesheet, answered by the browser itself at an address
        # of the server's (another origin would be a private network request from a public
        # page, which Chromium refuses).
        site = f"{demo.base_url}/plain-site"
        ctx.route(site, lambda route: route.fulfill(body=html, content_type="text/html"))
        page = ctx.new_page()
        page.goto(site)
        page.wait_for_function(SETTLED, timeout=WAIT_MS)
        plain, styled = page.evaluate(SLOTS)
        items, box = plain["items"], plain["container"]
        assert not plain["error"] and len(items) == 8
        assert (
            round(items[0]["top"]) == round(items[1]["top"]) and items[0]["left"] < items[1]["left"]
        )
        assert all(i["width"] < box["width"] / 2 and i["right"] <= box["right"] + 1 for i in items)
        # The site's own rule wins over the tag's look.
        assert page.evaluate("getComputedStyle(document.querySelector('.mine')).display") == "flex"
        assert len(styled["items"]) >= 2
    finally:
        ctx.close()
