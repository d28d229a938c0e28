"""Items: products, content, offers and promotions, with the metadata decisions use.

>>> item = Item("sku-1", title="Trail shoe", category=("Shoes", "Running"), price=89.0)
>>> item.public()["category"]
['Shoes', 'Running']
>>> item.is_available(0)
True
>>> item.info().text
'Trail shoe Shoes Running'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from unico.core.types import EpochMs
from unico.recommend.base import ItemInfo

ItemKind = Literal["product", "content", "offer", "promotion"]
KINDS: tuple[str, ...] = ("product", "content", "offer", "promotion")
#: How a category path is written as one string ("Shoes > Running").
CATEGORY_SEPARATOR = " > "


def attribute_text(value: Any) -> str:
    """An attribute value as text: lists joined by spaces, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return " ".join(attribute_text(v) for v in value if v is not None)
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@dataclass(frozen=True, slots=True)
class Item:
    """One catalog item. Immutable: snapshots share them between threads."""

    item_id: str
    kind: str = "product"
    title: str = ""
    url: str | None = None
    image: str | None = None
    price: float | None = None
    currency: str | None = None
    #: Category path, most general first.
    category: tuple[str, ...] = ()
    brand: str | None = None
    tags: tuple[str, ...] = ()
    #: Style, colour, material, tone...: scalars or lists of scalars.
    attributes: Mapping[str, Any] = field(default_factory=dict)
    language: str | None = None
    valid_from: EpochMs | None = None
    valid_until: EpochMs | None = None
    in_stock: bool = True
    stock: int | None = None
    #: Margin or other business value of showing or selling the item.
    value: float | None = None
    updated_at: EpochMs = 0
    #: `public`, made on first use: a decision shows about twenty items, and copying a
    #: made dict costs a quarter of making one.
    _public: Mapping[str, Any] | None = field(default=None, init=False, repr=False, compare=False)

    def is_available(self, now_ms: EpochMs) -> bool:
        """Inside its validity window (``valid_until`` excluded) and in stock."""
        if self.valid_from is not None and now_ms < self.valid_from:
            return False
        if self.valid_until is not None and now_ms >= self.valid_until:
            return False
        return self.in_stock and (self.stock is None or self.stock > 0)

    def public(self) -> Mapping[str, Any]:
        """What a decision returns to the page: one mapping per item, shared by every
        decision that shows it (copy it to add to it)."""
        made = self._public
        if made is not None:
            return made
        made = {
            "id": self.item_id,
            "kind": self.kind,
            "title": self.title,
            "url": self.url,
            "image": self.image,
            "price": self.price,
            "currency": self.currency,
            "category": list(self.category),
            "brand": self.brand,
            "tags": list(self.tags),
        }
        object.__setattr__(self, "_public", made)  # frozen: set once, the same value
        return made

    def admin(self) -> dict[str, Any]:
        """Every field, as the admin API shows it (times in epoch ms)."""
        return {
            **self.public(),
            "attributes": dict(self.attributes),
            "language": self.language,
            "valid_from": self.valid_from,
            "valid_until": self.valid_until,
            "in_stock": self.in_stock,
            "stock": self.stock,
            "value": self.value,
            "updated_at": self.updated_at,
        }

    def info(self) -> ItemInfo:
        """What content-based recommenders learn from: title, tags, attribute values, brand
        and category as one text; attributes (and brand) as strings."""
        attributes = {k: attribute_text(v) for k, v in self.attributes.items()}
        if self.brand:
            attributes.setdefault("brand", self.brand)
        words = [self.title, *self.tags, *attributes.values(), *self.category]
        if self.brand and self.brand not in attributes.values():
            words.append(self.brand)
        text = " ".join(w for w in words if w)
        return ItemInfo(self.item_id, text, self.category, attributes)
