"""Power and sample size: how many people each variant needs before a verdict.

For a minimum detectable effect (``mde``, relative or absolute), the two-sided test at
``alpha`` detects it with probability ``power`` once each variant has ``sample_size``
units. The variance of the lift is the one the tests use (delta method for relative
lifts), with the variant's variance taken at the effect for proportions and equal to
the control's for means.

>>> sample_size(Baseline.of_rate(0.10), mde=0.02, difference="absolute")
3839
>>> baseline = Baseline(mean=50.0, variance=400.0)
>>> n = sample_size(baseline, mde=0.05, difference="relative")
>>> n, round(power(n, baseline, mde=0.05, difference="relative"), 3)
(1057, 0.8)
>>> units_to_go(baseline, enrolled=800, mde=0.05, difference="relative")
257
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from scipy import special

from unico.experiments.stats.frequentist import check_alpha
from unico.experiments.stats.lift import Difference
from unico.experiments.stats.summary import ProportionStats, Statistic


@dataclass(frozen=True)
class Baseline:
    """What the control looks like: its mean and per-unit variance."""

    mean: float
    variance: float
    proportion: bool = False

    @classmethod
    def of_rate(cls, rate: float) -> Baseline:
        if not 0 < rate < 1:
            raise ValueError("a conversion rate must be between 0 and 1")
        return cls(mean=rate, variance=rate * (1 - rate), proportion=True)

    @classmethod
    def of_stats(cls, stats: Statistic) -> Baseline:
        """The baseline observed so far in a running experiment's control."""
        if isinstance(stats, ProportionStats):
            return cls.of_rate(stats.mean)
        return cls(mean=stats.mean, variance=stats.variance)

    def treated(self, mde: float, difference: Difference) -> tuple[float, float]:
        """The variant's mean and variance if the effect is exactly ``mde``."""
        mean = self.mean * (1 + mde) if difference == "relative" else self.mean + mde
        if not self.proportion:
            return mean, self.variance
        if not 0 < mean < 1:
            raise ValueError("the effect takes the conversion rate outside (0, 1)")
        return mean, mean * (1 - mean)


def power(
    n: int,
    baseline: Baseline,
    *,
    mde: float,
    difference: Difference = "relative",
    alpha: float = 0.05,
) -> float:
    """Chance the two-sided test rejects with ``n`` units per variant when the effect is ``mde``."""
    check_alpha(alpha)
    if n < 2:
        raise ValueError("each variant needs at least 2 units")
    shift = abs(mde) / math.sqrt(_variance_per_unit(baseline, mde, difference) / n)
    critical = float(special.ndtri(1 - alpha / 2))
    return float(special.ndtr(shift - critical) + special.ndtr(-shift - critical))


def sample_size(
    baseline: Baseline,
    *,
    mde: float,
    difference: Difference = "relative",
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """Units per variant (multiply by the number of variants for the total)."""
    check_alpha(alpha)
    if not 0 < power < 1:
        raise ValueError("power must be between 0 and 1")
    z = float(special.ndtri(1 - alpha / 2) + special.ndtri(power))
    needed = _variance_per_unit(baseline, mde, difference) * z**2 / mde**2
    return max(2, math.ceil(needed))


def units_to_go(
    baseline: Baseline,
    *,
    enrolled: int,
    mde: float,
    difference: Difference = "relative",
    alpha: float = 0.05,
    power: float = 0.8,
) -> int:
    """How many more units each variant needs, when ``enrolled`` are already in it."""
    target = sample_size(baseline, mde=mde, difference=difference, alpha=alpha, power=power)
    return max(0, target - enrolled)


def _variance_per_unit(baseline: Baseline, mde: float, difference: Difference) -> float:
    if mde == 0 or math.isnan(mde):
        raise ValueError("the minimum detectable effect must not be zero")
    if baseline.variance <= 0:
        raise ValueError("the baseline variance must be positive")
    mean_b, variance_b = baseline.treated(mde, difference)
    if difference == "absolute":
        return baseline.variance + variance_b
    if baseline.mean <= 0:
        raise ValueError("a relative effect needs a positive baseline mean")
    base = baseline.mean
    return variance_b / base**2 + baseline.variance * mean_b**2 / base**4
