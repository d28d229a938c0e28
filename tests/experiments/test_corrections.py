"""Holm and Benjamini-Hochberg against textbook examples."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unico.experiments.stats import adjust_p_values, benjamini_hochberg, holm

# Benjamini & Hochberg (1995), section 4: 15 p-values from a clinical trial.
BH_1995 = [
    0.0001, 0.0004, 0.0019, 0.0095, 0.0201, 0.0278, 0.0298, 0.0344,
    0.0459, 0.3240, 0.4262, 0.5719, 0.6528, 0.7590, 1.0000,
]  # fmt: skip


def test_benjamini_hochberg_rejects_four_of_the_1995_example_at_5_percent() -> None:
    adjusted = benjamini_hochberg(BH_1995)
    assert sum(p <= 0.05 for p in adjusted) == 4
    assert adjusted[:4] == pytest.approx([0.0015, 0.003, 0.0095, 0.035625])


def test_holm_rejects_three_of_the_1995_example_at_5_percent() -> None:
    # Holm compares the i-th smallest p with 0.05 / (15 - i + 1): 0.0095 > 0.05 / 12.
    adjusted = holm(BH_1995)
    assert sum(p <= 0.05 for p in adjusted) == 3
    assert adjusted[:4] == pytest.approx([0.0015, 0.0056, 0.0247, 0.114])


def test_holm_on_wikipedias_example_keeps_input_order() -> None:
    # Four hypotheses, p = 0.01, 0.04, 0.03, 0.005: Holm rejects H1 and H4 at 0.05.
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])


def test_p_adjust_definitions_worked_by_hand() -> None:
    # p.adjust(c(0.02, 0.001, 0.04, 0.03), "holm") and "BH" in R, worked by hand.
    p = [0.02, 0.001, 0.04, 0.03]
    assert holm(p) == pytest.approx([0.06, 0.004, 0.06, 0.06])
    assert benjamini_hochberg(p) == pytest.approx([0.04, 0.004, 0.04, 0.04])


def test_method_names_and_bad_input() -> None:
    assert adjust_p_values([0.01, 0.02], "holm") == holm([0.01, 0.02])
    assert adjust_p_values([0.01, 0.02], "benjamini-hochberg") == benjamini_hochberg([0.01, 0.02])
    with pytest.raises(ValueError):
        holm([0.5, 1.5])
    assert holm([]) == [] and benjamini_hochberg([]) == []


p_values = st.lists(st.floats(min_value=0, max_value=1), min_size=1, max_size=40)


@given(p_values)
def test_adjusted_p_values_are_probabilities_at_least_the_raw_ones(p: list[float]) -> None:
    for adjusted in (holm(p), benjamini_hochberg(p)):
        assert all(raw <= adj <= 1 for raw, adj in zip(p, adjusted, strict=True))
    # FWER control is stricter than FDR control.
    assert all(bh <= h + 1e-12 for bh, h in zip(benjamini_hochberg(p), holm(p), strict=True))


@given(p_values)
def test_adjustment_keeps_the_order_of_p_values(p: list[float]) -> None:
    for adjusted in (holm(p), benjamini_hochberg(p)):
        pairs = sorted(zip(p, adjusted, strict=True))
        assert all(a[1] <= b[1] for a, b in itertools.pairwise(pairs))
