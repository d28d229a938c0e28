"""Offline evaluation: split interactions per person, fit, rank, measure.

The protocol of Microsoft Recommenders' MovieLens benchmarks: every rating is an
implicit positive; each person's ratings are split at random, 75% to training and 25% to
test (``stratified_split``); each recommender ranks, for each person, the items they did
not interact with in training, and the top 10 are scored against the test items
(`unico.recommend.metrics`). The hybrid's weights (and, with `unico.recommend.tuning`,
the ALS and EASE settings) are tuned on a validation split carved out of the training rows
only (`validation_split`): the test rows are never looked at before the final score.

>>> users = np.array(["a"] * 4 + ["b"] * 8)
>>> mask = stratified_split(users, 0.75, seed=1)
>>> int(mask[:4].sum()), int(mask[4:].sum())
(3, 6)
>>> fit = validation_split(users, mask, seed=1)
>>> int(fit.sum()), bool((fit & ~mask).any())
(6, False)
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass

import numpy as np
from pydantic import BaseModel, ConfigDict, PositiveFloat, PositiveInt
from threadpoolctl import threadpool_limits

from unico.recommend.als import ALSRecommender
from unico.recommend.base import ItemInfo, Query, Recommender, TrainingData
from unico.recommend.content import ContentRecommender
from unico.recommend.cooccurrence import ItemToItemRecommender
from unico.recommend.data import from_arrays, history_of
from unico.recommend.ease import EASERecommender
from unico.recommend.hybrid import HybridRecommender
from unico.recommend.metrics import mean_metrics
from unico.recommend.movielens import Ratings
from unico.recommend.popular import PopularRecommender

Step = Callable[[str], None]


@dataclass(frozen=True)
class Result:
    """One recommender's scores on the test split."""

    name: str
    ndcg: float
    precision: float
    recall: float
    map: float
    coverage: float
    fit_seconds: float
    recommend_ms: float


def stratified_split(users: np.ndarray, fraction: float, seed: int) -> np.ndarray:
    """A training mask: for each person, a random ``fraction`` of their rows (rounded)."""
    rng = np.random.default_rng(seed)
    _, user_index, counts = np.unique(users, return_inverse=True, return_counts=True)
    order = np.lexsort((rng.random(len(users)), user_index))
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    rank = np.empty(len(users), dtype=np.int64)
    rank[order] = np.arange(len(users)) - starts[user_index[order]]
    return np.asarray(rank < np.round(fraction * counts[user_index]))


def split_data(
    users: np.ndarray,
    items: np.ndarray,
    at_ms: np.ndarray,
    train_mask: np.ndarray,
    catalog: Mapping[str, ItemInfo],
) -> tuple[TrainingData, dict[str, set[str]]]:
    """Training data from the masked rows (weight 1 each), and person -> held-out items."""
    train_users, user_index = np.unique(users[train_mask], return_inverse=True)
    train_items, item_index = np.unique(items[train_mask], return_inverse=True)
    weights = np.ones(int(train_mask.sum()))
    data = from_arrays(
        train_users.tolist(),
        train_items.tolist(),
        user_index,
        item_index,
        weights,
        at_ms[train_mask],
        catalog=catalog,
    )
    held_out: dict[str, set[str]] = {}
    for user, item in zip(users[~train_mask].tolist(), items[~train_mask].tolist(), strict=True):
        held_out.setdefault(user, set()).add(item)
    return data, held_out


def validation_split(users: np.ndarray, train_mask: np.ndarray, seed: int) -> np.ndarray:
    """The rows to fit on while tuning: 75% of each person's training rows. The other
    training rows (``train_mask & ~result``) are the validation rows; the test rows
    (``~train_mask``) are in neither."""
    rows = np.flatnonzero(train_mask)
    inner = stratified_split(users[rows], 0.75, seed + 1)
    fit_mask = np.zeros(len(train_mask), dtype=bool)
    fit_mask[rows[inner]] = True
    return fit_mask


