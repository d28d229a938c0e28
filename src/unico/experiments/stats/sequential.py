"""Sequential testing: always-valid confidence intervals and p-values (mSPRT).

A fixed-horizon test looked at every day finds false winners far more often than its
``alpha`` promises. The mixture sequential probability ratio test (Waudby-Smith et al.,
2023, eqs. 9, 155 and 161) gives intervals that hold at every look at once, so a
marketer may stop the day the interval leaves zero. ``tuning`` is the total sample size
at which the interval is tightest (GrowthBook's ``sequential_tuning_parameter``);
guessing it within a factor of a few costs little.

>>> from unico.experiments.stats.summary import ProportionStats
>>> control = ProportionStats(n=3000, sum=1396)
>>> variant = ProportionStats(n=3461, sum=2422)
>>> result = sequential_ttest(control, variant, difference="relative")
>>> [round(x, 5) for x in result.ci], result.p_value < 1e-40
([0.40098, 0.60675], True)
"""

from __future__ import annotations

import math

from unico.experiments.stats.frequentist import check_alpha
from unico.experiments.stats.lift import Difference, checked_lift
from unico.experiments.stats.results import FrequentistResult
from unico.experiments.stats.summary import Statistic


def sequential_ttest(
    control: Statistic,
    variant: Statistic,
    *,
    difference: Difference = "relative",
    alpha: float = 0.05,
    tuning: float = 5000.0,
) -> FrequentistResult:
    """The lift with an always-valid ``1 - alpha`` interval and p-value."""
    check_alpha(alpha)
    if not tuning > 0:
        raise ValueError(f"the sequential tuning parameter must be positive, not {tuning}")
    lift = checked_lift(control, variant, difference)
    if isinstance(lift, str):
        return FrequentistResult.unavailable(lift)
    total = control.n + variant.n
    rho2 = mixture_rho(alpha, tuning) ** 2
    spread = total * rho2 + 1
    # eq. 9, written with the variance of the estimate (per-unit variance over N).
    width = lift.stddev * math.sqrt(
        2 * spread * math.log(math.sqrt(spread) / alpha) / (total * rho2)
    )
    # eq. 155: the mixture likelihood ratio is an e-value; p = min(1, 1/e), in logs.
    statistic2 = lift.estimate * lift.estimate / lift.variance
    log_evalue = rho2 * total * statistic2 / (2 * spread) - 0.5 * math.log(spread)
    return FrequentistResult(
        expected=lift.estimate,
        ci=(lift.estimate - width, lift.estimate + width),
        p_value=math.exp(-max(log_evalue, 0.0)),
        stddev=lift.stddev,
    )


def mixture_rho(alpha: float, tuning: float) -> float:
    """The mixing distribution's scale that makes the interval tightest at ``tuning`` (eq. 161).

    >>> round(mixture_rho(0.05, 5000), 6)
    0.03984
    """
    log_alpha = math.log(alpha)
    return math.sqrt((-2 * log_alpha + math.log(-2 * log_alpha + 1)) / tuning)
