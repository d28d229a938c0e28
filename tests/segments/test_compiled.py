"""Compiled conditions answer exactly what the reference evaluator answers: random
conditions over random profiles and events, in all three values."""

from __future__ import annotations

from functools import partial
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.segments.conditions import NOW, conditions, events, profile_field, profiles
from unico.profiles.store import ProfileState
from unico.segments import ast
from unico.segments.catalog import ProfileEval
from unico.segments.compiled import compile_condition, compile_truth, kind_of
from unico.segments.evaluate import (
    MISSING,
    ProfileContext,
    aggregate_events,
    evaluate,
    truth,
)
from unico.segments.evaluate import profile_field as reference_field
from unico.segments.parser import parse
from unico.segments.semantics import kind_of as reference_kind

DEFAULTS = {"marketing": True, "analytics": True, "sensors": False}


def _context(person: dict[str, Any], evs: list[dict[str, Any]], members: set[str]) -> Any:
    return ProfileContext(
        person,
        now_ms=NOW,
        aggregates=partial(aggregate_events, events=evs, now_ms=NOW),
        segments=members.__contains__,
        consent_defaults=DEFAULTS,
    )


@settings(max_examples=200, deadline=None)
@given(conditions, st.lists(st.tuples(profiles(), events), min_size=1, max_size=3), st.data())
def test_compiled_agrees_with_evaluate(
    cond: ast.Condition, people: list[tuple[dict[str, Any], list[Any]]], data: st.DataObject
) -> None:
    compiled, holds = compile_truth(cond), compile_condition(cond)
    for person, evs in people:
        members = data.draw(st.sets(st.sampled_from(["s1", "s2"])))
        ctx = _context(person, evs, members)
        assert compiled(ctx) is truth(cond, ctx)
        assert holds(ctx) is evaluate(cond, ctx)


@given(profiles(), profile_field())
def test_profile_eval_reads_fields_as_profile_field(person: dict[str, Any], f: ast.Field) -> None:
    state = ProfileState(
        "p", person["traits"], {}, person["computed"], person["soft"], person["consent"],
        person["created_at"], NOW, person["first_seen"], person["last_seen"],
    )  # fmt: skip
    ctx = ProfileEval(state, NOW, {}, {}, DEFAULTS)
    assert ctx.field(f.path) == reference_field(person, f.path)
    assert kind_of(ctx.field(f.path)) == (
        None if ctx.field(f.path) is MISSING else reference_kind(ctx.field(f.path))
    )


def test_relative_times_follow_the_clock_of_each_call() -> None:
    holds = compile_condition(parse("profile.last_seen < now - 1d and traits.at > now"))
    person = {"last_seen": 0, "traits": {"at": "1970-01-03T00:00:00.000Z"}}
    day = 86_400_000
    assert holds(ProfileContext(person, now_ms=day + 1))
    assert not holds(ProfileContext(person, now_ms=3 * day))
    assert not holds(ProfileContext(person, now_ms=day))
