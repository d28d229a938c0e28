"""Item-to-item co-occurrence: "people who viewed/bought this also viewed/bought".

Two items co-occur when one person interacted with both. Similarity is the co-occurrence
count normalized by the items' popularity, ``c(i, j) / (n(i) ** alpha * n(j) ** (1 - alpha))``
(``alpha=0.5`` is the cosine), so a best-seller does not follow every item.

Counts come from the snapshot at ``fit`` and grow with every ``learn_one``: a person's
new item co-occurs with their recent items (a bounded history per person, for a bounded
number of people). Online counts wait in a small dictionary merged into the sparse matrix
when it grows past ``max_pending``; each item keeps its ``max_neighbors`` strongest
neighbours, so memory stays bounded.

>>> from unico.recommend.data import build_training_data
>>> from unico.recommend.base import Query
>>> rows = [("a", "tent", 1.0, 0), ("a", "stove", 1.0, 0), ("b", "tent", 1.0, 0)]
>>> model = ItemToItemRecommender()
>>> model.fit(build_training_data(rows + [("b", "mat", 1.0, 0)]))
>>> [s.item_id for s in model.recommend(Query(context_items=["stove"]))]
['tent']
>>> model.learn_one("c", "stove", 1.0, 1); model.learn_one("c", "lamp", 1.0, 2)
>>> [s.item_id for s in model.recommend(Query(context_items=["stove"]))]
['lamp', 'tent']
"""

from __future__ import annotations

from collections import OrderedDict, defaultdict, deque

import numpy as np
from scipy import sparse

from unico.recommend.base import Query, Scored, TrainingData
from unico.recommend.ranking import ItemSpace


