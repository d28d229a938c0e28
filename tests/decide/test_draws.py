"""The seeded draws behind a decision's exploration."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from unico.catalog.model import Item
from unico.decide.ranking import SeededDraws, fill_slots
from unico.decide.rules import Rules


@given(st.integers(min_value=0, max_value=2**200))
def test_the_same_seed_gives_the_same_draws_and_they_stay_in_range(seed: int) -> None:
    a, b = SeededDraws(seed), SeededDraws(seed)
    draws = [a.random() for _ in range(5)]
    assert draws == [b.random() for _ in range(5)]
    assert all(0.0 <= d < 1.0 for d in draws)
    assert a.choice("xyz") == b.choice("xyz") and a.choice("xyz") in "xyz"


def test_draws_are_uniform() -> None:
    """20,000 seeds (one per decision, as served): each of 5 choices within 5% of its
    expected 4,000 (about 5 standard deviations), and a mean of random() near 1/2."""
    seeds = [(7 << 128) | (n * 0x9E3779B97F4A7C15 + n) for n in range(20_000)]
    counts = Counter(SeededDraws(s).choice("abcde") for s in seeds)
    assert all(abs(c - 4000) < 200 for c in counts.values()), counts
    mean = sum(SeededDraws(s).random() for s in seeds) / len(seeds)
    assert abs(mean - 0.5) < 0.01
    with pytest.raises(IndexError):
        SeededDraws(1).choice([])


def test_exploration_shows_what_it_logs() -> None:
    """With epsilon 0.5 over 4 candidates for one slot, the best item is shown with
    probability 0.5 + 0.5/4 and each other one with 0.5/4, the propensities logged."""
    ranked = [(Item(f"i{n}"), float(10 - n)) for n in range(4)]
    shown: Counter[str] = Counter()
    for n in range(8000):
        slots, _ = fill_slots(ranked, [], Rules(), 1, 0.5, SeededDraws((3 << 128) | n))
        (slot,) = slots
        shown[slot.item.item_id] += 1
        expected = 0.625 if slot.item.item_id == "i0" else 0.125
        assert slot.propensity == pytest.approx(expected)
    assert abs(shown["i0"] / 8000 - 0.625) < 0.03
    for other in ("i1", "i2", "i3"):
        assert abs(shown[other] / 8000 - 0.125) < 0.02
