"""The search for the ALS and EASE settings, on training rows only.

For the 75/25 split ``seed`` (`unico.recommend.evaluate`), the training rows are split
again per person, 75% to fit and 25% to validate (`validation_split`); every point of a
small grid is fitted on the first part and scored by NDCG@k on the second, and the best
point of each model wins. The test rows of the split are never read, so the settings can
be scored on them afterwards (``unico eval recs --settings FILE``). ALS and EASE are
searched apart: neither's settings change the other's scores.

>>> from unico.recommend.evaluate import ModelSettings
>>> scores = [
...     Scored(ModelSettings(als_factors=64), "als", 0.41, 0.35),
...     Scored(ModelSettings(als_factors=128), "als", 0.43, 0.36),
...     Scored(ModelSettings(ease_l2=100.0), "ease", 0.44, 0.38),
... ]
>>> chosen = best_settings(scores)
>>> chosen.als_factors, chosen.ease_l2
(128, 100.0)
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import ValidationError
from threadpoolctl import threadpool_limits

from unico.core.errors import InvalidInput
from unico.core.spec import first_error
from unico.recommend.als import ALSRecommender
from unico.recommend.base import Recommender
from unico.recommend.ease import EASERecommender
from unico.recommend.evaluate import (
    ModelSettings,
    Step,
    evaluate,
    stratified_split,
    tuning_data,
)
from unico.recommend.movielens import Ratings


@dataclass(frozen=True)
class Grid:
    """The values tried: every ALS combination, and every EASE penalty."""

    als_factors: tuple[int, ...] = (64, 128, 200)
    als_regularization: tuple[float, ...] = (10.0, 50.0, 150.0)
    als_alpha: tuple[float, ...] = (3.0, 10.0, 30.0)
    ease_l2: tuple[float, ...] = (100.0, 200.0, 300.0, 500.0, 800.0, 1200.0)

    def points(self) -> list[tuple[str, ModelSettings]]:
        """(model, settings) for every point; the other model's fields keep their defaults."""
        als = [
            ("als", ModelSettings(als_factors=f, als_regularization=r, als_alpha=a))
            for f, r, a in itertools.product(
                self.als_factors, self.als_regularization, self.als_alpha
            )
        ]
        return als + [("ease", ModelSettings(ease_l2=l2)) for l2 in self.ease_l2]


@dataclass(frozen=True)
class Scored:
    """One grid point's validation scores."""

    settings: ModelSettings
    model: str
    ndcg: float
    precision: float


@dataclass(frozen=True)
class Tuning:
    """Every grid point's validation scores and the settings chosen from them."""

    seed: int
    k: int
    scores: list[Scored]
    chosen: ModelSettings

    def best(self, model: str) -> Scored:
        """The chosen point of ``model`` ("als" or "ease")."""
        return max((s for s in self.scores if s.model == model), key=lambda s: s.ndcg)

    def to_json(self) -> dict[str, Any]:
        """What ``unico eval tune --out`` writes and ``unico eval recs --settings`` reads."""
        return {
            "settings": self.chosen.model_dump(),
            "tuned_on": {
                "split_seed": self.seed,
                "k": self.k,
                "validation_ndcg": {m: self.best(m).ndcg for m in ("als", "ease")},
            },
            "grid": [
                {"model": s.model, **_fields(s), "ndcg": s.ndcg, "precision": s.precision}
                for s in self.scores
            ],
        }


def _fields(scored: Scored) -> dict[str, Any]:
    prefix = f"{scored.model}_"
    return {
        name: value
        for name, value in scored.settings.model_dump().items()
        if name.startswith(prefix)
    }


def best_settings(scores: Sequence[Scored]) -> ModelSettings:
    """The best ALS point's ALS fields with the best EASE point's EASE field (by NDCG;
    the first of equals, so the grid's order breaks ties)."""
    fields: dict[str, Any] = {}
    for model in ("als", "ease"):
        points = [s for s in scores if s.model == model]
        if points:
            best = max(points, key=lambda s: s.ndcg)
            fields.update(_fields(best))
    return ModelSettings(**fields)


def _model(model: str, settings: ModelSettings, seed: int) -> Recommender:
    if model == "als":
        return ALSRecommender(
            factors=settings.als_factors,
            regularization=settings.als_regularization,
            alpha=settings.als_alpha,
            seed=seed,
        )
    return EASERecommender(l2=settings.ease_l2)


def tune(
    ratings: Ratings,
    seed: int,
    k: int = 10,
    grid: Grid | None = None,
    on_step: Step | None = None,
) -> Tuning:
    """Search ``grid`` on the validation split of split ``seed``'s training rows."""
    step = on_step or (lambda _label: None)
    train_mask = stratified_split(ratings.users, 0.75, seed)
    return tune_on(ratings, train_mask, seed, k, grid or Grid(), step)


def tune_on(
    ratings: Ratings,
    train_mask: np.ndarray,
    seed: int,
    k: int,
    grid: Grid,
    step: Step,
) -> Tuning:
    """`tune` for a given training mask: the rows outside it are never read."""
    fit_part, validation = tuning_data(ratings, train_mask, seed)
    scores = []
    with threadpool_limits(1, "blas"):
        for model, settings in grid.points():
            step(f"tune {model}: {_label(model, settings)}")
            result = evaluate(_model(model, settings, seed), fit_part, validation, k)
            scores.append(Scored(settings, model, result.ndcg, result.precision))
    return Tuning(seed=seed, k=k, scores=scores, chosen=best_settings(scores))


def _label(model: str, settings: ModelSettings) -> str:
    if model == "als":
        return (
            f"factors {settings.als_factors}, reg {settings.als_regularization:g}, "
            f"alpha {settings.als_alpha:g}"
        )
    return f"l2 {settings.ease_l2:g}"


def steps_of_tune(grid: Grid | None = None) -> int:
    """How many times `tune` calls ``on_step`` (for progress bars)."""
    return len((grid or Grid()).points())


def read_settings(path: Path) -> ModelSettings:
    """The settings in a file `Tuning.to_json` wrote (its ``settings`` key)."""
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidInput(f"{path}: not a readable JSON file ({exc})", field="settings") from None
    if not isinstance(document, dict) or not isinstance(document.get("settings"), dict):
        raise InvalidInput(
            f'{path}: no "settings" object (unico eval tune --out writes one)', field="settings"
        )
    try:
        return ModelSettings(**document["settings"])
    except ValidationError as exc:
        where, message = first_error(exc, "settings")
        raise InvalidInput(f"{path}: {where}: {message}", field="settings") from None
