"""Agreement of Unico's experiments statistics engine with GrowthBook's gbstats 0.8.0.

``make gbstats-check`` runs this module under pytest with the Python of
``.unico/gbstats-venv``, where gbstats (numpy<2, pandas<2) and Unico (``pip install
--no-deps -e .``) are both installed, with its own configuration (``gbstats.ini``: no
conftest, whose fixtures need the main virtualenv's packages). The main test run ignores
``tests/experiments/gbstats_*.py``. It checks

1. every vector of gbstats' own test suite that concerns a method Unico implements
   (``gbstats_vectors.json``, read by hand from the sdist's ``tests/`` folder): gbstats
   still gives the numbers its tests expect, Unico agrees with it to 4 decimals on every
   output field (expected, interval, standard deviation, p-value or chance to win and
   risks, whether an answer could be given, the SRM p-value), and the relations gbstats'
   tests assert (interval nesting, close chances) hold for both engines;
2. `CASES` seeded random cases (`gbstats_cases.random_case`: frequentist, sequential and
   Bayesian tests of proportions, means, ratios and CUPED-adjusted means, relative and
   absolute), each agreeing to 4 decimals.
"""

from __future__ import annotations

import functools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from gbstats.models.statistics import (
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
    compute_theta,
)

from tests.experiments.gbstats_cases import random_case
from tests.experiments.gbstats_engines import (
    Fields,
    both,
    differences,
    gbstats_analysis,
    gbstats_analysis_fields,
    gbstats_own_expectations,
    gbstats_result,
    gbstats_row_expectations,
    unico_analysis_fields,
    unico_document,
)
from unico.experiments.stats import CovariateStats, RatioStats, SampleStats, pooled_theta

VECTORS: Fields = json.loads(
    Path(__file__).with_name("gbstats_vectors.json").read_text(encoding="utf-8")
)
#: How many seeded random cases: 0 .. CASES - 1.
CASES = 300


def _ids(items: list[Fields]) -> list[str]:
    return [item["id"] for item in items]


@functools.cache
def fixed_results() -> dict[str, tuple[Fields, Fields]]:
    """(gbstats, Unico) fields of every fixed vector, and of every analysis row by
    ``"{id}[{dimension}]"``: what the relations compare."""
    results = {vector["id"]: both(vector) for vector in VECTORS["tests"]}
    for vector in VECTORS["analyses"]:
        rows = VECTORS["rows"][vector["rows"]]
        for dimension, row in gbstats_analysis(vector, rows).items():
            here = [r for r in rows if r["dimension"] == dimension]
            ours = unico_analysis_fields(unico_document(vector, here))
            results[f"{vector['id']}[{dimension}]"] = (gbstats_analysis_fields(row), ours)
    return results


@pytest.mark.parametrize("vector", VECTORS["tests"], ids=_ids(VECTORS["tests"]))
def test_fixed_vector(vector: Fields) -> None:
    wrong = gbstats_own_expectations(vector, gbstats_result(vector))
    assert not wrong, f"gbstats changed: {wrong}"
    theirs, ours = fixed_results()[vector["id"]]
    assert not differences(theirs, ours)


@pytest.mark.parametrize("vector", VECTORS["analyses"], ids=_ids(VECTORS["analyses"]))
def test_fixed_analysis(vector: Fields) -> None:
    rows = gbstats_analysis(vector, VECTORS["rows"][vector["rows"]])
    for dimension, want in vector.get("expected", {}).items():
        wrong = gbstats_row_expectations(rows[dimension], want, vector["decimals"])
        assert not wrong, f"gbstats changed: {wrong}"
    assert rows, "no dimension analysed"
    for dimension in rows:
        theirs, ours = fixed_results()[f"{vector['id']}[{dimension}]"]
        assert not differences(theirs, ours), dimension


def _gb_mean(values: Any) -> Any:
    array = np.asarray(values, dtype=float)
    return SampleMeanStatistic(n=array.size, sum=array.sum(), sum_squares=(array**2).sum())


def test_sample_mean_statistic() -> None:
    values = VECTORS["statistics"][0]["values"]
    ours, theirs = SampleStats.from_values(values), _gb_mean(values)
    assert not differences(
        {"mean": theirs.mean, "variance": theirs.variance},
        {"mean": ours.mean, "variance": ours.variance},
    )
    assert math.isclose(ours.variance, np.var(values, ddof=1))


def test_ratio_statistic() -> None:
    spec = VECTORS["statistics"][1]
    top, bottom = np.asarray(spec["numerators"], float), np.asarray(spec["denominators"], float)
    theirs = RatioStatistic(
        n=top.size,
        m_statistic=_gb_mean(top),
        d_statistic=_gb_mean(bottom),
        m_d_sum_of_products=top @ bottom,
    )
    ours = RatioStats.from_values(top, bottom)
    fields = ("mean", "variance", "covariance")
    assert not differences(
        {f: getattr(theirs, f) for f in fields}, {f: getattr(ours, f) for f in fields}
    )


def test_cuped_theta() -> None:
    spec = VECTORS["statistics"][2]
    post, pre = np.asarray(spec["post"], float), np.asarray(spec["pre"], float)
    arms = [
        RegressionAdjustedStatistic(
            n=post.size,
            post_statistic=_gb_mean(post),
            pre_statistic=_gb_mean(pre),
            post_pre_sum_of_products=post @ pre,
            theta=0,
        )
        for _ in range(2)
    ]
    theirs = compute_theta(arms[0], arms[1])
    assert round(theirs, spec["decimals"]) == spec["expected_theta"], "gbstats changed"
    ours = CovariateStats.from_values(post, pre)
    assert not differences({"theta": theirs}, {"theta": pooled_theta(ours, ours)})


RELATIONS = {
    "ci_contains": lambda c, a, b: a["ci_low"] < b["ci_low"] and a["ci_high"] > b["ci_high"],
    "lower_bound_above": lambda c, a, b: a["ci_low"] > b["ci_low"],
    "almost_equal": lambda c, a, b: round(a[c["field"]] - b[c["field"]], c["places"]) == 0,
}


@pytest.mark.parametrize("engine", ["gbstats", "unico"])
@pytest.mark.parametrize(
    "relation", VECTORS["test_assertions"], ids=_ids(VECTORS["test_assertions"])
)
def test_relation_from_gbstats_tests(relation: Fields, engine: str) -> None:
    first = relation.get("wide") or relation.get("higher") or relation["first"]
    second = relation.get("narrow") or relation.get("lower") or relation["second"]
    side = ("gbstats", "unico").index(engine)
    a, b = fixed_results()[first][side], fixed_results()[second][side]
    assert RELATIONS[relation["kind"]](relation, a, b), (a, b)


@pytest.mark.parametrize("index", range(CASES), ids=[random_case(i)["id"] for i in range(CASES)])
def test_random_case(index: int) -> None:
    case = random_case(index)
    theirs, ours = both(case)
    assert not differences(theirs, ours), case


def test_random_cases_cover_every_method_kind_and_difference() -> None:
    seen = [random_case(i) for i in range(CASES)]
    combinations = {
        (c["method"], c["control"]["kind"], c["config"]["difference_type"]) for c in seen
    }
    assert len(combinations) == 3 * 4 * 2
    assert [random_case(i) for i in range(20)] == seen[:20], "not reproducible"
    # Some cases are too small for an answer: both engines must say so alike.
    answered = [both(c)[0]["error"] for c in seen[:60]]
    assert 0 < sum(answered) < len(answered)
