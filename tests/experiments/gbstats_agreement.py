"""Agreement of Unico's experiments statistics engine with GrowthBook's gbstats 0.8.0.

``make gbstats-check`` runs this file with the Python of ``.unico/gbstats-venv``, where
gbstats (numpy<2, pandas<2) and Unico (``pip install --no-deps -e .``) are both installed.
For every vector of gbstats' own test suite that concerns a method Unico implements
(``gbstats_vectors.json``, read by hand from the sdist's ``tests/`` folder) it

1. runs gbstats live and checks it still gives the numbers its tests expect;
2. runs Unico's engine on the same inputs and checks every output field agrees with
   gbstats to 4 decimals (expected, interval, standard deviation, p-value or chance to
   win and risks, whether an answer could be given, and the SRM p-value);
3. checks the relations gbstats' tests assert (interval nesting, close chances) on both.

It prints one line per failure, then ``gbstats agreement: N passed, M failed``, and
exits 1 on any failure. gbstats is imported inside ``main`` so this module can be
imported (as pytest's doctest collection does) without it.
"""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

VECTORS = Path(__file__).with_name("gbstats_vectors.json")
PLACES = 4
TOLERANCE = 0.5 * 10**-PLACES
DEFAULT_TUNING = 5000

Fields = dict[str, Any]


class Tally:
    """Counts checks; remembers what failed."""

    def __init__(self) -> None:
        self.passed = 0
        self.failures: list[str] = []
        self.fields = 0
        self.largest = 0.0

    def check(self, ok: bool, what: str) -> None:
        if ok:
            self.passed += 1
        else:
            self.failures.append(what)

    def compare(self, name: str, theirs: Fields, ours: Fields) -> None:
        """One check: every field of gbstats' result against Unico's."""
        differing = []
        for key in sorted(set(theirs) | set(ours)):
            a, b = theirs.get(key), ours.get(key)
            self.fields += 1
            if isinstance(a, bool) or isinstance(b, bool) or a is None or b is None:
                same = a == b
            else:
                gap = abs(float(a) - float(b))
                self.largest = max(self.largest, gap)
                same = gap <= TOLERANCE
            if not same:
                differing.append(f"{key}: gbstats {a!r}, unico {b!r}")
        self.check(not differing, f"{name}: {'; '.join(differing)}")


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


# -- gbstats, live --------------------------------------------------------------------


def gbstats_statistic(spec: Fields) -> Any:
    from gbstats.models.statistics import (
        ProportionStatistic,
        RegressionAdjustedStatistic,
        SampleMeanStatistic,
    )

    if spec["kind"] == "proportion":
        return ProportionStatistic(n=spec["n"], sum=spec["sum"])
    if spec["kind"] == "mean":
        return SampleMeanStatistic(n=spec["n"], sum=spec["sum"], sum_squares=spec["sum_squares"])
    return RegressionAdjustedStatistic(
        n=spec["post"]["n"],
        post_statistic=gbstats_statistic(spec["post"]),
        pre_statistic=gbstats_statistic(spec["pre"]),
        post_pre_sum_of_products=spec["post_pre_sum_of_products"],
        theta=0,
    )


def gbstats_test(vector: Fields) -> Any:
    from gbstats.bayesian.tests import EffectBayesianABTest, EffectBayesianConfig, GaussianPrior
    from gbstats.frequentist.tests import (
        FrequentistConfig,
        SequentialConfig,
        SequentialTwoSidedTTest,
        TwoSidedTTest,
    )

    a, b = gbstats_statistic(vector["control"]), gbstats_statistic(vector["variant"])
    config = vector["config"]
    difference = config["difference_type"]
    if vector["method"] == "frequentist":
        return TwoSidedTTest(a, b, FrequentistConfig(difference_type=difference)).compute_result()
    if vector["method"] == "sequential":
        tuning = config.get("sequential_tuning_parameter", DEFAULT_TUNING)
        sequential = SequentialConfig(
            difference_type=difference, sequential_tuning_parameter=tuning
        )
        return SequentialTwoSidedTTest(a, b, sequential).compute_result()
    prior = GaussianPrior(**config.get("prior", {}))
    bayes = EffectBayesianConfig(difference_type=difference, prior_effect=prior)
    return EffectBayesianABTest(a, b, bayes).compute_result()


