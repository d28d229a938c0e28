"""Sample-ratio mismatch: a chi-square test of the split."""

from __future__ import annotations

import pytest
from scipy import stats

from unico.experiments.stats import srm_check


def test_a_52_48_split_at_large_n_is_flagged() -> None:
    result = srm_check([52_000, 48_000])
    assert result.flagged and result.p_value < 1e-30


def test_a_fair_split_is_not_flagged() -> None:
    result = srm_check([50_110, 49_890])
    assert not result.flagged and result.p_value > 0.4


def test_a_small_imbalance_at_small_n_is_not_flagged() -> None:
    assert not srm_check([520, 480]).flagged


def test_unequal_expected_weights() -> None:
    assert not srm_check([9_000, 1_000], [0.9, 0.1]).flagged
    assert srm_check([9_000, 1_000]).flagged


def test_matches_scipy_chisquare() -> None:
    counts, weights = [1040, 980, 1003], [1, 1, 1]
    expected = stats.chisquare(counts).pvalue
    assert srm_check(counts, weights).p_value == pytest.approx(expected)


def test_threshold_is_configurable_and_empty_is_fine() -> None:
    assert srm_check([505, 495], threshold=0.99).flagged
    assert srm_check([0, 0]).p_value == 1.0


def test_bad_inputs() -> None:
    with pytest.raises(ValueError):
        srm_check([100])
    with pytest.raises(ValueError):
        srm_check([100, 100], [1, 0])
    with pytest.raises(ValueError):
        srm_check([100, 100], [1, 1, 1])
