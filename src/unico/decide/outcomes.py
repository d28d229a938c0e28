"""What became of decisions: ``Placement Viewed`` and ``Placement Clicked`` events, sent by
the web tag, and the add-to-carts and orders of recommended items, recorded per decision as
they are ingested (in the ingest transaction).

``Placement Viewed``: ``{decision_id, placement, item_ids: [...]}`` -> one impression per item.
``Placement Clicked``: ``{decision_id, placement, item_id, position}`` -> one click.
``Product Added``: ``{decision_id, product_id}`` -> one ``add``.
``Order Completed``: ``{products: [{product_id, decision_id}, ...]}`` (or one ``decision_id``
for the whole order) -> one ``order`` per product that names a decision. The web tag adds
the decision id to the product events of an item the visitor reached from a recommendation.

>>> click = {"decision_id": "d_1", "item_id": "a", "position": 2}
>>> rows = outcome_rows("ws", CLICKED, click, "p", "m", 5)
>>> [(r["kind"], r["item_id"], r["position"]) for r in rows]
[('click', 'a', 2)]
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from unico.catalog.events import item_id_of
from unico.collect.pipeline import ProfiledGroup
from unico.decide.store import DecideStore

VIEWED = "Placement Viewed"
CLICKED = "Placement Clicked"
ADDED = "Product Added"
ORDERED = "Order Completed"
OUTCOME_EVENTS = frozenset({VIEWED, CLICKED, ADDED, ORDERED})
MAX_ITEMS = 100


def _text(value: Any, limit: int) -> str | None:
    return value if isinstance(value, str) and 0 < len(value) <= limit else None


def _position(value: Any) -> int | None:
    ok = isinstance(value, int) and not isinstance(value, bool) and 0 < value < 10_000
    return value if ok else None


def outcome_rows(
    workspace_id: str,
    name: str,
    properties: dict[str, Any],
    profile_id: str,
    message_id: str,
    at: int,
) -> list[dict[str, Any]]:
    """The outcome rows an event makes (none when it does not name a decision)."""
    tail = {"profile_id": profile_id, "message_id": message_id, "at": at}
    if name in (ADDED, ORDERED):
        products = properties.get("products") if name == ORDERED else [properties]
        kind = "order" if name == ORDERED else "add"
        return _conversion_rows(workspace_id, kind, properties, products, tail)
    decision_id = _text(properties.get("decision_id"), 64)
    if decision_id is None:
        return []
    base = {
        "workspace_id": workspace_id,
        "decision_id": decision_id,
        "placement": _text(properties.get("placement"), 64),
    }
    if name == CLICKED:
        item = _text(properties.get("item_id"), 255)
        if item is None:
            return []
        position = _position(properties.get("position"))
        return [{**base, "kind": "click", "item_id": item, "position": position, **tail}]
    ids = properties.get("item_ids")
    if not isinstance(ids, list):
        return []
    return [
        {**base, "kind": "impression", "item_id": item, "position": n, **tail}
        for n, item in enumerate(ids[:MAX_ITEMS], start=1)
        if _text(item, 255) is not None
    ]


def _conversion_rows(
    workspace_id: str, kind: str, event: dict[str, Any], products: Any, tail: dict[str, Any]
) -> list[dict[str, Any]]:
    """One ``kind`` row per product that names a decision (its own, or the event's)."""
    if not isinstance(products, list):
        return []
    whole = _text(event.get("decision_id"), 64)
    rows = []
    for product in products[:MAX_ITEMS]:
        item = item_id_of(product)
        decision_id = (_text(product.get("decision_id"), 64) or whole) if item else None
        if item is None or decision_id is None:
            continue
        placement = _text(product.get("placement"), 64)
        rows.append(
            {
                "workspace_id": workspace_id,
                "decision_id": decision_id,
                "placement": placement,
                "kind": kind,
                "item_id": item,
                "position": None,
                **tail,
            }
        )
    return rows


class OutcomeListener:
    """An ingest listener (`unico.collect.pipeline.EventListener`) recording outcomes."""

    def __init__(self, decide_store: DecideStore) -> None:
        self.decide_store = decide_store

    def on_events(self, conn: Connection, group: ProfiledGroup) -> None:
        rows: list[dict[str, Any]] = []
        for event, profile_id in group.events:
            if event.type == "track" and event.name in OUTCOME_EVENTS:
                rows += outcome_rows(
                    group.workspace_id,
                    event.name,
                    event.properties,
                    profile_id,
                    event.message_id,
                    event.timestamp,
                )
        self.decide_store.insert_outcomes(conn, rows)

    def rollback(self) -> None:
        """Nothing cached: rows went into the rolled-back transaction."""
