"""Per-variant summary statistics: what one warehouse query returns for one variant.

Every test in the engine reads a variant through the ``Statistic`` protocol (``n``,
``mean``, ``variance``, ``unadjusted_mean``), so it works the same on sums computed
anywhere. Variances are per unit, not of the mean:

>>> s = SampleStats.from_values([1.0, 2.0, 3.0])
>>> s.n, s.mean, s.variance
(3, 2.0, 1.0)
>>> ProportionStats(n=4, sum=1).variance
0.1875
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol, TypeAlias

import numpy as np
import numpy.typing as npt


class Statistic(Protocol):
    """One variant of one metric, as the tests need it."""

    @property
    def n(self) -> int: ...

    @property
    def mean(self) -> float: ...

    @property
    def variance(self) -> float: ...

    @property
    def unadjusted_mean(self) -> float:
        """The mean before any variance reduction: the base of a relative lift."""
        ...


@dataclass(frozen=True)
class SampleStats:
    """A metric with any values: count, sum and sum of squares of the units' values."""

    n: int
    sum: float
    sum_squares: float

    @classmethod
    def from_values(cls, values: npt.ArrayLike) -> SampleStats:
        array = np.asarray(values, dtype=np.float64)
        return cls(n=int(array.size), sum=float(array.sum()), sum_squares=float(array @ array))

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """Unbiased sample variance; 0 when fewer than two units make it unknown."""
        if self.n <= 1:
            return 0.0
        return (self.sum_squares - self.sum**2 / self.n) / (self.n - 1)

    @property
    def unadjusted_mean(self) -> float:
        return self.mean


@dataclass(frozen=True)
class ProportionStats:
    """A 0/1 metric (converted or not): units and conversions.

    The variance is the Bernoulli ``p(1 - p)``, as GrowthBook computes it.
    """

    n: int
    sum: float

    @classmethod
    def from_values(cls, values: npt.ArrayLike) -> ProportionStats:
        array = np.asarray(values, dtype=np.float64)
        if not np.isin(array, (0.0, 1.0)).all():
            raise ValueError("a proportion's values must be 0 or 1")
        return cls(n=int(array.size), sum=float(array.sum()))

    @property
    def sum_squares(self) -> float:
        return self.sum

    @property
    def mean(self) -> float:
        return self.sum / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        return self.mean * (1.0 - self.mean)

    @property
    def unadjusted_mean(self) -> float:
        return self.mean


#: A metric read directly from its units' values.
BaseStats: TypeAlias = SampleStats | ProportionStats


@dataclass(frozen=True)
class RatioStats:
    """A ratio metric (revenue per session): numerator and denominator sums per unit.

    The variance of the ratio comes from the delta method, so it needs the sum of the
    products of each unit's numerator and denominator.

    >>> r = RatioStats.from_values([2.0, 4.0, 3.0], [1.0, 2.0, 2.0])
    >>> r.mean
    1.8
    """

    numerator: BaseStats
    denominator: BaseStats
    sum_products: float

    @classmethod
    def from_values(cls, numerators: npt.ArrayLike, denominators: npt.ArrayLike) -> RatioStats:
        return cls(*paired_from_values(numerators, denominators, "numerators and denominators"))

    @property
    def n(self) -> int:
        return self.numerator.n

    @property
    def mean(self) -> float:
        if self.denominator.sum == 0:
            return 0.0
        return self.numerator.sum / self.denominator.sum

    @property
    def unadjusted_mean(self) -> float:
        return self.mean

    @property
    def covariance(self) -> float:
        return covariance(self.numerator, self.denominator, self.sum_products)

    @property
    def variance(self) -> float:
        """Per-unit variance of the ratio, by the delta method (0 when it is unknown)."""
        top, bottom = self.numerator.mean, self.denominator.mean
        if bottom == 0 or self.n <= 1:
            return 0.0
        return (
            self.numerator.variance / bottom**2
            - 2 * self.covariance * top / bottom**3
            + top**2 * self.denominator.variance / bottom**4
        )


def paired_from_values(
    first: npt.ArrayLike, second: npt.ArrayLike, names: str
) -> tuple[SampleStats, SampleStats, float]:
    """Summaries of two metrics measured on the same units, and the sum of their products
    (what a ratio or a covariate adjustment needs); ``names`` says what they are in errors."""
    a = np.asarray(first, dtype=np.float64)
    b = np.asarray(second, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"{names} must have the same length")
    return SampleStats.from_values(a), SampleStats.from_values(b), float(a @ b)


def covariance(first: BaseStats, second: BaseStats, sum_products: float) -> float:
    """Sample covariance of two metrics measured on the same units.

    >>> covariance(SampleStats(3, 6.0, 14.0), SampleStats(3, 3.0, 5.0), 8.0)
    1.0
    """
    n = first.n
    if n <= 1:
        return 0.0
    return (sum_products - first.sum * second.sum / n) / (n - 1)
