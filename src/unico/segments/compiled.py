"""Conditions compiled once into Python closures, for the paths that evaluate one profile at
a time against many segments (real-time ingest, the sweeper).

The closures mean exactly what `unico.segments.evaluate` means (three-valued logic, the
`semantics` plans); what they save is the work that does not depend on the profile: the
``isinstance`` dispatch over the tree, parsing string literals as dates, and choosing the
comparison plan. A comparison of a field (or an aggregate) with a constant or with the
clock picks its plan from a table keyed by the value's kind, built when the condition is
compiled. Shapes that are rare in practice (two fields compared, ``in`` against a field,
...) fall back to `evaluate.compare` on the node, so they cannot disagree either. A
property test checks that both give the same answer on random conditions and profiles.

>>> from unico.segments.parser import parse
>>> from unico.segments.evaluate import ProfileContext
>>> holds = compile_condition(parse('traits.country == "IT" and computed.orders >= 2'))
>>> holds(ProfileContext({"traits": {"country": "IT"}, "computed": {"orders": 3}}, now_ms=0))
True
>>> compile_truth(parse('traits.city != "Rome"'))(ProfileContext({}, now_ms=0)) is None
True
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable, Sequence
from typing import Any, Final

from unico.segments import evaluate as reference
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
from unico.segments.evaluate import MISSING, EvalContext, Operand, Truth, literal_operand
from unico.segments.semantics import FIELD_KINDS, Kind

#: A compiled condition: its three-valued truth in a context.
TruthFn = Callable[[EvalContext], Truth]
#: A value read from the context (a field or an aggregate).
Getter = Callable[[EvalContext], Any]
#: One comparison against a fixed other side, for a value of a known kind.
Test = Callable[[Any], Truth]

_OPERATORS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_PLAIN_KINDS: Final[dict[type, Kind]] = {
    bool: "boolean",
    int: "number",
    str: "string",
    list: "array",
    dict: "object",
}


def kind_of(value: Any) -> Kind | None:
    """`evaluate.kind_of`, answered from the exact type for the JSON types."""
    found = _PLAIN_KINDS.get(type(value))
    if found is not None:
        return found
    if type(value) is float:
        return "number" if math.isfinite(value) else None
    return None if value is MISSING else semantics.kind_of(value)


def compile_condition(cond: Condition) -> Callable[[EvalContext], bool]:
    """Whether ``cond`` holds (unknown does not), as one closure."""
    fn = compile_truth(cond)

    def holds(ctx: EvalContext) -> bool:
        return fn(ctx) is True

    return holds


def compile_truth(cond: Condition) -> TruthFn:
    """``cond`` in three values, as one closure (`evaluate.truth` compiled)."""
    if isinstance(cond, And):
        return _and([compile_truth(i) for i in cond.items])
    if isinstance(cond, Or):
        return _or([compile_truth(i) for i in cond.items])
    if isinstance(cond, Not):
        return _not(compile_truth(cond.item))
    if isinstance(cond, Compare):
        return _compare(cond)
    if isinstance(cond, Exists):
        return _exists(_getter(cond.field))
    if isinstance(cond, Did):
        return _did(cond.as_count(), cond.negated)
    if isinstance(cond, InSegment):
        name = cond.name
        return lambda ctx: bool(ctx.in_segment(name))
    if isinstance(cond, Consented):
        purpose = cond.purpose
        return lambda ctx: bool(ctx.consented(purpose))
    raise TypeError(f"not a condition: {cond!r}")


# -- logic ----------------------------------------------------------------------------------


def _and(items: Sequence[TruthFn]) -> TruthFn:
    def run(ctx: EvalContext) -> Truth:
        result: Truth = True
        for item in items:
            value = item(ctx)
            if value is False:
                return False
            if value is None:
                result = None
        return result

    return run


def _or(items: Sequence[TruthFn]) -> TruthFn:
    def run(ctx: EvalContext) -> Truth:
        result: Truth = False
        for item in items:
            value = item(ctx)
            if value is True:
                return True
            if value is None:
                result = None
        return result

    return run


def _not(item: TruthFn) -> TruthFn:
    def run(ctx: EvalContext) -> Truth:
        inner = item(ctx)
        return None if inner is None else not inner

    return run


def _exists(get: Getter) -> TruthFn:
    return lambda ctx: kind_of(get(ctx)) is not None


def _did(count: EventAggregate, negated: bool) -> TruthFn:
    def run(ctx: EvalContext) -> Truth:
        return ((ctx.aggregate(count) or 0) > 0) != negated

    return run


# -- values ---------------------------------------------------------------------------------


def _getter(node: Field | EventAggregate) -> Getter:
    if isinstance(node, Field):
        path = node.path
        return lambda ctx: ctx.field(path)

    def aggregate(ctx: EvalContext) -> Any:
        value = ctx.aggregate(node)
        return MISSING if value is None else value

    return aggregate


def _is_variable(node: Value) -> bool:
    return isinstance(node, Field | EventAggregate)


# -- comparisons ----------------------------------------------------------------------------


def _compare(cond: Compare) -> TruthFn:
    left, right, op = cond.left, cond.right, cond.op
    if op in _OPERATORS:
        if _is_variable(left) and isinstance(right, Literal):
            const = literal_operand(right.value)
            return _by_kind(_getter(left), _versus(op, const, flipped=False))  # type: ignore[arg-type]
        if isinstance(left, Literal) and _is_variable(right):
            const = literal_operand(left.value)
            return _by_kind(_getter(right), _versus(op, const, flipped=True))  # type: ignore[arg-type]
        if _is_variable(left) and isinstance(right, Timestamp):
            return _versus_clock(op, _getter(left), right, flipped=False)  # type: ignore[arg-type]
        if isinstance(left, Timestamp) and _is_variable(right):
            return _versus_clock(op, _getter(right), left, flipped=True)  # type: ignore[arg-type]
    elif op == "in" and _is_variable(left) and isinstance(right, Literal):
        return _in(_getter(left), right)  # type: ignore[arg-type]
    elif op == "contains" and _is_variable(left) and isinstance(right, Literal):
        needle = literal_operand(right.value)
        return _by_kind(_getter(left), _contains(needle))  # type: ignore[arg-type]
    elif op == "matches" and _is_variable(left) and isinstance(right, Literal):
        return _matches(_getter(left), literal_operand(right.value))  # type: ignore[arg-type]
    # Anything else (constants on both sides, two fields...): the reference, node by node.
    return lambda ctx: reference.compare(cond, ctx)


def _by_kind(get: Getter, tests: dict[Kind, Test]) -> TruthFn:
    """The test for the value's kind; unknown for a kind without one (and for null)."""
    if not tests:
        return lambda ctx: None

    def run(ctx: EvalContext) -> Truth:
        value = get(ctx)
        test = tests.get(kind_of(value))  # type: ignore[arg-type]
        return None if test is None else test(value)

    return run


