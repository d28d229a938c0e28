"""The experiments context's tables in SQL (SQLite and PostgreSQL alike); the metric
queries that join exposures with the events that followed them are in
`experiments_metrics`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    delete,
    func,
    or_,
    select,
    update,
)

from unico.core.types import EpochMs
from unico.db.engine import Store
from unico.db.experiments_schema import (
    experiment,
    experiment_allocation,
    experiment_revision,
    exposure,
)
from unico.store.experiments_metrics import ExperimentMetrics, exposed


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
        #: Metric reads over exposures and events (``metrics.sums``, ``metrics.unit_values``).
        self.metrics = ExperimentMetrics(store)

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

    def workspace_of(self, conn: Connection, experiment_id: str) -> str | None:
        """The workspace of an experiment id (ids are unique across workspaces)."""
        found = conn.execute(
            select(experiment.c.workspace_id)
            .where(experiment.c.experiment_id == experiment_id)
            .limit(1)
        ).scalar()
        return None if found is None else str(found)

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
        profile_ids: Sequence[str],
        anonymous_ids: Sequence[str],
        user_id: str | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Experiment id -> the earliest exposure of this person (by any of their profiles,
        their user id or any of their anonymous ids)."""
        people: list[ColumnElement[bool]] = []
        if profile_ids:
            ids = sorted(set(profile_ids))
            people += [exposure.c.profile_id.in_(ids), exposure.c.unit_id.in_(ids)]
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
            .where(*exposed(workspace_id, experiment_id, until))
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
        people = _exposed_person(profile_ids, anonymous_ids, user_ids)
        return int(
            conn.execute(
                delete(exposure).where(exposure.c.workspace_id == workspace_id, people)
            ).rowcount
        )

    def export_person(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: Sequence[str],
        anonymous_ids: Sequence[str],
        user_ids: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """The exposures `erase` deletes, oldest first (times in epoch ms)."""
        people = _exposed_person(profile_ids, anonymous_ids, user_ids)
        rows = conn.execute(
            select(exposure)
            .where(exposure.c.workspace_id == workspace_id, people)
            .order_by(exposure.c.at, exposure.c.experiment_id)
        )
        return [{k: v for k, v in r._mapping.items() if k != "workspace_id"} for r in rows]


def _exposed_person(
    profile_ids: Sequence[str], anonymous_ids: Sequence[str], user_ids: Sequence[str]
) -> ColumnElement[bool]:
    """The exposures naming a person: by profile (as unit or as known profile), by the
    anonymous and user ids they were exposed with."""
    people = [exposure.c.profile_id.in_(profile_ids), exposure.c.unit_id.in_(profile_ids)]
    if anonymous_ids:
        people.append(exposure.c.anonymous_id.in_(anonymous_ids))
    if user_ids:
        people.append(exposure.c.user_id.in_(user_ids))
    return or_(*people)


__all__ = ["SqlExperimentStore"]
