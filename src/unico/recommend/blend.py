"""The arithmetic of blending: the parts' rescaled candidates, and the search for weights.

`WeightSearch` holds, for every validation person, the candidates of every part as one
padded array (people x candidates x parts), so trying a weight vector is a handful of
vectorized operations and a grid search over weights takes a second or two.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection, Mapping
from dataclasses import dataclass

import numpy as np

from unico.recommend.base import Query, Recommender, TrainingData
from unico.recommend.data import history_of


@dataclass(frozen=True, slots=True)
class Candidates:
    """One part's answer: item ids, best first, with scores rescaled to [0, 1]."""

    items: list[str]
    scores: np.ndarray


def rescale(scores: np.ndarray) -> np.ndarray:
    """Scores to [0, 1], best 1 (a single score, or all equal, become 1).

    >>> rescale(np.array([3.0, 2.0, 1.0])).tolist()
    [1.0, 0.5, 0.0]
    """
    if not len(scores):
        return scores
    low, high = float(scores.min()), float(scores.max())
    if high - low <= 0:
        return np.ones_like(scores)
    return np.asarray((scores - low) / (high - low))


def candidates_of(parts: Mapping[str, Recommender], query: Query, n: int) -> dict[str, Candidates]:
    """Every part's top ``n`` for ``query``, rescaled."""
    wide = dataclasses.replace(query, k=n)
    found = {}
    for name, part in parts.items():
        answer = part.recommend(wide)
        scores = np.fromiter((s.score for s in answer), np.float64, len(answer))
        found[name] = Candidates([s.item_id for s in answer], rescale(scores))
    return found


@dataclass
class WeightSearch:
    """Validation people's candidates, ready to score any weight vector by NDCG@k."""

    names: list[str]
    scores: np.ndarray  # people x candidates x parts; padding is -inf after weighting
    valid: np.ndarray  # people x candidates: a real candidate, not padding
    relevant: np.ndarray  # people x candidates: held out for that person
    held_out: np.ndarray  # people: how many items were held out
    k: int
    floor: float

    @classmethod
    def build(
        cls,
        parts: Mapping[str, Recommender],
        train: TrainingData,
        validation: Mapping[str, Collection[str]],
        k: int,
        n: int,
        floor: float,
    ) -> WeightSearch:
        rows = {user: row for row, user in enumerate(train.users)}
        names = list(parts)
        people: list[tuple[list[str], np.ndarray, set[str]]] = []
        for user, items in validation.items():
            if user not in rows or not items:
                continue
            query = Query(history=history_of(train, rows[user]), k=k)
            people.append((*_union(candidates_of(parts, query, max(n, k)), names), set(items)))
        width = max([len(c) for c, _, _ in people] + [1])
        scores = np.zeros((len(people), width, len(names)))
        valid = np.zeros((len(people), width), dtype=bool)
        relevant = np.zeros((len(people), width), dtype=bool)
        for p, (items, matrix, truth) in enumerate(people):
            scores[p, : len(items)] = matrix
            valid[p, : len(items)] = True
            relevant[p, : len(items)] = [i in truth for i in items]
        held_out = np.asarray([len(t) for _, _, t in people], dtype=np.int64)
        return cls(names, scores, valid, relevant, held_out, k, floor)

    def ndcg(self, weights: np.ndarray) -> float:
        """Mean NDCG@k over the validation people for one weight per part."""
        if not len(self.held_out):
            return 0.0
        blended = self.scores @ np.maximum(weights, self.floor)
        blended[~self.valid] = -np.inf
        k = min(self.k, blended.shape[1])
        top = np.argpartition(-blended, k - 1, axis=1)[:, :k]
        order = np.argsort(-np.take_along_axis(blended, top, axis=1), axis=1, kind="stable")
        top = np.take_along_axis(top, order, axis=1)
        hits = np.take_along_axis(self.relevant & self.valid, top, axis=1)
        discounts = 1.0 / np.log2(np.arange(2, self.k + 2))
        dcg = (hits * discounts[:k]).sum(axis=1)
        ideal = np.concatenate([[0.0], np.cumsum(discounts)])[np.minimum(self.held_out, self.k)]
        return float(np.mean(dcg / ideal))

    def best_weights(self, grid: tuple[float, ...], rounds: int = 3) -> dict[str, float]:
        """Coordinate ascent over ``grid``, from the best single part."""
        singles = np.eye(len(self.names))
        weights = max(singles, key=self.ndcg).copy()
        best = self.ndcg(weights)
        for _ in range(rounds):
            improved = False
            for part in range(len(self.names)):
                for value in grid:
                    trial = weights.copy()
                    trial[part] = value
                    score = self.ndcg(trial) if trial.any() else -1.0
                    if score > best + 1e-9:
                        weights, best, improved = trial, score, True
            if not improved:
                break
        return {name: float(w) for name, w in zip(self.names, weights, strict=True)}


def _union(found: dict[str, Candidates], names: list[str]) -> tuple[list[str], np.ndarray]:
    """All parts' candidates of one person and their matrix of rescaled scores."""
    items: dict[str, int] = {}
    for name in names:
        for item in found[name].items:
            items.setdefault(item, len(items))
    matrix = np.zeros((len(items), len(names)))
    for p, name in enumerate(names):
        rows = [items[i] for i in found[name].items]
        matrix[rows, p] = found[name].scores
    return list(items), matrix
