"""The sequential test reproduces GrowthBook's vectors and behaves as an always-valid test."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unico.experiments.stats import (
    CovariateStats,
    ProportionStats,
    SampleStats,
    adjust,
    sequential_ttest,
    two_sided_ttest,
)

CONTROL = SampleStats(n=3000, sum=1396.87, sum_squares=52377.9767)
VARIANT = SampleStats(n=3461, sum=2422.7, sum_squares=134698.29)


def _rounded(values, places: int = 5) -> list[float]:
    return [round(x, places) for x in values]


def test_means_as_growthbook() -> None:
    result = sequential_ttest(CONTROL, VARIANT, tuning=1000)
    assert round(result.expected, 5) == 0.50336
    assert _rounded(result.ci) == [-0.55844, 1.56516]
    assert round(result.stddev, 5) == 0.33341
    assert result.p_value == 1


def test_proportions_as_growthbook() -> None:
    result = sequential_ttest(ProportionStats(3000, 1396), ProportionStats(3461, 2422))
    assert _rounded(result.ci) == [0.40098, 0.60675]
    assert round(result.p_value, 5) == 0.0


def test_with_cuped_as_growthbook() -> None:
    control = CovariateStats(CONTROL, SampleStats(3000, 16.87, 527.9767), sum_products=1)
    variant = CovariateStats(VARIANT, SampleStats(3461, 22.7, 1348.29), sum_products=1)
    result = sequential_ttest(*adjust(control, variant))
    assert round(result.expected, 5) == 0.50338
    assert _rounded(result.ci) == [-0.50969, 1.51646]


def test_tuning_near_the_sample_size_gives_the_tightest_interval() -> None:
    def interval(tuning: float) -> tuple[float, float]:
        return sequential_ttest(CONTROL, VARIANT, tuning=tuning).ci

    below, near, above = interval(10), interval(6461), interval(10_000)
    assert below[0] < above[0] < near[0] and near[1] < above[1] < below[1]


def test_sequential_interval_is_wider_than_the_fixed_horizon_one() -> None:
    fixed = two_sided_ttest(CONTROL, VARIANT).ci
    always_valid = sequential_ttest(CONTROL, VARIANT).ci
    assert always_valid[0] < fixed[0] and always_valid[1] > fixed[1]


def test_bad_tuning_is_refused_and_bad_data_flagged() -> None:
    with pytest.raises(ValueError, match="tuning"):
        sequential_ttest(CONTROL, VARIANT, tuning=0)
    result = sequential_ttest(ProportionStats(10, 0), ProportionStats(10, 5))
    assert result.error is not None and result.p_value == 1


sizes = st.integers(min_value=50, max_value=200_000)
rates = st.floats(min_value=0.01, max_value=0.99)


@given(sizes, rates, sizes, rates, st.sampled_from(["relative", "absolute"]))
def test_interval_holds_the_estimate_and_p_is_a_probability(n_a, r_a, n_b, r_b, difference) -> None:
    result = sequential_ttest(
        ProportionStats(n_a, round(n_a * r_a)),
        ProportionStats(n_b, round(n_b * r_b)),
        difference=difference,
    )
    assert result.ci[0] <= result.expected <= result.ci[1]
    assert 0 <= result.p_value <= 1
    # The mixture's p-value and interval come from the same e-value, so they agree.
    if abs(result.p_value - 0.05) > 1e-9:
        assert (result.p_value < 0.05) == (result.ci[0] > 0 or result.ci[1] < 0)
