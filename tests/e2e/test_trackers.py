"""The browser tracking libraries, unchanged, against a real ``unico serve``: analytics.js 2.0
(``@segment/analytics-next``) and RudderStack's JavaScript SDK v3 (``@rudderstack/analytics-js``),
their UMD builds from npm loaded into Debian's Chromium.

The shop's page comes from another origin (``localhost`` and a port of its own), so every
call is a cross-origin request with a CORS preflight that the server answers; Chrome's own
DevTools events show each preflight and its status. The libraries are configured inline
(analytics.js's ``cdnSettings``, RudderStack's ``getSourceConfig``), so nothing is fetched
from either vendor: Chromium is given a proxy that does not exist for everything but the
loopback, and every request the pages make is recorded and must stay on this machine.

Request interception (``context.route``) is not used on purpose (tests/e2e/shop_pages.py
says why).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, sync_playwright

from tests.collect.store_lock import hold_write_lock
from tests.e2e.conftest import Server, free_port
from tests.e2e.shop_pages import Traffic, shop_pages

pytestmark = pytest.mark.e2e

CHROMIUM = Path("/usr/bin/chromium")
WAIT_S = 20.0

SEGMENT_LOAD = """async ([host, writeKey, batching]) => {
  const segment = {apiHost: host + '/v1', protocol: 'http'};
  if (batching) segment.deliveryStrategy = {strategy: 'batching', config: {size: 3, timeout: 300}};
  const [analytics] = await AnalyticsNext.AnalyticsBrowser.load(
    {
      writeKey,
      cdnSettings: {integrations: {'Segment.io': {apiKey: writeKey}}, metrics: {sampleRate: 0}},
    },
    {integrations: {'Segment.io': segment}},
  );
  window.tracker = analytics;
  window.trackerErrors = [];
  analytics.on('error', (error) => window.trackerErrors.push(String(error.reason)));
  return analytics.user().anonymousId();
}"""
#: A visitor looks around (page, track), signs up (alias: the new user id takes over the
#: anonymous history), then says who they are (identify, with traits). Each call is awaited.
SEGMENT_BROWSE = """async (user) => {
  const t = window.tracker;
  await t.page('Shop', 'Home', {section: 'front'});
  await t.track('Product Viewed', {sku: 'A-1', price: 30});
  await t.alias(user);
}"""
SEGMENT_IDENTIFY = """async (user) => {
  await window.tracker.identify(user, {email: 'Ada.Lovelace@Example.com', plan: 'gold'});
}"""
RUDDERSTACK_LOAD = """([host, writeKey, transport]) => new Promise((resolve) => {
  const analytics = new rudderanalytics.RudderAnalytics();
  const options = {
    getSourceConfig: () => ({
      source: {
        id: 'shop-web', name: 'Shop', workspaceId: 'shop', enabled: true,
        config: {statsCollection: {errors: {enabled: false}, metrics: {enabled: false}}},
        destinations: [],
      },
    }),
    loadIntegration: false,
    polyfillIfRequired: false,
    onLoaded: () => resolve(analytics.getAnonymousId()),
  };
  if (transport === 'batch') {
    options.queueOptions = {batch: {enabled: true, maxItems: 4, flushInterval: 300}};
  }
  if (transport === 'beacon') {
    options.useBeacon = true;
    options.beaconQueueOptions = {flushQueueInterval: 300};
  }
  analytics.load(writeKey, host, options);
  window.tracker = analytics;
  window.trackerErrors = [];
})"""
RUDDERSTACK_BROWSE = """(user) => {
  window.tracker.page('Shop', 'Home', {section: 'front'});
  window.tracker.track('Product Viewed', {sku: 'A-1', price: 30});
  window.tracker.alias(user);
}"""
RUDDERSTACK_IDENTIFY = """(user) => {
  window.tracker.identify(user, {email: 'Ada.Lovelace@Example.com', plan: 'gold'});
}"""


@pytest.fixture(scope="module")
def shop_origin() -> Iterator[str]:
    """The shop's own web server: another origin than Unico's."""
    with shop_pages() as origin:
        yield origin


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    if not CHROMIUM.exists():  # a missing browser is a broken machine, never a skip
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    # Everything but the loopback (which Chromium never proxies) goes to a proxy that is not
    # there: a request for a vendor's CDN or API fails on this machine instead of leaving it.
    nowhere = f"--proxy-server=http://127.0.0.1:{free_port()}"
    with sync_playwright() as p:
        launched = p.chromium.launch(
            executable_path=str(CHROMIUM),
            args=["--no-sandbox", "--headless=new", "--disable-gpu", nowhere],
        )
        yield launched
        launched.close()


@pytest.fixture
def traffic(browser: Browser) -> Iterator[tuple[BrowserContext, Traffic]]:
    context = browser.new_context()
    seen = Traffic()
    context.on("request", seen.record)
    context.on("response", seen.answered)
    try:
        yield context, seen
    finally:
        context.close()
    seen.assert_stayed_local()


@dataclass
class Unico:
    server: Server
    keys: dict[str, Any]

    @property
    def host(self) -> str:
        """``HOST:PORT``, as analytics.js's ``apiHost`` wants it (no scheme)."""
        return self.server.base_url.removeprefix("http://")

    def admin(self, path: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.keys['secret_key']}"}
        return httpx.get(f"{self.server.base_url}{path}", headers=headers, timeout=10)

    def export(self, ref: str) -> dict[str, Any] | None:
        response = self.admin(f"/v1/profiles/{ref}/export")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        return found

    def dead_letters(self) -> list[dict[str, Any]]:
        response = self.admin("/v1/dead-letters")
        assert response.status_code == 200, response.text
        letters: list[dict[str, Any]] = response.json()["dead_letters"]
        return letters


