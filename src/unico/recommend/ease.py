"""EASE: a shallow item-to-item linear model with a closed form (Steck, WWW 2019).

``B = I - P / diag(P)`` with ``P = (XᵀX + l2·I)⁻¹``, diagonal forced to zero; a person's
scores are their history times ``B``. The dense item x item matrix costs
``max_items² x 4`` bytes (and the inverse twice that in float64 while fitting), so only
the ``max_items`` most popular items are modelled: 5,000 items need about 100 MB served.

>>> from unico.recommend.data import build_training_data
>>> from unico.recommend.base import Query
>>> rows = [(u, i, 1.0, 0) for u in "abc" for i in ("x", "y")] + [("d", "z", 1.0, 0)]
>>> model = EASERecommender(l2=1.0)
>>> model.fit(build_training_data(rows))
>>> [s.item_id for s in model.recommend(Query(history={"x": 1.0}, k=1))]
['y']
"""

from __future__ import annotations

import numpy as np
from scipy import linalg, sparse

from unico.recommend.base import Query, Scored, TrainingData
from unico.recommend.ranking import ItemSpace


class EASERecommender:
    """EASE over the ``max_items`` most popular items, with ridge penalty ``l2``."""

    name = "ease"

    def __init__(self, l2: float = 300.0, max_items: int = 5000) -> None:
        self.l2 = l2
        self.max_items = max_items
        self._space = ItemSpace([], {})
        self._weights = np.zeros((0, 0), dtype=np.float32)

    def fit(self, data: TrainingData) -> None:
        matrix = sparse.csr_matrix(data.matrix, dtype=np.float64)
        popularity = np.diff(matrix.tocsc().indptr)
        kept = np.argsort(-popularity, kind="stable")[: self.max_items]
        kept = np.sort(kept[popularity[kept] > 0])
        x = matrix[:, kept]
        gram = (x.T @ x).toarray()
        gram[np.diag_indices_from(gram)] += self.l2
        precision = linalg.inv(gram, overwrite_a=True, check_finite=False)
        weights = precision / (-np.diag(precision))
        weights[np.diag_indices_from(weights)] = 0.0
        # Swap in whole objects so a model being served never sees a half-fitted state.
        self._space = ItemSpace([data.items[i] for i in kept], data.catalog)
        self._weights = weights.astype(np.float32)

    def recommend(self, query: Query) -> list[Scored]:
        space = self._space
        known = [(space.positions[i], w) for i, w in query.history.items() if i in space.positions]
        if not known:
            known = [(p, 1.0) for p in space.indexes(query.context_items).tolist()]
        if not known:
            return []
        rows = np.fromiter((i for i, _ in known), np.int64, len(known))
        values = np.fromiter((w for _, w in known), np.float32, len(known))
        scores = values @ self._weights[rows]
        return space.answer(scores, query)
