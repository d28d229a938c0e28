"""CUPED: variance reduction with a pre-exposure covariate.

A unit's metric before the experiment (last month's spend) predicts its metric during
it; subtracting ``theta`` times the covariate removes that predictable part, so the
lift is measured on less noise while its expectation is unchanged (randomization makes
the covariate's mean the same in every variant).

On per-unit arrays:

>>> pre = np.array([1.0, 2.0, 3.0, 4.0])
>>> post = np.array([1.5, 2.5, 3.0, 4.5])
>>> theta = estimate_theta(post, pre)
>>> round(theta, 3)
0.95
>>> adjust_values(post, pre, theta).round(3).tolist()
[2.925, 2.975, 2.525, 3.075]

On summary statistics, ``adjust`` pools both variants to estimate ``theta`` (as
GrowthBook's regression adjustment does) and returns statistics any test accepts.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from unico.experiments.stats.summary import (
    BaseStats,
    ProportionStats,
    SampleStats,
    Statistic,
    covariance,
    paired_from_values,
)


@dataclass(frozen=True)
class CovariateStats:
    """One variant's metric (``post``), its covariate (``pre``) and their cross products."""

    post: BaseStats
    pre: BaseStats
    sum_products: float

    @classmethod
    def from_values(cls, values: npt.ArrayLike, covariate: npt.ArrayLike) -> CovariateStats:
        return cls(*paired_from_values(values, covariate, "values and covariate"))

    @property
    def n(self) -> int:
        return self.post.n

    @property
    def covariance(self) -> float:
        return covariance(self.post, self.pre, self.sum_products)


@dataclass(frozen=True)
class AdjustedStats:
    """A variant's metric minus ``theta`` times its covariate: a ``Statistic``."""

    source: CovariateStats
    theta: float

    @property
    def n(self) -> int:
        return self.source.n

    @property
    def mean(self) -> float:
        return self.source.post.mean - self.theta * self.source.pre.mean

    @property
    def unadjusted_mean(self) -> float:
        return self.source.post.mean

    @property
    def variance(self) -> float:
        if self.n <= 1:
            return 0.0
        post, pre = self.source.post, self.source.pre
        return (
            post.variance + self.theta**2 * pre.variance - 2 * self.theta * self.source.covariance
        )


def pooled_theta(control: CovariateStats, variant: CovariateStats) -> float:
    """``theta`` from both variants together: their covariance over the covariate's variance.

    Pooling keeps ``theta`` the same for both, which keeps the adjusted lift unbiased.
    It is 0 when either pooled metric has no variance.
    """
    joint = CovariateStats(
        post=_joined(control.post, variant.post),
        pre=_joined(control.pre, variant.pre),
        sum_products=control.sum_products + variant.sum_products,
    )
    if joint.pre.variance == 0 or joint.post.variance == 0:
        return 0.0
    return joint.covariance / joint.pre.variance


def adjust(control: CovariateStats, variant: CovariateStats) -> tuple[Statistic, Statistic]:
    """Both variants adjusted with their pooled ``theta`` (unadjusted when it is 0).

    >>> control = CovariateStats.from_values([1.0, 2.0, 4.0], [1.0, 2.0, 3.0])
    >>> variant = CovariateStats.from_values([2.0, 3.0, 5.0], [1.0, 2.0, 3.0])
    >>> a, b = adjust(control, variant)
    >>> round(b.mean - a.mean, 6), round(a.variance, 6)
    (1.0, 0.083333)
    """
    theta = pooled_theta(control, variant)
    if theta == 0:
        return control.post, variant.post
    return AdjustedStats(control, theta), AdjustedStats(variant, theta)


def estimate_theta(values: npt.ArrayLike, covariate: npt.ArrayLike) -> float:
    """``cov(values, covariate) / var(covariate)`` on per-unit arrays (0 if it is constant).

    Estimate it on every variant's units together, then adjust each variant with it.
    """
    post = np.asarray(values, dtype=np.float64)
    pre = np.asarray(covariate, dtype=np.float64)
    if post.size < 2:
        return 0.0
    pre_variance = float(np.var(pre, ddof=1))
    if pre_variance == 0:
        return 0.0
    return float(np.cov(post, pre, ddof=1)[0, 1]) / pre_variance


def adjust_values(
    values: npt.ArrayLike,
    covariate: npt.ArrayLike,
    theta: float,
    covariate_mean: float | None = None,
) -> npt.NDArray[np.float64]:
    """Each unit's ``value - theta * (covariate - covariate_mean)``.

    Pass the covariate mean of all variants together so that every variant is shifted by
    the same amount; by default it is this array's own mean.
    """
    post = np.asarray(values, dtype=np.float64)
    pre = np.asarray(covariate, dtype=np.float64)
    center = float(pre.mean()) if covariate_mean is None else covariate_mean
    return post - theta * (pre - center)


def _joined(first: BaseStats, second: BaseStats) -> BaseStats:
    n = first.n + second.n
    if isinstance(first, ProportionStats) and isinstance(second, ProportionStats):
        return ProportionStats(n=n, sum=first.sum + second.sum)
    if isinstance(first, SampleStats) and isinstance(second, SampleStats):
        return SampleStats(n, first.sum + second.sum, first.sum_squares + second.sum_squares)
    raise ValueError("both variants must measure the metric the same way")
