"""Experiment specs as the API takes them, checked, and compiled for assignment.

An experiment tests variants of something Unico decides: a placement's strategy, items or
rules (``target.placement``), or any payload another channel reads (``target.key``: a
journey step's message, an offer). Variants are listed with weights, or built as every
combination of the levels of some factors (a full-factorial multivariate test).

>>> spec = parse_spec({"name": "hero", "target": {"placement": "home"},
...     "variants": [{"name": "A"}, {"name": "B", "placement": {"strategy": "trending"}}],
...     "metrics": [{"name": "orders", "event": "Order Completed"}]})
>>> [v.name for v in spec.cells()], spec.weights()
(['A', 'B'], [0.5, 0.5])
"""

from __future__ import annotations

import itertools
import math
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from unico.core.spec import validate_spec
from unico.decide.placements import NAME_PATTERN, ItemId, Strategy
from unico.decide.rules import RulesSpec

Name = Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f|=]+$")]
EventName = Annotated[str, Field(min_length=1, max_length=255)]
#: Longest name of a multivariate cell (``factor=level|factor=level``).
MAX_CELL_NAME = 200
#: Weights may be shares (summing to 1) or percentages (summing to 100).
TOLERANCE = 1e-6


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlacementOverride(_Strict):
    """What a variant changes in its placement: strategy, manual items, rules."""

    strategy: Strategy | None = None
    items: list[ItemId] = Field(default_factory=list, max_length=200)
    rules: RulesSpec | None = None

    @model_validator(mode="after")
    def _coherent(self) -> PlacementOverride:
        if self.items and self.strategy not in (None, "manual"):
            raise ValueError("a variant lists items (manual) or names a strategy, not both")
        if self.strategy == "manual" and not self.items:
            raise ValueError("a manual variant lists its items")
        return self


class VariantSpec(_Strict):
    name: Name
    weight: float | None = Field(None, ge=0)
    description: str = Field("", max_length=500)
    placement: PlacementOverride | None = None
    #: Free JSON for other channels (a message, an offer...): returned with the assignment.
    payload: dict[str, Any] = Field(default_factory=dict)


class LevelSpec(_Strict):
    name: Name
    placement: PlacementOverride | None = None
    payload: dict[str, Any] = Field(default_factory=dict)


class FactorSpec(_Strict):
    name: Name
    levels: list[LevelSpec] = Field(min_length=2, max_length=10)


class MeasureSpec(_Strict):
    """One side of a ratio metric: what is counted or summed per unit."""

    event: EventName
    kind: Literal["count", "sum"] = "count"
    property: str | None = Field(None, min_length=1, max_length=255)


class MetricSpec(_Strict):
    """A metric on events after exposure.

    ``conversion``: did the unit do ``event`` (0/1); ``count``: how many times; ``sum``:
    the total of a numeric ``property`` (revenue per visitor); ``mean``: the property's
    mean per event (average order value, a ratio of sum to count); ``ratio``:
    ``numerator`` over ``denominator``, each a count or sum.
    """

    name: Annotated[str, Field(min_length=1, max_length=100)]
    kind: Literal["conversion", "count", "sum", "mean", "ratio"] = "conversion"
    event: EventName | None = None
    property: str | None = Field(None, min_length=1, max_length=255)
    numerator: MeasureSpec | None = None
    denominator: MeasureSpec | None = None
    #: Only events within this many hours of the unit's exposure count (None: any time).
    window_hours: float | None = Field(None, gt=0, le=24 * 366)
    #: A guardrail is watched for harm, never declared a winner.
    guardrail: bool = False
    #: Lower is better (bounce rate, refunds).
    inverse: bool = False
    #: Cap per-unit values at this percentile (e.g. 99) before the tests.
    winsorize: float | None = Field(None, gt=0, lt=100)
    #: CUPED: reduce variance with the same measure over this many days before exposure.
    cuped_days: float | None = Field(None, gt=0, le=366)

    @model_validator(mode="after")
    def _complete(self) -> MetricSpec:
        if self.cuped_days is not None and self.kind in ("mean", "ratio"):
            raise ValueError("CUPED applies to conversion, count and sum metrics")
        if self.kind == "ratio":
            if self.numerator is None or self.denominator is None:
                raise ValueError("a ratio metric has a numerator and a denominator")
            for side in (self.numerator, self.denominator):
                if side.kind == "sum" and side.property is None:
                    raise ValueError("a summed side of a ratio names its property")
            return self
        if self.event is None:
            raise ValueError(f"a {self.kind} metric names its event")
        if self.kind in ("sum", "mean") and self.property is None:
            raise ValueError(f"a {self.kind} metric names the numeric property it reads")
        return self

    def events(self) -> list[str]:
        if self.kind == "ratio":
            assert self.numerator is not None and self.denominator is not None
            return [self.numerator.event, self.denominator.event]
        assert self.event is not None
        return [self.event]


class TargetSpec(_Strict):
    """What the experiment changes: a placement, or a payload read by ``key``."""

    placement: str | None = Field(None, pattern=NAME_PATTERN)
    key: str | None = Field(None, pattern=NAME_PATTERN)

    @model_validator(mode="after")
    def _one(self) -> TargetSpec:
        if (self.placement is None) == (self.key is None):
            raise ValueError("a target is a placement or a key, one of them")
        return self


class BanditSpec(_Strict):
    """Thompson sampling on ``metric`` (a conversion metric), recomputed every ``every_minutes``."""

    metric: str | None = None
    every_minutes: float = Field(60, gt=0, le=7 * 24 * 60)
    floor: float = Field(0.05, ge=0, lt=0.5)


