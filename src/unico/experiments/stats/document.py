"""The summary-statistics document an analysis reads, checked field by field.

A document comes from anywhere (a warehouse query, a spreadsheet, another tool), so
every field is checked and the first problem is reported in one line naming it::

    {"metric_type": "proportion", "difference": "relative", "method": "frequentist",
     "variants": [{"name": "control", "n": 1000, "sum": 100},
                  {"name": "new button", "n": 1000, "sum": 120}]}

The first variant is the control. Means need ``sum_squares``; a ratio metric adds
``denominator_sum``, ``denominator_sum_squares`` and ``main_denominator_sum_product``;
CUPED adds ``covariate_sum``, ``covariate_sum_squares`` (means) and
``main_covariate_sum_product`` (the names GrowthBook's queries use).

>>> doc = {"metric_type": "mean", "method": "bayesian",
...        "variants": [{"name": "a", "n": 2, "sum": 3, "sum_squares": 5}]}
>>> try:
...     read_request(doc)
... except AnalysisInputError as exc:
...     print(exc.message)
variants: give at least 2 variants, the control first
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, TypeAlias, cast

from unico.core.errors import InvalidInput
from unico.experiments.stats.bayesian import GaussianPrior
from unico.experiments.stats.corrections import Correction
from unico.experiments.stats.cuped import CovariateStats
from unico.experiments.stats.lift import Difference
from unico.experiments.stats.srm import SRM_THRESHOLD
from unico.experiments.stats.summary import BaseStats, ProportionStats, RatioStats, SampleStats

MetricType: TypeAlias = Literal["proportion", "mean"]
Method: TypeAlias = Literal["frequentist", "sequential", "bayesian"]
#: What one variant measured: plain, ratio, or with a covariate for CUPED.
Measure: TypeAlias = BaseStats | RatioStats | CovariateStats

TOP_KEYS = {
    "metric_type", "difference", "method", "variants", "alpha", "sequential_tuning",
    "prior", "correction", "inverse", "weights", "srm_threshold",
}  # fmt: skip
VARIANT_KEYS = {
    "name", "n", "sum", "sum_squares", "denominator_sum", "denominator_sum_squares",
    "main_denominator_sum_product", "covariate_sum", "covariate_sum_squares",
    "main_covariate_sum_product",
}  # fmt: skip
#: More units than people on Earth, by far: larger counts are mistakes (and overflow floats).
MAX_UNITS = 10**12
RATIO_KEYS = ("denominator_sum", "denominator_sum_squares", "main_denominator_sum_product")
COVARIATE_KEYS = ("covariate_sum", "covariate_sum_squares", "main_covariate_sum_product")


class AnalysisInputError(InvalidInput):
    """A summary document that cannot be analyzed; the message names the field."""

    code = "invalid_analysis_input"


@dataclass(frozen=True)
class Variant:
    name: str
    measure: Measure


@dataclass(frozen=True)
class AnalysisRequest:
    """A checked document: what to compute, and on which variants (the control first)."""

    metric_type: MetricType
    difference: Difference
    method: Method
    variants: tuple[Variant, ...]
    alpha: float = 0.05
    sequential_tuning: float = 5000.0
    prior: GaussianPrior | None = None
    correction: Correction | None = None
    inverse: bool = False
    weights: tuple[float, ...] | None = None
    srm_threshold: float = SRM_THRESHOLD


def read_request(document: object) -> AnalysisRequest:
    """Check ``document`` (parsed JSON) and build the request, or raise ``AnalysisInputError``."""
    doc = _object(document, "the document")
    _known_keys(doc, TOP_KEYS, "")
    metric_type = cast(MetricType, _choice(doc, "metric_type", ("proportion", "mean")))
    method = cast(Method, _choice(doc, "method", ("frequentist", "sequential", "bayesian")))
    variants = _variants(doc, metric_type)
    return AnalysisRequest(
        metric_type=metric_type,
        difference=cast(
            Difference, _choice(doc, "difference", ("relative", "absolute"), "relative")
        ),
        method=method,
        variants=variants,
        alpha=_number(doc, "alpha", "", default=0.05, above=0.0, below=1.0),
        sequential_tuning=_number(doc, "sequential_tuning", "", default=5000.0, above=0.0),
        prior=_prior(doc, method),
        correction=_correction(doc, method),
        inverse=_flag(doc, "inverse"),
        weights=_weights(doc, len(variants)),
        srm_threshold=_number(
            doc, "srm_threshold", "", default=SRM_THRESHOLD, above=0.0, below=1.0
        ),
    )


def _variants(doc: dict[str, Any], metric_type: MetricType) -> tuple[Variant, ...]:
    raw = doc.get("variants")
    if raw is None:
        raise AnalysisInputError("variants: missing", field="variants")
    if not isinstance(raw, list) or len(raw) < 2:
        raise AnalysisInputError(
            "variants: give at least 2 variants, the control first", field="variants"
        )
    variants = tuple(_variant(item, f"variants[{i}]", metric_type) for i, item in enumerate(raw))
    names = [v.name for v in variants]
    if len(set(names)) != len(names):
        raise AnalysisInputError("variants: names must be unique", field="variants")
    kinds = {type(v.measure) for v in variants}
    if len(kinds) > 1:
        raise AnalysisInputError(
            "variants: give the ratio or covariate keys for every variant or for none",
            field="variants",
        )
    return variants


def _variant(raw: object, path: str, metric_type: MetricType) -> Variant:
    item = _object(raw, path)
    _known_keys(item, VARIANT_KEYS, path)
    name = item.get("name")
    if not isinstance(name, str) or not name.strip():
        raise AnalysisInputError(f"{path}.name: must be a non-empty string", field=f"{path}.name")
    n = _count(item, path)
    main = _base(item, path, metric_type, n, "sum", "sum_squares")
    ratio = [key for key in RATIO_KEYS if key in item]
    covariate = [key for key in COVARIATE_KEYS if key in item]
    if ratio and covariate:
        raise AnalysisInputError(f"{path}: a ratio metric cannot also have a covariate", field=path)
    if ratio:
        denominator = _base(item, path, "mean", n, "denominator_sum", "denominator_sum_squares")
        products = _number(item, "main_denominator_sum_product", path)
        return Variant(name, RatioStats(main, denominator, products))
    if covariate:
        pre = _base(item, path, metric_type, n, "covariate_sum", "covariate_sum_squares")
        products = _number(item, "main_covariate_sum_product", path)
        return Variant(name, CovariateStats(main, pre, products))
    return Variant(name, main)


def _base(
    item: dict[str, Any], path: str, metric_type: MetricType, n: int, total: str, squares: str
) -> BaseStats:
    value = _number(item, total, path)
    if metric_type == "proportion":
        if not 0 <= value <= n:
            raise AnalysisInputError(
                f"{path}.{total}: a proportion's sum must be between 0 and n",
                field=f"{path}.{total}",
            )
        return ProportionStats(n=n, sum=value)
    return SampleStats(n=n, sum=value, sum_squares=_number(item, squares, path, above_or_at=0.0))


def _count(item: dict[str, Any], path: str) -> int:
    if "n" not in item:
        raise AnalysisInputError(f"{path}.n: missing", field=f"{path}.n")
    n = item["n"]
    if isinstance(n, bool) or not isinstance(n, int) or not 0 < n <= MAX_UNITS:
        raise AnalysisInputError(
            f"{path}.n: must be an integer greater than 0 (and at most {MAX_UNITS:.0e})",
            field=f"{path}.n",
        )
    return n


def _number(
    item: dict[str, Any],
    key: str,
    path: str,
    *,
    default: float | None = None,
    above: float | None = None,
    below: float | None = None,
    above_or_at: float | None = None,
) -> float:
    where = f"{path}.{key}" if path else key
    if key not in item:
        if default is None:
            raise AnalysisInputError(f"{where}: missing", field=where)
        return default
    value = item[key]
    if not _is_number(value):
        raise AnalysisInputError(f"{where}: must be a finite number", field=where)
    bad = (
        (above is not None and value <= above)
        or (below is not None and value >= below)
        or (above_or_at is not None and value < above_or_at)
    )
    if bad:
        raise AnalysisInputError(f"{where}: {value} is out of range", field=where)
    return float(value)


def _choice(
    doc: dict[str, Any],
    key: str,
    options: tuple[str, ...],
    default: str | None = None,
    path: str = "",
) -> str:
    where = f"{path}.{key}" if path else key
    value = doc.get(key, default)
    if value is None:
        raise AnalysisInputError(f"{where}: missing (one of {', '.join(options)})", field=where)
    if not isinstance(value, str) or value not in options:
        raise AnalysisInputError(
            f"{where}: {value!r} is not one of {', '.join(options)}", field=where
        )
    return value


def _flag(doc: dict[str, Any], key: str) -> bool:
    value = doc.get(key, False)
    if not isinstance(value, bool):
        raise AnalysisInputError(f"{key}: must be true or false", field=key)
    return value


def _prior(doc: dict[str, Any], method: Method) -> GaussianPrior | None:
    if doc.get("prior") is None:
        return None
    if method != "bayesian":
        raise AnalysisInputError("prior: only the bayesian method takes a prior", field="prior")
    raw = _object(doc["prior"], "prior")
    _known_keys(raw, {"mean", "stddev", "scale"}, "prior")
    scale = cast(Difference, _choice(raw, "scale", ("relative", "absolute"), "relative", "prior"))
    mean = _number(raw, "mean", "prior", default=0.0)
    stddev = _number(raw, "stddev", "prior", above=0.0)
    return GaussianPrior(mean=mean, variance=stddev**2, proper=True, scale=scale)


def _correction(doc: dict[str, Any], method: Method) -> Correction | None:
    if doc.get("correction") is None:
        return None
    if method == "bayesian":
        raise AnalysisInputError(
            "correction: applies to p-values, not to the bayesian method", field="correction"
        )
    return cast(Correction, _choice(doc, "correction", ("holm", "benjamini-hochberg")))


def _weights(doc: dict[str, Any], count: int) -> tuple[float, ...] | None:
    raw = doc.get("weights")
    if raw is None:
        return None
    if not isinstance(raw, list) or len(raw) != count:
        raise AnalysisInputError(
            "weights: give one expected traffic weight per variant", field="weights"
        )
    if not all(_is_number(w) and w > 0 for w in raw):
        raise AnalysisInputError("weights: must be positive numbers", field="weights")
    return tuple(float(w) for w in raw)


def _is_number(value: object) -> bool:
    """A finite JSON number (``json`` reads NaN and Infinity, and true is an int in Python)."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def _object(value: object, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise AnalysisInputError(f"{where}: must be a JSON object", field=where or None)
    return cast(dict[str, Any], value)


def _known_keys(item: dict[str, Any], allowed: set[str], path: str) -> None:
    unknown = sorted(set(item) - allowed)
    if unknown:
        where = f"{path}." if path else ""
        raise AnalysisInputError(f"{where}{unknown[0]}: unknown key", field=f"{where}{unknown[0]}")
