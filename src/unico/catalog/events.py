"""What Segment e-commerce events say about items: which items, and how strong a signal.

>>> product_ids("Order Completed", {"products": [{"product_id": "a"}, {"sku": 7}]})
['a', '7']
"""

from __future__ import annotations

from typing import Any

KINDS = {
    "Product Viewed": "view",
    "Product Clicked": "click",
    "Product Added": "cart",
    "Order Completed": "purchase",
}
WEIGHTS = {"view": 1.0, "click": 2.0, "cart": 3.0, "purchase": 5.0}
ID_KEYS = ("product_id", "sku", "id")
MAX_ID_CHARS = 255
MAX_PRODUCTS = 1000


def item_id_of(product: Any) -> str | None:
    """The item id of a Segment product object (``product_id``, ``sku`` or ``id``)."""
    if not isinstance(product, dict):
        return None
    for key in ID_KEYS:
        value = product.get(key)
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if isinstance(value, str):
            value = value.strip()
            if value and len(value) <= MAX_ID_CHARS and "\x00" not in value:
                return value
    return None


def product_ids(name: str, properties: dict[str, Any]) -> list[str]:
    """The item ids an e-commerce event is about."""
    if name == "Order Completed":
        products = properties.get("products")
        if not isinstance(products, list):
            return []
        found = (item_id_of(p) for p in products[:MAX_PRODUCTS])
        return [i for i in found if i is not None]
    found_id = item_id_of(properties)
    return [] if found_id is None else [found_id]
