"""The lift of a variant over the control, and the variance of that estimate.

Absolute lift is ``mean_b - mean_a``; relative lift divides it by the control's
unadjusted mean, and its variance comes from the delta method:

    var_b / (mu_a^2 n_b) + var_a mu_b^2 / (mu_a^4 n_a)

>>> from unico.experiments.stats.summary import SampleStats
>>> a, b = SampleStats(100, 100.0, 200.0), SampleStats(100, 110.0, 221.0)
>>> round(estimate_lift(a, b, "absolute").estimate, 6)
0.1
>>> round(estimate_lift(a, b, "relative").variance, 6)
0.022323
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, TypeAlias

from unico.experiments.stats.summary import Statistic

#: How a lift is expressed: ``relative`` (+5% = 0.05) or ``absolute`` (in metric units).
Difference: TypeAlias = Literal["relative", "absolute"]
OUT_OF_RANGE = "the sums are too large or too small to compute with"


@dataclass(frozen=True)
class Lift:
    """A lift estimate and the variance of that estimate."""

    estimate: float
    variance: float

    @property
    def stddev(self) -> float:
        return math.sqrt(self.variance)


def estimate_lift(control: Statistic, variant: Statistic, difference: Difference) -> Lift:
    """The lift and its variance; ``checked_lift`` first checks it can be computed."""
    base, other = control.unadjusted_mean, variant.unadjusted_mean
    delta = variant.mean - control.mean
    if difference == "relative":
        variance = variant.variance / (base**2 * variant.n) + control.variance * other**2 / (
            base**4 * control.n
        )
        return Lift(delta / base, variance)
    return Lift(delta, variant.variance / variant.n + control.variance / control.n)


def checked_lift(
    control: Statistic, variant: Statistic, difference: Difference, *, min_units: int = 2
) -> Lift | str:
    """The lift, or why these two variants cannot be compared.

    ``min_units`` is 2 for the t-tests (a variance needs two units) and 1 for the
    Bayesian test, which, as GrowthBook's, reports an empty variant as having no units.

    >>> from unico.experiments.stats.summary import SampleStats
    >>> checked_lift(SampleStats(1, 2.0, 4.0), SampleStats(5, 5.0, 7.0), "absolute")
    'a variant has fewer than 2 units'
    """
    if control.n < min_units or variant.n < min_units:
        return "a variant has no units" if min_units == 1 else "a variant has fewer than 2 units"
    if difference == "relative" and control.unadjusted_mean <= 0:
        return "a relative lift needs a positive control mean"
    if control.variance <= 0 or variant.variance <= 0:
        return "a variant has zero or negative variance"
    try:
        lift = estimate_lift(control, variant, difference)
    except ArithmeticError:
        return OUT_OF_RANGE
    if not (math.isfinite(lift.estimate) and math.isfinite(lift.variance) and lift.variance > 0):
        return OUT_OF_RANGE
    return lift


def raw_lift(control: Statistic, variant: Statistic, difference: Difference) -> float:
    """The observed lift with no inference: what a report shows when a test cannot run."""
    delta = variant.mean - control.mean
    if difference == "absolute":
        return delta
    base = control.unadjusted_mean
    return delta / base if base > 0 else 0.0
