"""Bandit allocation: Thompson sampling moves a bandit experiment's traffic to the variants
that convert best.

Every ``bandit.every_minutes`` the variants' conversions (on the bandit's metric, from
exposures and events as for results) give Beta posteriors; each variant's new weight is
the chance it is the best (``ThompsonSampling``, with a ``floor`` so every variant keeps
learning). The weights are stored (every process reads them with its running
experiments) and each exposure logs the propensity its unit had, so the experiment can
later be evaluated without bias (inverse propensity weighting). Units already exposed
keep their variant.
"""

from __future__ import annotations

import logging
import zlib
from typing import Any

import numpy as np

from unico.core.clock import Clock
from unico.core.worker import Worker
from unico.db.engine import Store
from unico.experiments.exposures import ExposureLog
from unico.experiments.metrics import statistic, variant_stats
from unico.experiments.model import ExperimentSpec
from unico.experiments.stats import ThompsonSampling
from unico.experiments.store import ExperimentStore, Sums

log = logging.getLogger("unico.experiments")


class BanditAllocator:
    """Recomputes the weights of running bandit experiments that are due (``refresh``);
    ``start`` runs it every ``poll_seconds`` in a thread."""

    def __init__(
        self,
        store: Store,
        experiments: ExperimentStore,
        clock: Clock,
        exposures: ExposureLog,
        *,
        seed: int = 0,
        draws: int = 10_000,
        poll_seconds: float = 60.0,
    ) -> None:
        self.store = store
        self.experiments = experiments
        self.clock = clock
        self.exposures = exposures
        self.seed = seed
        self.draws = draws
        self.poll_seconds = poll_seconds
        # The store is busy or down: the next round tries again.
        self._worker = Worker(
            "unico-bandits",
            self._step,
            interval=poll_seconds,
            logger=log,
            failure="recomputing bandit allocations failed",
        )

    def refresh(self, *, force: bool = False) -> dict[str, list[float]]:
        """New weights of each bandit experiment that was due (all of them with ``force``)."""
        self.exposures.flush()
        now = self.clock.now_ms()
        out = {}
        with self.store.read() as conn:
            rows = [
                r
                for r in self.experiments.running_everywhere(conn)
                if r["spec"].get("allocation") == "bandit"
            ]
            due = []
            for row in rows:
                spec = ExperimentSpec.model_validate(row["spec"])
                _, at = self.experiments.allocations(conn, row["workspace_id"]).get(
                    row["experiment_id"], (None, None)
                )
                every = int(spec.bandit.every_minutes * 60_000)
                if force or at is None or now - at >= every:
                    due.append((row, spec, self._weights(conn, row, spec, now)))
        with self.store.write() as conn:
            for row, _, weights in due:
                self.experiments.save_allocation(
                    conn, row["workspace_id"], row["experiment_id"], weights, now
                )
                out[row["experiment_id"]] = weights
        return out

    def _weights(
        self, conn: Any, row: dict[str, Any], spec: ExperimentSpec, now: int
    ) -> list[float]:
        metric = spec.bandit_metric()
        found = variant_stats(
            conn, self.experiments, row["workspace_id"], row["experiment_id"], metric, now + 1
        )
        empty = Sums(0, 0.0, 0.0, 0)
        stats = [
            found[c.name][0] if c.name in found else statistic(metric, empty) for c in spec.cells()
        ]
        policy = ThompsonSampling(draws=self.draws, floor=spec.bandit.floor, inverse=metric.inverse)
        rng = np.random.default_rng([self.seed, zlib.crc32(row["experiment_id"].encode()), now])
        return [float(w) for w in policy.weights(stats, rng)]

    def start(self) -> None:
        self._worker.start()

    def stop(self) -> None:
        self._worker.stop()

    def _step(self) -> None:
        self.refresh()
