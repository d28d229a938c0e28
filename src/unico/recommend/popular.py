"""Most popular items, all-time ("popular") or time-decayed ("trending").

The answer for people the other recommenders know nothing about, and the blend's
fallback. Trending weighs each interaction by ``0.5 ** (age / half_life)``; scores are
kept relative to a reference time, so an interaction learnt online is one addition and
the ranking at any later time is the same as recomputing every age.

>>> from unico.recommend.data import build_training_data
>>> from unico.recommend.base import Query
>>> day = 86_400_000
>>> rows = [("a", "old", 1.0, 0), ("b", "old", 1.0, 0), ("c", "new", 1.0, 10 * day)]
>>> data = build_training_data(rows)
>>> popular, trending = PopularRecommender(), PopularRecommender(half_life_days=1.0)
>>> popular.fit(data); trending.fit(data)
>>> [s.item_id for s in popular.recommend(Query(k=2))]
['old', 'new']
>>> [s.item_id for s in trending.recommend(Query(k=2))]
['new', 'old']
"""

from __future__ import annotations

import numpy as np

from unico.recommend.base import Query, Scored, TrainingData
from unico.recommend.ranking import ItemSpace, top_indexes

DAY_MS = 86_400_000
#: Rebase decayed scores before 2 ** exponent can overflow a float64.
_MAX_EXPONENT = 512.0
#: How many of the best items are kept ranked between changes (more: ranked per query).
RANKED = 512


class PopularRecommender:
    """Items by summed interaction weight, optionally decayed with ``half_life_days``."""

    def __init__(self, half_life_days: float | None = None) -> None:
        if half_life_days is not None and half_life_days <= 0:
            raise ValueError("half_life_days must be positive")
        self.half_life_days = half_life_days
        self.name = "popular" if half_life_days is None else "trending"
        self._space = ItemSpace([], {})
        self._scores = np.zeros(0)
        self._ref_ms = 0
        #: The best ``RANKED`` positions, best first, until the scores change.
        self._ranking: np.ndarray | None = None

    def fit(self, data: TrainingData) -> None:
        space = ItemSpace(data.items, data.catalog)
        matrix = data.matrix.tocsc() if self.half_life_days is None else None
        if matrix is not None:
            scores = np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel()
        else:
            scores = self._decayed(data)
        # Swap in whole objects so a model being served never sees a half-fitted state.
        self._space, self._scores, self._ref_ms = space, scores, data.now_ms
        self._ranking = None

    def _decayed(self, data: TrainingData) -> np.ndarray:
        coo = data.matrix.tocoo()
        if data.last_seen is None or not coo.nnz:
            ages = np.zeros(coo.nnz)
        else:
            last = data.last_seen.tocsr()[coo.row, coo.col]
            ages = (data.now_ms - np.asarray(last, dtype=np.float64).ravel()) / self._half_life_ms
        weights = coo.data.astype(np.float64) * np.exp2(-np.maximum(ages, 0.0))
        return np.bincount(coo.col, weights=weights, minlength=len(data.items))

    @property
    def _half_life_ms(self) -> float:
        return float(self.half_life_days or 0.0) * DAY_MS

    def learn_one(self, user_id: str, item_id: str, weight: float, at_ms: int) -> None:
        """Count one interaction now (``user_id`` does not matter to popularity)."""
        self._count(item_id, weight, at_ms)
        # After the change: a ranking made while it was under way is dropped too.
        self._ranking = None

    def _count(self, item_id: str, weight: float, at_ms: int) -> None:
        position = self._space.add(item_id)
        if position >= len(self._scores):
            grown = np.zeros(max(16, 2 * len(self._scores)))
            grown[: len(self._scores)] = self._scores
            self._scores = grown
        if self.half_life_days is None:
            self._scores[position] += weight
            return
        exponent = (at_ms - self._ref_ms) / self._half_life_ms
        if exponent > _MAX_EXPONENT:
            self._scores *= np.exp2(-exponent)
            self._ref_ms, exponent = at_ms, 0.0
        self._scores[position] += weight * np.exp2(exponent)

    def recommend(self, query: Query) -> list[Scored]:
        space = self._space
        scores = self._scores[: len(space)]  # never longer than the items it scores
        if not query.category:
            # The same for everyone: rank once, until an interaction changes the scores.
            order = self._ranking
            if order is None:
                order = self._ranking = top_indexes(scores, RANKED)
            answer = space.answer_ranked(order, scores, query, positive_only=True)
            if answer is not None:
                return answer
        return space.answer(scores, query, positive_only=True)
