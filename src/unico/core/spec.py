"""Specs from JSON: validated by a pydantic model, the first error named the way every
Unico API names a field, with brackets for list indexes and dots for keys
(``batch[1].userId``, ``rules.boosts[0].factor``).

Placements, experiments, catalog items, workspace settings and request bodies all name
their fields here, so an error's ``field`` reads the same on every endpoint.

>>> field_path(("rules", "boosts", 0, "factor"))
'rules.boosts[0].factor'
>>> field_path((3, "price"), "items")
'items[3].price'
>>> field_path(("price", "function-after[check(), float]", "float"))
'price'
>>> field_path(()) is None
True
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from unico.core.errors import InvalidInput

M = TypeVar("M", bound=BaseModel)

#: Location parts pydantic adds for the member of a union that failed, not field names.
_UNION_MEMBERS = {"str", "int", "float", "bool", "none", "list", "dict", "constrained-str"}


def field_path(loc: Iterable[int | str], prefix: str = "") -> str | None:
    """A pydantic error location (under ``prefix``) as a field path; None for the root."""
    out = prefix
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        elif not _is_member(part):
            out += f".{part}" if out else part
    return out or None


def _is_member(part: str) -> bool:
    return part in _UNION_MEMBERS or "[" in part or part.startswith("function")


def first_error(exc: ValidationError, prefix: str = "") -> tuple[str | None, str]:
    """The first error's field path and message (without pydantic's "Value error, ")."""
    first = exc.errors()[0]
    return field_path(first["loc"], prefix), str(first["msg"]).removeprefix("Value error, ")


def invalid_input(exc: ValidationError, prefix: str = "") -> InvalidInput:
    """The 400 for a failed validation: its message and field are the first error's."""
    field, message = first_error(exc, prefix)
    return InvalidInput(message, field=field)


def validate_spec(model: type[M], raw: Any, name: str, *, article: str = "a") -> M:
    """``raw`` validated as ``model``, or `InvalidInput` naming the first bad field (its
    message starts with the field, or ``name`` when the whole spec is wrong)."""
    if not isinstance(raw, dict):
        raise InvalidInput(f"{article} {name} is a JSON object", field="body")
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        field, message = first_error(exc)
        raise InvalidInput(f"{field or name}: {message}", field=field) from None
