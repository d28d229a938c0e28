"""Bayesian A/B test: a normal posterior on the lift, as GrowthBook's stats engine computes it.

The likelihood of the lift is normal, centred on the observed lift with the
frequentist variance (delta method for relative lifts); a ``GaussianPrior`` on the lift,
when proper, is combined with it by precision weighting. From that posterior come the
credible interval, the chance the variant beats the control, and the risks (expected
losses). The same model serves proportions (beta-binomial data, whose posterior is near
normal at any useful sample size) and means; ``posteriors`` has the exact beta-binomial
posteriors that bandits sample.

>>> from unico.experiments.stats.summary import ProportionStats
>>> result = bayesian_test(ProportionStats(100, 49), ProportionStats(100, 51))
>>> round(result.chance_to_win, 5), [round(r, 5) for r in result.risk]
(0.60918, [0.0814, 0.04058])
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from scipy import special

from unico.experiments.stats.frequentist import check_alpha
from unico.experiments.stats.lift import Difference, Lift, checked_lift
from unico.experiments.stats.results import BayesianResult
from unico.experiments.stats.summary import Statistic


@dataclass(frozen=True)
class GaussianPrior:
    """A normal prior on the lift, on the ``scale`` it is written in.

    An improper prior (the default) is flat: the posterior is the likelihood.
    A relative prior is rescaled by the control mean for an absolute test, and back.
    """

    mean: float = 0.0
    variance: float = 1.0
    proper: bool = False
    scale: Difference = "relative"

    def __post_init__(self) -> None:
        if not self.variance > 0:
            raise ValueError("a prior's variance must be positive")

    def on(self, difference: Difference, control_mean: float) -> GaussianPrior:
        """This prior on the ``difference`` scale of a test whose control mean is given.

        >>> GaussianPrior(0.1, 0.01, proper=True).on("absolute", 20.0).mean
        2.0
        """
        if difference == self.scale:
            return self
        scale = abs(control_mean)
        factor = scale if difference == "absolute" else 1 / scale
        return replace(
            self, mean=self.mean * factor, variance=self.variance * factor**2, scale=difference
        )


def bayesian_test(
    control: Statistic,
    variant: Statistic,
    *,
    difference: Difference = "relative",
    prior: GaussianPrior | None = None,
    alpha: float = 0.05,
    inverse: bool = False,
) -> BayesianResult:
    """Posterior of the lift of ``variant`` over ``control``.

    ``inverse`` is for metrics where lower is better (bounce rate): the chance to win is
    then the chance the variant is lower, and the two risks swap.
    """
    check_alpha(alpha)
    data = checked_lift(control, variant, difference, min_units=1)
    if isinstance(data, str):
        return BayesianResult.unavailable(data)
    belief = None
    if prior is not None and prior.proper:
        if prior.scale != difference and control.unadjusted_mean == 0:
            return BayesianResult.unavailable("a relative prior needs a non-zero control mean")
        belief = prior.on(difference, control.unadjusted_mean)
    mean, stddev = _posterior(data, belief)
    win = _normal_cdf(mean / stddev)
    risk = normal_risk(mean, stddev)
    quantile = -float(special.ndtri(alpha / 2)) * stddev
    return BayesianResult(
        expected=mean,
        ci=(mean - quantile, mean + quantile),
        chance_to_win=1 - win if inverse else win,
        risk=(risk[1], risk[0]) if inverse else risk,
        stddev=stddev,
    )


def normal_risk(mean: float, stddev: float) -> tuple[float, float]:
    """Expected losses ``(E[max(X, 0)], E[max(-X, 0)])`` for a lift ``X ~ N(mean, stddev²)``.

    The first is what shipping the control loses when the variant is better, the second
    what shipping the variant loses when it is worse.

    >>> [round(r, 4) for r in normal_risk(0.0, 1.0)]
    [0.3989, 0.3989]
    """
    z = mean / stddev
    density = math.exp(-0.5 * z * z) / math.sqrt(2 * math.pi)
    return (
        mean * _normal_cdf(z) + stddev * density,
        stddev * density - mean * _normal_cdf(-z),
    )


def _posterior(data: Lift, prior: GaussianPrior | None) -> tuple[float, float]:
    """Mean and standard deviation of the lift: the data's, precision-weighted with the prior's."""
    if prior is None:
        return data.estimate, data.stddev
    precision, prior_precision = 1 / data.variance, 1 / prior.variance
    total = precision + prior_precision
    return (data.estimate * precision + prior.mean * prior_precision) / total, math.sqrt(1 / total)


def _normal_cdf(z: float) -> float:
    return float(special.ndtr(z))
