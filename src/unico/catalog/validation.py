"""Validating items as callers send them (JSON objects, CSV rows) into `Item`.

Unknown top-level keys are kept as attributes (product feeds carry ``colour``, ``size``,
``gender``... as columns of their own), so ``{"id": "a", "colour": "red"}`` is the same item
as ``{"id": "a", "attributes": {"colour": "red"}}``; an explicit ``attributes`` entry wins.

>>> item_from_json({"id": "sku-1", "category": "Shoes > Running", "price": "89.5"}, now=0).category
('Shoes', 'Running')
>>> item_from_json({"id": "sku-1", "colour": "red"}, now=0).attributes
{'colour': 'red'}
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from unico.catalog.model import CATEGORY_SEPARATOR, Item, ItemKind
from unico.core.clock import parse_iso_ms
from unico.core.errors import InvalidInput
from unico.core.spec import field_path, first_error
from unico.core.types import EpochMs

MAX_ID_CHARS = 255
MAX_TEXT_CHARS = 2048
MAX_ATTRIBUTES = 100
MAX_LEVELS = 10
#: Epoch ms beyond which a number is surely a mistake (year 9999).
MAX_EPOCH_MS = 253_402_300_799_999

Scalar = str | int | float | bool | None


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise ValueError("expected a number, not a boolean")
    return value


def _no_nul(value: Any) -> Any:
    if isinstance(value, str) and "\x00" in value:
        raise ValueError("text cannot contain NUL characters")
    return value


def _id(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return _no_nul(value)


def _time(value: Any) -> Any:
    """ISO 8601 text or epoch milliseconds (a number, or digits in a CSV cell)."""
    if value is None or isinstance(value, bool):
        return value if value is None else _no_bool(value)
    if isinstance(value, int | float):
        return value
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return int(text)
        try:
            return parse_iso_ms(text)
        except (ValueError, OverflowError):
            raise ValueError("expected an ISO 8601 timestamp or epoch milliseconds") from None
    raise ValueError("expected an ISO 8601 timestamp or epoch milliseconds")


Text = Annotated[str, StringConstraints(max_length=MAX_TEXT_CHARS), BeforeValidator(_no_nul)]
Short = Annotated[str, StringConstraints(min_length=1, max_length=255), BeforeValidator(_no_nul)]
Number = Annotated[float, BeforeValidator(_no_bool), Field(allow_inf_nan=False)]
Count = Annotated[int, BeforeValidator(_no_bool), Field(ge=0, le=2**62)]
Time = Annotated[int, BeforeValidator(_time), Field(ge=0, le=MAX_EPOCH_MS)]
AttributeValue = Annotated[Scalar | list[Scalar], BeforeValidator(_no_nul)]


class ItemIn(BaseModel):
    """One item as sent to ``POST /v1/catalog/items`` or found in an import file."""

    model_config = ConfigDict(extra="allow", str_strip_whitespace=True)

    id: Annotated[
        str, StringConstraints(min_length=1, max_length=MAX_ID_CHARS), BeforeValidator(_id)
    ]
    kind: ItemKind = "product"
    title: Text = ""
    url: Text | None = None
    image: Text | None = None
    price: Annotated[Number, Field(ge=0)] | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Za-z]{3}$")] | None = None
    category: str | list[str] | None = None
    brand: Short | None = None
    tags: list[Short] = Field(default_factory=list, max_length=100)
    attributes: dict[Short, AttributeValue] = Field(default_factory=dict)
    language: Annotated[str, Field(pattern=r"^[A-Za-z0-9-]{1,35}$")] | None = None
    valid_from: Time | None = None
    valid_until: Time | None = None
    in_stock: bool | None = None
    stock: Count | None = None
    value: Number | None = None

    @field_validator("category")
    @classmethod
    def _path(cls, value: str | list[str] | None) -> list[str]:
        return category_path(value)

    @field_validator("attributes")
    @classmethod
    def _few(cls, value: dict[str, Any]) -> dict[str, Any]:
        if len(value) > MAX_ATTRIBUTES:
            raise ValueError(f"at most {MAX_ATTRIBUTES} attributes")
        return value


def category_path(value: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """``"A > B"`` or ``["A", "B"]`` -> ``["A", "B"]`` (empty parts dropped)."""
    if value is None:
        return []
    parts = value.split(CATEGORY_SEPARATOR.strip()) if isinstance(value, str) else list(value)
    path = [p.strip() for p in parts if p.strip()]
    if any("\x00" in p for p in path):
        raise ValueError("text cannot contain NUL characters")
    if len(path) > MAX_LEVELS or any(len(p) > 255 for p in path):
        raise ValueError(f"a category is at most {MAX_LEVELS} levels of 255 characters")
    return path


def _extras(model: ItemIn) -> dict[str, Any]:
    """Unknown top-level keys, validated as attributes."""
    extra = model.model_extra or {}
    if not extra:
        return {}
    checked = _Attributes.model_validate({"attributes": extra}).attributes
    return checked


class _Attributes(BaseModel):
    attributes: dict[Short, AttributeValue]


def to_item(model: ItemIn, updated_at: EpochMs) -> Item:
    attributes = {**_extras(model), **model.attributes}
    if len(attributes) > MAX_ATTRIBUTES:
        raise ValueError(f"at most {MAX_ATTRIBUTES} attributes")
    in_stock = model.in_stock if model.in_stock is not None else model.stock != 0
    return Item(
        item_id=model.id,
        kind=model.kind,
        title=model.title,
        url=model.url,
        image=model.image,
        price=model.price,
        currency=model.currency.upper() if model.currency else None,
        category=tuple(model.category or ()),
        brand=model.brand,
        tags=tuple(dict.fromkeys(model.tags)),
        attributes=attributes,
        language=model.language,
        valid_from=model.valid_from,
        valid_until=model.valid_until,
        in_stock=in_stock,
        stock=model.stock,
        value=model.value,
        updated_at=updated_at,
    )


def item_from_json(data: Any, now: EpochMs, where: str = "") -> Item:
    """Validate one item; errors name ``where`` + the field (``items[3].price``)."""
    if not isinstance(data, dict):
        raise InvalidInput("an item is a JSON object", field=where or None)
    try:
        item = to_item(ItemIn.model_validate(data), now)
    except ValidationError as exc:
        name, message = first_error(exc)
        field = field_path(exc.errors()[0]["loc"], where)
        raise InvalidInput(f"{name or 'item'}: {message}", field=field) from None
    except ValueError as exc:  # checks made while building the item
        raise InvalidInput(
            str(exc), field=f"{where}.attributes" if where else "attributes"
        ) from None
    since, until = item.valid_from, item.valid_until
    if since is not None and until is not None and until <= since:
        field = f"{where}.valid_until" if where else "valid_until"
        raise InvalidInput("valid_until must be after valid_from", field=field)
    return item


def finite(value: Any) -> float | None:
    """A finite, non-negative number from an event property, else None."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None
