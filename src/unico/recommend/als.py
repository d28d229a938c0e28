"""Implicit-feedback matrix factorization (alternating least squares, Hu et al. 2008).

Training uses the `implicit` package. Interaction weights become confidences through
BM25 weighting (an item's many interactions count less, as a document's frequent terms
do), which is known to do better than raw counts; on implicit feedback a strong
``regularization`` (tens, with ``alpha`` around 10) keeps it from over-fitting. Only the
item factors are kept: a person's factor is solved from the query's history at request
time ("fold-in"), so people who joined after the last fit are answered exactly like the
ones in it.

>>> from unico.recommend.data import build_training_data
>>> from unico.recommend.base import Query
>>> rows = [(u, i, 1.0, 0) for u in "abcd" for i in ("x", "y")] + [("e", "z", 1.0, 0)]
>>> model = ALSRecommender(factors=4, regularization=0.1, iterations=5)
>>> model.fit(build_training_data(rows))
>>> model.recommend(Query(history={"x": 1.0}, k=1))[0].item_id
'y'
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
from implicit.cpu.als import AlternatingLeastSquares
from scipy import sparse
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

from unico.recommend.base import Query, Scored, TrainingData
from unico.recommend.ranking import ItemSpace


class ALSRecommender:
    """ALS with BM25 confidence weighting and fold-in of each query's history."""

    name = "als"

    def __init__(
        self,
        factors: int = 128,
        regularization: float = 50.0,
        iterations: int = 15,
        alpha: float = 10.0,
        bm25_k1: float = 100.0,
        bm25_b: float = 0.8,
        seed: int = 0,
        num_threads: int = 1,
    ) -> None:
        self.factors = factors
        self.regularization = regularization
        self.iterations = iterations
        self.alpha = alpha
        self.bm25_k1 = bm25_k1
        self.bm25_b = bm25_b
        self.seed = seed
        self.num_threads = num_threads
        self._space = ItemSpace([], {})
        self._item_factors = np.zeros((0, factors), dtype=np.float32)
        #: ``Y (Y^T Y + regularization I)^-1`` (float64): with it, fold-in solves a system
        #: the size of the person's history instead of ``factors`` (Woodbury identity).
        self._projected: np.ndarray = np.zeros((0, factors))
        self._length_norm = np.zeros(0)

    def fit(self, data: TrainingData) -> None:
        matrix = sparse.csr_matrix(data.matrix, dtype=np.float32)
        item_sums = np.asarray(matrix.sum(axis=0), dtype=np.float64).ravel()
        average = item_sums[item_sums > 0].mean() if matrix.nnz else 1.0
        length_norm = (1.0 - self.bm25_b) + self.bm25_b * item_sums / average
        weighted = matrix.copy()
        rows = np.repeat(np.arange(matrix.shape[0]), np.diff(matrix.indptr))
        user_lengths = np.diff(matrix.indptr)
        weighted.data = self._confidence(
            matrix.data, length_norm[matrix.indices], user_lengths[rows], matrix.shape[1]
        ).astype(np.float32)
        # implicit warns (an error in tests) unless BLAS runs single-threaded around it.
        with threadpool_limits(1, "blas"):
            model = AlternatingLeastSquares(
                factors=self.factors,
                regularization=self.regularization,
                alpha=1.0,
                iterations=self.iterations,
                random_state=self.seed,
                num_threads=self.num_threads,
            )
            model.fit(weighted, show_progress=False)
        factors = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        gram = factors.T.astype(np.float64) @ factors
        gram[np.diag_indices_from(gram)] += self.regularization
        # Swap in whole objects so a model being served never sees a half-fitted state.
        self._space, self._item_factors = ItemSpace(data.items, data.catalog), factors
        self._projected, self._length_norm = factors @ np.linalg.inv(gram), length_norm

    def _confidence(
        self, values: np.ndarray, length_norm: np.ndarray, user_lengths: np.ndarray, n_items: int
    ) -> np.ndarray:
        """BM25 weight of each (person, item) value, times ``alpha``: the ALS confidence."""
        idf = np.maximum(np.log(max(n_items, 2)) - np.log1p(user_lengths), 0.1)
        k1 = self.bm25_k1
        weights = values * (k1 + 1.0) / (k1 * length_norm + values) * idf
        return np.asarray(self.alpha * weights, dtype=np.float64)

    def user_factor(self, history: Mapping[str, float]) -> np.ndarray | None:
        """The factor ALS would give a person with ``history`` (None if nothing is known)."""
        space = self._space
        positions = space.positions
        found: list[int] = []
        weights: list[float] = []
        for item_id, weight in history.items():
            position = positions.get(item_id)
            if position is not None and weight > 0:
                found.append(position)
                weights.append(weight)
        if not found:
            return None
        items = np.array(found, dtype=np.int64)
        values = np.array(weights, dtype=np.float64)
        # The person's BM25 weights (as `_confidence`, for one person of len(items) items).
        idf = max(math.log(max(len(space), 2)) - math.log1p(len(items)), 0.1)
        k1 = self.bm25_k1
        confidence = (
            self.alpha * idf * values * (k1 + 1.0) / (k1 * self._length_norm[items] + values)
        )
        return self._solve(items, confidence)

    def _solve(self, items: np.ndarray, confidence: np.ndarray) -> np.ndarray:
        """``x`` with ``(G + F^T (C - I) F) x = F^T c``, ``G`` the regularized Gram matrix and
        ``F`` the factors of the person's ``items``. By the Woodbury identity, with
        ``P = F G^-1`` (rows of ``_projected``) and ``D = C - I``:
        ``x = y - P^T (I + D F P^T)^-1 D F y`` where ``y = P^T c``, an ``n x n`` solve for
        ``n`` items instead of ``factors x factors``.
        """
        factors = self._item_factors[items].astype(np.float64)
        p = self._projected[items]
        y = p.T @ confidence
        d = confidence - 1.0
        inner = d[:, None] * (factors @ p.T)
        inner.flat[:: len(inner) + 1] += 1.0  # the diagonal (diag_indices_from cost more)
        # LAPACK's gesv straight: numpy.linalg.solve's checks and casts took four times
        # longer than solving the few-by-few system itself.
        _, _, x, info = lapack.dgesv(inner, d * (factors @ y))
        if info != 0:
            raise np.linalg.LinAlgError(f"singular fold-in system (gesv info {info})")
        return np.asarray(y - p.T @ x)

    def recommend(self, query: Query) -> list[Scored]:
        user = self.user_factor(query.history)
        if user is None:
            user = self.user_factor(dict.fromkeys(query.context_items, 1.0))
        if user is None:
            return []
        scores = self._item_factors @ user.astype(np.float32)
        return self._space.answer(scores, query)
