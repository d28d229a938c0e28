"""The Welch t-test reproduces GrowthBook's own test vectors and is self-consistent."""

from __future__ import annotations

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unico.experiments.stats import ProportionStats, SampleStats, two_sided_ttest, welch_dof

CONTROL = SampleStats(n=3407, sum=1396.87, sum_squares=52377.9767)
VARIANT = SampleStats(n=3461, sum=2422.7, sum_squares=134698.29)


def _rounded(values: tuple[float, ...] | list[float], places: int = 5) -> list[float]:
    return [round(x, places) for x in values]


def test_relative_lift_of_means_as_growthbook() -> None:
    result = two_sided_ttest(CONTROL, VARIANT, difference="relative")
    assert round(result.expected, 5) == round((0.7 - 0.41) / 0.41, 5)
    assert _rounded(result.ci) == [-0.03526, 1.44989]
    assert round(result.p_value, 5) == 0.06191
    assert round(result.stddev, 5) == 0.37879
    assert result.error is None


def test_absolute_lift_of_means_as_growthbook() -> None:
    result = two_sided_ttest(CONTROL, VARIANT, difference="absolute")
    assert round(result.expected, 5) == 0.29
    assert _rounded(result.ci) == [0.04538, 0.53462]
    assert round(result.p_value, 5) == 0.02016


def test_proportions_as_growthbook() -> None:
    result = two_sided_ttest(ProportionStats(28, 14), ProportionStats(30, 16))
    assert _rounded(result.ci) == [-0.47767, 0.61101]
    assert round(result.p_value, 5) == 0.80707
    assert round(result.stddev, 4) == 0.2717


def test_negative_variance_gives_the_neutral_answer_with_a_reason() -> None:
    result = two_sided_ttest(SampleStats(2, 1396.87, 52377.9767), VARIANT)
    assert (result.expected, result.ci, result.p_value) == (0.0, (0.0, 0.0), 1.0)
    assert result.error == "a variant has zero or negative variance"


@pytest.mark.parametrize(
    ("control", "reason"),
    [
        (SampleStats(1, 5.0, 25.0), "fewer than 2 units"),
        (SampleStats(0, 0.0, 0.0), "fewer than 2 units"),
        (ProportionStats(100, 0), "positive control mean"),
        (ProportionStats(100, 100), "zero or negative variance"),
    ],
)
def test_inputs_that_cannot_answer(control, reason: str) -> None:
    result = two_sided_ttest(control, ProportionStats(100, 10), difference="relative")
    assert reason in (result.error or "")
    assert all(math.isfinite(x) for x in (result.expected, *result.ci, result.p_value))


def test_absolute_lift_does_not_need_a_positive_control_mean() -> None:
    control = SampleStats.from_values([-1.0, 1.0, -2.0, 2.0])
    result = two_sided_ttest(
        control, SampleStats.from_values([0.0, 2.0, -1.0, 3.0]), difference="absolute"
    )
    assert result.error is None and result.expected == 1.0


def test_welch_dof_with_equal_groups_is_between_n_minus_1_and_2n_minus_2() -> None:
    a = SampleStats.from_values([1.0, 2.0, 3.0, 4.0, 5.0])
    b = SampleStats.from_values([2.0, 4.0, 6.0, 8.0, 10.0])
    assert 4 <= welch_dof(a, b) <= 8
    assert welch_dof(a, a) == pytest.approx(8)


def test_alpha_must_be_a_probability() -> None:
    with pytest.raises(ValueError, match="alpha"):
        two_sided_ttest(CONTROL, VARIANT, alpha=1.5)


rates = st.integers(min_value=1, max_value=999)
sizes = st.integers(min_value=20, max_value=100_000)


@given(sizes, rates, sizes, rates, st.sampled_from(["relative", "absolute"]))
def test_interval_holds_the_estimate_and_p_matches_the_interval(
    n_a, r_a, n_b, r_b, difference
) -> None:
    control = ProportionStats(n_a, round(n_a * r_a / 1000))
    variant = ProportionStats(n_b, round(n_b * r_b / 1000))
    result = two_sided_ttest(control, variant, difference=difference)
    if result.error is not None:
        return
    low, high = result.ci
    assert low <= result.expected <= high
    assert 0 <= result.p_value <= 1
    # Duality of a two-sided test: p < alpha exactly when the interval leaves out zero.
    if abs(result.p_value - 0.05) > 1e-9:
        assert (result.p_value < 0.05) == (low > 0 or high < 0)