class ItemToItemRecommender:
    """Normalized co-occurrence, fitted from a matrix and updated on every interaction."""

    name = "cooccurrence"

    def __init__(
        self,
        alpha: float = 0.5,
        max_neighbors: int = 200,
        max_history: int = 20,
        max_people: int = 100_000,
        max_pending: int = 200_000,
        max_sources: int = 50,
    ) -> None:
        self.alpha = alpha
        self.max_neighbors = max_neighbors
        self.max_history = max_history
        self.max_people = max_people
        self.max_pending = max_pending
        self.max_sources = max_sources
        self._space = ItemSpace([], {})
        self._counts = sparse.csr_matrix((0, 0), dtype=np.float32)
        self._support = np.zeros(0)
        self._pending: defaultdict[int, defaultdict[int, float]] = defaultdict(_counter)
        self._pending_size = 0
        self._recent: OrderedDict[str, deque[int]] = OrderedDict()

    def fit(self, data: TrainingData) -> None:
        seen = data.matrix.copy()
        seen.data = np.ones_like(seen.data)
        counts = sparse.csr_matrix(seen.T @ seen, dtype=np.float32)
        support = counts.diagonal().astype(np.float64)
        counts.setdiag(0)
        counts.eliminate_zeros()
        # Swap in whole objects so a model being served never sees a half-fitted state.
        self._space = ItemSpace(data.items, data.catalog)
        self._counts = _prune(counts, self.max_neighbors)
        self._support = support
        self._pending = defaultdict(_counter)
        self._pending_size = 0
        self._recent = OrderedDict()

    def learn_one(self, user_id: str, item_id: str, weight: float, at_ms: int) -> None:
        """Co-occur ``item_id`` with the person's recent items, at once."""
        item = self._space.add(item_id)
        if item >= len(self._support):
            grown = np.zeros(max(16, 2 * len(self._support)))
            grown[: len(self._support)] = self._support
            self._support = grown
        recent = self._recent.pop(user_id, None)
        if recent is None:
            recent = deque(maxlen=self.max_history)
            while len(self._recent) >= self.max_people:
                self._recent.popitem(last=False)
        self._recent[user_id] = recent
        if item in recent:
            recent.remove(item)
        else:
            self._support[item] += 1.0
            for other in recent:
                self._pending[item][other] += 1.0
                self._pending[other][item] += 1.0
            self._pending_size += 2 * len(recent)
        recent.append(item)
        if self._pending_size > self.max_pending:
            self._merge_pending()

    def _merge_pending(self) -> None:
        n = len(self._space)
        rows, cols, vals = [], [], []
        for row, neighbours in self._pending.items():
            for col, value in neighbours.items():
                rows.append(row)
                cols.append(col)
                vals.append(value)
        pending = sparse.csr_matrix((vals, (rows, cols)), shape=(n, n), dtype=np.float32)
        # A copy: recommend() may be reading the current matrix in another thread.
        counts = self._counts.copy()
        counts.resize((n, n))
        self._counts = _prune(counts + pending, self.max_neighbors)
        self._pending = defaultdict(_counter)
        self._pending_size = 0

    def recommend(self, query: Query) -> list[Scored]:
        space = self._space
        sources = space.indexes(query.context_items)
        weights = np.ones(len(sources))
        if not len(sources):
            recent = sorted(query.history.items(), key=lambda kv: -kv[1])[: self.max_sources]
            sources = space.indexes(item for item, _ in recent)
            weights = np.asarray([w for i, w in recent if i in space.positions], dtype=np.float64)
        if not len(sources):
            return []
        # learn_one may have added an item whose support is not grown yet: leave it out.
        n = min(len(space), len(self._support))
        keep = sources < n
        positions, scores = self._scores(sources[keep], weights[keep], n)
        return space.answer_sparse(positions, scores, query, positive_only=True)

    def _scores(
        self, sources: np.ndarray, weights: np.ndarray, n: int
    ) -> tuple[np.ndarray, np.ndarray]:
        """The neighbours of ``sources`` (sorted positions) and their scores: the sources'
        rows summed straight from the CSR arrays (a few hundred entries, where a sparse
        product would make and scan a dense row of every item)."""
        support = self._support
        source_weights = weights / np.maximum(support[sources], 1.0) ** self.alpha
        counts = self._counts
        indptr, indices, data = counts.indptr, counts.indices, counts.data
        cols: list[np.ndarray] = []
        vals: list[np.ndarray] = []
        for source, weight in zip(sources.tolist(), source_weights.tolist(), strict=True):
            if source < counts.shape[0]:
                start, end = indptr[source], indptr[source + 1]
                cols.append(indices[start:end])
                vals.append(data[start:end].astype(np.float64) * weight)
            # A copy (atomic under the GIL): learn_one may add to it meanwhile.
            pending = tuple(self._pending.get(source, {}).items())
            if pending:
                cols.append(np.fromiter((o for o, _ in pending), np.int64, len(pending)))
                vals.append(np.fromiter((c for _, c in pending), np.float64, len(pending)) * weight)
        if not cols:
            return np.empty(0, dtype=np.int64), np.empty(0)
        if len(cols) == 1 and counts.has_sorted_indices:  # one row: sorted, no duplicates
            positions, summed = cols[0], vals[0]
        else:
            positions, inverse = np.unique(np.concatenate(cols), return_inverse=True)
            summed = np.bincount(inverse, weights=np.concatenate(vals), minlength=len(positions))
        inside = positions < n
        positions, summed = positions[inside], summed[inside]
        return positions, summed / np.maximum(support[positions], 1.0) ** (1.0 - self.alpha)


def _counter() -> defaultdict[int, float]:
    return defaultdict(float)


def _prune(counts: sparse.csr_matrix, keep: int) -> sparse.csr_matrix:
    """Keep each row's ``keep`` largest entries."""
    counts = sparse.csr_matrix(counts)
    counts.sum_duplicates()  # also sorts each row's indices, which recommend relies on
    lengths = np.diff(counts.indptr)
    if not len(lengths) or lengths.max() <= keep:
        return counts
    data, indices, indptr = counts.data, counts.indices, counts.indptr
    mask = np.ones(len(data), dtype=bool)
    for row in np.flatnonzero(lengths > keep):
        start, end = indptr[row], indptr[row + 1]
        drop = np.argpartition(-data[start:end], keep)[keep:]
        mask[start + drop] = False
    rows = np.repeat(np.arange(counts.shape[0]), lengths)[mask]
    pruned = sparse.csr_matrix((data[mask], (rows, indices[mask])), shape=counts.shape)
    pruned.sum_duplicates()
    return pruned