class ExperimentSpec(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=200)]
    description: str = Field("", max_length=2000)
    target: TargetSpec
    variants: list[VariantSpec] = Field(default_factory=list, max_length=50)
    factors: list[FactorSpec] = Field(default_factory=list, max_length=4)
    metrics: list[MetricSpec] = Field(min_length=1, max_length=20)
    #: Only members of this segment take part.
    segment: str | None = Field(None, min_length=1, max_length=200)
    #: Share of the eligible units in the experiment (0-1, or a percentage up to 100).
    traffic: float = Field(1.0, gt=0, le=100)
    #: Share of the experiment's units permanently kept on the placement's own experience.
    holdout: float = Field(0.0, ge=0, lt=0.5)
    #: Experiments in one layer never share a unit.
    layer: str | None = Field(None, pattern=NAME_PATTERN)
    method: Literal["frequentist", "sequential", "bayesian"] = "frequentist"
    correction: Literal["holm", "benjamini-hochberg", "none"] = "holm"
    alpha: float = Field(0.05, gt=0, lt=0.5)
    #: Smallest relative lift worth detecting: what "keep running" counts visitors for.
    mde: float = Field(0.05, gt=0, le=10)
    allocation: Literal["fixed", "bandit"] = "fixed"
    bandit: BanditSpec = Field(default_factory=lambda: BanditSpec.model_validate({}))

    @field_validator("variants")
    @classmethod
    def _variants(cls, variants: list[VariantSpec]) -> list[VariantSpec]:
        if not variants:
            return variants
        if len(variants) < 2:
            raise ValueError("an experiment has at least two variants")
        _unique([v.name for v in variants], "variant")
        given = [v.weight for v in variants if v.weight is not None]
        if given and len(given) != len(variants):
            raise ValueError("give every variant a weight, or none")
        if given:
            _check_sum(given)
        return variants

    @field_validator("factors")
    @classmethod
    def _factors(cls, factors: list[FactorSpec]) -> list[FactorSpec]:
        _unique([f.name for f in factors], "factor")
        for f in factors:
            _unique([level.name for level in f.levels], f"level of {f.name}")
        longest = sum(len(f.name) + 1 + max(len(lv.name) for lv in f.levels) for f in factors)
        if longest + len(factors) - 1 > MAX_CELL_NAME:
            raise ValueError(f"cell names (factor=level|...) must fit in {MAX_CELL_NAME} chars")
        return factors

    @field_validator("metrics")
    @classmethod
    def _metrics(cls, metrics: list[MetricSpec]) -> list[MetricSpec]:
        _unique([m.name for m in metrics], "metric")
        return metrics

    @model_validator(mode="after")
    def _design(self) -> ExperimentSpec:
        if bool(self.variants) == bool(self.factors):
            raise ValueError("list variants, or factors for a multivariate test (not both)")
        if self.allocation == "bandit":
            metric = self._bandit_metric()
            if metric.kind != "conversion":
                raise ValueError("a bandit reallocates on a conversion metric")
        return self

    @property
    def traffic_share(self) -> float:
        return self.traffic / 100 if self.traffic > 1 else self.traffic

    def primary(self) -> MetricSpec:
        return next((m for m in self.metrics if not m.guardrail), self.metrics[0])

    def _bandit_metric(self) -> MetricSpec:
        name = self.bandit.metric
        if name is None:
            return self.primary()
        for m in self.metrics:
            if m.name == name:
                return m
        raise ValueError(f"bandit.metric {name!r} is not one of the metrics")

    def bandit_metric(self) -> MetricSpec:
        return self._bandit_metric()

    def cells(self) -> list[VariantSpec]:
        """The variants: as listed, or one per combination of the factors' levels."""
        if self.variants:
            return list(self.variants)
        out = []
        for combo in itertools.product(*(f.levels for f in self.factors)):
            name = "|".join(
                f"{f.name}={lv.name}" for f, lv in zip(self.factors, combo, strict=True)
            )
            payload: dict[str, Any] = {}
            override: dict[str, Any] = {}
            for level in combo:
                payload.update(level.payload)
                if level.placement is not None:
                    override.update(level.placement.model_dump(exclude_defaults=True))
            placement = PlacementOverride.model_validate(override) if override else None
            # Trusted parts: the name joins checked names with "=" and "|".
            out.append(
                VariantSpec.model_construct(
                    name=name, weight=None, description="", placement=placement, payload=payload
                )
            )
        return out

    def weights(self) -> list[float]:
        """Each cell's share, summing to 1 (equal when not given)."""
        cells = self.cells()
        given = [v.weight for v in cells]
        if any(w is None for w in given):
            return [1 / len(cells)] * len(cells)
        total = sum(w for w in given if w is not None)
        return [float(w or 0) / total for w in given]


def _unique(names: list[str], what: str) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(f"two {what}s are named {name!r}")
        seen.add(name)


def _check_sum(weights: list[float]) -> None:
    total = math.fsum(weights)
    if abs(total - 1) > TOLERANCE and abs(total - 100) > TOLERANCE * 100:
        raise ValueError(f"the weights sum to {total:g}; they must sum to 1 (or 100)")


def parse_spec(raw: Any) -> ExperimentSpec:
    """An experiment spec from JSON, or `InvalidInput` naming the first bad field."""
    return validate_spec(ExperimentSpec, raw, "experiment", article="an")
