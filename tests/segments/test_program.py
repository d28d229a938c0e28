"""A catalog's program answers what the reference evaluator answers, segment after segment
in order (``in_segment`` sees the segments before it), in all three values."""

from __future__ import annotations

import math
from functools import partial
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.segments.conditions import NOW, conditions, events, profiles
from unico.segments import ast
from unico.segments.evaluate import ProfileContext, aggregate_events, evaluate
from unico.segments.parser import parse
from unico.segments.program import MAX_DEPTH, Entry, compile_program

DEFAULTS = {"marketing": True, "analytics": True, "sensors": False}
#: names the random conditions refer to with in_segment: the first two entries
NAMES = ("s1", "s2", "x")


def _context(person: dict[str, Any], evs: list[dict[str, Any]], names: set[str]) -> Any:
    return ProfileContext(
        person,
        now_ms=NOW,
        aggregates=partial(aggregate_events, events=evs, now_ms=NOW),
        segments=names.__contains__,
        consent_defaults=DEFAULTS,
    )


def _reference(entries: list[Entry], ctx: Any, lists: set[str], names: set[str]) -> list[str]:
    """The evaluation loop with the tree-walking evaluator: each segment in order."""
    members = []
    for segment_id, name, cond in entries:
        if segment_id in lists if cond is None else evaluate(cond, ctx):
            members.append(segment_id)
            names.add(name)
    return members


def _run(entries: list[Entry], person: dict[str, Any], evs: Any, lists: set[str]) -> Any:
    seen: set[str] = set()
    expected = _reference(entries, _context(person, evs, seen), lists, seen)
    names: set[str] = set()
    found = compile_program(entries)(_context(person, evs, names), lists, names)
    return found, names, expected, seen


@settings(max_examples=200, deadline=None)
@given(
    st.lists(st.one_of(st.none(), conditions), min_size=3, max_size=3),
    st.lists(st.tuples(profiles(), events), min_size=1, max_size=3),
    st.sets(st.sampled_from(["id0", "id1", "id2"])),
)
def test_program_agrees_with_evaluate(
    conds: list[ast.Condition | None], people: list[tuple[dict[str, Any], Any]], lists: set[str]
) -> None:
    entries: list[Entry] = [(f"id{i}", NAMES[i], c) for i, c in enumerate(conds)]
    for person, evs in people:
        found, names, expected, seen = _run(entries, person, evs, lists)
        assert found == expected
        assert names == seen


def test_unknown_is_not_membership_and_not_unknown_stays_unknown() -> None:
    entries: list[Entry] = [
        ("a", "a", parse('traits.city != "Rome"')),
        ("b", "b", parse('not traits.city != "Rome"')),
        ("c", "c", parse('not in_segment("a")')),
    ]
    found, _, expected, _ = _run(entries, {"traits": {}}, [], set())
    assert found == expected == ["c"]


def test_non_finite_numbers_have_no_kind() -> None:
    entries: list[Entry] = [
        ("a", "a", parse("traits.n >= 0")),
        ("b", "b", parse("traits.n != 0")),
        ("c", "c", parse("not traits.n < 0")),
    ]
    for n in (math.inf, -math.inf, math.nan, 1.5, 0, True, "0", [0], {"n": 0}, None):
        found, _, expected, _ = _run(entries, {"traits": {"n": n}}, [], set())
        assert found == expected, n


def test_a_condition_deeper_than_the_limit_runs_as_its_closure() -> None:
    deep: ast.Condition = parse("traits.n >= 1")
    for _ in range(MAX_DEPTH + 2):
        deep = ast.Not(ast.Not(deep))
    entries: list[Entry] = [("a", "a", deep), ("b", "b", parse('in_segment("a")'))]
    found, _, expected, _ = _run(entries, {"traits": {"n": 2}}, [], set())
    assert found == expected == ["a", "b"]


def test_no_text_of_a_condition_becomes_code() -> None:
    quote = '"); raise SystemExit("'
    cond = ast.Or(
        (
            ast.Compare("==", ast.Field(("traits", quote)), ast.Literal(quote)),
            ast.Consented(quote),
            ast.InSegment(quote + "\n"),
        )
    )
    entries: list[Entry] = [("a\n" + quote, quote, cond)]
    found, names, expected, _ = _run(entries, {"traits": {quote: quote}}, [], set())
    assert found == expected == ["a\n" + quote]
    assert names == {quote}