def tuning_data(
    ratings: Ratings, train_mask: np.ndarray, seed: int
) -> tuple[TrainingData, dict[str, set[str]]]:
    """What tuning fits on, and person -> validation items: both from training rows only."""
    fit_mask = validation_split(ratings.users, train_mask, seed)
    fit_part, _ = split_data(ratings.users, ratings.items, ratings.at_ms, fit_mask, ratings.catalog)
    validation: dict[str, set[str]] = {}
    for row in np.flatnonzero(train_mask & ~fit_mask):
        validation.setdefault(str(ratings.users[row]), set()).add(str(ratings.items[row]))
    return fit_part, validation


class ModelSettings(BaseModel):
    """The ALS and EASE hyperparameters. The defaults are what ``unico eval tune --seed 0``
    chooses on MovieLens-100k (BENCHMARKS.md); ``unico eval recs --settings`` or ``--tune``
    replace them."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    als_factors: PositiveInt = 200
    als_regularization: PositiveFloat = 50.0
    als_alpha: PositiveFloat = 10.0
    ease_l2: PositiveFloat = 500.0


def default_recommenders(
    seed: int = 0, settings: ModelSettings | None = None
) -> dict[str, Recommender]:
    """Every recommender, ALS and EASE with ``settings`` (default: `ModelSettings()`)."""
    chosen = settings or ModelSettings()
    als = ALSRecommender(
        factors=chosen.als_factors,
        regularization=chosen.als_regularization,
        alpha=chosen.als_alpha,
        seed=seed,
    )
    parts: dict[str, Recommender] = {
        "popular": PopularRecommender(),
        "trending": PopularRecommender(half_life_days=30.0),
        "cooccurrence": ItemToItemRecommender(),
        "content": ContentRecommender(),
        "als": als,
        "ease": EASERecommender(l2=chosen.ease_l2),
    }
    return parts


def evaluate(
    model: Recommender, train: TrainingData, test: Mapping[str, Collection[str]], k: int
) -> Result:
    """Fit ``model`` on ``train`` and score its top ``k`` for every person in ``test``."""
    started = time.perf_counter()
    model.fit(train)
    fitted = time.perf_counter()
    rows = {user: row for row, user in enumerate(train.users)}
    people = [u for u in test if u in rows]
    lists = [
        [s.item_id for s in model.recommend(Query(history=history_of(train, rows[u]), k=k))]
        for u in people
    ]
    done = time.perf_counter()
    metrics = mean_metrics(lists, [test[u] for u in people], k, len(train.items))
    return Result(
        name=model.name,
        fit_seconds=fitted - started,
        recommend_ms=1000 * (done - fitted) / max(len(people), 1),
        **metrics,
    )


def evaluate_split(
    ratings: Ratings,
    seed: int,
    k: int = 10,
    settings: ModelSettings | None = None,
    on_step: Step | None = None,
) -> list[Result]:
    """Every default recommender and their tuned hybrid on the 75/25 split ``seed`` (which
    also seeds the models)."""
    step = on_step or (lambda _label: None)
    mask = stratified_split(ratings.users, 0.75, seed)
    train, test = split_data(ratings.users, ratings.items, ratings.at_ms, mask, ratings.catalog)
    results = []
    # Per-query linear algebra is small: BLAS threads only contend (10x slower on 2 cores).
    with threadpool_limits(1, "blas"):
        for name, model in default_recommenders(seed, settings).items():
            step(f"fit and rank: {name}")
            results.append(evaluate(model, train, test, k))
        step("tune the hybrid on a validation split of the training rows")
        hybrid = tuned_hybrid(ratings, mask, seed, k, settings)
        step("fit and rank: hybrid")
        results.append(evaluate(hybrid, train, test, k))
    return results


def steps_of_evaluate_split() -> int:
    """How many times `evaluate_split` calls ``on_step`` (for progress bars)."""
    return len(default_recommenders()) + 2


def tuned_hybrid(
    ratings: Ratings,
    train_mask: np.ndarray,
    seed: int,
    k: int,
    settings: ModelSettings | None = None,
) -> HybridRecommender:
    """A hybrid of the default recommenders, weights tuned on the training rows alone."""
    fit_part, validation = tuning_data(ratings, train_mask, seed)
    hybrid = HybridRecommender(default_recommenders(seed, settings))
    hybrid.tune(fit_part, validation, k)
    return hybrid
