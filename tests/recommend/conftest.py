"""Small interaction data with a clear structure, and every recommender to check.

Two tastes: "shoes" people interact with shoe items, "garden" people with garden items
(each item's popularity falls off with its number). The catalog also holds items nobody
has touched yet.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from unico.recommend.als import ALSRecommender
from unico.recommend.base import ItemInfo, Recommender, TrainingData
from unico.recommend.content import ContentRecommender
from unico.recommend.cooccurrence import ItemToItemRecommender
from unico.recommend.data import Row, build_training_data
from unico.recommend.ease import EASERecommender
from unico.recommend.hybrid import HybridRecommender
from unico.recommend.popular import PopularRecommender

T0 = 1_768_471_200_000
DAY = 86_400_000
COLOURS = ("red", "blue", "green", "black")


def catalog() -> dict[str, ItemInfo]:
    items = {}
    for kind, words in (("shoes", "running shoe trainers"), ("garden", "garden hose rake")):
        for n in range(12):
            item_id = f"{kind}-{n}"
            colour = COLOURS[n % len(COLOURS)]
            text = f"{colour} {words} model {n}"
            items[item_id] = ItemInfo(item_id, text, (kind,), {"colour": colour})
    items["shoes-new"] = ItemInfo(
        "shoes-new", "red running shoe trainers model", ("shoes",), {"colour": "red"}
    )
    items["garden-new"] = ItemInfo("garden-new", "green garden hose", ("garden",), {})
    return items


def rows(seed: int = 0, people: int = 40) -> list[Row]:
    rng = np.random.default_rng(seed)
    out: list[Row] = []
    for p in range(people):
        kind = "shoes" if p % 2 == 0 else "garden"
        chosen = rng.choice(12, size=5, replace=False, p=_zipf(12))
        for n in chosen:
            at = T0 - int(rng.integers(0, 30)) * DAY
            out.append((f"{kind}-person-{p}", f"{kind}-{n}", 1.0, at))
    return out


def _zipf(n: int) -> np.ndarray:
    weights = 1.0 / np.arange(1, n + 1)
    return weights / weights.sum()


def training_data(seed: int = 0, people: int = 40) -> TrainingData:
    return build_training_data(rows(seed, people), catalog=catalog(), now_ms=T0)


def _hybrid(seed: int) -> HybridRecommender:
    return HybridRecommender(
        {
            "popular": PopularRecommender(),
            "cooccurrence": ItemToItemRecommender(),
            "als": ALSRecommender(factors=8, regularization=1.0, iterations=5, seed=seed),
            "content": ContentRecommender(),
        },
        weights={"popular": 0.1, "cooccurrence": 1.0, "als": 1.0, "content": 0.2},
    )


FACTORIES: dict[str, Callable[[int], Recommender]] = {
    "popular": lambda seed: PopularRecommender(),
    "trending": lambda seed: PopularRecommender(half_life_days=7.0),
    "cooccurrence": lambda seed: ItemToItemRecommender(),
    "als": lambda seed: ALSRecommender(factors=8, regularization=1.0, iterations=5, seed=seed),
    "ease": lambda seed: EASERecommender(l2=10.0),
    "content": lambda seed: ContentRecommender(),
    "hybrid": _hybrid,
}


@pytest.fixture(scope="module")
def data() -> TrainingData:
    return training_data()