def gbstats_fields(vector: Fields, result: Any) -> Fields:
    error = result.error_message is not None
    if vector["method"] == "bayesian":
        fields = bayesian_fields(
            result.expected, result.ci, result.chance_to_win, result.risk, error
        )
    else:
        fields = frequentist_fields(result.expected, result.ci, result.p_value, error)
    return {**fields, "stddev": result.uplift.stddev}


def gbstats_own_expectations(vector: Fields, result: Any) -> list[str]:
    """Where gbstats no longer gives what its test file expects (rounded as its tests do)."""
    import numpy as np

    want = vector.get("expected")
    if want is None:
        return []
    places = vector["decimals"]
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


# -- Unico ----------------------------------------------------------------------------


def unico_statistic(spec: Fields) -> Any:
    from unico.experiments.stats import CovariateStats, ProportionStats, SampleStats

    if spec["kind"] == "proportion":
        return ProportionStats(n=spec["n"], sum=spec["sum"])
    if spec["kind"] == "mean":
        return SampleStats(n=spec["n"], sum=spec["sum"], sum_squares=spec["sum_squares"])
    return CovariateStats(
        post=unico_statistic(spec["post"]),
        pre=unico_statistic(spec["pre"]),
        sum_products=spec["post_pre_sum_of_products"],
    )


def unico_test(vector: Fields) -> Any:
    from unico.experiments.stats import (
        CovariateStats,
        GaussianPrior,
        adjust,
        bayesian_test,
        sequential_ttest,
        two_sided_ttest,
    )

    a, b = unico_statistic(vector["control"]), unico_statistic(vector["variant"])
    if isinstance(a, CovariateStats):
        a, b = adjust(a, b)
    config = vector["config"]
    difference = config["difference_type"]
    if vector["method"] == "frequentist":
        return two_sided_ttest(a, b, difference=difference)
    if vector["method"] == "sequential":
        tuning = config.get("sequential_tuning_parameter", DEFAULT_TUNING)
        return sequential_ttest(a, b, difference=difference, tuning=tuning)
    prior = GaussianPrior(**config["prior"]) if "prior" in config else None
    return bayesian_test(a, b, difference=difference, prior=prior)


def unico_fields(vector: Fields, result: Any) -> Fields:
    error = result.error is not None
    if vector["method"] == "bayesian":
        fields = bayesian_fields(
            result.expected, result.ci, result.chance_to_win, result.risk, error
        )
    else:
        fields = frequentist_fields(result.expected, result.ci, result.p_value, error)
    return {**fields, "stddev": result.stddev}


# -- the pipeline tests (tests/test_gbstats.py) -------------------------------------------


