"""The metric queries of experiments: each exposed unit's value from the events that
followed its exposure, added up per variant in SQL.

A unit's events are its person's: those of every profile merged into the same survivor as
the exposure's profile (events keep the profile they were stored with, so a visitor who
logs in to an existing profile converts under that one). Most units were never merged and
read their own profile's events through the event log's (workspace, profile, timestamp)
index. When some were, their people's profiles (`merge_groups.person_groups`) are listed
in a temporary table for the length of the query, and those units read the events of all
of them.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import (
    ARRAY,
    ColumnElement,
    Connection,
    Float,
    Select,
    Text,
    any_,
    case,
    cast,
    column,
    delete,
    exists,
    func,
    insert,
    literal,
    select,
    table,
)

from unico.core.types import EpochMs
from unico.db.engine import Store
from unico.db.experiments_schema import exposure
from unico.db.schema import event
from unico.experiments.store import Measure, Sums
from unico.store.merge_groups import person_groups

#: Exposed profile (``unit``) -> each profile of its person (``member``), while a query runs.
unit_member = table("unico_unit_member", column("unit"), column("member"))
_CREATE_UNIT_MEMBER = (
    "CREATE TEMPORARY TABLE IF NOT EXISTS unico_unit_member"
    " (unit TEXT NOT NULL, member TEXT NOT NULL, PRIMARY KEY (unit, member))"
)
_ON_COMMIT = " ON COMMIT DROP"


def exposed(workspace_id: str, experiment_id: str, until: EpochMs) -> list[ColumnElement[bool]]:
    """The experiment's exposures before ``until``."""
    return [
        exposure.c.workspace_id == workspace_id,
        exposure.c.experiment_id == experiment_id,
        exposure.c.at < until,
    ]


