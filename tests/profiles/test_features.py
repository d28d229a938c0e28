"""Computed features: the pure rules, then the same features through the API on every event."""

from __future__ import annotations

import math
from typing import Any

import pytest

from tests.conftest import T0, Workspace
from tests.profiles.helpers import DAY, HOUR, MINUTE, batch, get, iso, send
from unico.core.clock import ManualClock
from unico.core.event import Event
from unico.core.types import JSONObject
from unico.profiles import features

GAP = 30 * MINUTE


def _track(name: str, at: int = T0, **properties: Any) -> Event:
    return Event(
        type="track",
        message_id=f"m{at}{name}",
        timestamp=at,
        received_at=at,
        name=name,
        properties=properties,
    )


def _apply(events: list[Event]) -> JSONObject:
    computed: JSONObject = {}
    last_seen: int | None = None
    for event in events:
        features.apply_event(computed, last_seen, event, GAP)
        last_seen = event.timestamp if last_seen is None else max(last_seen, event.timestamp)
    return computed


@pytest.mark.parametrize(
    ("properties", "expected"),
    [
        ({"revenue": 10, "total": 12, "products": [{"price": 99}]}, 10.0),
        ({"total": "12.5", "products": [{"price": 99}]}, 12.5),
        ({"products": [{"price": 5, "quantity": 2}, {"price": "1.5"}, {"quantity": 3}]}, 11.5),
        ({"revenue": "n/a", "total": math.inf, "products": [{"price": 2}]}, 2.0),
        ({"revenue": True, "products": "not a list"}, 0.0),
        ({}, 0.0),
    ],
)
def test_order_revenue_falls_back_from_revenue_to_total_to_products(
    properties: JSONObject, expected: float
) -> None:
    assert features.order_revenue(properties) == expected


def test_orders_count_once_per_order_id_and_refunds_take_revenue_back() -> None:
    computed = _apply(
        [
            _track("Order Completed", T0, order_id="o1", revenue=100, currency="eur"),
            _track("Order Completed", T0 + 1, order_id="o1", revenue=100, currency="eur"),
            _track("Order Completed", T0 + 2, orderId="o2", total=50, currency="EUR"),
            _track("Order Completed", T0 + 3, order_id=3, products=[{"price": 10, "quantity": 3}]),
            _track("Order Refunded", T0 + 4, order_id="o2", total=20, currency="EUR"),
        ]
    )
    assert computed["orders"] == 3
    assert computed["revenue"] == 160.0  # 100 + 50 + 30 - 20
    assert computed["revenue_by_currency"] == {"EUR": 130.0, "USD": 30.0}
    assert computed["refunds"] == 1
    assert computed["avg_order_value"] == round(160 / 3, 4)
    assert computed["first_order_at"] == T0 and computed["last_order_at"] == T0 + 3
    assert computed["event_counts"] == {"Order Completed": 4, "Order Refunded": 1}


def test_a_full_refund_by_order_id_takes_back_that_order_once() -> None:
    """Segment's spec: a full refund may carry only ``order_id``."""
    computed = _apply(
        [
            _track("Order Completed", T0, order_id="o1", revenue=80, currency="EUR"),
            _track("Order Completed", T0 + 1, order_id="o2", revenue=20, currency="EUR"),
            _track("Order Refunded", T0 + 2, order_id="o1"),
            _track("Order Refunded", T0 + 3, order_id="o1"),  # the same refund, reported again
        ]
    )
    assert computed["revenue"] == 20.0
    assert computed["revenue_by_currency"] == {"EUR": 20.0}
    assert computed["refunds"] == 1