def gbstats_analysis(vector: Fields, rows: list[Fields]) -> dict[str, Fields]:
    import pandas as pd
    from gbstats.gbstats import analyze_metric_df, get_metric_df
    from gbstats.models.settings import (
        AnalysisSettingsForStatsEngine,
        MetricSettingsForStatsEngine,
    )

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
    method = analysis["stats_engine"]
    document: Fields = {
        "metric_type": metric_type,
        "difference": "relative",
        "method": method,
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
    from unico.experiments.stats import analyze_document

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


# -- running --------------------------------------------------------------------------


def run_tests(data: Fields, tally: Tally, results: dict[str, tuple[Fields, Fields]]) -> None:
    for vector in data["tests"]:
        name = vector["id"]
        gb = gbstats_test(vector)
        if "expected" in vector:
            wrong = gbstats_own_expectations(vector, gb)
            tally.check(not wrong, f"{name}: gbstats changed: {'; '.join(wrong)}")
        theirs, ours = gbstats_fields(vector, gb), unico_fields(vector, unico_test(vector))
        results[name] = (theirs, ours)
        tally.compare(name, theirs, ours)


def run_analyses(data: Fields, tally: Tally, results: dict[str, tuple[Fields, Fields]]) -> None:
    for vector in data["analyses"]:
        rows = data["rows"][vector["rows"]]
        gb_rows = gbstats_analysis(vector, rows)
        for dimension, want in vector.get("expected", {}).items():
            wrong = gbstats_row_expectations(gb_rows[dimension], want, vector["decimals"])
            tally.check(not wrong, f"{vector['id']}: gbstats changed: {'; '.join(wrong)}")
        for dimension, gb_row in gb_rows.items():
            name = f"{vector['id']}[{dimension}]"
            rows_here = [row for row in rows if row["dimension"] == dimension]
            theirs = gbstats_analysis_fields(gb_row)
            ours = unico_analysis_fields(unico_document(vector, rows_here))
            results[name] = (theirs, ours)
            tally.compare(name, theirs, ours)


def run_statistics(data: Fields, tally: Tally) -> None:
    import numpy as np
    from gbstats.models.statistics import (
        RatioStatistic,
        RegressionAdjustedStatistic,
        SampleMeanStatistic,
        compute_theta,
    )

    from unico.experiments.stats import CovariateStats, RatioStats, SampleStats, pooled_theta

    def gb_mean(values: Any) -> Any:
        array = np.asarray(values, dtype=float)
        return SampleMeanStatistic(n=array.size, sum=array.sum(), sum_squares=(array**2).sum())

    mean, ratio, theta = data["statistics"]
    ours = SampleStats.from_values(mean["values"])
    theirs = gb_mean(mean["values"])
    tally.compare(
        mean["id"],
        {"mean": theirs.mean, "variance": theirs.variance},
        {"mean": ours.mean, "variance": ours.variance},
    )
    tally.check(math.isclose(ours.variance, np.var(mean["values"], ddof=1)), f"{mean['id']}: numpy")

    top, bottom = np.asarray(ratio["numerators"], float), np.asarray(ratio["denominators"], float)
    gb_ratio = RatioStatistic(
        n=top.size,
        m_statistic=gb_mean(top),
        d_statistic=gb_mean(bottom),
        m_d_sum_of_products=top @ bottom,
    )
    our_ratio = RatioStats.from_values(top, bottom)
    fields = ("mean", "variance", "covariance")
    tally.compare(
        ratio["id"],
        {f: getattr(gb_ratio, f) for f in fields},
        {f: getattr(our_ratio, f) for f in fields},
    )

    post, pre = np.asarray(theta["post"], float), np.asarray(theta["pre"], float)
    gb_ra = [
        RegressionAdjustedStatistic(
            n=post.size,
            post_statistic=gb_mean(post),
            pre_statistic=gb_mean(pre),
            post_pre_sum_of_products=post @ pre,
            theta=0,
        )
        for _ in range(2)
    ]
    gb_theta = compute_theta(gb_ra[0], gb_ra[1])
    tally.check(
        round(gb_theta, theta["decimals"]) == theta["expected_theta"], f"{theta['id']}: gbstats"
    )
    our = CovariateStats.from_values(post, pre)
    tally.compare(theta["id"], {"theta": gb_theta}, {"theta": pooled_theta(our, our)})


def run_assertions(data: Fields, tally: Tally, results: dict[str, tuple[Fields, Fields]]) -> None:
    checks: dict[str, Callable[[Fields, Fields, Fields], bool]] = {
        "ci_contains": lambda c, a, b: a["ci_low"] < b["ci_low"] and a["ci_high"] > b["ci_high"],
        "lower_bound_above": lambda c, a, b: a["ci_low"] > b["ci_low"],
        "almost_equal": lambda c, a, b: round(a[c["field"]] - b[c["field"]], c["places"]) == 0,
    }
    for assertion in data["test_assertions"]:
        first = assertion.get("wide") or assertion.get("higher") or assertion["first"]
        second = assertion.get("narrow") or assertion.get("lower") or assertion["second"]
        holds = checks[assertion["kind"]]
        for engine in (0, 1):
            a, b = results[first][engine], results[second][engine]
            who = ("gbstats", "unico")[engine]
            tally.check(holds(assertion, a, b), f"{assertion['id']}: fails for {who}")


def main() -> int:
    data = json.loads(VECTORS.read_text(encoding="utf-8"))
    tally = Tally()
    results: dict[str, tuple[Fields, Fields]] = {}
    run_tests(data, tally, results)
    run_analyses(data, tally, results)
    run_statistics(data, tally)
    run_assertions(data, tally, results)
    for failure in tally.failures:
        print(f"FAILED {failure}")
    print(
        f"{len(data['tests'])} test vectors and {len(results) - len(data['tests'])} analysis rows "
        f"from gbstats' test suite, {tally.fields} fields compared to {PLACES} decimals "
        f"(largest difference {tally.largest:.1e}); not covered: {len(data['not_covered'])} "
        "groups of tests (see gbstats_vectors.json)"
    )
    print(f"gbstats agreement: {tally.passed} passed, {len(tally.failures)} failed")
    return 1 if tally.failures else 0


if __name__ == "__main__":
    sys.exit(main())
