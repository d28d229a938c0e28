"""GrowthBook's gbstats 0.8.0 and Unico's statistics engine, fed the same inputs.

Runs only in ``.unico/gbstats-venv`` (gbstats needs numpy<2 and pandas<2); the main test
run ignores ``tests/experiments/gbstats_*.py``. A case is a dict as in
``gbstats_vectors.json``: ``method`` (frequentist, sequential, bayesian), ``config``
(``difference_type``, optional ``prior`` and ``sequential_tuning_parameter``) and the
``control`` and ``variant`` statistics, each of one ``kind``: ``proportion`` (n, sum),
``mean`` (n, sum, sum_squares), ``ratio`` (numerator and denominator means and their
``sum_products``) or ``mean_ra`` (CUPED: ``post``, ``pre`` and
``post_pre_sum_of_products``). Both engines' answers become the same flat fields.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig
from gbstats.bayesian.tests import GaussianPrior as GbPrior
from gbstats.frequentist.tests import (
    FrequentistConfig,
    SequentialConfig,
    SequentialTwoSidedTTest,
    TwoSidedTTest,
)
from gbstats.gbstats import analyze_metric_df, get_metric_df
from gbstats.models.settings import AnalysisSettingsForStatsEngine, MetricSettingsForStatsEngine
from gbstats.models.statistics import (
    ProportionStatistic,
    RatioStatistic,
    RegressionAdjustedStatistic,
    SampleMeanStatistic,
)

from unico.experiments.stats import (
    CovariateStats,
    GaussianPrior,
    ProportionStats,
    RatioStats,
    SampleStats,
    adjust,
    analyze_document,
    bayesian_test,
    sequential_ttest,
    two_sided_ttest,
)

PLACES = 4
TOLERANCE = 0.5 * 10**-PLACES
DEFAULT_TUNING = 5000

Fields = dict[str, Any]


def differences(theirs: Fields, ours: Fields) -> list[str]:
    """Every field where the two engines differ by more than `TOLERANCE` (booleans and
    missing values must be equal; two NaNs, or two equal infinities, agree)."""
    found = []
    for key in sorted(set(theirs) | set(ours)):
        a, b = theirs.get(key), ours.get(key)
        if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
            same = a == b
        else:
            x, y = float(a), float(b)
            both_nan = math.isnan(x) and math.isnan(y)
            same = both_nan or x == y or abs(x - y) <= TOLERANCE
        if not same:
            found.append(f"{key}: gbstats {a!r}, unico {b!r}")
    return found


def frequentist_fields(expected: float, ci: Any, p_value: float, error: bool) -> Fields:
    return {
        "expected": expected,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "p_value": p_value,
        "error": error,
    }


def bayesian_fields(expected: float, ci: Any, chance: float, risk: Any, error: bool) -> Fields:
    return {
        "expected": expected,
        "ci_low": ci[0],
        "ci_high": ci[1],
        "chance_to_win": chance,
        "risk_control": risk[0],
        "risk_variant": risk[1],
        "error": error,
    }


# -- gbstats ----------------------------------------------------------------------------


def gbstats_statistic(spec: Fields) -> Any:
    if spec["kind"] == "proportion":
        return ProportionStatistic(n=spec["n"], sum=spec["sum"])
    if spec["kind"] == "mean":
        return SampleMeanStatistic(n=spec["n"], sum=spec["sum"], sum_squares=spec["sum_squares"])
    if spec["kind"] == "ratio":
        return RatioStatistic(
            n=spec["numerator"]["n"],
            m_statistic=gbstats_statistic(spec["numerator"]),
            d_statistic=gbstats_statistic(spec["denominator"]),
            m_d_sum_of_products=spec["sum_products"],
        )
    return RegressionAdjustedStatistic(
        n=spec["post"]["n"],
        post_statistic=gbstats_statistic(spec["post"]),
        pre_statistic=gbstats_statistic(spec["pre"]),
        post_pre_sum_of_products=spec["post_pre_sum_of_products"],
        theta=0,  # gbstats' test pools it from both arms, as Unico's `adjust` does
    )


def gbstats_result(case: Fields) -> Any:
    a, b = gbstats_statistic(case["control"]), gbstats_statistic(case["variant"])
    config = case["config"]
    difference = config["difference_type"]
    if case["method"] == "frequentist":
        return TwoSidedTTest(a, b, FrequentistConfig(difference_type=difference)).compute_result()
    if case["method"] == "sequential":
        tuning = config.get("sequential_tuning_parameter", DEFAULT_TUNING)
        sequential = SequentialConfig(
            difference_type=difference, sequential_tuning_parameter=tuning
        )
        return SequentialTwoSidedTTest(a, b, sequential).compute_result()
    prior = GbPrior(**config.get("prior", {}))
    bayes = EffectBayesianConfig(difference_type=difference, prior_effect=prior)
    return EffectBayesianABTest(a, b, bayes).compute_result()


def gbstats_fields(case: Fields, result: Any) -> Fields:
    error = result.error_message is not None
    if case["method"] == "bayesian":
        fields = bayesian_fields(
            result.expected, result.ci, result.chance_to_win, result.risk, error
        )
    else:
        fields = frequentist_fields(result.expected, result.ci, result.p_value, error)
    return {**fields, "stddev": result.uplift.stddev}


def gbstats_own_expectations(case: Fields, result: Any) -> list[str]:
    """Where gbstats no longer gives what its test file expects (rounded as its tests do)."""
    want = case.get("expected") or {}
    places = case.get("decimals", PLACES)
    got = {
        "expected": result.expected,
        "ci": list(result.ci),
        "stddev": result.uplift.stddev,
        "p_value": getattr(result, "p_value", None),
        "chance_to_win": getattr(result, "chance_to_win", None),
        "risk": list(getattr(result, "risk", []) or []),
        "error": result.error_message is not None,
    }
    wrong = []
    for key, value in want.items():
        actual = got[key]
        if isinstance(value, list):
            same = [float(np.round(x, places)) for x in actual] == value
        elif isinstance(value, bool):
            same = actual == value
        else:
            same = float(np.round(actual, places)) == value
        if not same:
            wrong.append(f"{key}: expected {value!r}, gbstats gives {actual!r}")
    return wrong


# -- Unico ------------------------------------------------------------------------------


def unico_statistic(spec: Fields) -> Any:
    if spec["kind"] == "proportion":
        return ProportionStats(n=spec["n"], sum=spec["sum"])
    if spec["kind"] == "mean":
        return SampleStats(n=spec["n"], sum=spec["sum"], sum_squares=spec["sum_squares"])
    if spec["kind"] == "ratio":
        return RatioStats(
            numerator=unico_statistic(spec["numerator"]),
            denominator=unico_statistic(spec["denominator"]),
            sum_products=spec["sum_products"],
        )
    return CovariateStats(
        post=unico_statistic(spec["post"]),
        pre=unico_statistic(spec["pre"]),
        sum_products=spec["post_pre_sum_of_products"],
    )


def unico_result(case: Fields) -> Any:
    a, b = unico_statistic(case["control"]), unico_statistic(case["variant"])
    if isinstance(a, CovariateStats):
        a, b = adjust(a, b)
    config = case["config"]
    difference = config["difference_type"]
    if case["method"] == "frequentist":
        return two_sided_ttest(a, b, difference=difference)
    if case["method"] == "sequential":
        tuning = config.get("sequential_tuning_parameter", DEFAULT_TUNING)
        return sequential_ttest(a, b, difference=difference, tuning=tuning)
    prior = GaussianPrior(**config["prior"]) if "prior" in config else None
    return bayesian_test(a, b, difference=difference, prior=prior)


def unico_fields(case: Fields, result: Any) -> Fields:
    error = result.error is not None
    if case["method"] == "bayesian":
        fields = bayesian_fields(
            result.expected, result.ci, result.chance_to_win, result.risk, error
        )
    else:
        fields = frequentist_fields(result.expected, result.ci, result.p_value, error)
    return {**fields, "stddev": result.stddev}


def both(case: Fields) -> tuple[Fields, Fields]:
    """gbstats' fields and Unico's for one case."""
    return gbstats_fields(case, gbstats_result(case)), unico_fields(case, unico_result(case))


# -- gbstats' pipeline (its tests/test_gbstats.py) against `unico experiments analyze` ---


def gbstats_analysis(vector: Fields, rows: list[Fields]) -> dict[str, Fields]:
    metric = MetricSettingsForStatsEngine(id="", name="", **vector["metric"])
    analysis = AnalysisSettingsForStatsEngine(
        var_names=["zero", "one"],
        var_ids=["0", "1"],
        weights=[0.5, 0.5],
        dimension="All",
        difference_type="relative",
        **vector["analysis"],
    )
    df = get_metric_df(pd.DataFrame(rows), {"zero": 0, "one": 1}, ["zero", "one"])
    result = analyze_metric_df(df, metric=metric, analysis=analysis)
    return {str(row["dimension"]): row for row in result.to_dict("records")}


def gbstats_analysis_fields(row: Fields) -> Fields:
    error = row["v1_error_message"] is not None
    if row["v1_p_value"] is None:
        fields = bayesian_fields(
            row["v1_expected"], row["v1_ci"], row["v1_prob_beat_baseline"], row["v1_risk"], error
        )
    else:
        fields = frequentist_fields(row["v1_expected"], row["v1_ci"], row["v1_p_value"], error)
    return {**fields, "srm_p_value": row["srm_p"]}


def gbstats_row_expectations(row: Fields, want: Fields, places: int) -> list[str]:
    wrong = []
    for key, value in want.items():
        name, _, index = key.partition("[")
        actual = row[name][int(index.rstrip("]"))] if index else row[name]
        if round(float(actual), places) != value:
            wrong.append(f"{key}: expected {value!r}, gbstats gives {actual!r}")
    return wrong


def unico_document(vector: Fields, rows: list[Fields]) -> Fields:
    """The ``unico experiments analyze`` document for one dimension's rows."""
    metric, analysis = vector["metric"], vector["analysis"]
    metric_type = "proportion" if metric["main_metric_type"] == "binomial" else "mean"
    document: Fields = {
        "metric_type": metric_type,
        "difference": "relative",
        "method": analysis["stats_engine"],
        "weights": [0.5, 0.5],
        "inverse": metric.get("inverse", False),
    }
    if analysis.get("sequential_testing_enabled"):
        document["method"] = "sequential"
        document["sequential_tuning"] = analysis["sequential_tuning_parameter"]
    by_name = {row["variation"]: row for row in rows}
    document["variants"] = [unico_variant(by_name[name], metric) for name in ("zero", "one")]
    return document


def unico_variant(row: Fields, metric: Fields) -> Fields:
    variant: Fields = {"name": row["variation"], "n": row["count"], "sum": row["main_sum"]}
    if metric["main_metric_type"] == "count":
        variant["sum_squares"] = row["main_sum_squares"]
    if metric["statistic_type"] == "ratio":
        for key in ("denominator_sum", "denominator_sum_squares", "main_denominator_sum_product"):
            variant[key] = row[key]
    if metric["statistic_type"] == "mean_ra":
        variant["covariate_sum"] = row["covariate_sum"]
        variant["main_covariate_sum_product"] = row["main_covariate_sum_product"]
        if metric["covariate_metric_type"] == "count":
            variant["covariate_sum_squares"] = row["covariate_sum_squares"]
    return variant


def unico_analysis_fields(document: Fields) -> Fields:
    report = analyze_document(document)
    row = report["variants"][0]
    error = row["error"] is not None
    if document["method"] == "bayesian":
        fields = bayesian_fields(
            row["expected"], row["ci"], row["chance_to_win"], row["risk"], error
        )
    else:
        fields = frequentist_fields(row["expected"], row["ci"], row["p_value"], error)
    return {**fields, "srm_p_value": report["srm"]["p_value"]}
