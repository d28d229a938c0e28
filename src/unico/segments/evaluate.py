"""The in-memory evaluator: does one profile satisfy a condition now?

Conditions are evaluated in three values, as SQL does: True, False and unknown (None).
A comparison with a missing field or JSON null is unknown (``!=`` too), ``not unknown`` is
unknown, ``false and unknown`` is false, ``true or unknown`` is true, and an unknown
condition does not hold. `semantics` says how values of each kind compare; the SQL compiler
follows the same rules, and a property test checks that both select the same profiles.

>>> from unico.segments.parser import parse
>>> ctx = ProfileContext({"traits": {"country": "IT"}, "computed": {"orders": 3}}, now_ms=0)
>>> evaluate(parse('traits.country == "IT" and computed.orders >= 2'), ctx)
True
>>> evaluate(parse('traits.city != "Rome"'), ctx)  # no city: unknown, so not a member
False
>>> evaluate(parse('not traits.city != "Rome"'), ctx)
False
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Protocol

from unico.profiles.consent import DEFAULT_CONSENT, is_granted
from unico.segments import semantics
from unico.segments.ast import (
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
from unico.segments.semantics import Kind

Truth = bool | None
PROFILE_TIMES: Final = ("first_seen", "last_seen", "created_at")


class _Missing:
    """The value of a field that is not there."""

    _instance: _Missing | None = None

    def __new__(cls) -> _Missing:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Final = _Missing()


class EvalContext(Protocol):
    """What a condition can ask about the person it is evaluated for."""

    @property
    def now_ms(self) -> int:
        """The evaluation time, epoch ms: ``now`` in the condition."""

    def field(self, path: tuple[str, ...]) -> Any:
        """The value at ``path`` (``("traits", "country")``), or `MISSING`."""

    def aggregate(self, agg: EventAggregate) -> float | int | None:
        """count -> int; sum of nothing -> 0; avg/min/max of nothing -> None."""

    def in_segment(self, name: str) -> bool: ...

    def consented(self, purpose: str) -> bool: ...


def evaluate(cond: Condition, ctx: EvalContext) -> bool:
    """Whether ``cond`` holds (an unknown result does not)."""
    return truth(cond, ctx) is True


def truth(cond: Condition, ctx: EvalContext) -> Truth:
    """``cond`` in three values: True, False or None (unknown)."""
    if isinstance(cond, And):
        return _and(truth(i, ctx) for i in cond.items)
    if isinstance(cond, Or):
        return _or(truth(i, ctx) for i in cond.items)
    if isinstance(cond, Not):
        inner = truth(cond.item, ctx)
        return None if inner is None else not inner
    if isinstance(cond, Compare):
        return compare(cond, ctx)
    if isinstance(cond, Exists):
        return kind_of(ctx.field(cond.field.path)) is not None
    if isinstance(cond, Did):
        count = ctx.aggregate(cond.as_count()) or 0
        return (count > 0) != cond.negated
    if isinstance(cond, InSegment):
        return bool(ctx.in_segment(cond.name))
    if isinstance(cond, Consented):
        return bool(ctx.consented(cond.purpose))
    raise TypeError(f"not a condition: {cond!r}")


def _and(values: Iterable[Truth]) -> Truth:
    result: Truth = True
    for value in values:
        if value is False:
            return False
        if value is None:
            result = None
    return result


def _or(values: Iterable[Truth]) -> Truth:
    result: Truth = False
    for value in values:
        if value is True:
            return True
        if value is None:
            result = None
    return result


# -- values ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Operand:
    """A resolved value: its kind (None: missing or null), the value, and for dates and
    times their epoch ms."""

    kind: Kind | None
    value: Any
    ms: int | None = None

    def rep(self, rep: str, other: Operand) -> Any:
        if rep == "ms":
            return self.ms
        if rep == "iso":
            assert self.ms is not None
            return semantics.iso_for(self.ms, other.value)
        return self.value


def kind_of(value: Any) -> Kind | None:
    return None if value is MISSING else semantics.kind_of(value)


def operand(node: Value, ctx: EvalContext) -> Operand:
    """What a value node stands for in ``ctx``."""
    if isinstance(node, Field):
        value = ctx.field(node.path)
        return Operand(kind_of(value), value)
    if isinstance(node, Literal):
        return literal_operand(node.value)
    if isinstance(node, Timestamp):
        ms = timestamp_ms(node, ctx.now_ms)
        return Operand("time", semantics.iso(ms), ms)
    if isinstance(node, EventAggregate):
        number = ctx.aggregate(node)
        return Operand(semantics.kind_of(number), number)
    raise TypeError(f"not a value: {node!r}")


def literal_operand(value: Any) -> Operand:
    if isinstance(value, str):
        ms = semantics.date_ms(value)
        return Operand("date" if ms is not None else "string", value, ms)
    if isinstance(value, tuple):
        return Operand("array", list(value))
    return Operand(semantics.kind_of(value), value)


def timestamp_ms(node: Timestamp, now_ms: int) -> int:
    return now_ms + node.offset_ms if node.relative else node.offset_ms


# -- comparisons ----------------------------------------------------------------------------


def compare(cond: Compare, ctx: EvalContext) -> Truth:
    left = operand(cond.left, ctx)
    if cond.op == "in":
        return _in(left, cond.right, ctx)
    right = operand(cond.right, ctx)
    if cond.op == "contains":
        return contains(left, right)
    if cond.op == "matches":
        if left.kind != "string" or right.kind not in ("string", "date"):
            return None
        return semantics.regex_search(right.value, left.value)
    return compare_operands(cond.op, left, right)


def compare_operands(op: str, left: Operand, right: Operand) -> Truth:
    """``left op right`` for ``== != < <= > >=`` by `semantics.plan`."""
    if left.kind is None or right.kind is None:
        return None
    how = semantics.plan(op, left.kind, right.kind)
    if how[0] == "unknown":
        return None
    if how[0] == "const":
        return how[1]
    if how[0] == "bool":
        return semantics.compare_values(op, left.value, right.value)
    _, left_rep, right_rep = how
    return semantics.compare_values(op, left.rep(left_rep, right), right.rep(right_rep, left))


def _in(left: Operand, right: Value, ctx: EvalContext) -> Truth:
    if left.kind is None:
        return None
    items = right.value if isinstance(right, Literal) else None
    if not isinstance(items, tuple):
        return None
    return _or(compare_operands("==", left, literal_operand(item)) for item in items)


def contains(left: Operand, right: Operand) -> Truth:
    """Text contains text; a list contains an element of the same kind and value."""
    if left.kind == "string":
        if right.kind not in ("string", "date"):
            return None
        return right.value in left.value
    if left.kind == "array" and right.kind in ("string", "date", "number", "boolean"):
        return any(element_equals(item, right) for item in left.value)
    return None


def element_equals(item: Any, right: Operand) -> bool:
    kind = semantics.kind_of(item)
    if right.kind in ("string", "date"):
        return kind == "string" and bool(item == right.value)
    return kind == right.kind and bool(item == right.value)


# -- contexts -------------------------------------------------------------------------------


def walk(value: Any, path: Iterable[str]) -> Any:
    """``value[p0][p1]...`` through JSON objects, or `MISSING`."""
    for part in path:
        # (the exact-type test first: JSON objects are dicts, and an ABC check costs more)
        if type(value) is not dict and not isinstance(value, Mapping):
            return MISSING
        if part not in value:
            return MISSING
        value = value[part]
    return value


def profile_field(profile: Mapping[str, Any], path: tuple[str, ...]) -> Any:
    """A field of a profile as stored (``traits``, ``computed``, ``soft``, ``first_seen``...).

    >>> soft = {"soft": {"big5": {"openness": {"value": 0.7, "confidence": 0.5}}}}
    >>> profile_field(soft, ("soft", "big5", "openness"))
    0.7
    """
    root, rest = path[0], path[1:]
    if root in ("traits", "computed"):
        return walk(profile.get(root), rest) if rest else MISSING
    if root == "soft" and len(rest) == 2:
        return walk(profile.get("soft"), (*rest, "value"))
    if root == "profile" and len(rest) == 1 and rest[0] in PROFILE_TIMES:
        value = profile.get(rest[0])
        return MISSING if value is None else value
    return MISSING


@dataclass
class ProfileContext:
    """An `EvalContext` over a profile dict (the columns of ``profile``: ``traits``,
    ``computed``, ``soft``, ``consent``, ``first_seen``, ``last_seen``, ``created_at``).

    Aggregates and segment memberships come from the callables given (without one, every
    aggregate is over no events and no segment holds); consent is read from the profile
    with the workspace's defaults unless ``consent`` is given.
    """

    profile: Mapping[str, Any]
    now_ms: int
    aggregates: Callable[[EventAggregate], float | int | None] | None = None
    segments: Callable[[str], bool] | None = None
    consent: Callable[[str], bool] | None = None
    consent_defaults: Mapping[str, bool] = field(default_factory=lambda: dict(DEFAULT_CONSENT))

    def field(self, path: tuple[str, ...]) -> Any:
        return profile_field(self.profile, path)

    def aggregate(self, agg: EventAggregate) -> float | int | None:
        if self.aggregates is None:
            return fold(agg, [])
        return self.aggregates(agg)

    def in_segment(self, name: str) -> bool:
        return self.segments is not None and self.segments(name)

    def consented(self, purpose: str) -> bool:
        if self.consent is not None:
            return self.consent(purpose)
        try:
            return is_granted(self.profile.get("consent"), self.consent_defaults, purpose)
        except ValueError:  # an unknown purpose (the checker refuses it) is never granted
            return False


@dataclass(frozen=True, slots=True)
class EventContext:
    """An `EvalContext` over one event, for ``where`` and ``of``: ``properties.*`` and
    ``context.*``. Aggregates, segments and consent have no meaning there (the checker
    refuses them); they read as nothing and false."""

    properties: Mapping[str, Any]
    context: Mapping[str, Any]
    now_ms: int = 0

    def field(self, path: tuple[str, ...]) -> Any:
        root, rest = path[0], path[1:]
        if root == "properties" and rest:
            return walk(self.properties, rest)
        if root == "context" and rest:
            return walk(self.context, rest)
        return MISSING

    def aggregate(self, agg: EventAggregate) -> float | int | None:
        return fold(agg, [])

    def in_segment(self, name: str) -> bool:
        return False

    def consented(self, purpose: str) -> bool:
        return False


# -- events and windowed aggregates ---------------------------------------------------------


def in_window(timestamp_ms: int, now_ms: int, window_ms: int) -> bool:
    """Whether an event at ``timestamp_ms`` counts in a window ending now: stamped after
    ``now - window`` (exclusive), events stamped slightly in the future included."""
    return timestamp_ms > now_ms - window_ms


def event_matches(
    agg: EventAggregate | Did,
    event_name: str | None,
    properties: Mapping[str, Any],
    context: Mapping[str, Any],
) -> bool:
    """Whether an event feeds ``agg``: the name matches (``event`` None: any event) and
    the ``where`` condition holds for it (unknown does not).

    >>> from unico.segments.parser import parse
    >>> did = parse('did event "Viewed" where properties.price > 10 within 1d')
    >>> event_matches(did, "Viewed", {"price": 12}, {}), event_matches(did, "Viewed", {}, {})
    (True, False)
    """
    if agg.event is not None and agg.event != event_name:
        return False
    return agg.where is None or truth(agg.where, EventContext(properties, context)) is True


def event_value(
    agg: EventAggregate, properties: Mapping[str, Any], context: Mapping[str, Any]
) -> float | int | None:
    """What a matching event adds: 1 for a count; for sum/avg/min/max the number at
    ``of`` (None when it is missing or not a number: the event is skipped)."""
    if agg.fn == "count":
        return 1
    if agg.of is None:
        return None
    value = EventContext(properties, context).field(agg.of.path)
    return value if kind_of(value) == "number" else None


def fold(agg: EventAggregate, values: Iterable[float | int]) -> float | int | None:
    """Combine the values of the matching events: count, sum (0 for none), avg/min/max
    (None for none)."""
    items = list(values)
    if agg.fn == "count":
        return len(items)
    if agg.fn == "sum":
        return sum(items)
    if not items:
        return None
    if agg.fn == "avg":
        return sum(items) / len(items)
    return min(items) if agg.fn == "min" else max(items)


def aggregate_events(
    agg: EventAggregate, events: Iterable[Mapping[str, Any]], now_ms: int
) -> float | int | None:
    """``agg`` over events given as dicts with ``name``, ``timestamp``, ``properties`` and
    ``context`` (rows of the ``event`` table)."""
    values: list[float | int] = []
    for ev in events:
        props, ctx = ev.get("properties") or {}, ev.get("context") or {}
        if not in_window(ev["timestamp"], now_ms, agg.window_ms):
            continue
        if not event_matches(agg, ev.get("name"), props, ctx):
            continue
        value = event_value(agg, props, ctx)
        if value is not None:
            values.append(value)
    return fold(agg, values)


__all__ = [
    "MISSING",
    "EvalContext",
    "EventContext",
    "Operand",
    "ProfileContext",
    "aggregate_events",
    "compare_operands",
    "evaluate",
    "event_matches",
    "event_value",
    "fold",
    "in_window",
    "profile_field",
    "truth",
]
