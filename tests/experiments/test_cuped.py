"""CUPED lowers the variance of the lift without moving its expectation."""

from __future__ import annotations

import numpy as np
import pytest

from unico.experiments.stats import (
    AdjustedStats,
    CovariateStats,
    ProportionStats,
    SampleStats,
    adjust,
    adjust_values,
    estimate_theta,
    pooled_theta,
    two_sided_ttest,
)

EFFECT = 0.5


def _experiment(rng: np.random.Generator, n: int = 400):
    """Pre-period spend predicts in-experiment spend; the variant adds EFFECT."""
    pre = rng.normal(10, 3, size=(2, n))
    post = 0.8 * pre + rng.normal(2, 1, size=(2, n))
    post[1] += EFFECT
    return pre, post


def test_theta_on_arrays_is_the_regression_slope() -> None:
    pre, post = _experiment(np.random.default_rng(1), n=5000)
    assert estimate_theta(post.ravel(), pre.ravel()) == pytest.approx(0.8, abs=0.02)
    assert estimate_theta([1.0, 2.0], [3.0, 3.0]) == 0


def test_per_unit_adjustment_reduces_variance_and_keeps_the_mean() -> None:
    pre, post = _experiment(np.random.default_rng(2))
    theta = estimate_theta(post.ravel(), pre.ravel())
    adjusted = adjust_values(post, pre, theta, covariate_mean=float(pre.mean()))
    assert adjusted.var() < 0.3 * post.var()
    assert adjusted.mean() == pytest.approx(post.mean())


def test_summary_adjustment_matches_the_per_unit_one() -> None:
    pre, post = _experiment(np.random.default_rng(3))
    control, variant = (
        CovariateStats.from_values(post[0], pre[0]),
        CovariateStats.from_values(post[1], pre[1]),
    )
    theta = pooled_theta(control, variant)
    assert theta == pytest.approx(estimate_theta(post.ravel(), pre.ravel()), rel=0.02)
    a, b = adjust(control, variant)
    assert isinstance(a, AdjustedStats) and isinstance(b, AdjustedStats)
    by_hand = adjust_values(post[0], pre[0], theta, covariate_mean=0.0)
    assert a.mean == pytest.approx(by_hand.mean())
    assert a.variance == pytest.approx(by_hand.var(ddof=1))
    assert a.unadjusted_mean == pytest.approx(post[0].mean())


def test_cuped_narrows_the_interval() -> None:
    pre, post = _experiment(np.random.default_rng(4))
    raw = two_sided_ttest(
        SampleStats.from_values(post[0]), SampleStats.from_values(post[1]), difference="absolute"
    )
    control, variant = (
        CovariateStats.from_values(post[0], pre[0]),
        CovariateStats.from_values(post[1], pre[1]),
    )
    cuped = two_sided_ttest(*adjust(control, variant), difference="absolute")
    assert cuped.stddev < 0.5 * raw.stddev


def test_cuped_estimate_is_unbiased() -> None:
    rng = np.random.default_rng(5)
    estimates, raw = [], []
    for _ in range(400):
        pre, post = _experiment(rng, n=200)
        control, variant = (
            CovariateStats.from_values(post[0], pre[0]),
            CovariateStats.from_values(post[1], pre[1]),
        )
        estimates.append(two_sided_ttest(*adjust(control, variant), difference="absolute").expected)
        raw.append(post[1].mean() - post[0].mean())
    # Mean of 400 estimates, each with sd ~0.1: within 0.02 of the truth is 4 standard errors.
    assert np.mean(estimates) == pytest.approx(EFFECT, abs=0.02)
    assert np.std(estimates) < 0.5 * np.std(raw)


def test_no_covariate_variance_falls_back_to_the_plain_metric() -> None:
    constant = SampleStats(3, 3.0, 3.0)
    control = CovariateStats(SampleStats.from_values([1.0, 2.0, 3.0]), constant, 6.0)
    variant = CovariateStats(SampleStats.from_values([2.0, 3.0, 4.0]), constant, 9.0)
    assert adjust(control, variant) == (control.post, variant.post)


def test_proportion_covariates_pool_as_proportions() -> None:
    control = CovariateStats(ProportionStats(3001, 300), ProportionStats(3001, 210), -20)
    variant = CovariateStats(ProportionStats(3000, 222), ProportionStats(3000, 120), -10)
    assert pooled_theta(control, variant) != 0


def test_variants_must_measure_the_same_way() -> None:
    control = CovariateStats(ProportionStats(10, 3), ProportionStats(10, 2), 1.0)
    variant = CovariateStats(SampleStats(10, 3.0, 3.0), SampleStats(10, 2.0, 2.0), 1.0)
    with pytest.raises(ValueError, match="same way"):
        pooled_theta(control, variant)
