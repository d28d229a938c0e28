"""A shop's pages on an origin of their own, for the tracking libraries' browser tests, and
a record of everything the browser asked for (requests, and CORS preflights with their
answers as Chrome's DevTools events report them).

Nothing here intercepts requests: while any Playwright route is set, Playwright answers
every CORS preflight itself (a permissive 204), and the server's answers would go untested.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import CDPSession, Page, Request, Response

NODE_MODULES = Path(__file__).parent / "js" / "node_modules"
#: The UMD builds: analytics.js's npm build (``window.AnalyticsNext``) and RudderStack's
#: build with its plugins bundled in (``window.rudderanalytics``), so neither loads code
#: from its CDN.
LIBRARIES = {
    "segment": "@segment/analytics-next/dist/umd/index.js",
    "rudderstack": "@rudderstack/analytics-js/dist/npm/modern/bundled/umd/index.js",
}
LOCAL_HOSTS = {"127.0.0.1", "localhost"}


def library_file(name: str) -> Path:
    path = NODE_MODULES / LIBRARIES[name]
    if not path.is_file():  # missing libraries are a broken checkout, never a skip
        pytest.fail(f"{path} is missing: run `make browser-libs` (npm ci in tests/e2e/js)")
    return path


class ShopPages(BaseHTTPRequestHandler):
    """A shop's page per library, and the libraries' files (``/js/<path in node_modules>``)."""

    def do_GET(self) -> None:
        path = urlsplit(self.path).path
        if path.startswith("/js/"):
            file = (NODE_MODULES / path.removeprefix("/js/")).resolve()
            if file.is_relative_to(NODE_MODULES.resolve()) and file.is_file():
                self._answer(file.read_bytes(), "text/javascript")
                return
        elif path.removeprefix("/") in LIBRARIES:
            script = f"/js/{LIBRARIES[path.removeprefix('/')]}"
            page = (
                '<!doctype html><title>Shop</title><link rel="icon" href="data:,">'
                f'<script src="{script}"></script>'
            )
            self._answer(page.encode(), "text/html; charset=utf-8")
            return
        self.send_error(HTTPStatus.NOT_FOUND)

    def _answer(self, body: bytes, content_type: str) -> None:
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        pass  # pytest shows the test's own output; the page requests are recorded elsewhere


@contextmanager
def shop_pages() -> Iterator[str]:
    """Serve `ShopPages` on a free port; yields its origin (``localhost``, so that it differs
    from a server on ``127.0.0.1`` by host as well as by port)."""
    for name in LIBRARIES:
        library_file(name)
    server = ThreadingHTTPServer(("127.0.0.1", 0), ShopPages)
    thread = threading.Thread(target=server.serve_forever, name="shop-pages", daemon=True)
    thread.start()
    try:
        yield f"http://localhost:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Traffic:
    """What the browser asked for: every request of the pages, and the CORS preflights with
    the status the server gave each (from Chrome's DevTools events)."""

    requests: list[str] = field(default_factory=list)
    bodies: list[str] = field(default_factory=list)
    #: Each answer the pages got: the request's body and the status.
    answers: list[tuple[str, int]] = field(default_factory=list)
    preflights: dict[str, str] = field(default_factory=dict)
    preflight_status: dict[str, int] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, request: Request) -> None:
        self.requests.append(request.url)
        self.bodies.append(request.post_data or "")

    def answered(self, response: Response) -> None:
        self.answers.append((response.request.post_data or "", response.status))

    def watch(self, session: CDPSession) -> None:
        session.on("Network.requestWillBeSent", self._sent)
        session.on("Network.responseReceived", self._received)
        session.send("Network.enable")

    def _sent(self, event: dict[str, Any]) -> None:
        if event.get("initiator", {}).get("type") == "preflight":
            with self.lock:
                self.preflights[event["requestId"]] = event["request"]["url"]

    def _received(self, event: dict[str, Any]) -> None:
        with self.lock:
            if event["requestId"] in self.preflights:
                self.preflight_status[event["requestId"]] = event["response"]["status"]

    def settle(self, page: Page) -> None:
        """Take in the browser's pending events (they reach Python only while Playwright is
        called), until every preflight seen has its answer."""
        page.wait_for_timeout(100)
        for _ in range(50):
            with self.lock:
                if set(self.preflight_status) == set(self.preflights):
                    return
            page.wait_for_timeout(100)

    def answered_preflights(self) -> dict[str, set[int]]:
        """Each path that was preflighted, with the statuses its preflights got (0: none)."""
        out: dict[str, set[int]] = {}
        with self.lock:
            for request_id, url in self.preflights.items():
                status = self.preflight_status.get(request_id, 0)
                out.setdefault(urlsplit(url).path, set()).add(status)
        return out

    def paths_to(self, base_url: str) -> list[str]:
        """The paths of the pages' requests to ``base_url``, in order."""
        return [urlsplit(u).path for u in self.requests if u.startswith(base_url + "/")]

    def assert_stayed_local(self) -> None:
        away = [u for u in self.requests if urlsplit(u).hostname not in LOCAL_HOSTS]
        assert not away, f"requests left the machine: {away}"
