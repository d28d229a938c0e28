"""A workspace's segments as one generated Python function: what the ingest path runs for
every person an event touches.

Each segment as its own tree of closures (`unico.segments.compiled`) costs a call per node
and touches the objects behind each one; with 200 segments run once per person between
database work, those objects are mostly out of the CPU caches, and fetching them was most
of an evaluation's time. The program is one code object instead: every segment, in
dependency order, becomes a block of statements; each field, aggregate and membership is
read at most once into a local (when first needed, so ``and`` / ``or`` still stop early);
``in_segment`` of an earlier segment is a local. The common shapes (``and``, ``or``,
``not``, a field or an aggregate against a constant, ``did``, ``in_segment``,
``consented``) are written out with the closures' own comparison plans
(`compiled.plans`); anything else (``in``, ``contains``, ``matches``, comparisons with
the clock, two fields...) calls the closure `compiled.compile_truth` builds for that node,
so both mean the same. A property test checks programs against the reference evaluator.

No text from a condition enters the source: constants, paths, nodes and ids are globals
named ``k0``, ``k1``..., and the source is made only of those names, locals and fixed
operators.

>>> from unico.segments.evaluate import ProfileContext
>>> from unico.segments.parser import parse
>>> run = compile_program([("s1", "adults", parse("traits.age >= 18")), ("s2", "vip", None)])
>>> names: set[str] = set()
>>> ctx = ProfileContext({"traits": {"age": 30}}, now_ms=0, segments=names.__contains__)
>>> run(ctx, {"s2"}, names), sorted(names)
(['s1', 's2'], ['adults', 'vip'])
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from collections.abc import Set as AbstractSet
from typing import Any, Final

from unico.segments.ast import (
    And,
    Compare,
    Condition,
    Consented,
    Did,
    EventAggregate,
    Field,
    InSegment,
    Literal,
    Not,
    Or,
)
from unico.segments.compiled import Step, compile_truth, interned, kind_test, plans
from unico.segments.evaluate import MISSING, EvalContext, literal_operand
from unico.segments.semantics import Kind

#: (context, the ids of the static lists the person is on, the names of the segments they
#: are in so far: filled as the program goes, and what ``ctx.in_segment`` must read) ->
#: the ids of the segments they are in, in evaluation order.
Program = Callable[[EvalContext, AbstractSet[str], set[str]], list[str]]
#: (segment id, name, condition; None for a static list), in evaluation order.
Entry = tuple[str, str, Condition | None]

#: A deeper condition runs as its closure: each level of ``and`` / ``or`` indents the
#: source by a block (the parser allows 64 levels; Python's tokenizer 100).
MAX_DEPTH: Final = 16
_OPERATORS: Final = frozenset({"==", "!=", "<", "<=", ">", ">="})
#: The only builtins the source uses.
_BUILTINS: Final = {"bool": bool, "type": type, "int": int, "float": float, "str": str}
_UNSET: Final = object()


def compile_program(
    entries: Sequence[Entry], shared: dict[EventAggregate, EventAggregate] | None = None
) -> Program:
    """One function for ``entries`` (``shared`` as in `compiled.compile_truth`)."""
    source = _Source({} if shared is None else shared)
    body = list(source.program(entries))
    head = ["def program(ctx, lists, names):"]
    if source.reads:
        head.append("    " + " = ".join(local for local, _ in source.reads.values()) + " = UNSET")
    head.append("    members = []")
    text = "\n".join([*head, *body, "    return members", ""])
    namespace: dict[str, Any] = {"__builtins__": _BUILTINS, **source.constants}
    exec(compile(text, "<segments program>", "exec"), namespace)
    program: Program = namespace["program"]
    return program


def _depth(cond: Condition) -> int:
    if isinstance(cond, And | Or):
        return 1 + max(_depth(i) for i in cond.items)
    if isinstance(cond, Not):
        return 1 + _depth(cond.item)
    return 1


class _Source:
    """The source being written: lines, the constants they name, the locals holding
    fields and aggregates once read."""

    def __init__(self, nodes: dict[EventAggregate, EventAggregate]) -> None:
        self.nodes = nodes
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {"UNSET": _UNSET, "INF": math.inf, "MISSING": MISSING}
        #: a field's path, an aggregate node or a purpose -> its local, and how it is read
        self.reads: dict[Any, tuple[str, str]] = {}
        self.segments: dict[str, str] = {}  # name -> the local holding its membership
        self._temps = 0

    def program(self, entries: Sequence[Entry]) -> Iterator[str]:
        for i, (segment_id, name, cond) in enumerate(entries):
            self._temps = 0  # a segment's temporaries are dead after it
            sid, member = self.const(segment_id), f"m{i}"
            if cond is None:
                self.emit(1, f"{member} = {sid} in lists")
            else:
                self.emit(1, f"{member} = {self.condition(cond, 1)} is True")
            self.emit(1, f"if {member}:")
            self.emit(2, f"members.append({sid})")
            self.emit(2, f"names.add({self.const(name)})")
            self.segments.setdefault(name, member)
        yield from self.lines

    def emit(self, depth: int, line: str) -> None:
        self.lines.append("    " * depth + line)

    def const(self, value: Any) -> str:
        name = f"k{len(self.constants)}"
        self.constants[name] = value
        return name

    def temp(self) -> str:
        self._temps += 1
        return f"t{self._temps}"

    def condition(self, cond: Condition, depth: int) -> str:
        """Write ``cond``; returns the local (or literal) holding its truth."""
        if isinstance(cond, And | Or) and _depth(cond) <= MAX_DEPTH:
            return self._logic(cond, depth)
        if isinstance(cond, Not) and _depth(cond) <= MAX_DEPTH:
            inner, out = self.condition(cond.item, depth), self.temp()
            self.emit(depth, f"{out} = None if {inner} is None else not {inner}")
            return out
        if isinstance(cond, Compare):
            found = self._compare(interned(cond, self.nodes), depth)
            if found is not None:
                return found
        if isinstance(cond, InSegment) and cond.name in self.segments:
            return self.segments[cond.name]  # an earlier segment (dependencies come first)
        out = self.temp()
        if isinstance(cond, Did):
            count = cond.as_count()
            held = f"({self._read(self.nodes.setdefault(count, count), depth)} or 0) > 0"
            self.emit(depth, f"{out} = not ({held})" if cond.negated else f"{out} = {held}")
        elif isinstance(cond, Consented):
            self.emit(depth, f"{out} = {self._read(cond, depth)}")
        else:  # not evaluated before it (or unknown): what ``names`` says, as the closures
            closure = self.const(compile_truth(cond, self.nodes))
            self.emit(depth, f"{out} = {closure}(ctx)")
        return out

    def _read(self, what: Field | EventAggregate | Consented, depth: int) -> str:
        """The local holding a field's value, an aggregate's or a purpose's consent, read
        when first needed."""
        key = what.path if isinstance(what, Field) else what
        found = self.reads.get(key)
        if found is None:
            n = len(self.reads)
            if isinstance(what, Field):
                found = (f"f{n}", f"ctx.field({self.const(what.path)})")
            elif isinstance(what, Consented):
                found = (f"c{n}", f"bool(ctx.consented({self.const(what.purpose)}))")
            else:
                found = (f"a{n}", f"ctx.aggregate({self.const(what)})")
            self.reads[key] = found
        local, call = found
        self.emit(depth, f"if {local} is UNSET:")
        self.emit(depth + 1, f"{local} = {call}")
        return local

    def _logic(self, cond: And | Or, depth: int) -> str:
        """Three-valued ``and`` (``or``): stop at the first false (true); an unknown on the
        way makes the rest unknown at best."""
        stop = "False" if isinstance(cond, And) else "True"
        out = self.temp()
        self.emit(depth, f"{out} = {'True' if stop == 'False' else 'False'}")
        for i, item in enumerate(cond.items):
            inner = depth
            if i:
                self.emit(depth, f"if {out} is not {stop}:")
                inner = depth + 1
            value = self.condition(item, inner)
            self.emit(inner, f"if {value} is {stop}:")
            self.emit(inner + 1, f"{out} = {stop}")
            self.emit(inner, f"elif {value} is None:")
            self.emit(inner + 1, f"{out} = None")
        return out

    def _compare(self, cond: Compare, depth: int) -> str | None:
        """A field or an aggregate against a constant, one branch per type of value; None
        for the shapes left to the closures."""
        left, right = cond.left, cond.right
        if cond.op not in _OPERATORS:
            return None
        if isinstance(left, Field | EventAggregate) and isinstance(right, Literal):
            var, const, flipped = left, literal_operand(right.value), False
        elif isinstance(left, Literal) and isinstance(right, Field | EventAggregate):
            var, const, flipped = right, literal_operand(left.value), True
        else:
            return None
        steps = plans(cond.op, const, flipped=flipped)
        if not steps:
            return "None"
        # An aggregate of nothing (None) has no kind, as a missing field: both unknown.
        value, kind, out = self._read(var, depth), self.temp(), self.temp()
        self.emit(depth, f"{kind} = type({value})")
        branches: list[tuple[str, Step | None]] = [
            (f"{kind} is int or {kind} is float and -INF < {value} < INF", steps.get("number")),
            (f"{value} is MISSING or {value} is None", None),  # no kind: unknown
        ]
        # Strings and booleans without a step of their own are unknown by the last branch.
        others: tuple[tuple[str, Kind], ...] = (
            (f"{kind} is str", "string"),
            (f"{kind} is bool", "boolean"),
        )
        branches += [(test, steps[name]) for test, name in others if name in steps]
        for i, (test, step) in enumerate(branches):
            self.emit(depth, f"{'elif' if i else 'if'} {test}:")
            self.emit(depth + 1, f"{out} = {self._step(step, value)}")
        # Lists, objects, infinite floats, the rest: by their kind, as the closures do.
        self.emit(depth, "else:")
        self.emit(depth + 1, f"{out} = {self.const(kind_test(steps))}({value})")
        return out

    def _step(self, step: Step | None, value: str) -> str:
        if step is None:
            return "None"
        if step[0] == "outcome":
            return repr(step[1])  # True, False or None
        if step[0] == "direct":
            assert step[1] in _OPERATORS
            return f"{value} {step[1]} {self.const(step[2])}"
        return f"{self.const(step[1])}({value})"


__all__ = ["MAX_DEPTH", "Entry", "Program", "compile_program"]