@pytest.fixture
def unico(start_server: Callable[[str], Server], e2e_database: str, keys: dict[str, Any]) -> Unico:
    return Unico(start_server(e2e_database), keys)


def open_shop(context: BrowserContext, traffic: Traffic, shop_origin: str, library: str) -> Page:
    page = context.new_page()
    traffic.watch(context.new_cdp_session(page))
    page.goto(f"{shop_origin}/{library}")
    return page


def wait_for(check: Callable[[], Any], seconds: float = WAIT_S) -> Any:
    """Poll ``check`` until it returns something truthy (the libraries send asynchronously)."""
    deadline = time.monotonic() + seconds
    while True:
        found = check()
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def holding(unico: Unico, ref: str, types: set[str]) -> dict[str, Any] | None:
    """The person's export once events of every one of ``types`` have reached it."""
    found = unico.export(ref)
    if found is None or not types <= {e["type"] for e in found["events"]}:
        return None
    return found


def visit(unico: Unico, page: Page, library: str, anonymous_id: str, user: str) -> None:
    """Browse, sign up, identify; check after each step what reached the profile."""
    browse, identify = {
        "segment": (SEGMENT_BROWSE, SEGMENT_IDENTIFY),
        "rudderstack": (RUDDERSTACK_BROWSE, RUDDERSTACK_IDENTIFY),
    }[library]
    page.evaluate(browse, user)
    # The alias gave the anonymous history to the user id, before any identify.
    signed_up = wait_for(lambda: holding(unico, f"user_id:{user}", {"page", "track", "alias"}))
    assert signed_up is not None, (
        unico.export(f"anonymous_id:{anonymous_id}"),
        unico.dead_letters(),
    )
    [alias] = [e for e in signed_up["events"] if e["type"] == "alias"]
    assert (alias["previous_id"], alias["user_id"]) == (anonymous_id, user)
    page.evaluate(identify, user)
    person = wait_for(lambda: holding(unico, f"user_id:{user}", {"identify"}))
    assert person is not None, (unico.export(f"user_id:{user}"), unico.dead_letters())

    assert person["profile_id"] == signed_up["profile_id"]
    identities = {(i["kind"], i["value"]) for i in person["identities"]}
    assert {("anonymous_id", anonymous_id), ("user_id", user)} <= identities
    assert ("email", "ada.lovelace@example.com") in identities, identities
    assert person["traits"]["plan"] == "gold"
    assert person["traits"]["email"] == "Ada.Lovelace@Example.com"
    events = {e["type"]: e for e in person["events"]}
    assert events["track"]["name"] == "Product Viewed"
    assert events["track"]["properties"] == {"sku": "A-1", "price": 30}
    assert events["page"]["name"] == "Home"
    assert events["page"]["properties"]["section"] == "front"
    assert sorted(e["type"] for e in person["events"]) == ["alias", "identify", "page", "track"]
    assert unico.dead_letters() == []


@pytest.mark.parametrize("delivery", ["standard", "batching"])
def test_analytics_js_reaches_the_profile(
    unico: Unico,
    shop_origin: str,
    traffic: tuple[BrowserContext, Traffic],
    delivery: str,
) -> None:
    context, seen = traffic
    page = open_shop(context, seen, shop_origin, "segment")
    load = [unico.host, unico.keys["write_key"], delivery == "batching"]
    anonymous_id = page.evaluate(SEGMENT_LOAD, load)
    visit(unico, page, "segment", anonymous_id, "ada-seg")

    seen.settle(page)
    sent = seen.paths_to(unico.server.base_url)
    if delivery == "batching":  # fewer requests than events: they went in batches
        assert set(sent) == {"/v1/b"} and len(sent) < 4, sent
    else:
        assert sent == ["/v1/p", "/v1/t", "/v1/a", "/v1/i"]
    # Each path was preflighted (the write key goes as Basic auth), and the server said yes.
    assert seen.answered_preflights() == {path: {200} for path in set(sent)}


