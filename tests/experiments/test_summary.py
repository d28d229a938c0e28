"""Summary statistics agree with numpy on the units' values."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from unico.experiments.stats import ProportionStats, RatioStats, SampleStats
from unico.experiments.stats.summary import covariance

VALUES = np.array([0.3, 0.5, 0.9, 22.0])
DENOMINATORS = np.array([2.0, 1.0, 5.0, 3.0])
finite = st.floats(min_value=-1e3, max_value=1e3, allow_nan=False)


def test_sample_stats_match_numpy() -> None:
    stats = SampleStats.from_values(VALUES)
    assert stats.n == 4
    assert stats.mean == pytest.approx(VALUES.mean())
    assert stats.variance == pytest.approx(np.var(VALUES, ddof=1))
    assert stats.unadjusted_mean == stats.mean


def test_variance_is_zero_below_two_units_and_mean_zero_without_units() -> None:
    assert SampleStats.from_values([5.0]).variance == 0
    assert SampleStats(0, 0.0, 0.0).mean == 0
    assert ProportionStats(0, 0).mean == 0


def test_proportion_variance_is_bernoulli() -> None:
    stats = ProportionStats.from_values([1, 0, 0, 1, 1])
    assert (stats.n, stats.sum, stats.sum_squares) == (5, 3.0, 3.0)
    assert stats.variance == pytest.approx(0.6 * 0.4)


def test_proportion_rejects_values_other_than_zero_and_one() -> None:
    with pytest.raises(ValueError, match="0 or 1"):
        ProportionStats.from_values([0, 2])


def test_ratio_covariance_and_delta_variance() -> None:
    ratio = RatioStats.from_values(VALUES, DENOMINATORS)
    assert ratio.covariance == pytest.approx(np.cov(VALUES, DENOMINATORS)[0, 1])
    assert ratio.mean == pytest.approx(VALUES.sum() / DENOMINATORS.sum())
    # The delta method is the variance of the linearized ratio (x - r y) / mean(y).
    linear = (VALUES - ratio.mean * DENOMINATORS) / DENOMINATORS.mean()
    assert ratio.variance == pytest.approx(np.var(linear, ddof=1))


def test_ratio_with_zero_denominator_has_no_mean_and_no_variance() -> None:
    ratio = RatioStats(SampleStats.from_values(VALUES), SampleStats(4, 0.0, 0.0), 0.0)
    assert ratio.mean == 0 and ratio.variance == 0


def test_ratio_needs_paired_values() -> None:
    with pytest.raises(ValueError, match="same length"):
        RatioStats.from_values([1.0, 2.0], [1.0])


@given(st.lists(st.tuples(finite, finite), min_size=2, max_size=30))
def test_covariance_matches_numpy(pairs: list[tuple[float, float]]) -> None:
    x, y = np.array(pairs).T
    got = covariance(SampleStats.from_values(x), SampleStats.from_values(y), float(x @ y))
    assert got == pytest.approx(np.cov(x, y)[0, 1], abs=1e-6 * (1 + float(np.abs(x @ y))))
