"""Per-variant posteriors, sampled: beta-binomial for proportions, normal for means.

A proportion with a ``Beta(1, 1)`` prior has the exact posterior
``Beta(1 + conversions, 1 + failures)``; a mean has, with a flat prior and many units,
``Normal(mean, variance / n)``. Drawing from the posteriors gives the chance each variant
is best (Thompson sampling's allocation), and the lift's posterior without any normal
approximation. The draws come from the ``rng`` the caller passes, so results are
reproducible.

>>> rng = np.random.default_rng(7)
>>> result = compare_posteriors(ProportionStats(1000, 100), ProportionStats(1000, 130), rng)
>>> round(result.chance_to_win, 2)
0.98
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

from unico.experiments.stats.frequentist import check_alpha
from unico.experiments.stats.lift import Difference
from unico.experiments.stats.results import BayesianResult
from unico.experiments.stats.summary import ProportionStats, Statistic

FloatArray: TypeAlias = npt.NDArray[np.float64]


@dataclass(frozen=True)
class BetaPosterior:
    """The conversion rate's posterior ``Beta(alpha, beta)``."""

    alpha: float
    beta: float

    @classmethod
    def of(cls, stats: ProportionStats, prior: tuple[float, float] = (1.0, 1.0)) -> BetaPosterior:
        return cls(prior[0] + stats.sum, prior[1] + stats.n - stats.sum)

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.beta(self.alpha, self.beta, size)


@dataclass(frozen=True)
class NormalPosterior:
    """A mean's posterior ``Normal(mean, variance)`` (the variance is of the mean)."""

    mean: float
    variance: float

    def sample(self, rng: np.random.Generator, size: int) -> FloatArray:
        return rng.normal(self.mean, np.sqrt(self.variance), size)


Posterior: TypeAlias = BetaPosterior | NormalPosterior


def posterior_of(stats: Statistic) -> Posterior:
    """Beta for proportions, normal otherwise (which needs two units to know a variance).

    >>> posterior_of(ProportionStats(10, 3))
    BetaPosterior(alpha=4.0, beta=8.0)
    """
    if isinstance(stats, ProportionStats):
        return BetaPosterior.of(stats)
    if stats.n < 2:
        raise ValueError("a mean's posterior needs at least 2 units")
    return NormalPosterior(stats.mean, stats.variance / stats.n)


def compare_posteriors(
    control: Statistic,
    variant: Statistic,
    rng: np.random.Generator,
    *,
    difference: Difference = "relative",
    alpha: float = 0.05,
    draws: int = 100_000,
) -> BayesianResult:
    """The lift's posterior by Monte Carlo: expected lift, credible interval, chance, risks."""
    check_alpha(alpha)
    a = posterior_of(control).sample(rng, draws)
    b = posterior_of(variant).sample(rng, draws)
    if difference == "relative":
        if (a <= 0).any():
            return BayesianResult.unavailable("a relative lift needs a positive control mean")
        lift = (b - a) / a
    else:
        lift = b - a
    low, high = np.quantile(lift, [alpha / 2, 1 - alpha / 2])
    return BayesianResult(
        expected=float(lift.mean()),
        ci=(float(low), float(high)),
        chance_to_win=float((lift > 0).mean()),
        risk=(float(np.maximum(lift, 0).mean()), float(np.maximum(-lift, 0).mean())),
        stddev=float(lift.std()),
    )
