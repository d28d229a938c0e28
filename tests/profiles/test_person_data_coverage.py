"""Access and erasure cannot forget a table: every table with a column naming a person is
claimed by exactly one context's `PersonData`, which exports and erases it."""

from __future__ import annotations

import importlib
import pkgutil

import pytest
from sqlalchemy import MetaData, Table

import unico.db
import unico.store
from unico.container import Container
from unico.core.persons import PersonRegistry
from unico.core.settings import load_settings
from unico.db.tables import metadata

#: Columns that name a person wherever they appear (besides any column with "profile" in
#: its name: profile ids, merged profiles, merge sources and targets).
PERSON_COLUMNS = {"anonymous_id", "user_id", "unit_id", "merged_into", "previous_id", "hash"}

#: Tables that look as if they named a person but do not, each with the reason.
NOT_A_PERSON = {
    "suppression": "a salted hash of an erased identity, written by erasure on purpose so "
    "that late events cannot bring the person back; it cannot be read back to anyone",
    "event_aggregate": "anonymous counts per day and event name; `profiled` is a boolean",
    "item": "`kind` and `value` are an item's kind and business value, not an identity",
}


def person_columns(table: Table) -> set[str]:
    """The columns of ``table`` that name a person."""
    names = {c.name for c in table.columns}
    found = {n for n in names if "profile" in n or n in PERSON_COLUMNS}
    if {"kind", "value"} <= names:  # an identity: (kind, value)
        found |= {"kind", "value"}
    return found


def every_metadata() -> list[MetaData]:
    """Every `MetaData` object in the database and store packages' modules (imported here, so
    that a new schema module cannot escape by not being imported elsewhere)."""
    found: dict[int, MetaData] = {}
    for package in (unico.db, unico.store):
        for info in pkgutil.walk_packages(package.__path__, package.__name__ + "."):
            if ".migrations" in info.name:
                continue
            module = importlib.import_module(info.name)
            for value in vars(module).values():
                if isinstance(value, MetaData):
                    found[id(value)] = value
    return list(found.values())


def person_tables() -> dict[str, set[str]]:
    tables = {t.name: t for m in every_metadata() for t in m.tables.values()}
    return {name: cols for name, t in tables.items() if (cols := person_columns(t))}


@pytest.fixture
def registry(tmp_sqlite_url: str) -> PersonRegistry:
    container = Container.build(load_settings(database_url=tmp_sqlite_url, auto_migrate=False))
    container.store.dispose()
    return container.profiles.persons


def test_the_schema_walk_finds_every_schema_module() -> None:
    assert len(every_metadata()) == 1  # one MetaData: what Alembic and the schema test use
    assert set(metadata.tables) == {t for m in every_metadata() for t in m.tables}
    found = person_tables()
    # The walk is not vacuous: it sees the tables each context is known to hold.
    for table in ("profile", "identity", "event", "decision", "interaction", "exposure"):
        assert table in found
    assert found["segment_list_entry"] == {"kind", "value", "profile_id"}


def test_every_table_naming_a_person_is_claimed_by_exactly_one_context(
    registry: PersonRegistry,
) -> None:
    claims = registry.claims()
    owners: dict[str, list[str]] = {}
    for data in registry:
        for table in data.tables:
            owners.setdefault(table, []).append(data.name)
    assert {t: o for t, o in owners.items() if len(o) != 1} == {}
    unclaimed = {
        t: sorted(cols)
        for t, cols in person_tables().items()
        if t not in claims and t not in NOT_A_PERSON
    }
    assert unclaimed == {}, "give these tables an exporter and an eraser (PersonData)"


def test_claims_and_exceptions_name_real_tables_that_name_people(
    registry: PersonRegistry,
) -> None:
    found = person_tables()
    assert sorted(set(registry.claims()) - set(found)) == []  # no stale or misspelt claim
    # An exception must look like a person's table (else it is not needed) and be claimed
    # by nobody (else it is not an exception).
    assert sorted(set(NOT_A_PERSON) - set(found)) == []
    assert sorted(set(NOT_A_PERSON) & set(registry.claims())) == []


def test_the_registry_refuses_a_table_claimed_twice(registry: PersonRegistry) -> None:
    class Again:
        name = "again"
        tables = ("interaction",)

    with pytest.raises(ValueError, match="interaction"):
        registry.register(Again())  # type: ignore[arg-type]
    assert "again" not in {d.name for d in registry}
