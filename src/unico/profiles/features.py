"""Computed features, updated in real time on every event and merged when profiles merge.

Everything here is a pure function of (computed, event): no I/O, no clock. The
stored shape (all keys optional)::

    events, type_counts{type: n}, event_counts{name: n}, sessions, session_id,
    page_views, screen_views, orders, revenue, revenue_by_currency{cur: x},
    first_order_at, last_order_at, avg_order_value, refunds,
    category_scores{category: score}, favourite_categories[...], recent_order_ids[...],
    order_values{order_id: [revenue, currency, refunded]} (for the recent order ids)

Read-time values that depend on "now" (recency) are derived in `derived()`.
"""

from __future__ import annotations

import math
from typing import Any

from unico.core.event import Event
from unico.core.types import EpochMs, JSONObject

MAX_EVENT_NAMES = 500
MAX_CATEGORIES = 100
FAVOURITES = 3
RECENT_ORDER_IDS = 50
OTHER = "(other)"
#: Stored for bookkeeping (de-duplication, refunds), never shown to readers.
INTERNAL = ("recent_order_ids", "session_id", "order_values")
DAY_MS = 86_400_000

#: How much an interaction with a category says about taste.
CATEGORY_WEIGHTS: dict[str, float] = {
    "Product Viewed": 1.0,
    "Product Clicked": 1.0,
    "Product List Viewed": 0.5,
    "Product Added": 3.0,
    "Product Added to Wishlist": 2.0,
    "Order Completed": 5.0,
}


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                return None
        else:
            return None
    number = float(value)
    return number if math.isfinite(number) else None


def _bump(counts: dict[str, Any], key: str, by: float = 1, limit: int = MAX_EVENT_NAMES) -> None:
    if key not in counts and len(counts) >= limit:
        key = OTHER
    counts[key] = counts.get(key, 0) + by


def order_revenue(properties: JSONObject) -> float:
    """Revenue of an order per Segment's e-commerce spec: revenue, else total, else the lines."""
    for key in ("revenue", "total"):
        value = _number(properties.get(key))
        if value is not None:
            return value
    total = 0.0
    products = properties.get("products")
    if isinstance(products, list):
        for product in products:
            if isinstance(product, dict):
                price = _number(product.get("price")) or 0.0
                quantity = _number(product.get("quantity"))
                total += price * (1.0 if quantity is None else quantity)
    return total


def _categories(properties: JSONObject) -> list[str]:
    found: list[str] = []
    category = properties.get("category")
    if isinstance(category, str) and category.strip():
        found.append(category.strip()[:200])
    products = properties.get("products")
    if isinstance(products, list):
        for product in products[:100]:
            if isinstance(product, dict):
                cat = product.get("category")
                if isinstance(cat, str) and cat.strip():
                    found.append(cat.strip()[:200])
    return found


def _score_categories(computed: JSONObject, names: list[str], weight: float) -> None:
    scores: dict[str, float] = computed.setdefault("category_scores", {})
    for name in names:
        scores[name] = round(scores.get(name, 0.0) + weight, 4)
    if len(scores) > MAX_CATEGORIES:
        keep = sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_CATEGORIES]
        scores.clear()
        scores.update(keep)
    computed["favourite_categories"] = _favourites(scores)


def _favourites(scores: dict[str, float]) -> list[str]:
    return [k for k, _ in sorted(scores.items(), key=lambda kv: (-kv[1], kv[0]))[:FAVOURITES]]


def _order_id(properties: JSONObject) -> str | None:
    order_id = properties.get("order_id", properties.get("orderId"))
    if isinstance(order_id, str | int) and not isinstance(order_id, bool) and str(order_id):
        return str(order_id)[:255]
    return None


def _currency(properties: JSONObject, default: str = "USD") -> str:
    currency = properties.get("currency")
    return currency.upper()[:8] if isinstance(currency, str) and currency else default


def _add_revenue(computed: JSONObject, currency: str, amount: float) -> None:
    computed["revenue"] = round(computed.get("revenue", 0.0) + amount, 4)
    by_currency = computed.setdefault("revenue_by_currency", {})
    by_currency[currency] = round(by_currency.get(currency, 0.0) + amount, 4)
    if computed.get("orders"):
        computed["avg_order_value"] = round(computed["revenue"] / computed["orders"], 4)


def _remember_order(computed: JSONObject, order_id: str, value: list[Any]) -> None:
    recent: list[str] = computed.setdefault("recent_order_ids", [])
    values: dict[str, list[Any]] = computed.setdefault("order_values", {})
    recent.append(order_id)
    values[order_id] = value
    for old in recent[:-RECENT_ORDER_IDS]:
        values.pop(old, None)
    del recent[:-RECENT_ORDER_IDS]


def _order(computed: JSONObject, event: Event) -> None:
    props = event.properties
    order_id = _order_id(props)
    if order_id is not None and order_id in computed.get("recent_order_ids", []):
        return  # the same order reported twice
    revenue = order_revenue(props)
    currency = _currency(props)
    if order_id is not None:
        _remember_order(computed, order_id, [revenue, currency, 0.0])
    computed["orders"] = computed.get("orders", 0) + 1
    _add_revenue(computed, currency, revenue)
    first = computed.get("first_order_at")
    computed["first_order_at"] = event.timestamp if first is None else min(first, event.timestamp)
    last = computed.get("last_order_at")
    computed["last_order_at"] = event.timestamp if last is None else max(last, event.timestamp)