def test_sessions_start_after_the_gap_or_with_a_new_session_id() -> None:
    computed = _apply(
        [
            _track("A", T0),
            _track("B", T0 + 10 * MINUTE),
            _track("C", T0 + 40 * MINUTE),  # exactly the gap: same session
            _track("D", T0 + 71 * MINUTE),  # over the gap
            _track("E", T0 + 20 * MINUTE),  # late, older event: not a new session
        ]
    )
    assert computed["sessions"] == 2
    with_ids = Event(
        type="page",
        message_id="p",
        timestamp=T0 + 72 * MINUTE,
        received_at=T0,
        context={"sessionId": 7},
    )
    features.apply_event(computed, T0 + 71 * MINUTE, with_ids, GAP)
    assert computed["sessions"] == 3 and computed["page_views"] == 1


def test_favourite_categories_weigh_what_people_do() -> None:
    computed = _apply(
        [
            _track("Product Viewed", T0, category="Shoes"),
            _track("Product Viewed", T0, category="Shoes"),
            _track("Product Viewed", T0, category="Hats"),
            _track("Product Added", T0, category="Bags"),  # weight 3
            _track("Order Completed", T0, order_id="o", products=[{"category": "Socks"}]),
            _track("Checkout Started", T0, category="Ignored"),
        ]
    )
    assert computed["category_scores"] == {"Shoes": 2.0, "Hats": 1.0, "Bags": 3.0, "Socks": 5.0}
    assert computed["favourite_categories"] == ["Socks", "Bags", "Shoes"]


def test_merge_adds_counters_and_keeps_one_copy_of_a_shared_order() -> None:
    a = _apply(
        [
            _track("Product Viewed", T0, category="Shoes"),
            _track("Order Completed", T0 + 5, order_id="o1", revenue=40),
        ]
    )
    b = _apply(
        [
            _track("Product Added", T0 + 1, category="Bags"),
            _track("Order Completed", T0 + 2, order_id="o1", revenue=40),  # the same order
            _track("Order Completed", T0 + 3, order_id="o2", revenue=10),
        ]
    )
    merged = features.merge(a, b)
    assert merged["events"] == 5
    assert merged["orders"] == 2
    assert merged["revenue"] == 50.0
    assert merged["revenue_by_currency"] == {"USD": 50.0}
    assert merged["avg_order_value"] == 25.0
    assert merged["event_counts"] == {"Product Viewed": 1, "Product Added": 1, "Order Completed": 3}
    assert merged["first_order_at"] == T0 + 2 and merged["last_order_at"] == T0 + 5
    assert merged["favourite_categories"] == ["Bags", "Shoes"]


def test_derived_features_depend_on_now() -> None:
    computed = _apply([_track("Order Completed", T0, order_id="o1", revenue=12)])
    out = features.derived(computed, T0 - DAY, T0, T0 + 3 * DAY + 12 * HOUR)
    assert out["recency_days"] == 3.5
    assert out["days_since_last_seen"] == 3.5
    assert out["frequency"] == 1 and out["monetary"] == 12.0
    assert out["first_seen"] == iso(T0 - DAY) and out["last_order_at"] == iso(T0)
    assert "recent_order_ids" not in out
    empty = features.derived({}, None, None, T0)
    assert empty["recency_days"] is None and empty["frequency"] == 0 and empty["monetary"] == 0.0


# -- through the API ------------------------------------------------------------------------


def test_counts_and_first_last_seen_follow_event_time(ws: Workspace) -> None:
    user = {"userId": "u1"}
    send(ws, "track", {**user, "event": "Signed Up", "timestamp": iso(T0 - HOUR)})
    assert get(ws, "user_id:u1")["computed"]["events"] == 1
    send(ws, "page", {**user, "name": "Home", "timestamp": iso(T0 - 2 * HOUR)})
    send(ws, "screen", {**user, "name": "Cart", "timestamp": iso(T0 - 30 * MINUTE)})
    send(ws, "page", {**user, "timestamp": iso(T0 - 3 * HOUR)})
    send(ws, "identify", {**user, "traits": {"name": "Ada"}})
    computed = get(ws, "user_id:u1")["computed"]
    assert computed["events"] == 5
    assert computed["type_counts"] == {"track": 1, "page": 2, "screen": 1, "identify": 1}
    assert computed["event_counts"] == {"Signed Up": 1}
    assert computed["page_views"] == 2 and computed["screen_views"] == 1
    assert computed["first_seen"] == iso(T0 - 3 * HOUR)
    assert computed["last_seen"] == iso(T0)


