"""Fixed-horizon tests: Welch's two-sample t-test on proportions and on means.

The lift (absolute, or relative with its delta-method variance) is divided by its
standard error and read against Student's t with Welch-Satterthwaite degrees of freedom,
as GrowthBook's ``TwoSidedTTest`` does. Look at the result once, at the planned sample
size; to look every day use ``sequential_ttest``.

>>> from unico.experiments.stats.summary import ProportionStats, SampleStats
>>> control = SampleStats(n=3407, sum=1396.87, sum_squares=52377.9767)
>>> variant = SampleStats(n=3461, sum=2422.7, sum_squares=134698.29)
>>> result = two_sided_ttest(control, variant, difference="relative")
>>> round(result.p_value, 5), [round(x, 5) for x in result.ci]
(0.06191, [-0.03526, 1.44989])
>>> a, b = ProportionStats(n=28, sum=14), ProportionStats(n=30, sum=16)
>>> result = two_sided_ttest(a, b, difference="absolute")
>>> round(result.expected, 4), round(result.p_value, 4)
(0.0333, 0.8004)
"""

from __future__ import annotations

import math

from scipy import special

from unico.experiments.stats.lift import Difference, checked_lift
from unico.experiments.stats.results import FrequentistResult
from unico.experiments.stats.summary import Statistic


def two_sided_ttest(
    control: Statistic,
    variant: Statistic,
    *,
    difference: Difference = "relative",
    alpha: float = 0.05,
) -> FrequentistResult:
    """The lift of ``variant`` over ``control`` with its ``1 - alpha`` confidence interval."""
    check_alpha(alpha)
    lift = checked_lift(control, variant, difference)
    if isinstance(lift, str):
        return FrequentistResult.unavailable(lift)
    dof = welch_dof(control, variant)
    statistic = lift.estimate / lift.stddev
    # stdtr is Student's CDF: 2 * P(T > |t|) without the cancellation of 1 - cdf.
    p_value = float(2 * special.stdtr(dof, -abs(statistic)))
    width = float(special.stdtrit(dof, 1 - alpha / 2)) * lift.stddev
    return FrequentistResult(
        expected=lift.estimate,
        ci=(lift.estimate - width, lift.estimate + width),
        p_value=min(p_value, 1.0),
        stddev=lift.stddev,
    )


def welch_dof(control: Statistic, variant: Statistic) -> float:
    """Welch-Satterthwaite degrees of freedom of the difference of two means.

    >>> from unico.experiments.stats.summary import SampleStats
    >>> round(welch_dof(SampleStats(10, 10.0, 19.0), SampleStats(20, 20.0, 58.0)), 3)
    24.429
    """
    share_a = control.variance / control.n
    share_b = variant.variance / variant.n
    # Products, not powers: a float power overflows with an error, a product to infinity.
    total = share_a + share_b
    return (
        total * total / (share_a * share_a / (control.n - 1) + share_b * share_b / (variant.n - 1))
    )


def check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1 or math.isnan(alpha):
        raise ValueError(f"alpha must be between 0 and 1, not {alpha}")
