"""The body of ``POST /v1/decide``, checked by hand (it is on the hot path) with the field
at fault named in every error.

>>> req = parse_request({"userId": "ada", "placements": ["home"], "context": {"item": "sku-1"}}, 10)
>>> req.user_id, req.placements, req.context_items
('ada', ('home',), ('sku-1',))
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from unico.core.clock import parse_iso_ms
from unico.core.errors import InvalidInput

MAX_ID_CHARS = 255
MAX_CART = 100
_TEXT_FIELDS = ("channel", "device", "language")
_KNOWN = frozenset(
    {"channel", "device", "language", "page", "item", "cart", "location", "local_time"}
)
_TOP = frozenset({"anonymousId", "userId", "context", "placements", "writeKey"})


@dataclass(frozen=True, slots=True)
class DecideRequest:
    placements: tuple[str, ...]
    anonymous_id: str | None = None
    user_id: str | None = None
    #: The context as sent (logged with the decision).
    context: dict[str, Any] = field(default_factory=dict)
    #: The page's item first, then the cart's.
    context_items: tuple[str, ...] = ()


def _id(raw: dict[str, Any], key: str) -> str | None:
    value = raw.get(key)
    if value is None:
        return None
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise InvalidInput(f"{key} must be a string", field=key)
    text = str(value).strip()
    if not text or len(text) > MAX_ID_CHARS or "\x00" in text:
        raise InvalidInput(f"{key} must be 1 to {MAX_ID_CHARS} characters", field=key)
    return text


def _item_id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not value or len(value) > MAX_ID_CHARS or "\x00" in value:
        raise InvalidInput(
            f"{where} must be an item id (1 to {MAX_ID_CHARS} characters)", field=where
        )
    return value


def _is_iso(value: Any) -> bool:
    if not isinstance(value, str) or len(value) > 64:
        return False
    try:
        parse_iso_ms(value)
    except (ValueError, OverflowError):
        return False
    return True


def _context(raw: Any) -> tuple[dict[str, Any], tuple[str, ...]]:
    if raw is None:
        return {}, ()
    if not isinstance(raw, dict):
        raise InvalidInput("context must be an object", field="context")
    unknown = sorted(set(raw) - _KNOWN)
    if unknown:
        raise InvalidInput(f"unknown context field {unknown[0]!r}", field=f"context.{unknown[0]}")
    for key in _TEXT_FIELDS:
        value = raw.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 64):
            raise InvalidInput(f"context.{key} must be a short string", field=f"context.{key}")
    page = raw.get("page")
    if page is not None:
        if not isinstance(page, dict):
            raise InvalidInput("context.page must be an object", field="context.page")
        for key in ("url", "type"):
            value = page.get(key)
            if value is not None and (not isinstance(value, str) or len(value) > 2048):
                raise InvalidInput(
                    f"context.page.{key} must be a string", field=f"context.page.{key}"
                )
    location = raw.get("location")
    if location is not None and not isinstance(location, dict):
        raise InvalidInput("context.location must be an object", field="context.location")
    if raw.get("local_time") is not None and not _is_iso(raw["local_time"]):
        raise InvalidInput(
            "context.local_time must be an ISO 8601 time", field="context.local_time"
        )
    items = []
    if raw.get("item") is not None:
        items.append(_item_id(raw["item"], "context.item"))
    cart = raw.get("cart")
    if cart is not None:
        if not isinstance(cart, list) or len(cart) > MAX_CART:
            raise InvalidInput(
                f"context.cart must be a list of at most {MAX_CART} item ids", field="context.cart"
            )
        items += [_item_id(v, f"context.cart[{i}]") for i, v in enumerate(cart)]
    return raw, tuple(dict.fromkeys(items))


def parse_request(raw: Any, max_placements: int) -> DecideRequest:
    """A decide request from parsed JSON, or `InvalidInput` naming the bad field."""
    if not isinstance(raw, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    unknown = sorted(set(raw) - _TOP)
    if unknown:
        raise InvalidInput(f"unknown field {unknown[0]!r}", field=unknown[0])
    names = raw.get("placements")
    if not isinstance(names, list) or not names:
        raise InvalidInput("placements must be a non-empty list of names", field="placements")
    if len(names) > max_placements:
        raise InvalidInput(
            f"{len(names)} placements asked; the limit is {max_placements}", field="placements"
        )
    for i, name in enumerate(names):
        if not isinstance(name, str) or not name or len(name) > 64:
            raise InvalidInput("a placement is named by a string", field=f"placements[{i}]")
    if len(set(names)) != len(names):
        raise InvalidInput("a placement is asked for twice", field="placements")
    context, items = _context(raw.get("context"))
    return DecideRequest(tuple(names), _id(raw, "anonymousId"), _id(raw, "userId"), context, items)
