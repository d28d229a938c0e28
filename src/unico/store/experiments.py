"""The experiments context's tables in SQL (SQLite and PostgreSQL alike), and the metric
queries that join exposures with the events that followed them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Float,
    Select,
    case,
    delete,
    func,
    literal,
    or_,
    select,
    update,
)

from unico.core.types import EpochMs
from unico.store.engine import Store
from unico.store.experiments_schema import (
    experiment,
    experiment_allocation,
    experiment_revision,
    exposure,
)
from unico.store.schema import event


@dataclass(frozen=True)
class Measure:
    """What one per-unit value is: did ``event`` happen (``conversion``), how many times
    (``count``), or the total of its numeric ``property`` (``sum``), counting only events
    after the exposure (and within ``window_ms`` of it); with ``before_ms``, the events of
    that long before the exposure instead (a CUPED covariate)."""

    event: str
    kind: str
    property: str | None = None
    window_ms: int | None = None
    before_ms: int | None = None


@dataclass(frozen=True)
class Sums:
    """One variant's per-unit sums for one or two measures (the second for ratios)."""

    n: int
    sum: float
    sum_squares: float
    positive: int
    sum2: float = 0.0
    sum_squares2: float = 0.0
    sum_products: float = 0.0


class SqlExperimentStore:
    """Experiments, their revision, exposures and bandit allocations on SQLAlchemy Core.

    >>> store = Store("sqlite://"); store.upgrade()
    >>> experiments = SqlExperimentStore(store)
    >>> with store.read() as conn:
    ...     experiments.revision(conn, "ws")
    0
    """

    def __init__(self, store: Store) -> None:
        self.store = store

    # -- definitions --------------------------------------------------------------------------

    def revision(self, conn: Connection, workspace_id: str) -> int:
        found = conn.execute(
            select(experiment_revision.c.revision).where(
                experiment_revision.c.workspace_id == workspace_id
            )
        ).scalar()
        return int(found or 0)

    def bump(self, conn: Connection, workspace_id: str) -> None:
        insert = self.store.insert(experiment_revision).values(
            workspace_id=workspace_id, revision=1
        )
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["workspace_id"],
                set_={"revision": experiment_revision.c.revision + 1},
            )
        )

    def insert(self, conn: Connection, row: dict[str, Any]) -> None:
        conn.execute(experiment.insert().values(**row))
        self.bump(conn, row["workspace_id"])

    def update(
        self, conn: Connection, workspace_id: str, experiment_id: str, **values: Any
    ) -> None:
        conn.execute(
            update(experiment)
            .where(
                experiment.c.workspace_id == workspace_id,
                experiment.c.experiment_id == experiment_id,
            )
            .values(**values)
        )
        self.bump(conn, workspace_id)

    def get(self, conn: Connection, workspace_id: str, experiment_id: str) -> dict[str, Any] | None:
        row = conn.execute(
            select(experiment).where(
                experiment.c.workspace_id == workspace_id,
                experiment.c.experiment_id == experiment_id,
            )
        ).first()
        return None if row is None else dict(row._mapping)

    def experiments_of(
        self, conn: Connection, workspace_id: str, status: str | None = None
    ) -> list[dict[str, Any]]:
        query = select(experiment).where(experiment.c.workspace_id == workspace_id)
        if status is not None:
            query = query.where(experiment.c.status == status)
        rows = conn.execute(query.order_by(experiment.c.experiment_id))
        return [dict(r._mapping) for r in rows]

    def running_everywhere(self, conn: Connection) -> list[dict[str, Any]]:
        """Every running experiment of every workspace (for the bandit's rounds)."""
        rows = conn.execute(select(experiment).where(experiment.c.status == "running"))
        return [dict(r._mapping) for r in rows]

    def allocations(
        self, conn: Connection, workspace_id: str
    ) -> dict[str, tuple[list[float], EpochMs]]:
        """Experiment id -> (bandit weights, when they were computed)."""
        rows = conn.execute(
            select(
                experiment_allocation.c.experiment_id,
                experiment_allocation.c.weights,
                experiment_allocation.c.computed_at,
            ).where(experiment_allocation.c.workspace_id == workspace_id)
        )
        return {r.experiment_id: (list(r.weights), int(r.computed_at)) for r in rows}

    def save_allocation(
        self,
        conn: Connection,
        workspace_id: str,
        experiment_id: str,
        weights: list[float],
        now: EpochMs,
    ) -> None:
        insert = self.store.insert(experiment_allocation).values(
            workspace_id=workspace_id, experiment_id=experiment_id, weights=weights, computed_at=now
        )
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["workspace_id", "experiment_id"],
                set_={"weights": weights, "computed_at": now},
            )
        )
        self.bump(conn, workspace_id)

    # -- exposures ----------------------------------------------------------------------------

    def record_exposures(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert first exposures; a unit already exposed keeps its row (and gains the
        profile and user ids it now has, if it had none)."""
        if not rows:
            return
        insert = self.store.insert(exposure)
        conn.execute(
            insert.on_conflict_do_update(
                index_elements=["workspace_id", "experiment_id", "unit_id"],
                set_={
                    "profile_id": func.coalesce(exposure.c.profile_id, insert.excluded.profile_id),
                    "user_id": func.coalesce(exposure.c.user_id, insert.excluded.user_id),
                },
            ),
            list(rows),
        )

    def find_exposures(
        self,
        conn: Connection,
        workspace_id: str,
        experiment_ids: Sequence[str],
        profile_id: str | None,
        anonymous_ids: Sequence[str],
        user_id: str | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Experiment id -> the earliest exposure of this person (by profile, user or
        anonymous id)."""
        people: list[ColumnElement[bool]] = []
        if profile_id is not None:
            people += [exposure.c.profile_id == profile_id, exposure.c.unit_id == profile_id]
        if anonymous_ids:
            people.append(exposure.c.anonymous_id.in_(sorted(set(anonymous_ids))))
        if user_id is not None:
            people.append(exposure.c.user_id == user_id)
        if not people or not experiment_ids:
            return {}
        rows = conn.execute(
            select(exposure)
            .where(
                exposure.c.workspace_id == workspace_id,
                exposure.c.experiment_id.in_(experiment_ids),
                or_(*people),
            )
            .order_by(exposure.c.at.desc())
        )
        return {r.experiment_id: dict(r._mapping) for r in rows}  # the earliest wins

    def exposure_counts(
        self, conn: Connection, workspace_id: str, experiment_id: str, until: EpochMs
    ) -> dict[str, int]:
        rows = conn.execute(
            select(exposure.c.variant, func.count())
            .where(*self._exposed(workspace_id, experiment_id, until))
            .group_by(exposure.c.variant)
        )
        return {r[0]: int(r[1]) for r in rows}

    def erase(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: Sequence[str],
        anonymous_ids: Sequence[str],
        user_ids: Sequence[str] = (),
    ) -> int:
        people = [exposure.c.profile_id.in_(profile_ids), exposure.c.unit_id.in_(profile_ids)]
        if anonymous_ids:
            people.append(exposure.c.anonymous_id.in_(anonymous_ids))
        if user_ids:
            people.append(exposure.c.user_id.in_(user_ids))
        return int(
            conn.execute(
                delete(exposure).where(exposure.c.workspace_id == workspace_id, or_(*people))
            ).rowcount
        )

    # -- metrics ------------------------------------------------------------------------------

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
        units = self._units(workspace_id, experiment_id, measures, until).subquery()
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
        rows = conn.execute(select(*columns).group_by(units.c.variant))
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
        units = self._units(workspace_id, experiment_id, [measure], until).subquery()
        return [float(r[0] or 0) for r in conn.execute(select(units.c.v0))]

    def _exposed(
        self, workspace_id: str, experiment_id: str, until: EpochMs
    ) -> list[ColumnElement[bool]]:
        return [
            exposure.c.workspace_id == workspace_id,
            exposure.c.experiment_id == experiment_id,
            exposure.c.at < until,
        ]

    def _units(
        self, workspace_id: str, experiment_id: str, measures: Sequence[Measure], until: EpochMs
    ) -> Select[Any]:
        columns = [self._measure(m, until).label(f"v{i}") for i, m in enumerate(measures)]
        return select(exposure.c.unit_id, exposure.c.variant, *columns).where(
            *self._exposed(workspace_id, experiment_id, until)
        )

    def _measure(self, measure: Measure, until: EpochMs) -> ColumnElement[Any]:
        """A correlated subquery: the unit's value, read through the event log's
        (workspace, profile, timestamp) index; units never identified go by anonymous id."""
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
        value = case(
            (exposure.c.profile_id.is_not(None), by_profile.scalar_subquery()),
            else_=by_anonymous.scalar_subquery(),
        )
        if measure.kind == "conversion":
            return case((value > 0, 1), else_=0)
        return value

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


__all__ = ["Measure", "SqlExperimentStore", "Sums"]
