"""Thompson sampling: weights from the posteriors, reproducible from the seed."""

from __future__ import annotations

import numpy as np
import pytest

from unico.experiments.stats import ProportionStats, SampleStats, ThompsonSampling


def test_weights_are_probabilities_favouring_the_better_arm() -> None:
    stats = [ProportionStats(1000, 100), ProportionStats(1000, 120), ProportionStats(1000, 90)]
    weights = ThompsonSampling().weights(stats, np.random.default_rng(1))
    assert weights.sum() == pytest.approx(1.0)
    assert weights.argmax() == 1 and weights.min() >= 0


def test_same_seed_same_weights() -> None:
    stats = [ProportionStats(50, 5), ProportionStats(50, 7)]
    policy = ThompsonSampling(draws=2000)
    first = policy.weights(stats, np.random.default_rng(42))
    assert (policy.weights(stats, np.random.default_rng(42)) == first).all()


def test_cold_start_splits_evenly() -> None:
    weights = ThompsonSampling(draws=100_000).weights(
        [ProportionStats(0, 0)] * 4, np.random.default_rng(3)
    )
    assert weights == pytest.approx([0.25] * 4, abs=0.01)


def test_weights_match_the_exact_chance_of_being_best() -> None:
    # Two beta posteriors: P(B > A) by numerical integration.
    from scipy import integrate, stats

    a, b = stats.beta(1 + 30, 1 + 170), stats.beta(1 + 40, 1 + 160)
    exact, _ = integrate.quad(lambda x: b.pdf(x) * a.cdf(x), 0, 1)
    weights = ThompsonSampling(draws=200_000).weights(
        [ProportionStats(200, 30), ProportionStats(200, 40)], np.random.default_rng(4)
    )
    assert weights[1] == pytest.approx(exact, abs=0.005)


def test_floor_keeps_every_arm_exploring_and_inverse_prefers_lower() -> None:
    stats = [
        SampleStats.from_values([1.0, 1.1, 0.9] * 100),
        SampleStats.from_values([5.0, 5.1, 4.9] * 100),
    ]
    rng = np.random.default_rng(5)
    assert ThompsonSampling(floor=0.1).weights(stats, rng) == pytest.approx([0.1, 0.9])
    assert ThompsonSampling(inverse=True).weights(stats, rng) == pytest.approx([1.0, 0.0])


def test_bad_settings() -> None:
    with pytest.raises(ValueError):
        ThompsonSampling(draws=0)
    with pytest.raises(ValueError):
        ThompsonSampling(floor=0.6).weights([ProportionStats(1, 1)] * 2, np.random.default_rng(0))
    with pytest.raises(ValueError):
        ThompsonSampling().weights([], np.random.default_rng(0))
