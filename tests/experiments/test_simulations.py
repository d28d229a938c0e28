"""Simulated experiments: the tests' error rates and power are the ones they promise.

Every simulation draws its data with numpy from a fixed seed, then runs each simulated
experiment through the public API, as a report would.
"""

from __future__ import annotations

import numpy as np
import pytest

from unico.experiments.stats import (
    Baseline,
    ProportionStats,
    SampleStats,
    sample_size,
    sequential_ttest,
    two_sided_ttest,
)

EXPERIMENTS = 2000
ALPHA = 0.05


def _proportion_pairs(rng: np.random.Generator, n: int, rates: tuple[float, float]) -> list:
    conversions = rng.binomial(n, rates, size=(EXPERIMENTS, 2))
    return [(ProportionStats(n, float(a)), ProportionStats(n, float(b))) for a, b in conversions]


def _mean_pairs(rng: np.random.Generator, n: int, shift: float = 0.0) -> list:
    # Revenue-like: skewed, positive values (lognormal), the hard case for a t-test.
    values = rng.lognormal(mean=0.0, sigma=1.0, size=(EXPERIMENTS, 2, n))
    values[:, 1, :] += shift
    sums, squares = values.sum(axis=2), (values**2).sum(axis=2)
    return [
        (SampleStats(n, sums[i, 0], squares[i, 0]), SampleStats(n, sums[i, 1], squares[i, 1]))
        for i in range(EXPERIMENTS)
    ]


def _rejection_rate(pairs: list, difference: str = "relative") -> float:
    p_values = [two_sided_ttest(a, b, difference=difference, alpha=ALPHA).p_value for a, b in pairs]
    return float(np.mean(np.asarray(p_values) < ALPHA))


@pytest.mark.parametrize("difference", ["relative", "absolute"])
def test_aa_proportions_false_positive_rate_is_alpha(difference: str) -> None:
    pairs = _proportion_pairs(np.random.default_rng(20240101), n=2000, rates=(0.1, 0.1))
    assert 0.04 <= _rejection_rate(pairs, difference) <= 0.06


@pytest.mark.parametrize("difference", ["relative", "absolute"])
def test_aa_means_false_positive_rate_is_alpha(difference: str) -> None:
    pairs = _mean_pairs(np.random.default_rng(20240102), n=1000)
    assert 0.04 <= _rejection_rate(pairs, difference) <= 0.06


def _daily_looks(seed: int, days: int = 21, daily: int = 200) -> np.ndarray:
    """Cumulative conversions, shape (experiments, days, 2), of A/A tests at 10%."""
    rng = np.random.default_rng(seed)
    return rng.binomial(daily, 0.1, size=(EXPERIMENTS, days, 2)).cumsum(axis=1)


def _any_look_rejects(conversions: np.ndarray, daily: int, test) -> float:
    rejected = 0
    for experiment in conversions:
        for day, (a, b) in enumerate(experiment, start=1):
            n = day * daily
            if test(ProportionStats(n, float(a)), ProportionStats(n, float(b))).p_value < ALPHA:
                rejected += 1
                break
    return rejected / len(conversions)


def test_sequential_keeps_false_positives_under_alpha_with_daily_peeking() -> None:
    conversions = _daily_looks(seed=7, days=21, daily=200)

    def sequential(a, b):
        return sequential_ttest(a, b, alpha=ALPHA, tuning=8400)

    assert _any_look_rejects(conversions, 200, sequential) < ALPHA


def test_fixed_horizon_test_with_daily_peeking_finds_false_winners() -> None:
    # The reason the sequential test exists: peeking at a fixed-horizon test every day
    # more than doubles its false-positive rate.
    conversions = _daily_looks(seed=8, days=21, daily=200)

    def fixed(a, b):
        return two_sided_ttest(a, b, alpha=ALPHA)

    assert _any_look_rejects(conversions, 200, fixed) > 2 * ALPHA


def test_power_calculator_proportions_relative() -> None:
    baseline = Baseline.of_rate(0.10)
    n = sample_size(baseline, mde=0.10, difference="relative", alpha=ALPHA, power=0.8)
    pairs = _proportion_pairs(np.random.default_rng(11), n=n, rates=(0.10, 0.11))
    assert 0.77 <= _rejection_rate(pairs, "relative") <= 0.83


def test_power_calculator_means_absolute() -> None:
    # lognormal(0, 1): mean e^0.5, variance (e - 1) e.
    baseline = Baseline(mean=float(np.exp(0.5)), variance=float((np.e - 1) * np.e))
    n = sample_size(baseline, mde=0.15, difference="absolute", alpha=ALPHA, power=0.8)
    pairs = _mean_pairs(np.random.default_rng(12), n=n, shift=0.15)
    assert 0.77 <= _rejection_rate(pairs, "absolute") <= 0.83
