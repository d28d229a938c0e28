"""The body of ``POST /v1/decide``, checked by hand (it is on the hot path) with the field
at fault named in every error.

The context fields Unico reads are checked strictly; any other field (the rest of a
Segment context: ``userAgent``, ``ip``, ``locale``, ``page.title`` ...) is ignored, named in
the decision's explanation and left out of the decision log.

>>> req = parse_request({"userId": "ada", "placements": ["home"], "context": {"item": "sku-1"}}, 10)
>>> req.user_id, req.placements, req.context_items
('ada', ('home',), ('sku-1',))
>>> req = parse_request({"placements": ["home"], "context": {"ip": "10.0.0.1", "page":
...     {"url": "https://shop.example/", "title": "Home"}}}, 10)
>>> req.context, req.ignored_context
({'page': {'url': 'https://shop.example/'}}, ('ip', 'page.title'))
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
_PAGE_KNOWN = frozenset({"url", "type"})
_TOP = frozenset({"anonymousId", "userId", "context", "placements", "writeKey"})
#: Ignored context fields named in an explanation, and the characters of each name: the
#: explanation is logged with every placement's decision, so a page's junk cannot swell it.
MAX_IGNORED_LISTED = 32
MAX_IGNORED_NAME_CHARS = 64


@dataclass(frozen=True, slots=True)
class DecideRequest:
    placements: tuple[str, ...]
    anonymous_id: str | None = None
    user_id: str | None = None
    #: The context fields Unico reads, as sent (logged with the decision).
    context: dict[str, Any] = field(default_factory=dict)
    #: The page's item first, then the cart's.
    context_items: tuple[str, ...] = ()
    #: The context fields ignored (``page.title`` for one inside ``page``), sorted; at most
    #: `MAX_IGNORED_LISTED`, and how many more there were.
    ignored_context: tuple[str, ...] = ()
    ignored_more: int = 0


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


def _no_nul(value: Any, where: str) -> None:
    """Refuse NUL in the strings and keys of a logged value: PostgreSQL cannot store it in
    JSON, and one such row would hold up the whole decision log. A loop, not recursion:
    nesting is bounded only by the body's size."""
    stack = [(value, where)]
    while stack:
        value, where = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                raise InvalidInput(f"{where} contains a NUL character", field=where)
        elif isinstance(value, dict):
            for key, inner in value.items():
                if "\x00" in key:
                    raise InvalidInput(f"a key of {where} contains a NUL character", field=where)
                stack.append((inner, f"{where}.{key}"))
        elif isinstance(value, list):
            stack.extend((inner, f"{where}[{i}]") for i, inner in enumerate(value))


def _known(
    raw: dict[str, Any], known: frozenset[str], prefix: str
) -> tuple[dict[str, Any], list[str]]:
    """The fields of ``raw`` Unico reads, and the names of the others (with ``prefix``)."""
    unknown = [prefix + k for k in raw if k not in known]
    if not unknown:
        return raw, unknown
    return {k: v for k, v in raw.items() if k in known}, unknown


def _page(page: Any) -> tuple[dict[str, Any], list[str]]:
    if not isinstance(page, dict):
        raise InvalidInput("context.page must be an object", field="context.page")
    page, ignored = _known(page, _PAGE_KNOWN, "page.")
    for key in ("url", "type"):
        value = page.get(key)
        if value is not None and (
            not isinstance(value, str) or len(value) > 2048 or "\x00" in value
        ):
            raise InvalidInput(
                f"context.page.{key} must be a string of at most 2048 characters",
                field=f"context.page.{key}",
            )
    return page, ignored


def _listed(names: list[str]) -> tuple[tuple[str, ...], int]:
    """Ignored names as an explanation shows them: sorted, cut short, NUL made visible."""
    names.sort()
    shown = tuple(
        n[:MAX_IGNORED_NAME_CHARS].replace("\x00", "\ufffd") for n in names[:MAX_IGNORED_LISTED]
    )
    return shown, len(names) - len(shown)


def _context(raw: Any) -> tuple[dict[str, Any], tuple[str, ...], list[str]]:
    """The known fields, the items they name, and the names of the fields ignored."""
    if raw is None:
        return {}, (), []
    if not isinstance(raw, dict):
        raise InvalidInput("context must be an object", field="context")
    context, ignored = _known(raw, _KNOWN, "")
    for key in _TEXT_FIELDS:
        value = context.get(key)
        if value is not None and (not isinstance(value, str) or len(value) > 64 or "\x00" in value):
            raise InvalidInput(f"context.{key} must be a short string", field=f"context.{key}")
    if context.get("page") is not None:
        page, in_page = _page(context["page"])
        if in_page:
            context = {**context, "page": page}
            ignored += in_page
    location = context.get("location")
    if location is not None:
        if not isinstance(location, dict):
            raise InvalidInput("context.location must be an object", field="context.location")
        _no_nul(location, "context.location")
    if context.get("local_time") is not None and not _is_iso(context["local_time"]):
        raise InvalidInput(
            "context.local_time must be an ISO 8601 time", field="context.local_time"
        )
    items = []
    if context.get("item") is not None:
        items.append(_item_id(context["item"], "context.item"))
    cart = context.get("cart")
    if cart is not None:
        if not isinstance(cart, list) or len(cart) > MAX_CART:
            raise InvalidInput(
                f"context.cart must be a list of at most {MAX_CART} item ids", field="context.cart"
            )
        items += [_item_id(v, f"context.cart[{i}]") for i, v in enumerate(cart)]
    return context, tuple(dict.fromkeys(items)), ignored


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
    context, items, ignored = _context(raw.get("context"))
    listed, more = _listed(ignored) if ignored else ((), 0)
    return DecideRequest(
        tuple(names), _id(raw, "anonymousId"), _id(raw, "userId"), context, items, listed, more
    )
