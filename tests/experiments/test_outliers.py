"""Winsorization caps values at percentiles."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from unico.experiments.stats import percentile_caps, winsorize


def test_caps_the_top_percentile_only_by_default() -> None:
    values = np.arange(1, 101, dtype=float)
    values[-1] = 10_000.0
    capped = winsorize(values)
    assert capped.max() == pytest.approx(np.percentile(values, 99))
    assert (capped[:99] == values[:99]).all()


def test_caps_both_tails() -> None:
    capped = winsorize([-500.0, 1.0, 2.0, 3.0, 4.0, 500.0], upper=80, lower=20)
    assert capped.min() == pytest.approx(1.0) and capped.max() == pytest.approx(4.0)


def test_caps_computed_on_all_variants_can_be_reused() -> None:
    low, high = percentile_caps([1.0, 2.0, 3.0, 100.0], upper=75)
    assert low == -np.inf and high == pytest.approx(27.25)


def test_bad_percentile_and_empty_input() -> None:
    with pytest.raises(ValueError, match="upper"):
        winsorize([1.0], upper=150)
    assert winsorize([]).size == 0


@given(st.lists(st.floats(min_value=-1e6, max_value=1e6), min_size=1, max_size=50))
def test_capping_keeps_order_and_never_widens(values: list[float]) -> None:
    capped = winsorize(values, upper=90, lower=10)
    array = np.asarray(values)
    assert capped.min() >= array.min() and capped.max() <= array.max()
    order = np.argsort(array, kind="stable")
    assert (np.diff(capped[order]) >= 0).all()
