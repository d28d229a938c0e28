"""What the experiments context needs from storage, and the values it exchanges with it.
`unico.store.experiments.SqlExperimentStore` implements `ExperimentStore` (its ``metrics``,
`unico.store.experiments_metrics.ExperimentMetrics`, implements `ExperimentMetricReads`);
experiments code types against these, and only the composition root names the adapters.

Experiment rows are dicts of the ``experiment`` table's columns (``workspace_id``,
``experiment_id``, ``status``, ``spec``, ...), exposures of the ``exposure`` table's."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Connection

from unico.core.types import EpochMs


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


class ExperimentMetricReads(Protocol):
    """Per-unit values of measures over the exposures and the events that followed them."""

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
        ...

    def unit_values(
        self,
        conn: Connection,
        workspace_id: str,
        experiment_id: str,
        measure: Measure,
        until: EpochMs,
    ) -> list[float]:
        """Every exposed unit's value of one measure."""
        ...


class ExperimentStore(Protocol):
    """Experiments and their revision (bumped by every change), bandit allocations and
    exposures."""

    @property
    def metrics(self) -> ExperimentMetricReads: ...

    def revision(self, conn: Connection, workspace_id: str) -> int: ...

    def bump(self, conn: Connection, workspace_id: str) -> None: ...

    def insert(self, conn: Connection, row: dict[str, Any]) -> None: ...

    def update(
        self, conn: Connection, workspace_id: str, experiment_id: str, **values: Any
    ) -> None: ...

    def workspace_of(self, conn: Connection, experiment_id: str) -> str | None:
        """The workspace of an experiment id (ids are unique across workspaces)."""
        ...

    def get(
        self, conn: Connection, workspace_id: str, experiment_id: str
    ) -> dict[str, Any] | None: ...

    def experiments_of(
        self, conn: Connection, workspace_id: str, status: str | None = None
    ) -> list[dict[str, Any]]:
        """In experiment id order."""
        ...

    def running_everywhere(self, conn: Connection) -> list[dict[str, Any]]: ...

    def allocations(
        self, conn: Connection, workspace_id: str
    ) -> dict[str, tuple[list[float], EpochMs]]:
        """Experiment id -> (bandit weights, when they were computed)."""
        ...

    def save_allocation(
        self,
        conn: Connection,
        workspace_id: str,
        experiment_id: str,
        weights: list[float],
        now: EpochMs,
    ) -> None: ...

    def record_exposures(self, conn: Connection, rows: Sequence[dict[str, Any]]) -> None:
        """Insert first exposures; a unit already exposed keeps its row (and gains the
        profile and user ids it now has, if it had none)."""
        ...

    def find_exposures(
        self,
        conn: Connection,
        workspace_id: str,
        experiment_ids: Sequence[str],
        profile_ids: Sequence[str],
        anonymous_ids: Sequence[str],
        user_id: str | None = None,
    ) -> dict[str, dict[str, Any]]:
        """Experiment id -> the earliest exposure of this person."""
        ...

    def exposure_counts(
        self, conn: Connection, workspace_id: str, experiment_id: str, until: EpochMs
    ) -> dict[str, int]: ...

    def erase(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: Sequence[str],
        anonymous_ids: Sequence[str],
        user_ids: Sequence[str] = (),
    ) -> int: ...

    def export_person(
        self,
        conn: Connection,
        workspace_id: str,
        profile_ids: Sequence[str],
        anonymous_ids: Sequence[str],
        user_ids: Sequence[str] = (),
    ) -> list[dict[str, Any]]:
        """The exposures `erase` deletes, oldest first."""
        ...
