"""The type checker: what is wrong with a condition that parses, reported when a segment is
saved (a string compared with a number, ``sum`` without ``of``, ``matches`` on a number,
an unknown ``computed.x``, root, purpose or segment...).

>>> from unico.segments.parser import parse
>>> [e.message for e in check(parse('computed.orders > "many" and consented("spam")'))]
['computed.orders > "many": compares a number with a string', \
'consented("spam"): unknown purpose \\'spam\\'']
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass, field
from typing import Final, TypeAlias
from typing import Literal as Lit

from unico.core.errors import Unprocessable
from unico.profiles.consent import PURPOSES
from unico.segments import semantics
from unico.segments.ast import (
    EVENT_ROOTS,
    PROFILE_ROOTS,
    And,
    Compare,
    Condition,
    Consented,
    Did,
    EventAggregate,
    Exists,
    Field,
    InSegment,
    Literal,
    Not,
    Or,
    Timestamp,
    Value,
)
from unico.segments.evaluate import PROFILE_TIMES
from unico.segments.parser import unparse, unparse_value

Type: TypeAlias = Lit[
    "number", "string", "boolean", "date", "time", "array", "object", "null", "any"
]

#: The stored computed features (`unico.profiles.features`) and their types; for objects,
#: the type of their values (``computed.event_counts."Order Completed"``).
COMPUTED_FIELDS: Final[dict[str, Type]] = {
    "events": "number",
    "sessions": "number",
    "page_views": "number",
    "screen_views": "number",
    "orders": "number",
    "revenue": "number",
    "avg_order_value": "number",
    "refunds": "number",
    "first_order_at": "number",
    "last_order_at": "number",
    "favourite_categories": "array",
    "type_counts": "object",
    "event_counts": "object",
    "revenue_by_currency": "object",
    "category_scores": "object",
}
#: Values shown by the profile API but computed when read, with what to write instead.
DERIVED_HINTS: Final[dict[str, str]] = {
    "recency_days": "computed.last_order_at < now - 30d",
    "days_since_last_seen": "profile.last_seen < now - 30d",
    "frequency": "computed.orders",
    "monetary": "computed.revenue",
    "first_seen": "profile.first_seen",
    "last_seen": "profile.last_seen",
}


class ConditionTypeError(Unprocessable):
    """A condition that parses but cannot be evaluated as meant."""

    code = "condition_type"

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message, field="condition", details={"hint": hint})
        self.hint = hint


@dataclass
class _Checker:
    known_segments: Collection[str] | None
    errors: list[ConditionTypeError] = field(default_factory=list)

    def fail(self, node: Condition | Value, problem: str, hint: str | None = None) -> None:
        value = isinstance(node, Field | Literal | Timestamp | EventAggregate)
        text = unparse_value(node) if value else unparse(node)  # type: ignore[arg-type]
        self.errors.append(ConditionTypeError(f"{text}: {problem}", hint))

    def cond(self, node: Condition, event: bool) -> None:
        if isinstance(node, And | Or):
            for item in node.items:
                self.cond(item, event)
        elif isinstance(node, Not):
            self.cond(node.item, event)
        elif isinstance(node, Compare):
            self.compare(node, event)
        elif isinstance(node, Exists):
            self.value(node.field, event)
        elif event and isinstance(node, Did | InSegment | Consented):
            self.fail(node, "only event fields can be used inside 'where'")
        elif isinstance(node, Did):
            self.event_spec(node, node.where, node.window_ms)
        elif isinstance(node, InSegment):
            if self.known_segments is not None and node.name not in self.known_segments:
                self.fail(node, f"unknown segment '{node.name}'")
        elif isinstance(node, Consented) and node.purpose not in PURPOSES:
            self.fail(node, f"unknown purpose '{node.purpose}'", "purposes: " + ", ".join(PURPOSES))

    def event_spec(self, node: Condition | Value, where: Condition | None, window: int) -> None:
        if window <= 0:
            self.fail(node, "a window must be longer than 0")
        if where is not None:
            self.cond(where, True)

    def value(self, node: Value, event: bool) -> Type:
        if isinstance(node, Field):
            return self.field(node, event)
        if isinstance(node, Literal):
            return literal_type(node.value)
        if isinstance(node, Timestamp):
            if event:
                self.fail(node, "'now' cannot be used inside 'where'")
            return "time"
        if event:
            self.fail(node, "an aggregate cannot be used inside 'where'")
            return "number"
        if node.fn == "count" and node.of is not None:
            self.fail(node, "count takes no 'of'")
        if node.fn != "count" and node.of is None:
            self.fail(node, f"{node.fn} needs 'of': {node.fn}(event ... of properties.x ...)")
        if node.of is not None:
            self.field(node.of, True)
        self.event_spec(node, node.where, node.window_ms)
        return "number"

    def field(self, node: Field, event: bool) -> Type:
        root, rest = node.path[0], node.path[1:]
        roots = EVENT_ROOTS if event else PROFILE_ROOTS
        if root not in roots or not rest:
            where = "inside 'where' and 'of', fields" if event else "fields"
            self.fail(
                node,
                f"unknown field root '{root}'",
                f"{where} start with " + ", ".join(f"{r}." for r in roots),
            )
            return "any"
        if root == "computed":
            return self.computed(node, rest)
        if root == "soft" and len(rest) != 2:
            self.fail(node, "soft traits are soft.<group>.<name>", "e.g. soft.big5.openness")
        if root == "profile":
            if len(rest) != 1 or rest[0] not in PROFILE_TIMES:
                self.fail(
                    node,
                    "unknown profile field",
                    "profile fields: " + ", ".join(f"profile.{t}" for t in PROFILE_TIMES),
                )
            return "number"
        return "any"

    def computed(self, node: Field, rest: tuple[str, ...]) -> Type:
        name = rest[0]
        kind = COMPUTED_FIELDS.get(name)
        if kind is None:
            hint = DERIVED_HINTS.get(name)
            self.fail(
                node,
                f"unknown computed field '{name}'",
                f"use {hint}" if hint else "known: " + ", ".join(sorted(COMPUTED_FIELDS)),
            )
            return "any"
        if kind == "object" and len(rest) == 2:
            return "number"
        if len(rest) > (2 if kind == "object" else 1):
            self.fail(node, f"computed.{name} has no field '{rest[-1]}'")
            return "any"
        return kind

    def compare(self, node: Compare, event: bool) -> None:
        left = self.value(node.left, event)
        right = self.value(node.right, event)
        if node.op == "in":
            if not isinstance(node.right, Literal) or not isinstance(node.right.value, tuple):
                self.fail(node, "'in' takes a list")
                return
            for item in node.right.value:
                self.comparable(node, "==", left, literal_type(item))
        elif node.op == "contains":
            self.contains(node, left, right)
        elif node.op == "matches":
            self.matches(node, left)
        else:
            self.comparable(node, node.op, left, right)

    def comparable(self, node: Compare, op: str, left: Type, right: Type) -> None:
        if "null" in (left, right):
            self.fail(
                node, "nothing compares with null", "use 'traits.x exists' or 'not traits.x exists'"
            )
            return
        for side in (left, right):
            if side in ("array", "object"):
                self.fail(
                    node,
                    f"an {side} cannot be compared with {op}",
                    "use contains, or compare one of its fields",
                )
                return
        if "any" in (left, right):
            return
        how = semantics.plan(op, left, right)  # type: ignore[arg-type]
        if how[0] == "const" or (how[0] == "unknown" and left != right):
            self.fail(node, f"compares {_article(left)} with {_article(right)}")
        elif how[0] == "unknown":
            self.fail(node, f"{left}s can only be compared with == or !=")

    def contains(self, node: Compare, left: Type, right: Type) -> None:
        if right not in ("string", "date", "number", "boolean"):
            self.fail(node, "contains takes a string, number or boolean")
        elif left in ("string",) and right not in ("string", "date"):
            self.fail(node, f"text can only contain text, not {_article(right)}")
        elif left not in ("string", "array", "any"):
            self.fail(node, f"contains applies to text or lists, not {_article(left)}")

    def matches(self, node: Compare, left: Type) -> None:
        if left not in ("string", "any"):
            self.fail(node, f"matches applies to text, not {_article(left)}")
        pattern = node.right.value if isinstance(node.right, Literal) else None
        if not isinstance(pattern, str):
            self.fail(node, "matches takes a quoted pattern")
            return
        problem = semantics.pattern_problem(pattern)
        if problem is not None:
            self.fail(node, problem)


def literal_type(value: object) -> Type:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "date" if semantics.date_ms(value) is not None else "string"
    return "array"


def _article(kind: str) -> str:
    return {"array": "a list", "object": "an object", "time": "a time", "date": "a date"}.get(
        kind, f"a {kind}"
    )


def check(
    cond: Condition, known_segments: Collection[str] | None = None
) -> list[ConditionTypeError]:
    """Every type error in ``cond``; ``known_segments`` (when given) are the names
    ``in_segment`` may refer to."""
    checker = _Checker(known_segments)
    checker.cond(cond, False)
    return checker.errors


def validate(cond: Condition, known_segments: Collection[str] | None = None) -> None:
    """Raise the first of `check`'s errors (all of them are in ``details["errors"]``)."""
    errors = check(cond, known_segments)
    if errors:
        first = errors[0]
        first.details["errors"] = [e.message for e in errors]
        raise first
