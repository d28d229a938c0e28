"""The real Segment Python client (``segment-analytics-python``) against a real server."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import datetime
from typing import Any

import httpx
import pytest
from segment.analytics import Client

from tests.e2e.conftest import Server

pytestmark = pytest.mark.e2e


def send_a_customer_journey(client: Client, user: str) -> list[dict[str, Any]]:
    """Every call type, from an anonymous visit to an identified, grouped, aliased customer.
    Returns the messages the client built (with their messageIds and timestamps)."""
    calls = [
        client.page(anonymous_id=f"{user}-anon", name="Home", properties={"path": "/"}),
        client.track(
            anonymous_id=f"{user}-anon",
            event="Product Viewed",
            properties={"sku": "A1", "category": "Shoes", "price": 30},
        ),
        client.identify(
            user_id=user,
            anonymous_id=f"{user}-anon",
            traits={"email": f"{user.upper()}@Example.com", "plan": "pro"},
        ),
        client.screen(user_id=user, name="Cart", properties={"items": 1}),
        client.group(user_id=user, group_id="acme", traits={"name": "Acme"}),
        client.track(anonymous_id=f"{user}-tablet", event="App Opened"),
        client.alias(previous_id=f"{user}-tablet", user_id=user),
        client.track(
            user_id=user,
            event="Order Completed",
            properties={"order_id": "o-1", "revenue": 30, "currency": "EUR"},
        ),
    ]
    assert all(ok for ok, _ in calls)
    return [message for _, message in calls]


@pytest.mark.parametrize("mode", ["sync", "queued+gzip"])
def test_everything_the_segment_client_sends_arrives_and_merges(
    start_server: Callable[[str], Server],
    e2e_database: str,
    keys: dict[str, Any],
    mode: str,
) -> None:
    server = start_server(e2e_database)
    errors: list[Exception] = []
    client = Client(
        keys["write_key"],
        host=server.base_url,
        sync_mode=mode == "sync",
        gzip=mode != "sync",
        upload_interval=0.05,
        max_retries=1,
        on_error=lambda error, _batch: errors.append(error),
    )
    user = f"ada-{secrets.token_hex(3)}"
    try:
        sent = send_a_customer_journey(client, user)
        client.flush()
    finally:
        if mode != "sync":
            client.shutdown()
    assert not errors, errors

    admin = {"Authorization": f"Bearer {keys['secret_key']}"}
    with httpx.Client(base_url=server.base_url, headers=admin, timeout=30) as api:
        exported = api.get(f"/v1/profiles/user_id:{user}/export")
        assert exported.status_code == 200, exported.text
        profile = exported.json()
        by_email = api.get(f"/v1/profiles/email:{user}@example.com").json()
        by_tablet = api.get(f"/v1/profiles/anonymous_id:{user}-tablet").json()

    assert by_email["profile_id"] == profile["profile_id"]  # email normalized, same person
    assert by_tablet["profile_id"] == profile["profile_id"]  # joined by the alias
    identities = {(i["kind"], i["value"]) for i in profile["identities"]}
    assert {
        ("user_id", user),
        ("anonymous_id", f"{user}-anon"),
        ("anonymous_id", f"{user}-tablet"),
        ("email", f"{user}@example.com"),
    } <= identities
    assert profile["traits"]["plan"] == "pro"
    assert profile["traits"]["groups"] == ["acme"]
    assert profile["computed"]["orders"] == 1
    assert profile["computed"]["revenue"] == 30

    stored = {e["message_id"]: e for e in profile["events"]}
    assert set(stored) == {m["messageId"] for m in sent}
    for message in sent:
        event = stored[message["messageId"]]
        assert event["type"] == message["type"]
        assert event["context"]["library"]["name"] == "analytics-python"
        # Same clock on both sides: the skew-corrected time stays within a few seconds.
        client_time = datetime.fromisoformat(message["timestamp"])
        server_time = datetime.fromisoformat(event["timestamp"].replace("Z", "+00:00"))
        assert abs((server_time - client_time).total_seconds()) < 10
    assert {e["type"] for e in profile["events"]} == {
        "page",
        "track",
        "identify",
        "screen",
        "group",
        "alias",
    }
