"""The real RudderStack Python client (``rudder-sdk-python``) against a real server.

The client sends an identify's traits in ``context.traits`` only. A recording relay sits
between client and server, so the test sees exactly what the client put on the wire (its
``Content-Encoding`` and body bytes) and still gets the server's own answers.
"""

from __future__ import annotations

import gzip
import json
import secrets
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
from rudderstack.analytics import Client

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e

#: Request headers the relay passes on to the server.
FORWARDED = ("authorization", "content-type", "content-encoding", "user-agent")


@dataclass
class Received:
    """One request as the relay received it from the client."""

    path: str
    headers: dict[str, str]
    body: bytes

    def messages(self) -> list[dict[str, Any]]:
        raw = gzip.decompress(self.body) if self.headers.get("content-encoding") else self.body
        batch: list[dict[str, Any]] = json.loads(raw)["batch"]
        return batch


@dataclass
class Relay:
    """An HTTP relay to ``target`` that keeps every request it passes on."""

    target: str
    received: list[Received] = field(default_factory=list)
    server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def start(self) -> Relay:
        relay = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                relay.received.append(Received(self.path, headers, body))
                answer = httpx.post(
                    relay.target + self.path,
                    content=body,
                    headers={k: v for k, v in headers.items() if k in FORWARDED},
                    timeout=30,
                )
                self.send_response(answer.status_code)
                self.send_header("content-type", answer.headers.get("content-type", ""))
                self.send_header("content-length", str(len(answer.content)))
                self.end_headers()
                self.wfile.write(answer.content)

            def log_message(self, format: str, *args: Any) -> None:
                pass  # the test asserts on `received`; nothing to print

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self.server is not None:
            self.server.shutdown()
            self.server.server_close()


@pytest.fixture
def relay_to() -> Iterator[Callable[[Server], Relay]]:
    relays: list[Relay] = []

    def start(server: Server) -> Relay:
        relays.append(Relay(server.base_url).start())
        return relays[-1]

    try:
        yield start
    finally:
        for relay in relays:
            relay.stop()


def send_a_visit(client: Client, user: str) -> list[dict[str, Any]]:
    """An anonymous visit, the identify that names the visitor, then a known customer's
    order, page and group. Returns the messages the client built."""
    anonymous = f"{user}-anon"
    calls = [
        client.track(
            anonymous_id=anonymous,
            event="Product Viewed",
            properties={"product_id": "A1", "category": "Shoes", "price": 30},
        ),
        client.page(anonymous_id=anonymous, name="Home", properties={"path": "/"}),
        client.identify(
            user_id=user,
            anonymous_id=anonymous,
            traits={"email": f"{user.upper()}@Example.com", "plan": "pro"},
        ),
        client.track(
            user_id=user,
            event="Order Completed",
            properties={"order_id": "o-1", "revenue": 30, "currency": "EUR"},
        ),
        client.page(user_id=user, name="Cart", properties={"path": "/cart"}),
        client.group(user_id=user, group_id="acme", traits={"name": "Acme"}),
    ]
    assert all(ok for ok, _ in calls)
    return [message for _, message in calls]


@pytest.mark.parametrize("mode", ["sync", "queued+gzip"])
def test_what_the_rudderstack_client_sends_arrives_and_merges(
    start_server: Callable[[str], Server],
    relay_to: Callable[[Server], Relay],
    e2e_database: str,
    keys: dict[str, Any],
    mode: str,
) -> None:
    server = start_server(e2e_database)
    relay = relay_to(server)
    errors: list[Exception] = []
    compressed = mode != "sync"
    client = Client(
        keys["write_key"],
        host=relay.base_url,
        sync_mode=not compressed,
        gzip=compressed,
        upload_interval=0.05,
        max_retries=1,
        on_error=lambda error, _batch: errors.append(error),
    )
    user = f"ada-{secrets.token_hex(3)}"
    try:
        sent = send_a_visit(client, user)
        client.flush()
    finally:
        if compressed:
            client.shutdown()
    assert not errors, errors

    # What went over the wire: gzip exactly when asked for, and traits only in context.
    assert relay.received
    for request in relay.received:
        assert request.path == "/v1/batch"
        assert request.headers.get("content-encoding") == ("gzip" if compressed else None)
        assert request.body.startswith(b"\x1f\x8b") == compressed
    on_wire = {m["messageId"]: m for r in relay.received for m in r.messages()}
    assert set(on_wire) == {m["messageId"] for m in sent}
    identify = next(m for m in on_wire.values() if m["type"] == "identify")
    assert "traits" not in identify
    assert identify["context"]["traits"]["plan"] == "pro"

    admin = {"Authorization": f"Bearer {keys['secret_key']}"}
    with httpx.Client(base_url=server.base_url, headers=admin, timeout=30) as api:

        def read(path: str) -> dict[str, Any]:
            r = api.get(path)
            assert r.status_code == 200, f"{path}: {r.text}"
            out: dict[str, Any] = r.json()
            return out

        profile = read(f"/v1/profiles/user_id:{user}/export")
        by_email = read(f"/v1/profiles/email:{user}@example.com")
        by_visit = read(f"/v1/profiles/anonymous_id:{user}-anon")

    assert by_email["profile_id"] == profile["profile_id"]  # from context.traits, normalized
    assert by_visit["profile_id"] == profile["profile_id"]  # the anonymous visit merged
    identities = {(i["kind"], i["value"]) for i in profile["identities"]}
    assert {
        ("user_id", user),
        ("anonymous_id", f"{user}-anon"),
        ("email", f"{user}@example.com"),
    } <= identities
    # The identify's traits, and the group's id; the group's own traits stay the group's.
    assert profile["traits"] == {
        "email": f"{user.upper()}@Example.com",
        "plan": "pro",
        "groups": ["acme"],
    }
    computed = profile["computed"]
    assert computed["events"] == len(sent)
    assert computed["page_views"] == 2
    assert computed["orders"] == 1
    assert computed["revenue"] == 30
    assert computed["event_counts"] == {"Product Viewed": 1, "Order Completed": 1}

    stored = {e["message_id"]: e for e in profile["events"]}
    assert set(stored) == set(on_wire)
    for message_id, event in stored.items():
        assert event["type"] == on_wire[message_id]["type"]
        assert event["context"]["library"]["name"] == "analytics-python"
