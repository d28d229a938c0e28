"""The in-memory evaluator and the SQL compiler select exactly the same profiles: random
conditions over random profiles and events, written into the real store (SQLite and
PostgreSQL), each example in a workspace of its own."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator
from functools import partial
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, insert, select

from tests.segments.conditions import NOW, conditions, events, profiles
from unico.db.engine import build_engine
from unico.db.schema import event, profile
from unico.segments.ast import Condition, EventAggregate, Not
from unico.segments.evaluate import ProfileContext, aggregate_events, evaluate
from unico.segments.parser import parse, unparse
from unico.segments.sql import compile_condition, install_sqlite_functions

DEFAULTS = {"marketing": True, "analytics": True, "sensors": False}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = build_engine(database_url)
    install_sqlite_functions(built)
    yield built
    built.dispose()


def _write(engine: Engine, ws: str, people: list[dict[str, Any]], history: list[list[Any]]) -> None:
    counter = itertools.count()
    with engine.begin() as conn:
        conn.execute(
            insert(profile),
            [
                {
                    **p,
                    "workspace_id": ws,
                    "profile_id": f"p{i}",
                    "trait_times": {},
                    "updated_at": NOW,
                    "merged_into": None,
                }
                for i, p in enumerate(people)
            ],
        )
        rows = [
            {
                **e,
                "workspace_id": ws,
                "message_id": f"m{next(counter)}",
                "type": "track",
                "profile_id": f"p{i}",
                "received_at": NOW,
                "traits": {},
                "integrations": {},
            }
            for i, evs in enumerate(history)
            for e in evs
        ]
        if rows:
            conn.execute(insert(event), rows)


def _aggregate(evs: list[dict[str, Any]], agg: EventAggregate) -> float | int | None:
    return aggregate_events(agg, evs, NOW)


def _member(pid: str, segs: dict[str, set[str]], name: str) -> bool:
    return pid in segs[name]


def _members_in_memory(
    cond: Condition,
    people: list[dict[str, Any]],
    history: list[list[Any]],
    segs: dict[str, set[str]],
) -> set[str]:
    out = set()
    for i, (person, evs) in enumerate(zip(people, history, strict=True)):
        pid = f"p{i}"
        ctx = ProfileContext(
            person,
            now_ms=NOW,
            aggregates=partial(_aggregate, evs),
            segments=partial(_member, pid, segs),
            consent_defaults=DEFAULTS,
        )
        if evaluate(cond, ctx):
            out.add(pid)
    return out


def _members_in_sql(
    engine: Engine, ws: str, cond: Condition, segs: dict[str, set[str]]
) -> set[str]:
    clause = compile_condition(
        cond,
        now_ms=NOW,
        dialect_name=engine.dialect.name,
        consent_defaults=DEFAULTS,
        segment_clause=lambda name: profile.c.profile_id.in_(sorted(segs[name])),
        workspace_id=ws if len(segs["s1"]) % 2 else None,  # both ways aggregates compile
    )
    query = select(profile.c.profile_id).where(profile.c.workspace_id == ws, clause)
    with engine.connect() as conn:
        return set(conn.scalars(query))


scenario = st.tuples(
    st.lists(st.tuples(profiles(), events), min_size=1, max_size=5),
    st.lists(conditions, min_size=1, max_size=4),
    st.sets(st.sampled_from(["p0", "p1", "p2", "p3", "p4"])),
)


def test_sql_selects_what_the_evaluator_selects(engine: Engine) -> None:
    seen = {"members": 0, "non_members": 0}

    @settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(scenario)
    def agree(case: tuple[list[Any], list[Condition], set[str]]) -> None:
        pairs, conds, s1 = case
        people = [p for p, _ in pairs]
        history = [e for _, e in pairs]
        segs = {"s1": s1, "s2": set()}
        ws = f"agree-{secrets.token_hex(6)}"
        _write(engine, ws, people, history)
        # Each condition and its negation: most random conditions hold for nobody (a missing
        # field is unknown), so the negation is what gives the "member" side its examples,
        # and it checks that NOT keeps unknown unknown in SQL too.
        for cond in [c for drawn in conds for c in (drawn, Not(drawn))]:
            expected = _members_in_memory(cond, people, history, segs)
            assert _members_in_sql(engine, ws, cond, segs) == expected, unparse(cond)
            seen["members"] += len(expected)
            seen["non_members"] += len(people) - len(expected)
            assert parse(unparse(cond)) == cond

    agree()
    # The examples exercised both outcomes, so agreement is not "nobody, both times". (Over
    # the conditions alone this failed for some seeds: 34 members with --hypothesis-seed=47.)
    assert seen["members"] > 50 and seen["non_members"] > 50, seen
