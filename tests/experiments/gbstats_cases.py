"""Seeded random cases for the gbstats agreement check: random but reproducible summary
statistics across every method and kind of metric Unico shares with gbstats.

Case ``i`` comes from ``random.Random(i)`` alone, so a failing case is rerun by its number
(``-k "random and 137-"``). Sizes are log-uniform from 2 to 200,000 units per arm (the
smallest ones exercise both engines' "not enough data" answers); means, spreads,
conversion rates, correlations, lifts, priors and sequential tuning vary within ranges
real experiments see.
"""

from __future__ import annotations

import math
import random
from typing import Any

METHODS = ("frequentist", "sequential", "bayesian")
KINDS = ("proportion", "mean", "ratio", "mean_ra")
DIFFERENCES = ("relative", "absolute")

Fields = dict[str, Any]


def _units(rng: random.Random) -> int:
    return max(2, round(math.exp(rng.uniform(math.log(2), math.log(200_000)))))


def _mean_stats(n: int, mean: float, sd: float) -> Fields:
    """Summary statistics of ``n`` values with this mean and sample standard deviation."""
    return {"kind": "mean", "n": n, "sum": n * mean, "sum_squares": (n - 1) * sd**2 + n * mean**2}


def _paired(n: int, first: tuple[float, float], second: tuple[float, float], rho: float) -> Fields:
    """Two metrics of the same units with correlation ``rho``."""
    (m1, s1), (m2, s2) = first, second
    return {
        "first": _mean_stats(n, m1, s1),
        "second": _mean_stats(n, m2, s2),
        "sum_products": (n - 1) * rho * s1 * s2 + n * m1 * m2,
    }


def _arm(kind: str, n: int, level: float, shape: Fields, rng: random.Random) -> Fields:
    """One arm: ``level`` scales its mean (1 for the control, 1 + lift for the variant)."""
    if kind == "proportion":
        rate = min(shape["rate"] * level, 1.0)
        return {"kind": "proportion", "n": n, "sum": round(rate * n)}
    mean, cv = shape["mean"] * level, shape["cv"]
    if kind == "mean":
        return _mean_stats(n, mean, abs(mean) * cv)
    if kind == "ratio":
        denominator = shape["denominator"] * rng.uniform(0.95, 1.05)
        pair = _paired(n, (mean, abs(mean) * cv), (denominator, denominator * 0.5), shape["rho"])
        return {
            "kind": "ratio",
            "numerator": pair["first"],
            "denominator": pair["second"],
            "sum_products": pair["sum_products"],
        }
    pre = shape["mean"] * rng.uniform(0.98, 1.02)
    pair = _paired(n, (mean, abs(mean) * cv), (pre, abs(pre) * cv), shape["rho"])
    return {
        "kind": "mean_ra",
        "post": pair["first"],
        "pre": pair["second"],
        "post_pre_sum_of_products": pair["sum_products"],
    }


def random_case(index: int) -> Fields:
    """Case ``index``: a method, a kind of metric, a difference and two arms."""
    rng = random.Random(index)
    method, kind, difference = rng.choice(METHODS), rng.choice(KINDS), rng.choice(DIFFERENCES)
    shape = {
        "rate": math.exp(rng.uniform(math.log(0.002), math.log(0.6))),
        "mean": rng.uniform(0.5, 300.0),
        "cv": math.exp(rng.uniform(math.log(0.05), math.log(6.0))),
        "denominator": rng.uniform(1.0, 8.0),
        "rho": rng.uniform(-0.3, 0.95),
    }
    lift = rng.choice((0.0, rng.uniform(-0.2, 0.2), rng.uniform(-0.02, 0.02)))
    config: Fields = {"difference_type": difference}
    if method == "sequential":
        config["sequential_tuning_parameter"] = rng.choice((1000, 5000, rng.randint(200, 50_000)))
    if method == "bayesian" and rng.random() < 0.6:
        config["prior"] = {
            "mean": rng.uniform(-0.1, 0.1),
            "variance": math.exp(rng.uniform(math.log(0.005), math.log(2.0))),
            "proper": rng.random() < 0.8,
        }
    n_control = _units(rng)
    n_variant = max(2, round(n_control * rng.uniform(0.8, 1.25)))
    return {
        "id": f"{index}-{method}-{kind}-{difference}",
        "method": method,
        "config": config,
        "control": _arm(kind, n_control, 1.0, shape, rng),
        "variant": _arm(kind, n_variant, 1.0 + lift, shape, rng),
    }
