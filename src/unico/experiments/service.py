"""The experiments service: define, start, stop; what decisions and results read.

An experiment is a ``draft`` until started; once ``running`` its variants, weights,
metrics and design are fixed (changing them is a 409: stop it and create another), and
only its name, description and traffic may change. Raising the traffic only adds
people (see ``assignment``). A ``stopped`` experiment stays stopped.

>>> # service.create("ws_…", {"name": "hero", "target": {"placement": "home"},
>>> #     "variants": [{"name": "A"}, {"name": "B", "placement": {"strategy": "trending"}}],
>>> #     "metrics": [{"name": "orders", "event": "Order Completed"}]})
>>> # service.start("ws_…", "exp_…")
"""

from __future__ import annotations

import builtins
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import Connection

from unico.core.clock import Clock
from unico.core.errors import Conflict, InvalidInput, NotFound, Unprocessable
from unico.core.ids import new_id
from unico.db.engine import Store
from unico.experiments.allocation import BanditAllocator
from unico.experiments.assignment import (
    LAYER_BUCKETS,
    RunningExperiment,
    buckets_for,
    free_range,
)
from unico.experiments.chart import daily_lift, lift_svg
from unico.experiments.compiled import compile_running, view
from unico.experiments.model import ExperimentSpec, parse_spec
from unico.experiments.results import experiment_results
from unico.experiments.runtime import ExperimentRuntime
from unico.experiments.store import ExperimentStore

DRAFT, RUNNING, STOPPED = "draft", "running", "stopped"
#: What may change while an experiment runs.
RUNNING_FIELDS = frozenset({"name", "description", "traffic"})


