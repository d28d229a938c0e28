"""Stored experiments compiled for assignment, and as the API shows them."""

from __future__ import annotations

from typing import Any

from unico.core.clock import to_iso
from unico.decide.rules import compile_rules
from unico.experiments.assignment import RunningExperiment, Variant
from unico.experiments.model import ExperimentSpec, PlacementOverride


def compile_running(row: dict[str, Any], allocation: list[float] | None) -> RunningExperiment:
    """A running experiment as decisions use it (a bandit's stored weights, if any)."""
    spec = ExperimentSpec.model_validate(row["spec"])
    cells = spec.cells()
    weights = spec.weights()
    bandit = spec.allocation == "bandit" and allocation is not None
    if bandit and allocation is not None and len(allocation) == len(cells):
        weights = list(allocation)
    variants = tuple(Variant(c.name, _overrides(c.placement), dict(c.payload)) for c in cells)
    buckets = (row["bucket_start"], row["bucket_end"]) if row["bucket_start"] is not None else None
    return RunningExperiment(
        experiment_id=row["experiment_id"],
        placement=spec.target.placement,
        key=spec.target.key,
        variants=variants,
        weights=weights,
        traffic=spec.traffic_share,
        holdout=spec.holdout,
        segment=spec.segment,
        layer=row["layer"],
        buckets=buckets,
        bandit=bandit,
    )


def _overrides(override: PlacementOverride | None) -> dict[str, Any]:
    if override is None:
        return {}
    out: dict[str, Any] = {}
    if override.items:
        out.update(strategy="manual", items=tuple(override.items))
    elif override.strategy is not None:
        out.update(strategy=override.strategy, items=())
    if override.rules is not None:
        out["rules"] = compile_rules(override.rules)
    return out


def view(row: dict[str, Any]) -> dict[str, Any]:
    """An experiment as the API and the CLI show it: its spec, status, cells and times."""
    spec = ExperimentSpec.model_validate(row["spec"])
    weights = spec.weights()
    return {
        "experiment_id": row["experiment_id"],
        "status": row["status"],
        **row["spec"],
        "cells": [
            {"name": c.name, "weight": w} for c, w in zip(spec.cells(), weights, strict=True)
        ],
        "buckets": [row["bucket_start"], row["bucket_end"]]
        if row["bucket_start"] is not None
        else None,
        "created_at": to_iso(row["created_at"]),
        "updated_at": to_iso(row["updated_at"]),
        "started_at": to_iso(row["started_at"]),
        "stopped_at": to_iso(row["stopped_at"]),
    }
