"""Plain verdicts: what a marketer should do with a variant's result on a metric.

>>> about(6178)
'6,200'
>>> interval(0.041, (0.012, 0.07))
'+4.1% [+1.2%, +7.0%]'
"""

from __future__ import annotations

from typing import Any

from unico.experiments.model import ExperimentSpec, MetricSpec
from unico.experiments.stats import Baseline, BayesianResult, FrequentistResult, Statistic
from unico.experiments.stats.power import units_to_go


def about(n: int) -> str:
    """A count rounded to two significant digits, with thousands separators."""
    step = 10 ** max(0, len(str(n)) - 2)
    return f"{round(n / step) * step:,}"


def interval(expected: float, ci: tuple[float, float] | list[float]) -> str:
    return f"{expected:+.1%} [{ci[0]:+.1%}, {ci[1]:+.1%}]"


def srm_verdict(p_value: float) -> str:
    return f"sample ratio mismatch: do not trust these results (p = {p_value:.2g})"


def verdict(
    spec: ExperimentSpec,
    metric: MetricSpec,
    variant: str,
    result: FrequentistResult | BayesianResult,
    control: Statistic,
    enrolled: int,
    p_adjusted: float | None,
) -> dict[str, Any]:
    """``{"decision", "text"}`` for one variant on one metric; the decision is one of
    ``wins``, ``loses``, ``keep running``, ``no difference``, ``no data`` and, for a
    guardrail, ``harms`` or ``no harm``."""
    if result.error is not None:
        return _say("no data", f"not enough data on {metric.name} yet ({result.error})")
    lift = interval(result.expected, result.ci)
    better = _significant(spec, metric, result, p_adjusted)
    if better is not None:
        if metric.guardrail:
            if better:
                return _say("no harm", f"guardrail {metric.name}: {variant} does no harm, {lift}")
            return _say("harms", f"guardrail {metric.name}: {variant} does harm, {lift}")
        word = "wins" if better else "loses"
        return _say(word, f"{variant} {word} on {metric.name}, {lift}")
    if metric.guardrail:
        return _say("no harm", f"guardrail {metric.name}: no harm detected for {variant}, {lift}")
    to_go = _to_go(spec, control, enrolled)
    if to_go is None:
        return _say("keep running", f"keep running: too little data on {metric.name} to plan")
    if to_go > 0:
        return _say(
            "keep running",
            f"keep running: about {about(to_go)} more visitors per variant"
            f" to detect a {spec.mde:.0%} change in {metric.name}",
        )
    return _say(
        "no difference",
        f"no difference on {metric.name} as large as {spec.mde:.0%}: {variant} {lift}",
    )


def _say(decision: str, text: str) -> dict[str, Any]:
    return {"decision": decision, "text": text}


def _significant(
    spec: ExperimentSpec,
    metric: MetricSpec,
    result: FrequentistResult | BayesianResult,
    p_adjusted: float | None,
) -> bool | None:
    """True when the variant is significantly better, False when worse, None when unclear."""
    if isinstance(result, BayesianResult):
        if result.chance_to_win >= 1 - spec.alpha:
            return True
        if result.chance_to_win <= spec.alpha:
            return False
        return None
    p = result.p_value if p_adjusted is None else p_adjusted
    if p >= spec.alpha:
        return None
    return (result.expected > 0) != metric.inverse


def _to_go(spec: ExperimentSpec, control: Statistic, enrolled: int) -> int | None:
    try:
        return units_to_go(
            Baseline.of_stats(control),
            enrolled=enrolled,
            mde=spec.mde,
            difference="relative",
            alpha=spec.alpha,
        )
    except ValueError:  # no conversions or no variance yet
        return None
