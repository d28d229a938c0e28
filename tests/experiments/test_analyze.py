"""Analyzing a summary document: what each method reports, and every way a document is refused."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from unico.experiments.stats import (
    AnalysisInputError,
    ProportionStats,
    analyze_document,
    two_sided_ttest,
)

PROPORTIONS: dict[str, Any] = {
    "metric_type": "proportion",
    "difference": "relative",
    "method": "frequentist",
    "variants": [
        {"name": "control", "n": 10_000, "sum": 1_000},
        {"name": "green", "n": 10_050, "sum": 1_105},
        {"name": "red", "n": 9_950, "sum": 1_010},
    ],
}
MEANS: dict[str, Any] = {
    "metric_type": "mean",
    "difference": "absolute",
    "method": "frequentist",
    "variants": [
        {"name": "control", "n": 3407, "sum": 1396.87, "sum_squares": 52377.9767},
        {"name": "b", "n": 3461, "sum": 2422.7, "sum_squares": 134698.29},
    ],
}


def _with(document: dict[str, Any], **changes: Any) -> dict[str, Any]:
    return {**copy.deepcopy(document), **changes}


def test_frequentist_report_has_growthbooks_fields() -> None:
    report = analyze_document(PROPORTIONS)
    assert [v["name"] for v in report["variants"]] == ["green", "red"]
    green = report["variants"][0]
    assert set(green) == {"name", "expected", "ci", "p_value", "error"}
    direct = two_sided_ttest(ProportionStats(10_000, 1_000), ProportionStats(10_050, 1_105))
    assert green["p_value"] == direct.p_value and green["ci"] == list(direct.ci)
    assert report["srm"]["flagged"] is False and report["control"] == {
        "name": "control",
        "n": 10_000,
    }


def test_bayesian_and_sequential_reports() -> None:
    bayes = analyze_document(_with(PROPORTIONS, method="bayesian"))["variants"][0]
    assert set(bayes) == {"name", "expected", "ci", "chance_to_win", "risk", "error"}
    assert 0.5 < bayes["chance_to_win"] < 1 and len(bayes["risk"]) == 2
    sequential = analyze_document(_with(PROPORTIONS, method="sequential"))["variants"][0]
    fixed = analyze_document(PROPORTIONS)["variants"][0]
    assert sequential["ci"][0] < fixed["ci"][0] and sequential["p_value"] >= fixed["p_value"]


def test_absolute_means_as_growthbook() -> None:
    b = analyze_document(MEANS)["variants"][0]
    assert round(b["expected"], 5) == 0.29 and round(b["p_value"], 5) == 0.02016


def test_corrections_raise_p_values() -> None:
    raw = analyze_document(PROPORTIONS)["variants"]
    holm = analyze_document(_with(PROPORTIONS, correction="holm"))
    assert holm["correction"] == "holm"
    for before, after in zip(raw, holm["variants"], strict=True):
        assert after["p_value"] >= before["p_value"]
    bh = analyze_document(_with(PROPORTIONS, correction="benjamini-hochberg"))["variants"]
    assert all(b["p_value"] <= h["p_value"] for b, h in zip(bh, holm["variants"], strict=True))


def test_srm_flags_a_broken_split_with_weights() -> None:
    broken = _with(PROPORTIONS)
    broken["variants"][1]["n"] = 11_000
    assert analyze_document(broken)["srm"]["flagged"] is True
    expected = _with(broken, weights=[1.0, 1.1, 1.0])
    assert analyze_document(expected)["srm"]["flagged"] is False


def test_unanswerable_variant_reports_the_observed_lift_and_why() -> None:
    document = _with(MEANS, difference="relative")
    document["variants"][1] = {"name": "tiny", "n": 1, "sum": 1.0, "sum_squares": 1.0}
    row = analyze_document(document)["variants"][0]
    assert row["error"] == "a variant has fewer than 2 units"
    assert row["p_value"] == 1 and row["ci"] == [0.0, 0.0]
    assert row["expected"] == pytest.approx((1.0 - 1396.87 / 3407) / (1396.87 / 3407))


def test_cuped_and_ratio_documents() -> None:
    cuped = _with(MEANS)
    for variant, pre in zip(cuped["variants"], [(16.87, 527.9767), (22.7, 1348.29)], strict=True):
        variant |= {
            "covariate_sum": pre[0],
            "covariate_sum_squares": pre[1],
            "main_covariate_sum_product": 1,
        }
    assert analyze_document(cuped)["variants"][0]["error"] is None
    ratio = _with(MEANS)
    for variant in ratio["variants"]:
        variant |= {
            "denominator_sum": 5000,
            "denominator_sum_squares": 9000,
            "main_denominator_sum_product": 3000,
        }
    assert analyze_document(ratio)["variants"][0]["error"] is None


def _refused(document: Any) -> str:
    with pytest.raises(AnalysisInputError) as caught:
        analyze_document(document)
    message = caught.value.message
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"metric_type": None}, "metric_type: missing"),
        ({"method": "magic"}, "method: 'magic' is not one of"),
        ({"difference": 3}, "difference: 3 is not one of"),
        ({"alpha": 1.5}, "alpha: 1.5 is out of range"),
        ({"alpha": "0.05"}, "alpha: must be a finite number"),
        ({"alpha": float("nan")}, "alpha: must be a finite number"),
        ({"sequential_tuning": 0}, "sequential_tuning: 0 is out of range"),
        ({"variants": None}, "variants: missing"),
        ({"variants": {"name": "a"}}, "variants: give at least 2 variants"),
        ({"colour": "blue"}, "colour: unknown key"),
        ({"correction": "bonferroni"}, "correction: 'bonferroni' is not one of"),
        ({"prior": {"mean": 0, "stddev": 0.1}}, "prior: only the bayesian method"),
        ({"weights": [1, 1]}, "weights: give one expected traffic weight per variant"),
        ({"weights": [1, 0, 1]}, "weights: must be positive numbers"),
        ({"inverse": "yes"}, "inverse: must be true or false"),
    ],
)
def test_bad_documents_are_refused_in_one_line(change: dict[str, Any], message: str) -> None:
    document = _with(PROPORTIONS, **change)
    document = {k: v for k, v in document.items() if v is not None}
    assert message in _refused(document)


@pytest.mark.parametrize(
    ("variant", "message"),
    [
        ({"name": "b", "sum": 3}, "variants[1].n: missing"),
        ({"name": "b", "n": 0, "sum": 0}, "variants[1].n: must be an integer greater than 0"),
        ({"name": "b", "n": -5, "sum": 0}, "variants[1].n: must be an integer greater than 0"),
        ({"name": "b", "n": 10.5, "sum": 0}, "variants[1].n: must be an integer greater than 0"),
        ({"name": "b", "n": True, "sum": 0}, "variants[1].n: must be an integer greater than 0"),
        ({"name": "b", "n": 10}, "variants[1].sum: missing"),
        ({"name": "b", "n": 10, "sum": "many"}, "variants[1].sum: must be a finite number"),
        (
            {"name": "b", "n": 10, "sum": 11},
            "variants[1].sum: a proportion's sum must be between 0 and n",
        ),
        ({"name": "", "n": 10, "sum": 1}, "variants[1].name: must be a non-empty string"),
        ({"name": "control", "n": 10, "sum": 1}, "variants: names must be unique"),
        ({"name": "b", "n": 10, "sum": 1, "sums": 2}, "variants[1].sums: unknown key"),
        ("b", "variants[1]: must be a JSON object"),
        (
            {"name": "b", "n": 10, "sum": 1, "covariate_sum": 1},
            "variants[1].main_covariate_sum_product: missing",
        ),
    ],
)
def test_bad_variants_are_refused_in_one_line(variant: Any, message: str) -> None:
    document = _with(PROPORTIONS)
    document["variants"][1] = variant
    assert message in _refused(document)


def test_means_need_sum_squares_and_mixed_variants_are_refused() -> None:
    document = _with(MEANS)
    del document["variants"][0]["sum_squares"]
    assert "variants[0].sum_squares: missing" in _refused(document)
    mixed = _with(MEANS)
    mixed["variants"][1] |= {
        "covariate_sum": 1,
        "covariate_sum_squares": 1,
        "main_covariate_sum_product": 1,
    }
    assert "for every variant or for none" in _refused(mixed)
    assert "must be a JSON object" in _refused([1, 2])


def test_bayesian_rejects_a_correction_and_takes_a_prior() -> None:
    bayesian = _with(PROPORTIONS, method="bayesian")
    assert "correction: applies to p-values" in _refused(_with(bayesian, correction="holm"))
    assert "prior.stddev: missing" in _refused(_with(bayesian, prior={"mean": 0.1}))
    assert "prior.scale: 'log' is not one of" in _refused(
        _with(bayesian, prior={"stddev": 1, "scale": "log"})
    )
    flat = analyze_document(bayesian)["variants"][0]
    tight = analyze_document(_with(bayesian, prior={"mean": 0.0, "stddev": 0.01}))["variants"][0]
    assert abs(tight["expected"]) < abs(flat["expected"])


numbers = st.floats(allow_nan=False, allow_infinity=False)
squares = st.floats(min_value=0, allow_infinity=False)
variant_fields = st.fixed_dictionaries(
    {"n": st.integers(min_value=1, max_value=10**12), "sum": numbers, "sum_squares": squares},
    optional={
        "covariate_sum": numbers,
        "covariate_sum_squares": squares,
        "main_covariate_sum_product": numbers,
    },
)
documents = st.fixed_dictionaries(
    {
        "metric_type": st.sampled_from(["proportion", "mean"]),
        "difference": st.sampled_from(["relative", "absolute"]),
        "method": st.sampled_from(["frequentist", "sequential", "bayesian"]),
        "variants": st.lists(variant_fields, min_size=2, max_size=4),
    },
    optional={
        "alpha": st.floats(min_value=1e-9, max_value=0.5),
        "weights": st.lists(st.floats(min_value=1e-300, max_value=1e300), min_size=2, max_size=4),
    },
)


@settings(max_examples=300)
@given(documents)
def test_any_document_is_refused_cleanly_or_analyzed_into_finite_numbers(document) -> None:
    for i, variant in enumerate(document["variants"]):
        variant["name"] = f"v{i}"
    try:
        report = analyze_document(document)
    except AnalysisInputError as exc:
        assert "\n" not in exc.message
        return
    text = json.dumps(report, allow_nan=False)
    assert json.loads(text)["variants"][0]["name"] == "v1"
