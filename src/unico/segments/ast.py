"""The segment condition language as a tree: what the parser produces and what the
in-memory evaluator, the SQL compiler, the type checker and the explainer consume.

Nodes are frozen dataclasses, so equal conditions are equal trees and nodes can be dict
keys (a windowed aggregate's node is the key of its real-time counter state).

>>> Compare(">=", Field(("computed", "orders")), Literal(2))
Compare(op='>=', left=Field(path=('computed', 'orders')), right=Literal(value=2))
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as Lit
from typing import TypeAlias

#: Roots a profile field may start with. ``soft.x.y`` reads the soft trait's ``value``;
#: ``profile.first_seen`` / ``last_seen`` / ``created_at`` are epoch ms.
PROFILE_ROOTS = ("traits", "computed", "soft", "profile")
#: Roots inside an event's ``where`` and ``of``.
EVENT_ROOTS = ("properties", "context")

CompareOp: TypeAlias = Lit["==", "!=", "<", "<=", ">", ">=", "in", "contains", "matches"]
AggregateFn: TypeAlias = Lit["count", "sum", "avg", "min", "max"]


@dataclass(frozen=True, slots=True)
class Field:
    """A dotted path: ``traits.country``, ``computed.orders``, ``properties.category``."""

    path: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Literal:
    """A string, number, boolean, null, or a tuple of those (for ``in``)."""

    value: str | int | float | bool | tuple[str | int | float | bool | None, ...] | None


@dataclass(frozen=True, slots=True)
class Timestamp:
    """A point in time: ``now``, ``now - 7d``, ``"2026-01-31"`` as a date. Relative times
    are evaluated against the evaluator's clock; absolute ones are fixed epoch ms."""

    offset_ms: int = 0
    relative: bool = True


@dataclass(frozen=True, slots=True)
class EventAggregate:
    """``count(event "Product Viewed" where properties.category == "shoes" within 7d)``,
    ``sum(event "Order Completed" of properties.revenue within 30d)``. ``event`` None means
    any event; ``of`` is required for sum/avg/min/max."""

    fn: AggregateFn
    event: str | None
    where: Condition | None
    of: Field | None
    window_ms: int


Value: TypeAlias = Field | Literal | Timestamp | EventAggregate


@dataclass(frozen=True, slots=True)
class Compare:
    op: CompareOp
    left: Value
    right: Value


@dataclass(frozen=True, slots=True)
class Exists:
    field: Field


@dataclass(frozen=True, slots=True)
class Did:
    """``did event "Cart Abandoned" [where ...] within 2d`` (``negated``: ``did not``)."""

    event: str | None
    where: Condition | None
    window_ms: int
    negated: bool = False

    def as_count(self) -> EventAggregate:
        return EventAggregate("count", self.event, self.where, None, self.window_ms)


@dataclass(frozen=True, slots=True)
class InSegment:
    """``in_segment("vip")``: membership of another segment (cycles are refused)."""

    name: str


@dataclass(frozen=True, slots=True)
class Consented:
    """``consented("marketing")``: the person holds that purpose now."""

    purpose: str


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Condition


Condition: TypeAlias = Compare | Exists | Did | InSegment | Consented | And | Or | Not


def aggregates(node: Condition | Value) -> list[EventAggregate]:
    """Every windowed aggregate in a condition (``did`` counted as a count), in order.

    >>> aggregates(Did("Signed Up", None, 86_400_000))
    [EventAggregate(fn='count', event='Signed Up', where=None, of=None, window_ms=86400000)]
    """
    found: list[EventAggregate] = []

    def walk(n: Condition | Value) -> None:
        if isinstance(n, EventAggregate):
            found.append(n)
        elif isinstance(n, Did):
            found.append(n.as_count())
        elif isinstance(n, Compare):
            walk(n.left)
            walk(n.right)
        elif isinstance(n, And | Or):
            for item in n.items:
                walk(item)
        elif isinstance(n, Not):
            walk(n.item)

    walk(node)
    return found


def segment_refs(node: Condition) -> set[str]:
    """Names of the segments a condition refers to with ``in_segment``.

    >>> sorted(segment_refs(And((InSegment("a"), Not(InSegment("b"))))))
    ['a', 'b']
    """
    if isinstance(node, InSegment):
        return {node.name}
    if isinstance(node, And | Or):
        return set().union(*(segment_refs(i) for i in node.items))
    if isinstance(node, Not):
        return segment_refs(node.item)
    return set()