def test_sessions_follow_the_clock(ws: Workspace, clock: ManualClock) -> None:
    for minutes in (0, 10, 30, 31, 30, 1):  # gaps between events, in minutes
        clock.advance(minutes * 60)
        send(ws, "track", {"anonymousId": "a1", "event": "Tick"})
    # New sessions at the first event and after the one gap over 30 minutes.
    assert get(ws, "anonymous_id:a1")["computed"]["sessions"] == 2
    clock.advance(31 * 60)
    send(ws, "track", {"anonymousId": "a1", "event": "Tick"})
    assert get(ws, "anonymous_id:a1")["computed"]["sessions"] == 3


def test_sessions_follow_event_timestamps_in_a_batch(ws: Workspace) -> None:
    at = [T0 - 5 * HOUR, T0 - 5 * HOUR + 20 * MINUTE, T0 - 2 * HOUR, T0 - HOUR, T0 - 50 * MINUTE]
    batch(
        ws, [{"type": "track", "anonymousId": "a1", "event": "X", "timestamp": iso(t)} for t in at]
    )
    assert get(ws, "anonymous_id:a1")["computed"]["sessions"] == 3


def test_orders_revenue_refunds_and_rfm(ws: Workspace, clock: ManualClock) -> None:
    user = {"userId": "u1"}
    send(
        ws,
        "track",
        {
            **user,
            "event": "Order Completed",
            "properties": {"order_id": "o1", "revenue": 30, "currency": "EUR"},
        },
    )
    send(
        ws,
        "track",
        {
            **user,
            "event": "Order Completed",
            "properties": {"order_id": "o2", "total": 20, "currency": "EUR"},
        },
    )
    send(
        ws,
        "track",
        {
            **user,
            "event": "Order Completed",
            "properties": {
                "order_id": "o3",
                "currency": "EUR",
                "products": [{"price": 5, "quantity": 2, "category": "Socks"}],
            },
        },
    )
    # The same order again, under another message id.
    send(
        ws,
        "track",
        {
            **user,
            "event": "Order Completed",
            "properties": {"order_id": "o1", "revenue": 30, "currency": "EUR"},
        },
    )
    computed = get(ws, "user_id:u1")["computed"]
    assert computed["orders"] == 3
    assert computed["revenue"] == 60.0
    assert computed["revenue_by_currency"] == {"EUR": 60.0}
    assert computed["avg_order_value"] == 20.0
    assert computed["favourite_categories"] == ["Socks"]

    send(ws, "track", {**user, "event": "Order Refunded", "properties": {"order_id": "o2"}})
    clock.advance(10 * 86_400)
    computed = get(ws, "user_id:u1")["computed"]
    assert computed["refunds"] == 1
    assert computed["revenue"] == computed["monetary"] == 40.0
    assert computed["frequency"] == 3
    assert computed["recency_days"] == 10.0
    assert computed["days_since_last_seen"] == 10.0
    assert computed["last_order_at"] == iso(T0)


def test_an_order_reported_by_browser_and_server_counts_once_after_a_merge(
    ws: Workspace,
) -> None:
    order = {"event": "Order Completed", "properties": {"order_id": "o1", "revenue": 40}}
    send(ws, "track", {"anonymousId": "a1", **order})
    send(ws, "track", {"userId": "u1", **order})
    send(ws, "track", {"userId": "u1", "event": "Order Completed", "properties": {"total": 5}})
    send(ws, "identify", {"userId": "u1", "anonymousId": "a1"})
    computed = get(ws, "anonymous_id:a1")["computed"]
    assert computed["event_counts"] == {"Order Completed": 3}
    assert (computed["orders"], computed["revenue"], computed["avg_order_value"]) == (2, 45.0, 22.5)
