"""Metrics read from the event log: each variant's summary statistics for one metric.

Per unit, the events after its exposure (within the metric's window) give a value: 0/1
for a conversion, a count, or a sum of a numeric property; a mean or ratio metric keeps
two values per unit. Per variant, SQL adds up ``n``, the sum and the sum of squares
(and of products, for ratios): only those few numbers leave the database, unless a
winsorization cap needs the per-unit values to find its percentile.

>>> aov = MetricSpec(name="aov", kind="mean", event="Order Completed", property="revenue")
>>> [(m.kind, m.property) for m in measures_of(aov)]
[('sum', 'revenue'), ('count', None)]
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection

from unico.core.types import EpochMs
from unico.experiments.model import ExperimentSpec, MeasureSpec, MetricSpec
from unico.experiments.stats import (
    BayesianResult,
    CovariateStats,
    FrequentistResult,
    ProportionStats,
    RatioStats,
    SampleStats,
    Statistic,
    adjust,
    bayesian_test,
    percentile_caps,
    sequential_ttest,
    two_sided_ttest,
)
from unico.experiments.store import ExperimentStore, Measure, Sums


def measures_of(metric: MetricSpec) -> list[Measure]:
    """The per-unit values a metric needs (two for means and ratios)."""
    window = int(metric.window_hours * 3_600_000) if metric.window_hours else None
    if metric.kind == "ratio":
        assert metric.numerator is not None and metric.denominator is not None
        return [_side(metric.numerator, window), _side(metric.denominator, window)]
    assert metric.event is not None
    if metric.kind == "mean":
        return [
            Measure(metric.event, "sum", metric.property, window),
            Measure(metric.event, "count", None, window),
        ]
    main = Measure(metric.event, metric.kind, metric.property, window)
    if metric.cuped_days is None:
        return [main]
    before = int(metric.cuped_days * 86_400_000)
    return [main, Measure(metric.event, metric.kind, metric.property, None, before)]


def _side(side: MeasureSpec, window: int | None) -> Measure:
    return Measure(side.event, side.kind, side.property, window)


def variant_stats(
    conn: Connection,
    store: ExperimentStore,
    workspace_id: str,
    experiment_id: str,
    metric: MetricSpec,
    until: EpochMs,
) -> dict[str, tuple[Statistic, Sums]]:
    """Variant -> (the statistic the tests read, the raw sums) for one metric."""
    measures = measures_of(metric)
    caps: list[float | None] = []
    if metric.winsorize is not None:
        for measure in measures:
            values = store.metrics.unit_values(conn, workspace_id, experiment_id, measure, until)
            caps.append(percentile_caps(values, upper=metric.winsorize)[1] if values else None)
    sums = store.metrics.sums(conn, workspace_id, experiment_id, measures, until, caps)
    return {name: (statistic(metric, s), s) for name, s in sums.items()}


def statistic(metric: MetricSpec, s: Sums) -> Statistic:
    """The engine's statistic for one variant's sums."""
    if metric.kind == "conversion":
        return ProportionStats(n=s.n, sum=float(s.positive))
    first = SampleStats(s.n, s.sum, s.sum_squares)
    if metric.kind in ("mean", "ratio"):
        second = SampleStats(s.n, s.sum2, s.sum_squares2)
        return RatioStats(first, second, s.sum_products)
    return first


def pooled(parts: Iterable[Sums]) -> Sums:
    """The sums of several cells together (a factor's level over the others' levels)."""
    items = list(parts)
    return Sums(
        n=sum(p.n for p in items),
        sum=sum(p.sum for p in items),
        sum_squares=sum(p.sum_squares for p in items),
        positive=sum(p.positive for p in items),
        sum2=sum(p.sum2 for p in items),
        sum_squares2=sum(p.sum_squares2 for p in items),
        sum_products=sum(p.sum_products for p in items),
    )


def covariate_stats(metric: MetricSpec, s: Sums) -> CovariateStats:
    """A CUPED metric's sums as the metric (post) and its pre-exposure covariate."""
    post: ProportionStats | SampleStats = SampleStats(s.n, s.sum, s.sum_squares)
    pre: ProportionStats | SampleStats = SampleStats(s.n, s.sum2, s.sum_squares2)
    if metric.kind == "conversion":
        # A conversion and its covariate are 0/1 per unit: their sums are their counts.
        post, pre = ProportionStats(s.n, float(s.positive)), ProportionStats(s.n, s.sum2)
    return CovariateStats(post, pre, s.sum_products)


def compare_sums(
    spec: ExperimentSpec, metric: MetricSpec, control: Sums, other: Sums
) -> FrequentistResult | BayesianResult:
    """``compare`` on two variants' sums, CUPED-adjusted when the metric asks for it."""
    if metric.cuped_days is not None:
        a, b = adjust(covariate_stats(metric, control), covariate_stats(metric, other))
        return compare(spec, metric, a, b)
    return compare(spec, metric, statistic(metric, control), statistic(metric, other))


def compare(
    spec: ExperimentSpec, metric: MetricSpec, control: Statistic, other: Statistic
) -> FrequentistResult | BayesianResult:
    """The experiment's chosen test of ``other`` against ``control`` (relative lift)."""
    if spec.method == "bayesian":
        return bayesian_test(control, other, alpha=spec.alpha, inverse=metric.inverse)
    if spec.method == "sequential":
        return sequential_ttest(control, other, alpha=spec.alpha)
    return two_sided_ttest(control, other, alpha=spec.alpha)
