"""Assignment is a pure function of (salt, unit): deterministic, uniform, independent per
question, and monotone in traffic."""

from __future__ import annotations

import pytest

from unico.core.errors import InvalidInput
from unico.experiments.assignment import (
    LAYER_BUCKETS,
    RunningExperiment,
    Variant,
    buckets_for,
    draw,
    free_range,
    layer_bucket,
    pick,
)
from unico.experiments.model import parse_spec

UNITS = [f"p_{i}" for i in range(20_000)]


def _experiment(traffic: float, weights: list[float], **extra: object) -> RunningExperiment:
    variants = tuple(Variant(n, {}, {}) for n in "ABCD"[: len(weights)])
    base: dict[str, object] = {
        "experiment_id": "exp_1",
        "placement": "hero",
        "key": None,
        "variants": variants,
        "weights": weights,
        "traffic": traffic,
        "holdout": 0.0,
        "segment": None,
        "layer": None,
        "buckets": None,
    }
    base.update(extra)
    return RunningExperiment(**base)  # type: ignore[arg-type]


def test_draws_are_deterministic_uniform_and_salted() -> None:
    assert draw("exp_1", "p_1") == draw("exp_1", "p_1")
    values = [draw("exp_1", u) for u in UNITS]
    assert all(0 <= v < 1 for v in values)
    assert abs(sum(values) / len(values) - 0.5) < 0.01
    # Ten equal bins each hold close to a tenth.
    bins = [0] * 10
    for v in values:
        bins[int(v * 10)] += 1
    assert max(abs(b - 2000) for b in bins) < 150
    # Another salt is another, independent draw.
    other = [draw("exp_2", u) for u in UNITS]
    same_half = sum((a < 0.5) == (b < 0.5) for a, b in zip(values, other, strict=True))
    assert abs(same_half / len(UNITS) - 0.5) < 0.02


def test_weights_split_units_as_asked() -> None:
    exp = _experiment(1.0, [0.2, 0.3, 0.5])
    counts = {"A": 0, "B": 0, "C": 0}
    for unit in UNITS:
        variant, propensity = exp.choose(unit)
        counts[variant.name] += 1
        assert propensity == {"A": 0.2, "B": 0.3, "C": 0.5}[variant.name]
    for name, share in (("A", 0.2), ("B", 0.3), ("C", 0.5)):
        assert abs(counts[name] / len(UNITS) - share) < 0.015
    assert pick([0.5, 0.5], 0.0) == 0 and pick([0.5, 0.5], 0.999) == 1


def test_raising_traffic_only_adds_people_and_keeps_their_variant() -> None:
    low, high = _experiment(0.2, [0.5, 0.5]), _experiment(0.6, [0.5, 0.5])
    inside_low = {u for u in UNITS if low.admits(u)}
    inside_high = {u for u in UNITS if high.admits(u)}
    assert inside_low < inside_high
    assert abs(len(inside_low) / len(UNITS) - 0.2) < 0.015
    assert abs(len(inside_high) / len(UNITS) - 0.6) < 0.015
    assert all(low.choose(u)[0] == high.choose(u)[0] for u in inside_low)
    # The variant split is the same inside and outside a small traffic share.
    b_share = sum(low.choose(u)[0].name == "B" for u in inside_low) / len(inside_low)
    assert abs(b_share - 0.5) < 0.03


def test_layer_ranges_are_disjoint_so_no_unit_is_in_two() -> None:
    first = free_range([], buckets_for(0.5))
    assert first == (0, 499)
    second = free_range([first], buckets_for(0.3))
    assert second == (500, 799)
    assert free_range([first, second], buckets_for(0.3)) is None
    a = _experiment(0.5, [0.5, 0.5], layer="home", buckets=first)
    b = _experiment(0.3, [0.5, 0.5], layer="home", buckets=second, experiment_id="exp_2")
    both = [u for u in UNITS if a.admits(u) and b.admits(u)]
    assert both == []
    share_a = sum(a.admits(u) for u in UNITS) / len(UNITS)
    assert abs(share_a - 0.5) < 0.015
    assert 0 <= layer_bucket("home", "p_1") < LAYER_BUCKETS


def test_a_full_factorial_design_has_one_cell_per_combination() -> None:
    spec = parse_spec(
        {
            "name": "mvt",
            "target": {"key": "welcome_email"},
            "factors": [
                {"name": "subject", "levels": [{"name": "plain"}, {"name": "emoji"}]},
                {
                    "name": "offer",
                    "levels": [
                        {"name": "none", "payload": {"discount": 0}},
                        {"name": "ten", "payload": {"discount": 10}},
                        {"name": "twenty", "payload": {"discount": 20}},
                    ],
                },
            ],
            "metrics": [{"name": "orders", "event": "Order Completed"}],
        }
    )
    cells = spec.cells()
    assert [c.name for c in cells] == [
        f"subject={s}|offer={o}" for s in ("plain", "emoji") for o in ("none", "ten", "twenty")
    ]
    assert cells[4].payload == {"discount": 10}
    assert spec.weights() == pytest.approx([1 / 6] * 6)


@pytest.mark.parametrize(
    ("weights", "ok"),
    [([0.5, 0.5], True), ([50, 50], True), ([0.2, 0.3, 0.5], True), ([0.5, 0.4], False)],
)
def test_weights_must_sum_to_one_or_a_hundred(weights: list[float], ok: bool) -> None:
    body = {
        "name": "w",
        "target": {"placement": "hero"},
        "variants": [{"name": str(i), "weight": w} for i, w in enumerate(weights)],
        "metrics": [{"name": "orders", "event": "Order Completed"}],
    }
    if ok:
        assert sum(parse_spec(body).weights()) == pytest.approx(1)
    else:
        with pytest.raises(InvalidInput, match=r"sum to 0\.9") as found:
            parse_spec(body)
        assert found.value.field == "variants"