def _versus(op: str, const: Operand, *, flipped: bool) -> dict[Kind, Test]:
    """For each kind a value may have, ``value op const`` (``const op value`` if flipped)."""
    tests: dict[Kind, Test] = {}
    if const.kind is None:
        return tests
    compare = _OPERATORS[op]
    for kind in FIELD_KINDS:
        how = (
            semantics.plan(op, const.kind, kind)
            if flipped
            else semantics.plan(op, kind, const.kind)
        )
        test = _planned(how, compare, const, flipped)
        if test is not None:
            tests[kind] = test
    return tests


def _planned(
    how: semantics.Plan, compare: Callable[[Any, Any], Any], const: Operand, flipped: bool
) -> Test | None:
    if how[0] == "unknown":
        return None
    if how[0] == "const":
        outcome = how[1]
        return lambda _value: outcome
    if how[0] == "bool":
        other = const.value
    else:
        # A value read from JSON is a number or a string, so its own representation is the
        # value itself; only the constant may be wanted in epoch ms or as ISO text.
        rep = how[1] if flipped else how[2]
        if rep == "iso":
            assert const.ms is not None
            return _iso_test(compare, const.ms, flipped)
        other = const.ms if rep == "ms" else const.value
    if flipped:
        return lambda value: bool(compare(other, value))
    return lambda value: bool(compare(value, other))