class ExperimentService:
    """Experiments of each workspace. The ``known_*`` callables answer, per workspace,
    which placements, segments and event names exist and which of some items the
    catalog has: an experiment naming anything else is refused (422)."""

    def __init__(
        self,
        store: Store,
        experiments: ExperimentStore,
        clock: Clock,
        *,
        known_placements: Callable[[str], set[str]],
        known_items: Callable[[str, Iterable[str]], set[str]],
        known_segments: Callable[[str], set[str]],
        known_events: Callable[[str], set[str]],
        memberships: Callable[[str, str], set[str]],
        identities: Callable[[Connection, str, list[str], str], list[str]],
        merged_from: Callable[[Connection, str, str], list[str]] | None = None,
        cache_seconds: float = 2.0,
        seed: int = 0,
    ) -> None:
        self.store = store
        self.experiments = experiments
        self.clock = clock
        self.known_placements = known_placements
        self.known_items = known_items
        self.known_segments = known_segments
        self.known_events = known_events
        #: (conn, workspace id, profile ids, kind) -> those people's ids of that kind.
        self.identities = identities
        self.runtime = ExperimentRuntime(
            store,
            experiments,
            clock,
            self.load_running,
            memberships,
            lambda conn, ws, pids: identities(conn, ws, pids, "anonymous_id"),
            merged_from=merged_from,
            cache_seconds=cache_seconds,
        )
        self.bandits = BanditAllocator(store, experiments, clock, self.runtime.exposures, seed=seed)

    # -- definitions ----------------------------------------------------------------------------

    def create(self, workspace_id: str, raw: Any, *, force: bool = False) -> dict[str, Any]:
        """Save a draft; ``force`` accepts metrics on events never seen yet."""
        spec = self._checked(workspace_id, raw, force)
        now = self.clock.now_ms()
        row: dict[str, Any] = {
            "workspace_id": workspace_id,
            "experiment_id": new_id("exp_", now),
            "name": spec.name,
            "status": DRAFT,
            "layer": spec.layer,
            "spec": _stored(spec),
            "created_at": now,
            "updated_at": now,
        }
        with self.store.write() as conn:
            self.experiments.insert(conn, row)
        return self.get(workspace_id, row["experiment_id"])

    def list(self, workspace_id: str) -> builtins.list[dict[str, Any]]:
        with self.store.read() as conn:
            rows = self.experiments.experiments_of(conn, workspace_id)
        return [view(r) for r in rows]

    def workspace_of(self, experiment_id: str) -> str:
        """The workspace an experiment belongs to (for commands that name only the id)."""
        with self.store.read() as conn:
            found = self.experiments.workspace_of(conn, experiment_id)
        if found is None:
            raise NotFound(f"no experiment {experiment_id!r}", field="experiment_id")
        return found

    def get(self, workspace_id: str, experiment_id: str) -> dict[str, Any]:
        with self.store.read() as conn:
            return view(self._row(conn, workspace_id, experiment_id))

    def update(
        self, workspace_id: str, experiment_id: str, patch: Any, *, force: bool = False
    ) -> dict[str, Any]:
        """Change a draft (any field) or a running experiment (name, description, traffic)."""
        if not isinstance(patch, dict):
            raise InvalidInput("a patch is a JSON object", field="body")
        with self.store.write() as conn:
            row = self._row(conn, workspace_id, experiment_id)
            if row["status"] == STOPPED:
                raise Conflict("a stopped experiment cannot change", field="status")
            if row["status"] == RUNNING:
                fixed = sorted(set(patch) - RUNNING_FIELDS)
                if fixed:
                    raise Conflict(
                        f"{fixed[0]} cannot change while the experiment runs (its assignments"
                        " would); stop it and create a new one",
                        field=fixed[0],
                        code="experiment_running",
                    )
            spec = self._checked(workspace_id, {**row["spec"], **patch}, force)
            values: dict[str, Any] = {
                "name": spec.name,
                "spec": _stored(spec),
                "layer": spec.layer,
                "updated_at": self.clock.now_ms(),
            }
            if row["status"] == RUNNING and row["layer"] is not None:
                values.update(self._resized(conn, workspace_id, row, spec.traffic_share))
            self.experiments.update(conn, workspace_id, experiment_id, **values)
        self._changed(workspace_id)
        return self.get(workspace_id, experiment_id)

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self, workspace_id: str, experiment_id: str) -> dict[str, Any]:
        """Start a draft. Refused (409) when another running experiment tests the same
        placement or key outside this one's layer, or the layer has no room left."""
        with self.store.write() as conn:
            row = self._row(conn, workspace_id, experiment_id)
            if row["status"] != DRAFT:
                raise Conflict(f"the experiment is {row['status']}; only a draft starts")
            spec = ExperimentSpec.model_validate(row["spec"])
            if spec.target.placement and spec.target.placement not in self.known_placements(
                workspace_id
            ):
                raise Unprocessable(
                    f"no placement {spec.target.placement!r}", field="target.placement"
                )
            running = self.experiments.experiments_of(conn, workspace_id, RUNNING)
            self._check_overlap(spec, running)
            values: dict[str, Any] = {"status": RUNNING, "started_at": self.clock.now_ms()}
            if spec.layer is not None:
                taken = [_range(r) for r in running if r["layer"] == spec.layer]
                found = free_range(taken, buckets_for(spec.traffic_share))
                if found is None:
                    free = LAYER_BUCKETS - sum(high - low + 1 for low, high in taken)
                    raise Conflict(
                        f"layer {spec.layer!r} has {free / LAYER_BUCKETS:.1%} of its traffic"
                        f" free; this experiment needs {spec.traffic_share:.1%}",
                        field="traffic",
                        code="layer_full",
                    )
                values.update(bucket_start=found[0], bucket_end=found[1])
            self.experiments.update(conn, workspace_id, experiment_id, **values)
        self._changed(workspace_id)
        return self.get(workspace_id, experiment_id)

    def stop(self, workspace_id: str, experiment_id: str) -> dict[str, Any]:
        """Stop a running experiment: everyone gets the placement's own experience again."""
        with self.store.write() as conn:
            row = self._row(conn, workspace_id, experiment_id)
            if row["status"] != RUNNING:
                raise Conflict(f"the experiment is {row['status']}; only a running one stops")
            self.experiments.update(
                conn, workspace_id, experiment_id, status=STOPPED, stopped_at=self.clock.now_ms()
            )
        self._changed(workspace_id)
        return self.get(workspace_id, experiment_id)

    # -- results --------------------------------------------------------------------------------

    def results(self, workspace_id: str, experiment_id: str) -> dict[str, Any]:
        """Per variant and metric: users, conversions, mean, lift, p-value or chance to win,
        verdicts; see ``experiments.results``."""
        self.runtime.exposures.flush()
        with self.store.read() as conn:
            row = self._row(conn, workspace_id, experiment_id)
            return experiment_results(conn, self.experiments, row, self._until(row))

    def chart(self, workspace_id: str, experiment_id: str) -> dict[str, Any]:
        """What the chart page shows: the results' head, the daily lifts and their SVG."""
        found = self.results(workspace_id, experiment_id)
        with self.store.read() as conn:
            row = self._row(conn, workspace_id, experiment_id)
            points = daily_lift(conn, self.experiments, row, self._until(row))
        spec = ExperimentSpec.model_validate(row["spec"])
        return {
            "name": row["name"],
            "status": row["status"],
            "method": spec.method,
            "metric": spec.primary().name,
            "control": found["control"],
            "verdicts": found["verdicts"],
            "variants": [c.name for c in spec.cells()][1:],
            "points": points,
            "svg": lift_svg(points),
        }

    def refresh_bandits(self, *, force: bool = False) -> dict[str, builtins.list[float]]:
        """Recompute the weights of the bandit experiments that are due."""
        out = self.bandits.refresh(force=force)
        self.runtime.forget()
        return out

    def _changed(self, workspace_id: str) -> None:
        """After a change: queued exposures are written first, so that the reloaded cache
        finds every unit's variant in the store."""
        self.runtime.exposures.flush()
        self.runtime.forget(workspace_id)

    def _until(self, row: dict[str, Any]) -> int:
        stopped = row["stopped_at"]
        return int(stopped) + 1 if stopped is not None else self.clock.now_ms() + 1

    def start_background(self, *, bandits: bool = True) -> None:
        """Start the exposure log's writer and (``bandits``) the bandit allocation."""
        self.runtime.exposures.start()
        if bandits:
            self.bandits.start()

    def stop_background(self) -> None:
        self.bandits.stop()
        self.runtime.exposures.stop()

    def erase(
        self, conn: Connection, workspace_id: str, profile_ids: builtins.list[str]
    ) -> dict[str, int]:
        """The person's exposures (and queued ones), for `ExperimentData`."""
        anonymous = self.identities(conn, workspace_id, profile_ids, "anonymous_id")
        users = self.identities(conn, workspace_id, profile_ids, "user_id")
        people = [("profile_id", p) for p in profile_ids]
        people += [("anonymous_id", a) for a in anonymous] + [("user_id", u) for u in users]
        self.runtime.exposures.forget(workspace_id, people)
        gone = self.experiments.erase(conn, workspace_id, profile_ids, anonymous, users)
        self.runtime.forget_people(workspace_id)
        return {"exposure": gone}

    # -- what the runtime reads -------------------------------------------------------------

    def load_running(self, conn: Connection, workspace_id: str) -> builtins.list[RunningExperiment]:
        allocations = self.experiments.allocations(conn, workspace_id)
        return [
            compile_running(r, allocations.get(r["experiment_id"], (None, 0))[0])
            for r in self.experiments.experiments_of(conn, workspace_id, RUNNING)
        ]

    # -- checks ---------------------------------------------------------------------------------

    def _row(self, conn: Connection, workspace_id: str, experiment_id: str) -> dict[str, Any]:
        found = self.experiments.get(conn, workspace_id, experiment_id)
        if found is None:
            raise NotFound(f"no experiment {experiment_id!r}", field="experiment_id")
        return found

    def _checked(self, workspace_id: str, raw: Any, force: bool) -> ExperimentSpec:
        spec = parse_spec(raw)
        if spec.target.placement and spec.target.placement not in self.known_placements(
            workspace_id
        ):
            raise Unprocessable(f"no placement {spec.target.placement!r}", field="target.placement")
        if spec.segment is not None and spec.segment not in self.known_segments(workspace_id):
            raise Unprocessable(f"no segment {spec.segment!r}", field="segment")
        self._check_items(workspace_id, spec)
        if not force:
            seen = self.known_events(workspace_id)
            for i, metric in enumerate(spec.metrics):
                for name in metric.events():
                    if name not in seen:
                        raise Unprocessable(
                            f"metric {metric.name!r}: no event {name!r} was ever received in"
                            " this workspace (a typo?); pass force to define it anyway",
                            field=f"metrics[{i}]",
                            code="unknown_event",
                        )
        return spec

    def _check_items(self, workspace_id: str, spec: ExperimentSpec) -> None:
        named = [
            (f"variants[{i}].placement.items", item)
            for i, v in enumerate(spec.cells())
            if v.placement is not None
            for item in v.placement.items
        ]
        if not named:
            return
        known = self.known_items(workspace_id, {item for _, item in named})
        for where, item in named:
            if item not in known:
                raise Unprocessable(f"item {item!r} is not in the catalog", field=where)

    def _check_overlap(self, spec: ExperimentSpec, running: builtins.list[dict[str, Any]]) -> None:
        for other in running:
            target = ExperimentSpec.model_validate(other["spec"]).target
            if target != spec.target:
                continue
            if spec.layer is None or other["layer"] != spec.layer:
                what = spec.target.placement or spec.target.key
                raise Conflict(
                    f"experiment {other['experiment_id']} already tests {what!r}; put both in"
                    " one layer to split its traffic between them",
                    field="layer",
                    code="overlapping_experiments",
                )

    def _resized(
        self, conn: Connection, workspace_id: str, row: dict[str, Any], traffic: float
    ) -> dict[str, Any]:
        """A running layered experiment's range grown or shrunk at its end."""
        start = row["bucket_start"]
        end = start + buckets_for(traffic) - 1
        others = [
            _range(r)
            for r in self.experiments.experiments_of(conn, workspace_id, RUNNING)
            if r["layer"] == row["layer"] and r["experiment_id"] != row["experiment_id"]
        ]
        if end >= LAYER_BUCKETS or any(low <= end and high >= start for low, high in others):
            raise Conflict(
                f"layer {row['layer']!r} has no room to raise this experiment's traffic",
                field="traffic",
                code="layer_full",
            )
        return {"bucket_end": end}


def _range(row: dict[str, Any]) -> tuple[int, int]:
    return int(row["bucket_start"]), int(row["bucket_end"])


def _stored(spec: ExperimentSpec) -> dict[str, Any]:
    return spec.model_dump(mode="json", exclude_none=True)
