"""Conditions compiled once into Python closures: what a workspace's program
(`unico.segments.program`, the real-time path) calls for the shapes it does not write out
itself, and for conditions nested too deep for it.

The closures mean exactly what `unico.segments.evaluate` means (three-valued logic, the
`semantics` plans); what they save is the work that does not depend on the profile: the
``isinstance`` dispatch over the tree, parsing string literals as dates, and choosing the
comparison plan. A comparison of a field (or an aggregate) with a constant or with the
clock picks its plan from a table keyed by the value's kind, built when the condition is
compiled (`plans`, which the program writes out as source too). Shapes that are rare in
practice (two fields compared, ``in`` against a field, ...) fall back to `evaluate.compare`
on the node, so they cannot disagree either. A property test checks that both give the
same answer on random conditions and profiles.

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
from typing import Any, Final, TypeAlias
from typing import Literal as LiteralType

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
#: How one comparison goes for values of one kind, decided when compiling: a fixed outcome,
#: ``value <op> other`` (the operator already mirrored for ``const op value``), or a test.
Step: TypeAlias = (
    tuple[LiteralType["outcome"], Truth]
    | tuple[LiteralType["direct"], str, Any]
    | tuple[LiteralType["test"], Test]
)

_OPERATORS: Final[dict[str, Callable[[Any, Any], Any]]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
#: ``value op other`` flipped: ``other op value`` is ``value mirrored-op other``.
_MIRROR: Final[dict[str, str]] = {
    "==": "==",
    "!=": "!=",
    "<": ">",
    "<=": ">=",
    ">": "<",
    ">=": "<=",
}
#: ``value op other`` as one closure for a fixed ``other``. The values compared are JSON
#: numbers, strings or booleans (the plans see to it), whose comparisons give bools.
_DIRECT: Final[dict[str, Callable[[Any], Test]]] = {
    "==": lambda other: lambda value: value == other,
    "!=": lambda other: lambda value: value != other,
    "<": lambda other: lambda value: value < other,
    "<=": lambda other: lambda value: value <= other,
    ">": lambda other: lambda value: value > other,
    ">=": lambda other: lambda value: value >= other,
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


def _unknown(_value: Any) -> Truth:
    return None


def compile_condition(cond: Condition) -> Callable[[EvalContext], bool]:
    """Whether ``cond`` holds (unknown does not), as one closure."""
    fn = compile_truth(cond)

    def holds(ctx: EvalContext) -> bool:
        return fn(ctx) is True

    return holds


def compile_truth(
    cond: Condition, shared: dict[EventAggregate, EventAggregate] | None = None
) -> TruthFn:
    """``cond`` in three values, as one closure (`evaluate.truth` compiled).

    ``shared``: the aggregate nodes the closures ask the context for are taken from it
    (and added to it), so that conditions compiled with one ``shared`` ask with the very
    same node objects: a context keying its windows by those nodes then finds them by
    identity, without comparing two ``where`` trees."""
    nodes = {} if shared is None else shared
    if isinstance(cond, And):
        return _and([compile_truth(i, nodes) for i in cond.items])
    if isinstance(cond, Or):
        return _or([compile_truth(i, nodes) for i in cond.items])
    if isinstance(cond, Not):
        return _not(compile_truth(cond.item, nodes))
    if isinstance(cond, Compare):
        return _compare(interned(cond, nodes))
    if isinstance(cond, Exists):
        return _exists(_getter(cond.field))
    if isinstance(cond, Did):
        count = cond.as_count()
        return _did(nodes.setdefault(count, count), cond.negated)
    if isinstance(cond, InSegment):
        name = cond.name
        return lambda ctx: bool(ctx.in_segment(name))
    if isinstance(cond, Consented):
        purpose = cond.purpose
        return lambda ctx: bool(ctx.consented(purpose))
    raise TypeError(f"not a condition: {cond!r}")


# -- logic ----------------------------------------------------------------------------------


def interned(cond: Compare, nodes: dict[EventAggregate, EventAggregate]) -> Compare:
    """``cond`` with its aggregates taken from ``nodes`` (see `compile_truth`)."""
    left, right = cond.left, cond.right
    if isinstance(left, EventAggregate):
        left = nodes.setdefault(left, left)
    if isinstance(right, EventAggregate):
        right = nodes.setdefault(right, right)
    if left is cond.left and right is cond.right:
        return cond
    return Compare(cond.op, left, right)


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
        return tests.get(kind_of(value), _unknown)(value)  # type: ignore[arg-type]

    return run


def plans(op: str, const: Operand, *, flipped: bool) -> dict[Kind, Step]:
    """For each kind a value may have, how ``value op const`` (``const op value`` if
    flipped) is decided; a kind left out is unknown."""
    found: dict[Kind, Step] = {}
    if const.kind is None:
        return found
    for kind in FIELD_KINDS:
        how = (
            semantics.plan(op, const.kind, kind)
            if flipped
            else semantics.plan(op, kind, const.kind)
        )
        step = _step(how, op, const, flipped)
        if step is not None:
            found[kind] = step
    return found


def kind_test(steps: dict[Kind, Step]) -> Test:
    """One test for a value of any kind: the step for its kind, unknown without one."""
    tests = _versus_steps(steps)
    return lambda value: tests.get(kind_of(value), _unknown)(value)  # type: ignore[arg-type]


def _versus(op: str, const: Operand, *, flipped: bool) -> dict[Kind, Test]:
    """For each kind a value may have, ``value op const`` (``const op value`` if flipped)."""
    return _versus_steps(plans(op, const, flipped=flipped))


def _versus_steps(steps: dict[Kind, Step]) -> dict[Kind, Test]:
    return {kind: _as_test(step) for kind, step in steps.items()}


def _step(how: semantics.Plan, op: str, const: Operand, flipped: bool) -> Step | None:
    if how[0] == "unknown":
        return None
    if how[0] == "const":
        return ("outcome", how[1])
    if how[0] == "bool":
        other = const.value
    else:
        # A value read from JSON is a number or a string, so its own representation is the
        # value itself; only the constant may be wanted in epoch ms or as ISO text.
        rep = how[1] if flipped else how[2]
        if rep == "iso":
            assert const.ms is not None
            return ("test", _iso_test(_OPERATORS[op], const.ms, flipped))
        other = const.ms if rep == "ms" else const.value
    return ("direct", _MIRROR[op] if flipped else op, other)


def _as_test(step: Step) -> Test:
    if step[0] == "outcome":
        outcome = step[1]
        return lambda _value: outcome
    if step[0] == "direct":
        return _DIRECT[step[1]](step[2])
    return step[1]


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


__all__ = [
    "Step",
    "TruthFn",
    "compile_condition",
    "compile_truth",
    "interned",
    "kind_of",
    "kind_test",
    "plans",
]