def _iso_test(compare: Callable[[Any, Any], Any], ms: int, flipped: bool) -> Test:
    text = semantics.iso(ms)
    day = text[:10]

    def test(value: Any) -> Truth:
        other = day if len(value) == 10 else text
        return bool(compare(other, value) if flipped else compare(value, other))

    return test


def _versus_clock(op: str, get: Getter, node: Timestamp, *, flipped: bool) -> TruthFn:
    """A value against ``now ± offset``: numbers in epoch ms, strings as ISO text."""
    compare = _OPERATORS[op]
    number_plan = (
        semantics.plan(op, "time", "number") if flipped else semantics.plan(op, "number", "time")
    )
    string_plan = (
        semantics.plan(op, "time", "string") if flipped else semantics.plan(op, "string", "time")
    )
    other_tests: dict[Kind, Test] = {}
    for kind in ("boolean", "array", "object"):
        how = semantics.plan(op, "time", kind) if flipped else semantics.plan(op, kind, "time")
        if how[0] == "const":
            outcome = how[1]
            other_tests[kind] = lambda _value, outcome=outcome: outcome  # type: ignore[misc]
    assert number_plan[0] == "num" and string_plan[0] == "str"
    offset, relative = node.offset_ms, node.relative
    last: list[Any] = [None, ""]  # the last instant turned into text, and its text

    def run(ctx: EvalContext) -> Truth:
        value = get(ctx)
        kind = kind_of(value)
        if kind == "number":
            ms = ctx.now_ms + offset if relative else offset
            return bool(compare(ms, value) if flipped else compare(value, ms))
        if kind == "string":
            ms = ctx.now_ms + offset if relative else offset
            if last[0] != ms:
                last[0], last[1] = ms, semantics.iso(ms)
            text = last[1][:10] if len(value) == 10 else last[1]
            return bool(compare(text, value) if flipped else compare(value, text))
        test = other_tests.get(kind)  # type: ignore[arg-type]
        return None if test is None else test(value)

    return run


def _in(get: Getter, right: Literal) -> TruthFn:
    items = right.value
    if not isinstance(items, tuple):
        return lambda ctx: None
    per_item = [_versus("==", literal_operand(item), flipped=False) for item in items]

    def run(ctx: EvalContext) -> Truth:
        value = get(ctx)
        kind = kind_of(value)
        if kind is None:
            return None
        result: Truth = False
        for tests in per_item:
            test = tests.get(kind)
            found = None if test is None else test(value)
            if found is True:
                return True
            if found is None:
                result = None
        return result

    return run


def _contains(needle: Operand) -> dict[Kind, Test]:
    tests: dict[Kind, Test] = {}
    if needle.kind in ("string", "date"):
        text = needle.value
        tests["string"] = lambda value: text in value
    if needle.kind in ("string", "date", "number", "boolean"):
        tests["array"] = lambda value: any(reference.element_equals(i, needle) for i in value)
    return tests


def _matches(get: Getter, pattern: Operand) -> TruthFn:
    if pattern.kind not in ("string", "date"):
        return lambda ctx: None
    compiled = semantics.compile_pattern(pattern.value)
    if compiled is None:
        return lambda ctx: None
    search = compiled.search

    def run(ctx: EvalContext) -> Truth:
        value = get(ctx)
        if kind_of(value) != "string" or len(value) > semantics.MAX_SUBJECT:
            return None
        return search(value) is not None

    return run


__all__ = ["TruthFn", "compile_condition", "compile_truth", "kind_of"]
