"""A weighted blend of recommenders, tuned on held-out interactions.

Each part answers the query with its top ``candidates`` items; its scores are rescaled to
[0, 1] over that list (the best item 1, the last 0) and the blend sums them with the
part's weight. A part with weight 0 still counts a little (``FLOOR``), so the blend falls
back gracefully: with no history and no context only popularity answers; an item nobody
has interacted with reaches the list through content similarity; and when the weighted
parts have fewer than ``k`` items the others fill the list.

>>> from unico.recommend.base import Query
>>> from unico.recommend.data import build_training_data
>>> from unico.recommend.popular import PopularRecommender
>>> from unico.recommend.cooccurrence import ItemToItemRecommender
>>> rows = [("a", "x", 1.0, 0), ("a", "y", 1.0, 0), ("b", "x", 1.0, 0), ("c", "z", 1.0, 0)]
>>> hybrid = HybridRecommender({"popular": PopularRecommender(), "co": ItemToItemRecommender()})
>>> hybrid.fit(build_training_data(rows))
>>> [s.item_id for s in hybrid.recommend(Query(k=1))]
['x']
>>> [s.item_id for s in hybrid.recommend(Query(context_items=["y"], k=1))]
['x']
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from unico.recommend.base import Query, Recommender, Scored, TrainingData
from unico.recommend.blend import WeightSearch, candidates_of

#: The weight a part tuned to 0 still has, so it can break ties and fill short lists.
FLOOR = 1e-3


class HybridRecommender:
    """Blends the normalized scores of ``parts`` with ``weights`` (default: all 1)."""

    name = "hybrid"

    def __init__(
        self,
        parts: Mapping[str, Recommender],
        weights: Mapping[str, float] | None = None,
        candidates: int = 50,
    ) -> None:
        if not parts:
            raise ValueError("a hybrid needs at least one part")
        unknown = set(weights or {}) - set(parts)
        if unknown:
            raise ValueError(f"weights for unknown parts: {sorted(unknown)}")
        self.parts = dict(parts)
        self.weights = {name: float((weights or {}).get(name, 1.0)) for name in self.parts}
        self.candidates = candidates

    def fit(self, data: TrainingData) -> None:
        """Fit every part (in place: build a fresh hybrid to refit while one is serving)."""
        for part in self.parts.values():
            part.fit(data)

    def learn_one(self, user_id: str, item_id: str, weight: float, at_ms: int) -> None:
        """Pass the interaction on to the parts that learn online."""
        for part in self.parts.values():
            learn = getattr(part, "learn_one", None)
            if learn is not None:
                learn(user_id, item_id, weight, at_ms)

    def recommend(self, query: Query) -> list[Scored]:
        if query.k <= 0:
            return []
        found = candidates_of(self.parts, query, max(self.candidates, query.k))
        blended: dict[str, float] = {}
        for name, candidates in found.items():
            weight = max(self.weights[name], FLOOR)
            for item, score in zip(candidates.items, candidates.scores.tolist(), strict=True):
                blended[item] = blended.get(item, 0.0) + weight * score
        best = sorted(blended.items(), key=lambda kv: (-kv[1], kv[0]))[: query.k]
        return [Scored(item, score) for item, score in best]

    def tune(
        self,
        train: TrainingData,
        validation: Mapping[str, Collection[str]],
        k: int = 10,
        grid: tuple[float, ...] = (0.0, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0),
    ) -> dict[str, float]:
        """Pick the weights maximizing NDCG@k of ``validation`` (person -> held-out items,
        never in ``train``) when fitted on ``train``; sets and returns them.

        The search starts from the best single part, so on the validation data the blend
        is never worse than any part. The parts stay fitted on ``train``: fit the hybrid
        on the full data afterwards.
        """
        self.fit(train)
        search = WeightSearch.build(self.parts, train, validation, k, self.candidates, FLOOR)
        self.weights = search.best_weights(grid)
        return dict(self.weights)
