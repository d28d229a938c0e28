from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, false, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from tests.segments import test_evaluate as table
from unico.db.engine import build_engine
from unico.db.schema import event, profile
from unico.segments.ast import EventAggregate
from unico.segments.evaluate import ProfileContext, aggregate_events, truth
from unico.segments.parser import parse
from unico.segments.sql import compile_condition, install_sqlite_functions

NOW = table.NOW
OTHER: dict[str, Any] = {
    "traits": {},
    "computed": {},
    "soft": {},
    "consent": {},
    "first_seen": None,
    "last_seen": None,
    "created_at": NOW,
}


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    built = build_engine(database_url)
    install_sqlite_functions(built)
    yield built
    built.dispose()


@pytest.fixture
def workspace(engine: Engine) -> str:
    """Two profiles: the semantics table's person (with its events) and an empty one."""
    ws = f"sql-{secrets.token_hex(4)}"
    base = {"workspace_id": ws, "trait_times": {}, "updated_at": NOW, "merged_into": None}
    with engine.begin() as conn:
        conn.execute(
            insert(profile),
            [
                {**base, **table.PERSON, "profile_id": "person"},
                {**base, **OTHER, "profile_id": "empty"},
            ],
        )
        conn.execute(
            insert(event),
            [
                {
                    **e,
                    "workspace_id": ws,
                    "message_id": f"m{i}",
                    "type": "track",
                    "profile_id": "person",
                    "received_at": NOW,
                    "traits": {},
                    "integrations": {},
                }
                for i, e in enumerate(table.EVENTS)
            ],
        )
    return ws


def _selected(engine: Engine, ws: str, text: str, **kwargs: object) -> set[str]:
    kwargs.setdefault("segment_clause", lambda name: false())
    clause = compile_condition(parse(text), now_ms=NOW, dialect_name=engine.dialect.name, **kwargs)  # type: ignore[arg-type]
    query = select(profile.c.profile_id).where(profile.c.workspace_id == ws, clause)
    with engine.connect() as conn:
        return set(conn.scalars(query))


def _events(evs: list[dict[str, Any]]) -> Callable[[EventAggregate], float | int | None]:
    return lambda agg: aggregate_events(agg, evs, NOW)


def _expected(text: str) -> set[str]:
    out = set()
    for pid, person, evs in (("person", table.PERSON, table.EVENTS), ("empty", OTHER, [])):
        ctx = ProfileContext(person, now_ms=NOW, aggregates=_events(evs))
        if truth(parse(text), ctx) is True:
            out.add(pid)
    return out


CONDITIONS = [text for text, _ in table.SEMANTICS + table.WINDOWED]


def test_sql_follows_the_semantics_table(engine: Engine, workspace: str) -> None:
    wrong = {}
    for text in CONDITIONS:
        for cond in (text, f"not ({text})"):
            got, want = _selected(engine, workspace, cond), _expected(cond)
            if got != want:
                wrong[cond] = (got, want)
    assert wrong == {}
    assert _selected(engine, workspace, "traits.age == 30") == {"person"}
    assert _selected(engine, workspace, 'not traits.city == "Rome"') == set()


def test_consent_defaults_and_segments_are_injected(engine: Engine, workspace: str) -> None:
    assert _selected(engine, workspace, 'consented("marketing")') == {"person"}
    assert _selected(engine, workspace, 'consented("analytics")') == {"person", "empty"}
    assert (
        _selected(
            engine, workspace, 'consented("analytics")', consent_defaults={"analytics": False}
        )
        == set()
    )
    vip = {"vip": profile.c.profile_id == "empty"}
    assert _selected(engine, workspace, 'in_segment("vip")', segment_clause=vip.__getitem__) == {
        "empty"
    }
    with pytest.raises(ValueError, match="segment_clause"):
        _selected(engine, workspace, 'in_segment("vip")', segment_clause=None)


DIALECTS = [sqlite.dialect(), postgresql.dialect()]  # type: ignore[no-untyped-call]


@pytest.mark.parametrize("dialect", DIALECTS)
def test_user_values_are_bound_never_spliced(dialect: Any) -> None:
    evil = "x'); DROP TABLE profile; --"
    text = (
        f'traits."{evil}" == "{evil}" and traits.a contains "{evil}" and '
        f'count(event "{evil}" where properties.b in ["{evil}"] within 1d) > 0'
    )
    clause = compile_condition(parse(text), now_ms=NOW, dialect_name=dialect.name)
    compiled = clause.compile(dialect=dialect)
    assert "DROP" not in str(compiled)
    assert any(evil in str(v) for v in compiled.params.values())