@pytest.mark.parametrize("transport", ["xhr", "batch", "beacon"])
def test_rudderstack_reaches_the_profile(
    unico: Unico,
    shop_origin: str,
    traffic: tuple[BrowserContext, Traffic],
    transport: str,
) -> None:
    context, seen = traffic
    page = open_shop(context, seen, shop_origin, "rudderstack")
    load = [unico.server.base_url, unico.keys["write_key"], transport]
    anonymous_id = page.evaluate(RUDDERSTACK_LOAD, load)
    visit(unico, page, "rudderstack", anonymous_id, "ada-rs")

    seen.settle(page)
    sent = seen.paths_to(unico.server.base_url)
    if transport == "xhr":
        assert sent == ["/v1/page", "/v1/track", "/v1/alias", "/v1/identify"]
    else:  # fewer requests than events: they went in batches
        path = {"batch": "/v1/batch", "beacon": "/beacon/v1/batch"}[transport]
        assert set(sent) == {path} and len(sent) < 4, sent
    # The XHRs ask for AnonymousId and SentAt in their preflights; a beacon needs none.
    preflighted = {} if transport == "beacon" else {path: {200} for path in set(sent)}
    assert seen.answered_preflights() == preflighted


#: What each library says when it drops an event for good instead of retrying it
#: (analytics.js emits an error event, RudderStack logs to the console).
DROPPED = {"segment": "Non-retryable error: 400", "rudderstack": "The event(s) will be dropped"}


def pumped(page: Page, check: Callable[[], Any], seconds: float = WAIT_S) -> Any:
    """Like `wait_for`, waiting in the browser so that its events reach Python meanwhile."""
    deadline = time.monotonic() + seconds
    while not (found := check()) and time.monotonic() < deadline:
        page.wait_for_timeout(100)
    return found


def named(person: dict[str, Any] | None, name: str) -> list[dict[str, Any]]:
    return [e for e in (person or {}).get("events", []) if e.get("name") == name]


@pytest.mark.parametrize("library", ["segment", "rudderstack"])
def test_the_libraries_retry_what_the_server_says_to_retry_and_nothing_else(
    start_server: Callable[..., Server],
    e2e_database: str,
    keys: dict[str, Any],
    shop_origin: str,
    traffic: tuple[BrowserContext, Traffic],
    library: str,
) -> None:
    """A 4xx is dropped at once; a 503 (with Retry-After) is retried until it succeeds, and
    the event is stored once."""
    # A request gives up waiting for its commit after a second: 503 + Retry-After.
    server = start_server(e2e_database, env={"UNICO_INGEST_TIMEOUT_SECONDS": "1"})
    unico = Unico(server, keys)
    context, seen = traffic
    page = open_shop(context, seen, shop_origin, library)
    said: list[str] = []
    page.on("console", lambda message: said.append(message.text))
    if library == "segment":
        anonymous_id = page.evaluate(SEGMENT_LOAD, [unico.host, keys["write_key"], False])
    else:
        anonymous_id = page.evaluate(RUDDERSTACK_LOAD, [server.base_url, keys["write_key"], "xhr"])
    ref = f"anonymous_id:{anonymous_id}"

    def held() -> list[int]:
        """The statuses of the attempts to send the held event."""
        return [status for body, status in seen.answers if "Held Step" in body]

    def dropped() -> bool:
        errors: list[str] = page.evaluate("() => window.trackerErrors")
        return any(DROPPED[library] in text for text in [*said, *errors])

    # Refused (an event name over 255 characters): dead-lettered, and dropped by the library.
    page.evaluate("(name) => { window.tracker.track(name); }", "x" * 300)
    assert pumped(page, dropped), said
    assert [d["field"] for d in unico.dead_letters()] == ["event"]

    # While the store is held, every attempt waits a second and gets a 503: retried.
    with hold_write_lock(e2e_database):
        page.evaluate("() => { window.tracker.track('Held Step'); }")
        assert pumped(page, lambda: len(held()) >= 3), seen.answers
        assert set(held()) == {503}
        assert named(unico.export(ref), "Held Step") == []
    # Once the store is free, what was held commits, and the library's next attempt gets a
    # 200 (a duplicate: every attempt carries the same messageId). Stored once.
    assert wait_for(lambda: named(unico.export(ref), "Held Step"))
    assert pumped(page, lambda: held()[-1] == 200), held()
    page.evaluate("() => { window.tracker.track('After'); }")
    assert wait_for(lambda: named(unico.export(ref), "After"))
    assert len(named(unico.export(ref), "Held Step")) == 1
    # The refused event was sent once in all that time (retries come within seconds).
    assert len(unico.dead_letters()) == 1
    assert sum("x" * 300 in body for body in seen.bodies) == 1
