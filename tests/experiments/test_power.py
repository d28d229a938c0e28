"""The power calculator: textbook numbers, symmetries, and agreement with its own power."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unico.experiments.stats import (
    Baseline,
    ProportionStats,
    SampleStats,
    power,
    sample_size,
    units_to_go,
)


def test_textbook_proportions() -> None:
    # 10% -> 12%, alpha 5%, power 80%: (1.96 + 0.8416)^2 (0.09 + 0.1056) / 0.02^2 = 3838.3.
    assert sample_size(Baseline.of_rate(0.10), mde=0.02, difference="absolute") == 3839


def test_textbook_means() -> None:
    # Detect one standard deviation with 80% power: 2 (1.96 + 0.8416)^2 = 15.7 per arm.
    assert sample_size(Baseline(mean=0.0, variance=1.0), mde=1.0, difference="absolute") == 16


def test_relative_and_absolute_effects_agree_for_the_same_shift_in_means() -> None:
    baseline = Baseline(mean=20.0, variance=25.0)
    # A relative test's variance grows with the variant's mean, so it needs a few more units.
    absolute = sample_size(baseline, mde=1.0, difference="absolute")
    relative = sample_size(baseline, mde=0.05, difference="relative")
    assert absolute <= relative <= 1.15 * absolute


def test_symmetric_effects_need_the_same_sample() -> None:
    means = Baseline(mean=10.0, variance=4.0)
    assert sample_size(means, mde=0.3, difference="absolute") == sample_size(
        means, mde=-0.3, difference="absolute"
    )
    # Swapping conversions and failures mirrors the rate around 1/2.
    low, high = Baseline.of_rate(0.2), Baseline.of_rate(0.8)
    assert sample_size(low, mde=0.05, difference="absolute") == sample_size(
        high, mde=-0.05, difference="absolute"
    )


def test_more_power_smaller_alpha_or_smaller_effect_need_more_units() -> None:
    b = Baseline.of_rate(0.05)
    base = sample_size(b, mde=0.1)
    assert sample_size(b, mde=0.1, power=0.9) > base
    assert sample_size(b, mde=0.1, alpha=0.01) > base
    assert sample_size(b, mde=0.05) > base


def test_units_to_go_counts_what_is_missing() -> None:
    b = Baseline.of_stats(ProportionStats(4000, 400))
    needed = sample_size(b, mde=0.1)
    assert units_to_go(b, enrolled=1000, mde=0.1) == needed - 1000
    assert units_to_go(b, enrolled=needed + 5, mde=0.1) == 0


def test_baseline_from_a_running_experiment() -> None:
    stats = SampleStats.from_values([1.0, 2.0, 3.0, 4.0])
    assert Baseline.of_stats(stats) == Baseline(mean=2.5, variance=stats.variance)


@pytest.mark.parametrize(
    ("baseline", "mde", "match"),
    [
        (Baseline.of_rate(0.5), 0.0, "zero"),
        (Baseline.of_rate(0.9), 0.2, "outside"),
        (Baseline(mean=0.0, variance=1.0), 0.1, "positive baseline mean"),
        (Baseline(mean=1.0, variance=0.0), 0.1, "variance"),
    ],
)
def test_impossible_plans_are_refused(baseline: Baseline, mde: float, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        sample_size(baseline, mde=mde, difference="relative")


def test_power_at_zero_effect_size_limit_is_alpha() -> None:
    tiny = power(100, Baseline(mean=10.0, variance=1.0), mde=1e-9, difference="absolute")
    assert tiny == pytest.approx(0.05)


@given(
    st.floats(min_value=0.01, max_value=0.5),
    st.floats(min_value=0.02, max_value=0.5),
    st.floats(min_value=0.5, max_value=0.95),
)
def test_the_sample_size_reaches_the_power_asked_for(
    rate: float, mde: float, target: float
) -> None:
    baseline = Baseline.of_rate(rate)
    n = sample_size(baseline, mde=mde, power=target)
    assert power(n, baseline, mde=mde) >= target - 1e-9
    if n > 2:
        assert power(n - 1, baseline, mde=mde) < target + 1e-3