def _refund(computed: JSONObject, event: Event) -> None:
    """A partial refund names its amount (revenue, total or products); a full refund may
    carry only the order id (Segment's e-commerce spec), so it takes back what is left of
    that order, once."""
    props = event.properties
    order_id = _order_id(props)
    order = computed.get("order_values", {}).get(order_id) if order_id is not None else None
    given = any(key in props for key in ("revenue", "total", "products"))
    if given:
        amount = order_revenue(props)
    elif order is not None:
        amount = order[0] - order[2]
        if amount <= 0:
            return  # already refunded in full: the same refund reported again
    else:
        amount = 0.0  # an order too old to remember, without an amount
    currency = _currency(props, order[1] if order is not None else "USD")
    if order is not None:
        order[2] = round(order[2] + amount, 4)
    computed["refunds"] = computed.get("refunds", 0) + 1
    _add_revenue(computed, currency, -amount)


def apply_event(
    computed: JSONObject,
    last_seen: EpochMs | None,
    event: Event,
    session_gap_ms: int,
) -> None:
    """Update ``computed`` in place with one event. ``last_seen`` is the time before this event."""
    computed["events"] = computed.get("events", 0) + 1
    _bump(computed.setdefault("type_counts", {}), event.type)
    session_id = event.context.get("sessionId")
    new_session = last_seen is None or event.timestamp - last_seen > session_gap_ms
    if isinstance(session_id, str | int) and not isinstance(session_id, bool):
        new_session = new_session or str(session_id) != computed.get("session_id")
        computed["session_id"] = str(session_id)
    if new_session:
        computed["sessions"] = computed.get("sessions", 0) + 1
    if event.type == "page":
        computed["page_views"] = computed.get("page_views", 0) + 1
    elif event.type == "screen":
        computed["screen_views"] = computed.get("screen_views", 0) + 1
    elif event.type == "track" and event.name:
        _bump(computed.setdefault("event_counts", {}), event.name)
        if event.name == "Order Completed":
            _order(computed, event)
        elif event.name == "Order Refunded":
            _refund(computed, event)
        weight = CATEGORY_WEIGHTS.get(event.name)
        if weight:
            _score_categories(computed, _categories(event.properties), weight)


def merge(a: JSONObject, b: JSONObject) -> JSONObject:
    """The computed features of two profiles of one person."""
    out: JSONObject = dict(a)
    for key in ("events", "sessions", "page_views", "screen_views", "orders", "refunds"):
        if key in b:
            out[key] = out.get(key, 0) + b[key]
    for key in ("revenue",):
        if key in b:
            out[key] = round(out.get(key, 0.0) + b[key], 4)
    for key in ("type_counts", "event_counts", "revenue_by_currency", "category_scores"):
        if key in b:
            merged = dict(out.get(key, {}))
            for name, value in b[key].items():
                merged[name] = merged.get(name, 0) + value
            out[key] = merged
    for key, pick in (("first_order_at", min), ("last_order_at", max)):
        values = [v for v in (a.get(key), b.get(key)) if v is not None]
        if values:
            out[key] = pick(values)
    _merge_orders(out, a, b)
    if out.get("orders"):
        out["avg_order_value"] = round(out.get("revenue", 0.0) / out["orders"], 4)
    if "category_scores" in out:
        out["favourite_categories"] = _favourites(out["category_scores"])
    return out


def _merge_orders(out: JSONObject, a: JSONObject, b: JSONObject) -> None:
    """Count an order both profiles saw once: a browser and a server often both report it,
    under an anonymous id and a user id, before an identify joins the two."""
    values_a: dict[str, list[Any]] = a.get("order_values", {})
    values_b: dict[str, list[Any]] = b.get("order_values", {})
    values = {k: list(v) for k, v in {**values_b, **values_a}.items()}  # no shared lists
    for order_id in set(a.get("recent_order_ids", [])) & set(b.get("recent_order_ids", [])):
        va, vb = values_a.get(order_id), values_b.get(order_id)
        if va is None or vb is None:
            continue  # stored before order values were kept: nothing to correct with
        # Each side counted (revenue - its refunds); the order counts once, with the
        # larger refund (the same refund is likely reported to both sides).
        out["orders"] = out.get("orders", 0) - 1
        extra = vb[0] - min(va[2], vb[2])
        out["revenue"] = round(out.get("revenue", 0.0) - extra, 4)
        by_currency = dict(out.get("revenue_by_currency", {}))
        by_currency[vb[1]] = round(by_currency.get(vb[1], 0.0) - extra, 4)
        out["revenue_by_currency"] = by_currency
        if min(va[2], vb[2]) > 0:
            out["refunds"] = out.get("refunds", 0) - 1
        values[order_id] = [va[0], va[1], max(va[2], vb[2])]
    ids = list(dict.fromkeys(a.get("recent_order_ids", []) + b.get("recent_order_ids", [])))
    if ids:
        keep = ids[-RECENT_ORDER_IDS:]
        out["recent_order_ids"] = keep
        out["order_values"] = {k: values[k] for k in keep if k in values}


def derived(
    computed: JSONObject, first_seen: EpochMs | None, last_seen: EpochMs | None, now: EpochMs
) -> JSONObject:
    """What a reader sees: the stored features plus recency/frequency/monetary at ``now``."""
    from unico.core.clock import to_iso

    out = {k: v for k, v in computed.items() if k not in INTERNAL}
    for key in ("first_order_at", "last_order_at"):
        if out.get(key) is not None:
            out[key] = to_iso(out[key])
    out["first_seen"] = to_iso(first_seen)
    out["last_seen"] = to_iso(last_seen)
    last_order = computed.get("last_order_at")
    out["recency_days"] = None if last_order is None else round((now - last_order) / DAY_MS, 2)
    out["days_since_last_seen"] = (
        None if last_seen is None else round((now - last_seen) / DAY_MS, 2)
    )
    out["frequency"] = computed.get("orders", 0)
    out["monetary"] = computed.get("revenue", 0.0)
    return out
