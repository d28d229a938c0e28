"""Hypothesis strategies for conditions, profiles and events (the round-trip and agreement
tests). Values come from a small vocabulary that hits the edges: numbers that look alike
(1, 1.0, "1"), dates as strings, unicode, empty strings, nulls, lists and objects."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from tests.conftest import T0
from unico.segments import ast

HOUR, DAY = 3_600_000, 86_400_000
NOW = T0
KEYS = ["a", "b", "é", "x y"]
NAMES = ["A", "B", "Ünï"]
STRINGS = ["", "a", "b", "ab", "A", "é", "日本", "1", "2000-01-01", "2026-01-15T09:00:00.000Z"]
NUMBERS: list[int | float] = [-2, 0, 1, 1.0, 1.5, 2, 3, -0.5, 10]
WINDOWS = [HOUR, DAY, 7 * DAY]
PATTERNS = ["^a", "b$", "a.b", "[ab]+", "(?i)a", "é", "^$", "(?:ab)?c", "^[^a]"]
OFFSETS = [-8 * DAY, -7 * DAY, -3 * DAY, -DAY, -HOUR, -1, 0, HOUR, 2 * DAY]

text = st.one_of(
    st.sampled_from(STRINGS),
    st.text(
        alphabet=st.characters(exclude_categories=["Cs"], exclude_characters="\x00"),
        max_size=4,
    ),
)
scalar = st.one_of(
    st.none(), st.booleans(), st.sampled_from(NUMBERS), text, st.integers(-1000, 1000)
)
json_value = st.one_of(
    scalar,
    st.lists(
        st.one_of(st.booleans(), st.sampled_from(NUMBERS), st.sampled_from(STRINGS)), max_size=3
    ),
    st.dictionaries(st.sampled_from(KEYS), scalar, max_size=2),
)
json_object = st.dictionaries(st.sampled_from(KEYS), json_value, max_size=4)


def profile_field() -> st.SearchStrategy[ast.Field]:
    key = st.sampled_from(KEYS)
    return st.one_of(
        st.builds(lambda k: ast.Field(("traits", k)), key),
        st.builds(lambda k, j: ast.Field(("traits", k, j)), key, key),
        st.sampled_from(
            [
                ast.Field(("computed", "orders")),
                ast.Field(("computed", "revenue")),
                ast.Field(("computed", "favourite_categories")),
                ast.Field(("computed", "event_counts", "A")),
                ast.Field(("soft", "big5", "openness")),
                ast.Field(("profile", "first_seen")),
                ast.Field(("profile", "last_seen")),
                ast.Field(("profile", "created_at")),
            ]
        ),
    )


def event_field() -> st.SearchStrategy[ast.Field]:
    root = st.sampled_from(["properties", "context"])
    return st.builds(lambda r, k: ast.Field((r, k)), root, st.sampled_from(KEYS))


literal = st.builds(ast.Literal, scalar)
timestamp = st.builds(ast.Timestamp, st.sampled_from([0, -HOUR, -DAY, -30 * DAY, DAY]))


def comparisons(field: st.SearchStrategy[ast.Field], times: bool) -> st.SearchStrategy[Any]:
    right = st.one_of(literal, field, timestamp) if times else st.one_of(literal, field)
    op = st.sampled_from(["==", "!=", "<", "<=", ">", ">="])
    items = st.lists(scalar, max_size=3).map(lambda xs: ast.Literal(tuple(xs)))
    needle = st.builds(ast.Literal, st.one_of(text, st.sampled_from(NUMBERS), st.booleans()))
    return st.one_of(
        st.builds(ast.Compare, op, field, right),
        st.builds(ast.Compare, st.just("in"), field, items),
        st.builds(ast.Compare, st.just("contains"), field, needle),
        st.builds(
            ast.Compare, st.just("matches"), field, st.sampled_from(PATTERNS).map(ast.Literal)
        ),
        st.builds(ast.Exists, field),
    )


def boolean(leaf: st.SearchStrategy[Any], depth: int = 3) -> st.SearchStrategy[Any]:
    return st.recursive(
        leaf,
        lambda inner: st.one_of(
            st.builds(ast.Not, inner),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: ast.And(tuple(xs))),
            st.lists(inner, min_size=2, max_size=3).map(lambda xs: ast.Or(tuple(xs))),
        ),
        max_leaves=depth,
    )


where = st.one_of(st.none(), boolean(comparisons(event_field(), times=False), 2))
event_name = st.one_of(st.none(), st.sampled_from(NAMES))
window = st.sampled_from(WINDOWS)


@st.composite
def aggregates(draw: st.DrawFn) -> ast.EventAggregate:
    fns: list[ast.AggregateFn] = ["count", "sum", "avg", "min", "max"]
    fn = draw(st.sampled_from(fns))
    of = None if fn == "count" else draw(event_field())
    return ast.EventAggregate(fn, draw(event_name), draw(where), of, draw(window))


aggregate_compare = st.builds(
    ast.Compare,
    st.sampled_from(["==", "!=", "<", "<=", ">", ">="]),
    aggregates(),
    st.builds(ast.Literal, st.sampled_from([0, 1, 2, 1.5, 3, None, "1"])),
)
did = st.builds(ast.Did, event_name, where, window, st.booleans())
leaf = st.one_of(
    comparisons(profile_field(), times=True),
    comparisons(profile_field(), times=True),
    aggregate_compare,
    did,
    st.builds(ast.InSegment, st.sampled_from(["s1", "s2"])),
    st.builds(ast.Consented, st.sampled_from(["marketing", "analytics", "sensors"])),
)
conditions = boolean(leaf, 4)

consent_record = st.one_of(
    st.none(),
    st.builds(lambda g: {"granted": g, "at": 1, "source": "api"}, st.booleans()),
)
times = st.one_of(st.none(), st.sampled_from([NOW + o for o in OFFSETS]))


@st.composite
def profiles(draw: st.DrawFn) -> dict[str, Any]:
    consent = {
        purpose: record
        for purpose in ("marketing", "analytics", "sensors")
        if (record := draw(consent_record)) is not None
    }
    return {
        "traits": draw(json_object),
        "computed": draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "orders": st.sampled_from([0, 1, 2, 5]),
                    "revenue": st.sampled_from([0.0, 10.5, 99.0]),
                    "favourite_categories": st.lists(st.sampled_from(STRINGS), max_size=3),
                    "event_counts": st.dictionaries(st.sampled_from(NAMES), st.integers(0, 3)),
                },
            )
        ),
        "soft": draw(
            st.one_of(
                st.just({}),
                st.builds(
                    lambda v: {"big5": {"openness": {"value": v, "confidence": 0.5}}}, scalar
                ),
            )
        ),
        "consent": consent,
        "created_at": draw(st.sampled_from([NOW - 30 * DAY, NOW - DAY, NOW])),
        "first_seen": draw(times),
        "last_seen": draw(times),
    }


events = st.lists(
    st.fixed_dictionaries(
        {
            "name": st.sampled_from(NAMES),
            "timestamp": st.sampled_from([NOW + o for o in OFFSETS]),
            "properties": json_object,
            "context": json_object,
        }
    ),
    max_size=6,
)