class ExperimentMetrics:
    """Per-variant sums and per-unit values of measures, in SQL.

    >>> store = Store("sqlite://"); store.upgrade()
    >>> with store.read() as conn:
    ...     ExperimentMetrics(store).sums(conn, "ws", "exp", [Measure("Buy", "count")], 1)
    {}
    """

    def __init__(self, store: Store) -> None:
        self.store = store
        #: The last groups found, by (transaction, workspace, experiment, until): results
        #: read many metrics in one transaction, and the groups do not change within it.
        self._last: tuple[tuple[Any, ...], dict[str, frozenset[str]]] | None = None

    def sums(
        self,
        conn: Connection,
        workspace_id: str,
        experiment_id: str,
        measures: Sequence[Measure],
        until: EpochMs,
        caps: Sequence[float | None] = (),
    ) -> dict[str, Sums]:
        """Variant -> per-unit sums of one measure (or two, for a ratio), units with no
        event counting as 0; ``caps`` winsorize each unit's values first."""
        with self._people(conn, workspace_id, experiment_id, until) as merged:
            units = self._units(workspace_id, experiment_id, measures, until, merged).subquery()
            values = [units.c[f"v{i}"] for i in range(len(measures))]
            capped = [
                case((v > cap, literal(cap)), else_=v) if cap is not None else v
                for v, cap in _with_caps(values, caps)
            ]
            first = capped[0]
            columns = [
                units.c.variant,
                func.count(),
                func.sum(first),
                func.sum(first * first),
                func.sum(case((first > 0, 1), else_=0)),
            ]
            if len(capped) > 1:
                second = capped[1]
                columns += [func.sum(second), func.sum(second * second), func.sum(first * second)]
            rows = conn.execute(select(*columns).group_by(units.c.variant)).all()
        out = {}
        for r in rows:
            extra = [float(x or 0) for x in r[5:8]]
            out[str(r[0])] = Sums(
                int(r[1]), float(r[2] or 0), float(r[3] or 0), int(r[4] or 0), *extra
            )
        return out

    def unit_values(
        self,
        conn: Connection,
        workspace_id: str,
        experiment_id: str,
        measure: Measure,
        until: EpochMs,
    ) -> list[float]:
        """Every exposed unit's value of one measure (what a winsorization cap is read from)."""
        with self._people(conn, workspace_id, experiment_id, until) as merged:
            units = self._units(workspace_id, experiment_id, [measure], until, merged).subquery()
            return [float(r[0] or 0) for r in conn.execute(select(units.c.v0))]

    @contextmanager
    def _people(
        self, conn: Connection, workspace_id: str, experiment_id: str, until: EpochMs
    ) -> Iterator[bool]:
        """Whether some exposed profiles were merged; if so, ``unit_member`` lists their
        people's profiles until the block ends (an error rolls the rows back with the
        transaction)."""
        if not self.store.is_sqlite:
            # Many small correlated subplans: compiling them (PostgreSQL's JIT, which their
            # summed estimates trigger) took several times longer than running them.
            conn.exec_driver_sql("SET LOCAL jit = off")
        groups = self._groups(conn, workspace_id, experiment_id, until)
        if not groups:
            yield False
            return
        # PostgreSQL drops the table with the transaction; SQLite keeps it, empty, on the
        # connection.
        conn.exec_driver_sql(_CREATE_UNIT_MEMBER + ("" if self.store.is_sqlite else _ON_COMMIT))
        conn.execute(delete(unit_member))
        rows = [{"unit": u, "member": m} for u, members in groups.items() for m in members]
        conn.execute(insert(unit_member), rows)
        if not self.store.is_sqlite:
            conn.exec_driver_sql("ANALYZE unico_unit_member")  # temporary: never auto-analyzed
        yield True
        conn.execute(delete(unit_member))

    def _groups(
        self, conn: Connection, workspace_id: str, experiment_id: str, until: EpochMs
    ) -> dict[str, frozenset[str]]:
        """`person_groups` of the exposed profiles, found once per transaction."""
        transaction = conn.get_transaction()
        key = (transaction, workspace_id, experiment_id, until)
        last = self._last  # read once: another thread may replace it meanwhile
        if transaction is not None and last is not None and last[0] == key:
            return last[1]
        profiles = select(exposure.c.profile_id).where(
            *exposed(workspace_id, experiment_id, until), exposure.c.profile_id.is_not(None)
        )
        groups = person_groups(conn, workspace_id, profiles)
        self._last = (key, groups)
        return groups

    def _units(
        self,
        workspace_id: str,
        experiment_id: str,
        measures: Sequence[Measure],
        until: EpochMs,
        merged: bool,
    ) -> Select[Any]:
        columns = [self._measure(m, until, merged).label(f"v{i}") for i, m in enumerate(measures)]
        return select(exposure.c.unit_id, exposure.c.variant, *columns).where(
            *exposed(workspace_id, experiment_id, until)
        )

    def _measure(self, measure: Measure, until: EpochMs, merged: bool) -> ColumnElement[Any]:
        """A correlated subquery: the unit's value, read through the event log's
        (workspace, profile, timestamp) index, by the profiles of its person when it was
        merged (``merged``: ``unit_member`` lists them), else by its own profile; units
        never identified go by anonymous id."""
        e = event.alias("e")
        where = [e.c.workspace_id == exposure.c.workspace_id, e.c.name == measure.event]
        if measure.before_ms is not None:
            where += [
                e.c.timestamp >= exposure.c.at - measure.before_ms,
                e.c.timestamp < exposure.c.at,
            ]
        else:
            where += [e.c.timestamp >= exposure.c.at, e.c.timestamp < until]
        if measure.window_ms is not None:
            where.append(e.c.timestamp < exposure.c.at + measure.window_ms)
        if measure.kind == "sum":
            assert measure.property is not None
            aggregate: ColumnElement[Any] = func.coalesce(
                func.sum(self._number(e.c.properties, measure.property)), 0.0
            )
        else:
            aggregate = func.count()
        by_profile = select(aggregate).where(*where, e.c.profile_id == exposure.c.profile_id)
        by_anonymous = select(aggregate).where(*where, e.c.anonymous_id == exposure.c.anonymous_id)
        branches: list[tuple[ColumnElement[bool], Any]] = []
        if merged:
            by_person = select(aggregate).where(*where, self._of_person(e))
            in_merge = exists().where(unit_member.c.unit == exposure.c.profile_id)
            branches.append((in_merge, by_person.scalar_subquery()))
        branches.append((exposure.c.profile_id.is_not(None), by_profile.scalar_subquery()))
        value = case(*branches, else_=by_anonymous.scalar_subquery())
        if measure.kind == "conversion":
            return case((value > 0, 1), else_=0)
        return value

    def _of_person(self, e: Any) -> ColumnElement[bool]:
        """The event ``e`` is of a profile of the unit's person (as ``unit_member`` lists
        them). The member list drives: each member's events are one range of the event
        index (a join let SQLite, and PostgreSQL misled by its estimates, scan the
        workspace's events instead)."""
        if self.store.is_sqlite:
            members = select(unit_member.c.member).where(
                unit_member.c.unit == exposure.c.profile_id
            )
            in_list: ColumnElement[bool] = e.c.profile_id.in_(members.correlate(exposure))
            return in_list
        # PostgreSQL: an array, so that it is an index condition rather than a semi-join.
        listed = select(func.array_agg(unit_member.c.member)).where(
            unit_member.c.unit == exposure.c.profile_id
        )
        any_listed: ColumnElement[bool] = e.c.profile_id == any_(
            cast(listed.correlate(exposure).scalar_subquery(), ARRAY(Text))
        )
        return any_listed

    def _number(self, properties: Any, name: str) -> ColumnElement[Any]:
        """The numeric property ``name`` of an event, NULL when absent or not a number."""
        if self.store.is_sqlite:
            path = '$."' + name.replace('"', "") + '"'
            return case(
                (
                    func.json_type(properties, path).in_(("integer", "real")),
                    func.json_extract(properties, path),
                ),
                else_=None,
            )
        value = properties.op("->")(name)
        return case(
            (
                func.jsonb_typeof(value) == "number",
                properties.op("->>")(name).cast(Float),
            ),
            else_=None,
        )


def _with_caps(values: Sequence[Any], caps: Sequence[float | None]) -> list[tuple[Any, Any]]:
    """Each value with its cap (None past the end of ``caps``)."""
    return [(v, caps[i] if i < len(caps) else None) for i, v in enumerate(values)]


__all__ = ["ExperimentMetrics", "Measure", "Sums", "exposed", "unit_member"]
