"""Read-outs of a full-factorial test: each factor's main effects and each pair's interaction.

A main effect compares a level with the factor's first level, pooling the cells of the
other factors' levels (the experiment's chosen test, relative lift). An interaction of two
two-level factors A and B is the difference of differences of the cells' means,
``(ab - aB) - (Ab - AB)`` (capital letters: first levels), an absolute quantity with the
variance ``sum(var_i / n_i)`` of the four cells, read as a z-test: far from 0 means the
effect of one factor depends on the level of the other.
"""

from __future__ import annotations

import itertools
import math
from typing import Any

from scipy import special

from unico.experiments.metrics import compare_sums, pooled, statistic
from unico.experiments.model import ExperimentSpec, MetricSpec
from unico.experiments.store import Sums


def factorial_effects(
    spec: ExperimentSpec, metric: MetricSpec, cells: dict[str, Sums]
) -> dict[str, Any]:
    def level_of(cell: str) -> dict[str, str]:
        return dict(part.split("=", 1) for part in cell.split("|"))

    parsed = {name: level_of(name) for name in cells}
    effects = []
    for factor in spec.factors:
        base = factor.levels[0].name
        control = _pool(parsed, cells, {factor.name: base})
        for level in factor.levels[1:]:
            other = _pool(parsed, cells, {factor.name: level.name})
            result = compare_sums(spec, metric, control, other)
            effects.append(
                {
                    "factor": factor.name,
                    "level": level.name,
                    "against": base,
                    **result.to_dict(),
                }
            )
    interactions = []
    if metric.kind in ("conversion", "count", "sum"):
        for a, b in itertools.combinations(spec.factors, 2):
            if len(a.levels) == 2 and len(b.levels) == 2:
                interactions.append(_interaction(spec, metric, parsed, cells, a.name, b.name, a, b))
    return {"metric": metric.name, "main_effects": effects, "interactions": interactions}


def _pool(parsed: dict[str, dict[str, str]], cells: dict[str, Sums], where: dict[str, str]) -> Sums:
    return pooled(
        cells[name]
        for name, levels in parsed.items()
        if all(levels.get(k) == v for k, v in where.items())
    )


def _interaction(
    spec: ExperimentSpec,
    metric: MetricSpec,
    parsed: dict[str, dict[str, str]],
    cells: dict[str, Sums],
    name_a: str,
    name_b: str,
    a: Any,
    b: Any,
) -> dict[str, Any]:
    means, variance = {}, 0.0
    for la, lb in itertools.product((0, 1), (0, 1)):
        stat = statistic(
            metric,
            _pool(parsed, cells, {name_a: a.levels[la].name, name_b: b.levels[lb].name}),
        )
        means[(la, lb)] = stat.mean
        variance += stat.variance / stat.n if stat.n > 1 else math.inf
    estimate = (means[(1, 1)] - means[(1, 0)]) - (means[(0, 1)] - means[(0, 0)])
    out: dict[str, Any] = {"factors": [name_a, name_b], "estimate": estimate}
    if not math.isfinite(variance) or variance <= 0:
        return {**out, "ci": None, "p_value": None, "error": "a cell has too few units"}
    stddev = math.sqrt(variance)
    z = float(special.ndtri(1 - spec.alpha / 2))
    p_value = float(2 * special.ndtr(-abs(estimate) / stddev))
    return {
        **out,
        "ci": [estimate - z * stddev, estimate + z * stddev],
        "p_value": p_value,
        "error": None,
    }
