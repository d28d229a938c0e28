"""An experiment's results: per variant and metric, users, conversions, mean, the lift with
its interval, the p-value or chance to win (by the experiment's method), corrected for
many comparisons, the sample-ratio check, plain verdicts and, for multivariate tests,
main effects and interactions.

The first variant (cell) is the control. A permanent holdout, when there is one, is
reported as a variant of its own, compared with the control too, but never corrected for
nor given a verdict.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection

from unico.core.clock import to_iso
from unico.core.types import EpochMs
from unico.experiments.factorial import factorial_effects
from unico.experiments.metrics import compare_sums, statistic, variant_stats
from unico.experiments.model import ExperimentSpec, MetricSpec
from unico.experiments.runtime import HOLDOUT
from unico.experiments.stats import (
    BayesianResult,
    Statistic,
    adjust_p_values,
    srm_check,
)
from unico.experiments.store import ExperimentStore, Sums
from unico.experiments.verdicts import srm_verdict, verdict

EMPTY = Sums(0, 0.0, 0.0, 0)


def experiment_results(
    conn: Connection, store: ExperimentStore, row: dict[str, Any], until: EpochMs
) -> dict[str, Any]:
    """The results of the experiment in ``row`` from exposures and events before ``until``."""
    spec = ExperimentSpec.model_validate(row["spec"])
    ws, exp_id = row["workspace_id"], row["experiment_id"]
    names = [c.name for c in spec.cells()]
    shares = [w * (1 - spec.holdout) for w in spec.weights()]
    if spec.holdout:
        names, shares = [*names, HOLDOUT], [*shares, spec.holdout]
    counts = store.exposure_counts(conn, ws, exp_id, until)
    srm = _srm(spec, names, shares, counts)
    metrics = []
    tested: list[tuple[dict[str, Any], float]] = []  # (variant entry, raw p) to correct
    for metric in spec.metrics:
        stats = variant_stats(conn, store, ws, exp_id, metric, until)
        entries = _metric_entries(spec, metric, names, stats)
        if spec.method != "bayesian" and not metric.guardrail:
            tested += [(e, e["p_value"]) for e in entries[1:] if e["name"] != HOLDOUT]
        metrics.append({**_metric_head(metric), "variants": entries})
    _correct(spec, tested)
    for metric, out in zip(spec.metrics, metrics, strict=True):
        control = out["variants"][0]
        for entry in out["variants"][1:]:
            if entry["name"] != HOLDOUT:
                entry["verdict"] = verdict(
                    spec,
                    metric,
                    entry["name"],
                    entry.pop("_result"),
                    control["_stat"],
                    min(control["users"], entry["users"]),
                    entry.get("p_value_adjusted"),
                )
            entry.pop("_result", None)
        for entry in out["variants"]:
            entry.pop("_stat", None)
    summary = _summary(spec, srm, metrics)
    report: dict[str, Any] = {
        "experiment_id": exp_id,
        "name": row["name"],
        "status": row["status"],
        "method": spec.method,
        "correction": spec.correction,
        "alpha": spec.alpha,
        "started_at": to_iso(row["started_at"]),
        "until": to_iso(until),
        "control": names[0],
        "exposures": {n: counts.get(n, 0) for n in names},
        "srm": srm,
        "metrics": metrics,
        "verdict": summary[0] if summary else "no results yet",
        "verdicts": summary,
    }
    if spec.factors:
        primary = spec.primary()
        stats = variant_stats(conn, store, ws, exp_id, primary, until)
        report["factorial"] = factorial_effects(spec, primary, {k: v[1] for k, v in stats.items()})
    return report


def _metric_head(metric: MetricSpec) -> dict[str, Any]:
    return {
        "name": metric.name,
        "kind": metric.kind,
        "guardrail": metric.guardrail,
        "inverse": metric.inverse,
        "winsorize": metric.winsorize,
    }


def _metric_entries(
    spec: ExperimentSpec,
    metric: MetricSpec,
    names: list[str],
    stats: dict[str, tuple[Statistic, Sums]],
) -> list[dict[str, Any]]:
    empty = statistic(metric, EMPTY)
    control = stats.get(names[0], (empty, EMPTY))[1]
    entries = []
    for name in names:
        stat, sums = stats.get(name, (empty, EMPTY))
        entry: dict[str, Any] = {
            "name": name,
            "users": sums.n,
            "conversions": sums.positive,
            "total": sums.sum,
            "mean": stat.mean,
            "_stat": stat,
        }
        if name != names[0]:
            result = compare_sums(spec, metric, control, sums)
            entry.update(
                lift={"expected": result.expected, "ci": list(result.ci)}, error=result.error
            )
            if isinstance(result, BayesianResult):
                entry.update(chance_to_win=result.chance_to_win, risk=list(result.risk))
            else:
                entry["p_value"] = result.p_value
            entry["_result"] = result
        entries.append(entry)
    return entries


def _correct(spec: ExperimentSpec, tested: list[tuple[dict[str, Any], float]]) -> None:
    if not tested:
        return
    if spec.correction == "none":
        adjusted = [p for _, p in tested]
    else:
        adjusted = adjust_p_values([p for _, p in tested], spec.correction)
    for (entry, _), p in zip(tested, adjusted, strict=True):
        entry["p_value_adjusted"] = p


def _srm(
    spec: ExperimentSpec, names: list[str], shares: list[float], counts: dict[str, int]
) -> dict[str, Any]:
    if spec.allocation == "bandit":
        return {"checked": False, "reason": "a bandit changes the split over time"}
    observed = [counts.get(n, 0) for n in names]
    found = srm_check(observed, shares)
    return {
        "checked": True,
        "p_value": found.p_value,
        "flagged": found.flagged,
        "expected": dict(zip(names, shares, strict=True)),
    }


def _summary(spec: ExperimentSpec, srm: dict[str, Any], metrics: list[dict[str, Any]]) -> list[str]:
    """The verdicts worth reading first: mismatch, then the primary metric, then harm."""
    out = []
    if srm.get("flagged"):
        out.append(srm_verdict(srm["p_value"]))
    primary = spec.primary().name
    for metric in metrics:
        for entry in metric["variants"]:
            said = entry.get("verdict")
            if said is None:
                continue
            if metric["name"] == primary or said["decision"] == "harms":
                out.append(said["text"])
    return out
