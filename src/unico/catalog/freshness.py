"""Keeping the catalog fresh from what the site says about products as people see them.

``Product Viewed`` and ``Product Added`` carry the product as the page shows it: ``name``
(the title), ``price``, ``currency``, ``category``, ``brand``, ``url``, ``image_url`` and
``variant`` (an attribute). An unknown product becomes an item; a known one takes a
field from an event only when the event is newer than the item's ``updated_at`` (an
upsert through the API sets it to the time of the upsert, so a feed always beats older
page views) and only fields the event carries and that differ, so repeated views change
nothing. A deleted item stays deleted: events never bring it back (upsert it again).
Invalid values (a negative price, a category of numbers) are ignored, field by field.

>>> fields_of({"name": "Trail shoe", "price": "89.5", "currency": "eur", "variant": "red"})
{'title': 'Trail shoe', 'price': 89.5, 'currency': 'EUR', 'attributes': {'variant': 'red'}}
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from sqlalchemy import Connection

from unico.catalog.events import item_id_of
from unico.catalog.model import Item
from unico.catalog.store import CatalogStore
from unico.catalog.validation import MAX_TEXT_CHARS, category_path, finite
from unico.core.event import Event

EVENTS = ("Product Viewed", "Product Added")
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")
#: property -> (item field, longest accepted text)
_TEXT = {
    "name": ("title", MAX_TEXT_CHARS),
    "brand": ("brand", 255),
    "url": ("url", MAX_TEXT_CHARS),
    "image_url": ("image", MAX_TEXT_CHARS),
}


def _text(value: Any, limit: int) -> str | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text or len(text) > limit or "\x00" in text:
        return None
    return text


def fields_of(properties: dict[str, Any]) -> dict[str, Any]:
    """The item fields a product event carries, each valid or left out."""
    fields: dict[str, Any] = {}
    for key, (name, limit) in _TEXT.items():
        value = _text(properties.get(key), limit)
        if value is not None:
            fields[name] = value
    price = finite(properties.get("price"))
    if price is not None:
        fields["price"] = price
    currency = properties.get("currency")
    if isinstance(currency, str) and _CURRENCY.match(currency):
        fields["currency"] = currency.upper()
    category = properties.get("category")
    if isinstance(category, str) or (
        isinstance(category, list) and all(isinstance(c, str) for c in category)
    ):
        try:
            path = tuple(category_path(category))
        except ValueError:
            path = ()
        if path:
            fields["category"] = path
    variant = _text(properties.get("variant"), 255)
    if variant is not None:
        fields["attributes"] = {"variant": variant}
    return fields


def _merged(item: Item, fields: dict[str, Any], at: int) -> Item:
    """``item`` with ``fields`` (attributes merged, not replaced) as of ``at``."""
    changes = dict(fields)
    if "attributes" in changes:
        changes["attributes"] = {**item.attributes, **changes["attributes"]}
    return replace(item, **changes, updated_at=at)


class Freshener:
    """Applies product events' fields to the catalog, inside the ingest transaction."""

    def __init__(self, items: CatalogStore) -> None:
        self.items = items

    def apply(self, conn: Connection, workspace_id: str, events: Sequence[Event]) -> int | None:
        """Create or update items from ``events``; the new catalog version, or None if
        nothing changed."""
        latest: dict[str, tuple[int, dict[str, Any]]] = {}
        for event in sorted(events, key=lambda e: e.timestamp):
            if event.type != "track" or event.name not in EVENTS:
                continue
            item_id = item_id_of(event.properties)
            fields = fields_of(event.properties)
            if item_id is None or not fields:
                continue
            _, before = latest.get(item_id, (0, {}))
            latest[item_id] = (event.timestamp, {**before, **fields})
        if not latest:
            return None
        stored = self.items.find(conn, workspace_id, latest)
        changed: list[Item] = []
        for item_id, (at, fields) in latest.items():
            current, deleted = stored.get(item_id, (None, False))
            if deleted:
                continue
            if current is None:
                changed.append(_merged(Item(item_id), fields, at))
            elif at > current.updated_at:
                fresh = _merged(current, fields, current.updated_at)
                if fresh != current:
                    changed.append(replace(fresh, updated_at=at))
        if not changed:
            return None
        version = self.items.bump(conn, workspace_id)
        self.items.write_items(conn, workspace_id, changed, version)
        return version
