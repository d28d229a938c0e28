"""Scores over several random splits: each recommender's mean, spread and range, and
whether the hybrid reaches the best single recommender on each split and on the means.

One 75/25 split gives one number per recommender, and another seed moves it by about as
much as the gaps between the best ones, so ``unico eval recs`` scores seeds ``0..n-1``
(each seed splits the ratings and seeds the models) and reports every metric as mean,
sample standard deviation (``ddof=1``; 0 for a single seed), minimum and maximum.

>>> spread = Spread.of([0.1, 0.2, 0.3])
>>> round(spread.mean, 6), round(spread.std, 6), spread.min, spread.max
(0.2, 0.1, 0.1, 0.3)
>>> check = hybrid_check({"als": 0.43, "ease": 0.48, "hybrid": 0.49}, seed=0)
>>> check.best, check.holds, round(check.margin, 3)
('ease', True, 0.01)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from unico.recommend.evaluate import (
    ModelSettings,
    Result,
    Step,
    evaluate_split,
    steps_of_evaluate_split,
)
from unico.recommend.movielens import Ratings
from unico.recommend.tuning import Grid, steps_of_tune, tune

#: The fields of `Result` that get a spread (all but the name).
METRICS = ("ndcg", "precision", "recall", "map", "coverage", "fit_seconds", "recommend_ms")


@dataclass(frozen=True)
class Spread:
    """Mean, sample standard deviation, minimum and maximum of one metric over seeds."""

    mean: float
    std: float
    min: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> Spread:
        array = np.asarray(values, dtype=np.float64)
        if not len(array):
            raise ValueError("a spread needs at least one value")
        std = float(array.std(ddof=1)) if len(array) > 1 else 0.0
        return cls(float(array.mean()), std, float(array.min()), float(array.max()))


@dataclass(frozen=True)
class HybridCheck:
    """DESIGN.md's check, hybrid >= best single recommender at NDCG@k, on one split
    (``seed``) or on the means over every split (``seed`` None)."""

    seed: int | None
    hybrid: float
    best: str
    best_ndcg: float

    @property
    def margin(self) -> float:
        return self.hybrid - self.best_ndcg

    @property
    def holds(self) -> bool:
        return self.hybrid >= self.best_ndcg


def hybrid_check(ndcg: Mapping[str, float], seed: int | None) -> HybridCheck:
    """The check from recommender -> NDCG (the hybrid's name is "hybrid")."""
    singles = {name: value for name, value in ndcg.items() if name != "hybrid"}
    if "hybrid" not in ndcg or not singles:
        raise ValueError("the check needs the hybrid and at least one other recommender")
    best = max(singles, key=lambda name: singles[name])
    return HybridCheck(seed, ndcg["hybrid"], best, singles[best])


@dataclass(frozen=True)
class SeedRun:
    """One split's results, and the ALS and EASE settings they were scored with."""

    seed: int
    settings: ModelSettings
    results: list[Result]


@dataclass(frozen=True)
class SeedsReport:
    """Every split's results and what they add up to."""

    k: int
    runs: list[SeedRun]
    #: Whether each split's settings were searched on its own training rows (``--tune``).
    tuned_per_seed: bool = False

    @property
    def seeds(self) -> list[int]:
        return [run.seed for run in self.runs]

    def names(self) -> list[str]:
        """Recommenders in the order of the first split."""
        return [r.name for r in self.runs[0].results] if self.runs else []

    def spreads(self) -> dict[str, dict[str, Spread]]:
        """Recommender -> metric -> spread over the splits."""
        by_name: dict[str, list[Result]] = {name: [] for name in self.names()}
        for run in self.runs:
            for result in run.results:
                by_name[result.name].append(result)
        return {
            name: {m: Spread.of([getattr(r, m) for r in results]) for m in METRICS}
            for name, results in by_name.items()
        }

    def checks(self) -> list[HybridCheck]:
        """The hybrid check on each split."""
        return [hybrid_check({r.name: r.ndcg for r in run.results}, run.seed) for run in self.runs]

    def check_on_means(self) -> HybridCheck:
        """The hybrid check on the mean NDCG of each recommender."""
        means = {name: s["ndcg"].mean for name, s in self.spreads().items()}
        return hybrid_check(means, None)

    def to_json(self) -> dict[str, Any]:
        return {
            "k": self.k,
            "seeds": self.seeds,
            "tuned_per_seed": self.tuned_per_seed,
            "recommenders": {
                name: {m: asdict(s) for m, s in spreads.items()}
                for name, spreads in self.spreads().items()
            },
            "hybrid_check": {
                "per_seed": [_check_json(c) for c in self.checks()],
                "on_means": _check_json(self.check_on_means()),
            },
            "runs": [
                {
                    "seed": run.seed,
                    "settings": run.settings.model_dump(),
                    "results": [asdict(r) for r in run.results],
                }
                for run in self.runs
            ],
        }


def _check_json(check: HybridCheck) -> dict[str, Any]:
    return {**asdict(check), "margin": check.margin, "holds": check.holds}


def evaluate_seeds(
    ratings: Ratings,
    seeds: Sequence[int],
    k: int = 10,
    settings: ModelSettings | None = None,
    tune_each: bool = False,
    on_step: Step | None = None,
    grid: Grid | None = None,
) -> SeedsReport:
    """`evaluate_split` on every seed, with ``settings`` (default: `ModelSettings()`), or
    with ``tune_each`` the settings `tune` finds in ``grid`` on each split's own training
    rows."""
    step = on_step or (lambda _label: None)
    runs = []
    for seed in seeds:

        def labelled(label: str, seed: int = seed) -> None:
            step(f"seed {seed}: {label}")

        chosen = settings or ModelSettings()
        if tune_each:
            chosen = tune(ratings, seed, k, grid, on_step=labelled).chosen
        results = evaluate_split(ratings, seed, k, chosen, on_step=labelled)
        runs.append(SeedRun(seed, chosen, results))
    return SeedsReport(k=k, runs=runs, tuned_per_seed=tune_each)


def steps_of_evaluate_seeds(seeds: int, tune_each: bool = False, grid: Grid | None = None) -> int:
    """How many times `evaluate_seeds` calls ``on_step`` (for progress bars)."""
    return seeds * (steps_of_evaluate_split() + (steps_of_tune(grid) if tune_each else 0))
