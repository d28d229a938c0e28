"""Analyze a summary-statistics document: every variant against the control.

This is what ``unico experiments analyze`` runs. Each variant after the first gets
``expected``, ``ci`` and ``p_value`` (frequentist and sequential) or ``expected``, ``ci``,
``chance_to_win`` and ``risk`` (Bayesian), with GrowthBook's meanings; the split is
checked for sample-ratio mismatch, and p-values are corrected when asked.

>>> report = analyze_document({
...     "metric_type": "proportion", "difference": "relative", "method": "frequentist",
...     "variants": [{"name": "control", "n": 28, "sum": 14}, {"name": "b", "n": 30, "sum": 16}],
... })
>>> b = report["variants"][0]
>>> b["name"], round(b["expected"], 5), round(b["p_value"], 5), [round(x, 5) for x in b["ci"]]
('b', 0.06667, 0.80707, [-0.47767, 0.61101])
>>> report["srm"]["flagged"]
False
"""

from __future__ import annotations

import math
from dataclasses import replace

from unico.core.types import JSONObject
from unico.experiments.stats.bayesian import bayesian_test
from unico.experiments.stats.corrections import adjust_p_values
from unico.experiments.stats.cuped import CovariateStats, adjust
from unico.experiments.stats.document import AnalysisRequest, Measure, read_request
from unico.experiments.stats.frequentist import two_sided_ttest
from unico.experiments.stats.lift import OUT_OF_RANGE, raw_lift
from unico.experiments.stats.results import BayesianResult, FrequentistResult
from unico.experiments.stats.sequential import sequential_ttest
from unico.experiments.stats.srm import srm_check
from unico.experiments.stats.summary import Statistic

Result = FrequentistResult | BayesianResult


def analyze_document(document: object) -> JSONObject:
    """Check ``document`` (parsed JSON) and analyze it; raises ``AnalysisInputError``."""
    return analyze(read_request(document))


def analyze(request: AnalysisRequest) -> JSONObject:
    """The report of a checked request, as plain JSON-ready data."""
    control = request.variants[0]
    results = [compare(request, control.measure, v.measure) for v in request.variants[1:]]
    results = _corrected(request, results)
    srm = srm_check(
        [v.measure.n for v in request.variants],
        request.weights,
        threshold=request.srm_threshold,
    )
    return {
        "metric_type": request.metric_type,
        "difference": request.difference,
        "method": request.method,
        "alpha": request.alpha,
        "correction": request.correction,
        "srm": {"p_value": srm.p_value, "flagged": srm.flagged, "threshold": request.srm_threshold},
        "control": {"name": control.name, "n": control.measure.n},
        "variants": [
            {"name": v.name, **result.to_dict()}
            for v, result in zip(request.variants[1:], results, strict=True)
        ],
    }


def compare(request: AnalysisRequest, control: Measure, variant: Measure) -> Result:
    """One variant against the control by the request's method.

    Sums so large or small that the arithmetic overflows give an ``error``, not a crash.
    """
    try:
        a, b = _statistics(control, variant)
        result = _test(request, a, b)
    except ArithmeticError:
        return _unavailable(request, OUT_OF_RANGE)
    if not _finite(result):
        return _unavailable(request, OUT_OF_RANGE)
    if result.error is not None:
        # As GrowthBook's reports do: with no test, still show the lift observed.
        result = replace(result, expected=_observed_lift(a, b, request))
    return result


def _observed_lift(a: Statistic, b: Statistic, request: AnalysisRequest) -> float:
    try:
        lift = raw_lift(a, b, request.difference)
    except ArithmeticError:
        return 0.0
    return lift if math.isfinite(lift) else 0.0


def _test(request: AnalysisRequest, a: Statistic, b: Statistic) -> Result:
    result: Result
    if request.method == "bayesian":
        result = bayesian_test(
            a,
            b,
            difference=request.difference,
            prior=request.prior,
            alpha=request.alpha,
            inverse=request.inverse,
        )
    elif request.method == "sequential":
        result = sequential_ttest(
            a,
            b,
            difference=request.difference,
            alpha=request.alpha,
            tuning=request.sequential_tuning,
        )
    else:
        result = two_sided_ttest(a, b, difference=request.difference, alpha=request.alpha)
    return result


def _unavailable(request: AnalysisRequest, error: str) -> Result:
    if request.method == "bayesian":
        return BayesianResult.unavailable(error)
    return FrequentistResult.unavailable(error)


def _finite(result: Result) -> bool:
    numbers = [result.expected, *result.ci, result.stddev]
    if isinstance(result, BayesianResult):
        numbers += [result.chance_to_win, *result.risk]
    else:
        numbers.append(result.p_value)
    return all(math.isfinite(x) for x in numbers)


def _statistics(control: Measure, variant: Measure) -> tuple[Statistic, Statistic]:
    if isinstance(control, CovariateStats) and isinstance(variant, CovariateStats):
        return adjust(control, variant)
    if isinstance(control, CovariateStats) or isinstance(variant, CovariateStats):
        raise ValueError("give a covariate for both variants or for neither")
    return control, variant


def _corrected(request: AnalysisRequest, results: list[Result]) -> list[Result]:
    """Results with corrected p-values; only the variants actually tested count."""
    if request.correction is None:
        return results
    tested = [
        (i, r)
        for i, r in enumerate(results)
        if isinstance(r, FrequentistResult) and r.error is None
    ]
    adjusted = adjust_p_values([r.p_value for _, r in tested], request.correction)
    out = list(results)
    for (i, result), p_value in zip(tested, adjusted, strict=True):
        out[i] = replace(result, p_value=p_value)
    return out
