"""The Bayesian test reproduces GrowthBook's vectors; posteriors and risks make sense."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from unico.experiments.stats import (
    BetaPosterior,
    GaussianPrior,
    ProportionStats,
    SampleStats,
    bayesian_test,
    compare_posteriors,
    normal_risk,
    posterior_of,
)

A = SampleStats(n=10, sum=100, sum_squares=1002.25)
B = SampleStats(n=10, sum=105, sum_squares=1111.5)


def _rounded(values, places: int = 5) -> list[float]:
    return [round(x, places) for x in values]


def test_binomial_as_growthbook() -> None:
    result = bayesian_test(ProportionStats(100, 49), ProportionStats(100, 51))
    assert round(result.expected, 5) == 0.04082
    assert _rounded(result.ci) == [-0.24779, 0.32943]
    assert round(result.stddev, 5) == 0.14725
    assert round(result.chance_to_win, 5) == 0.60918
    assert _rounded(result.risk) == [0.0814, 0.04058]


def test_gaussian_as_growthbook() -> None:
    result = bayesian_test(A, B)
    assert _rounded(result.ci) == [-0.02, 0.12]
    assert round(result.chance_to_win, 5) == 0.91923
    assert _rounded(result.risk) == [0.05131, 0.00131]


def test_gaussian_with_an_informative_prior_as_growthbook() -> None:
    result = bayesian_test(A, B, prior=GaussianPrior(mean=0.1, variance=0.1, proper=True))
    assert round(result.expected, 5) == 0.05063
    assert _rounded(result.ci) == [-0.01893, 0.12019]
    assert round(result.chance_to_win, 5) == 0.92315
    assert _rounded(result.risk) == [0.05186, 0.00123]


def test_missing_data_gives_even_odds() -> None:
    for control in (ProportionStats(0, 0), SampleStats(0, 0.0, 0.0)):
        result = bayesian_test(control, control)
        assert (result.chance_to_win, result.expected, result.risk) == (0.5, 0.0, (0.0, 0.0))
        assert result.error == "a variant has no units"


def test_identical_variants_have_even_chances() -> None:
    same = ProportionStats(5000, 400)
    result = bayesian_test(same, same)
    assert result.chance_to_win == pytest.approx(0.5)
    assert result.risk[0] == pytest.approx(result.risk[1])


def test_inverse_metrics_swap_chance_and_risks() -> None:
    up, down = bayesian_test(A, B), bayesian_test(A, B, inverse=True)
    assert down.chance_to_win == pytest.approx(1 - up.chance_to_win)
    assert down.risk == up.risk[::-1]


def test_relative_prior_rescaled_for_absolute_lifts_keeps_the_chance_close() -> None:
    control = SampleStats(n=100, sum=1000, sum_squares=200000)
    variant = SampleStats(n=100, sum=1100, sum_squares=200005)
    prior = GaussianPrior(mean=1, variance=1, proper=True)
    absolute = bayesian_test(control, variant, difference="absolute", prior=prior)
    relative = bayesian_test(control, variant, difference="relative", prior=prior)
    assert absolute.chance_to_win == pytest.approx(relative.chance_to_win, abs=0.005)


def test_normal_risk_matches_monte_carlo() -> None:
    draws = np.random.default_rng(1).normal(0.3, 1.2, 1_000_000)
    control, variant = normal_risk(0.3, 1.2)
    assert control == pytest.approx(np.maximum(draws, 0).mean(), abs=2e-3)
    assert variant == pytest.approx(np.maximum(-draws, 0).mean(), abs=2e-3)


def test_beta_binomial_posterior_is_conjugate() -> None:
    assert posterior_of(ProportionStats(100, 30)) == BetaPosterior(31.0, 71.0)
    with pytest.raises(ValueError, match="2 units"):
        posterior_of(SampleStats(1, 1.0, 1.0))


def test_beta_binomial_monte_carlo_agrees_with_the_normal_model_at_large_n() -> None:
    a, b = ProportionStats(20_000, 2000), ProportionStats(20_000, 2080)
    exact = compare_posteriors(a, b, np.random.default_rng(5), draws=200_000)
    approximate = bayesian_test(a, b)
    assert exact.chance_to_win == pytest.approx(approximate.chance_to_win, abs=0.01)
    assert exact.expected == pytest.approx(approximate.expected, abs=0.003)
    assert exact.ci == pytest.approx(approximate.ci, abs=0.003)


def test_monte_carlo_is_reproducible_from_the_seed() -> None:
    a, b = ProportionStats(300, 30), ProportionStats(300, 36)
    first = compare_posteriors(a, b, np.random.default_rng(9), draws=5000)
    assert compare_posteriors(a, b, np.random.default_rng(9), draws=5000) == first


def test_monte_carlo_identical_variants_have_even_chances() -> None:
    same = SampleStats.from_values(np.random.default_rng(2).normal(10, 2, 500))
    result = compare_posteriors(same, same, np.random.default_rng(3), difference="absolute")
    assert result.chance_to_win == pytest.approx(0.5, abs=0.01)


sizes = st.integers(min_value=10, max_value=100_000)
rates = st.floats(min_value=0.01, max_value=0.99)


@given(sizes, rates, sizes, rates)
def test_interval_holds_the_estimate_and_chances_are_probabilities(n_a, r_a, n_b, r_b) -> None:
    result = bayesian_test(
        ProportionStats(n_a, round(n_a * r_a)), ProportionStats(n_b, round(n_b * r_b))
    )
    assert result.ci[0] <= result.expected <= result.ci[1]
    assert 0 <= result.chance_to_win <= 1
    assert min(result.risk) >= 0
    # E[max(X,0)] - E[max(-X,0)] = E[X]: the risks differ by the expected lift.
    assert result.risk[0] - result.risk[1] == pytest.approx(result.expected, abs=1e-9)


def test_priors_must_have_a_variance_and_a_scale_to_rescale_by() -> None:
    with pytest.raises(ValueError, match="variance"):
        GaussianPrior(variance=0.0)
    control = SampleStats.from_values([-1.0, 1.0, -2.0, 2.0])
    variant = SampleStats.from_values([0.0, 2.0, -1.0, 3.0])
    prior = GaussianPrior(mean=0.1, variance=0.01, proper=True)
    result = bayesian_test(control, variant, difference="absolute", prior=prior)
    assert result.error == "a relative prior needs a non-zero control mean"
    assert bayesian_test(control, variant, difference="absolute").error is None
