"""What every recommender does after scoring: drop what must not be shown, keep the best.

`ItemSpace` holds one model's item ids, their positions and the category of each, so a
dense score vector turns into a query's answer in one vectorized pass.

>>> from unico.recommend.base import ItemInfo, Query
>>> space = ItemSpace(["a", "b", "c"], {"c": ItemInfo("c", category=("shoes",))})
>>> [s.item_id for s in space.answer(np.array([0.3, 0.2, 0.1]), Query(history={"a": 1.0}))]
['b', 'c']
>>> [s.item_id for s in space.answer(np.array([0.3, 0.2, 0.1]), Query(category=("shoes",)))]
['c']
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np

from unico.recommend.base import ItemInfo, Query, Scored

#: Makes a `Scored` without the named tuple's ``__new__`` (a Python function): half the time,
#: for the hundred or so a decision makes.
_new_tuple = tuple.__new__


class ItemSpace:
    """A model's items: ids, positions, and category masks computed once per prefix."""

    def __init__(self, items: Sequence[str], catalog: Mapping[str, ItemInfo]) -> None:
        self.items = list(items)
        self.positions = {item: i for i, item in enumerate(self.items)}
        self._catalog = catalog
        self._categories = [
            catalog[item].category if item in catalog else () for item in self.items
        ]
        self._masks: dict[tuple[str, ...], np.ndarray] = {}

    def add(self, item_id: str) -> int:
        """The position of ``item_id``, appending it when new (online learning)."""
        position = self.positions.get(item_id)
        if position is None:
            position = len(self.items)
            info = self._catalog.get(item_id)
            self._categories.append(info.category if info else ())
            self.items.append(item_id)
            self.positions[item_id] = position
            self._masks = {}
        return position

    def __len__(self) -> int:
        return len(self.items)

    def indexes(self, item_ids: Iterable[str]) -> np.ndarray:
        """Positions of the known ids among ``item_ids`` (unknown ones are skipped)."""
        found = [self.positions[i] for i in item_ids if i in self.positions]
        return np.asarray(found, dtype=np.int64)

    def category_mask(self, prefix: tuple[str, ...]) -> np.ndarray:
        """True for items whose category path starts with ``prefix``."""
        mask = self._masks.get(prefix)
        if mask is None:
            n = len(prefix)
            mask = np.fromiter((c[:n] == prefix for c in self._categories), bool, len(self.items))
            self._masks[prefix] = mask
        return mask

    def banned(self, query: Query) -> set[int]:
        """Positions never to return for ``query``: its history, context and exclusions."""
        positions = self.positions
        out = {positions[i] for i in query.history if i in positions}
        out.update(positions[i] for i in query.context_items if i in positions)
        out.update(positions[i] for i in query.exclude if i in positions)
        return out

    def answer(self, scores: np.ndarray, query: Query, positive_only: bool = False) -> list[Scored]:
        """The query's top ``k`` of ``scores`` (one per item), best first."""
        if query.k <= 0 or not len(self.items):
            return []
        positions = None
        if query.category:
            # Items learnt online while this query ran may lie beyond the scores it was given.
            positions = np.flatnonzero(self.category_mask(query.category)[: len(scores)])
            scores = scores[positions]
        return self._best(positions, scores, query, positive_only)

    def answer_sparse(
        self, positions: np.ndarray, scores: np.ndarray, query: Query, positive_only: bool = False
    ) -> list[Scored]:
        """`answer` for scores given only at ``positions`` (sorted, unique): the others
        cannot be returned."""
        if query.k <= 0 or not len(positions):
            return []
        if query.category:
            mask = self.category_mask(query.category)
            inside = positions < len(mask)
            positions, scores = positions[inside], scores[inside]
            keep = mask[positions]
            positions, scores = positions[keep], scores[keep]
        return self._best(positions, scores, query, positive_only)

    def answer_ranked(
        self, order: np.ndarray, scores: np.ndarray, query: Query, positive_only: bool = False
    ) -> list[Scored] | None:
        """`answer` from ``order``, the best positions of ``scores`` already sorted (as
        `top_indexes` gives them); None when they are too few for the query's banned items."""
        if query.k <= 0 or not len(self.items):
            return []
        banned = self.banned(query)
        if len(order) < min(len(scores), query.k + len(banned)):
            return None
        top = order[: query.k + len(banned)]
        return self._pick(top, scores[top], banned, query.k, positive_only)

    def _best(
        self, positions: np.ndarray | None, scores: np.ndarray, query: Query, positive_only: bool
    ) -> list[Scored]:
        """The best ``k`` finite (and, with ``positive_only``, positive) scores, ties going
        to the item that comes first, without the query's banned items. ``positions`` maps
        the scores to items (None: score ``i`` is item ``i``)."""
        banned = self.banned(query)
        # The banned items can take at most len(banned) places among the best.
        top = top_indexes(scores, query.k + len(banned))
        ids = top if positions is None else positions[top]
        return self._pick(ids, scores[top], banned, query.k, positive_only)

    def _pick(
        self, ids: np.ndarray, values: np.ndarray, banned: set[int], k: int, positive_only: bool
    ) -> list[Scored]:
        """The first ``k`` of ``ids`` (best first) that are not banned, with a finite (and,
        with ``positive_only``, positive) score."""
        ok = np.isfinite(values)
        if positive_only:
            ok &= values > 0
        if not ok.all():
            ids, values = ids[ok], values[ok]
        items = self.items
        make = _new_tuple
        out: list[Scored] = []
        if k <= 0:
            return out
        # A loop that stops at the k-th item: most of the candidates are never looked at.
        for i, v in zip(ids.tolist(), values.tolist(), strict=True):
            if i not in banned:
                out.append(make(Scored, (items[i], v)))
                if len(out) == k:
                    break
        return out


#: Score vectors at least this long find their top through a sample (`_top_by_sample`).
SAMPLED_FROM = 4096
#: Scores in the sample taken for the threshold (every ``n // SAMPLE``-th one).
SAMPLE = 1024
#: How many more items than wanted the sampled threshold aims to let through.
OVERSAMPLE = 3


def top_indexes(scores: np.ndarray, m: int) -> np.ndarray:
    """Indexes of the ``m`` highest scores, best first, ties in index order (so the answer
    does not depend on ``m``); NaN ranks below every number.

    >>> top_indexes(np.array([0.5, 0.9, 0.5, 0.1]), 2).tolist()
    [1, 0]
    """
    n = len(scores)
    m = min(m, n)
    if m <= 0:
        return np.empty(0, dtype=np.int64)
    if n >= SAMPLED_FROM and m * OVERSAMPLE < n:
        top = _top_by_sample(scores, m)
        if top is not None:
            return top
    if m < n:
        if np.isnan(scores).any():  # NaN sorts last in a partition: rank it lowest instead
            scores = np.where(np.isnan(scores), -np.inf, scores)
        kth = np.partition(scores, n - m)[n - m]
        above = np.flatnonzero(scores > kth)
        tied = np.flatnonzero(scores == kth)[: m - len(above)]
        top = np.concatenate((above, tied)) if len(above) else tied
    else:
        top = np.arange(n)
    # Best first; among equal scores, the lower index first.
    return top[np.lexsort((top, -scores[top]))]


def _top_by_sample(scores: np.ndarray, m: int) -> np.ndarray | None:
    """`top_indexes` without partitioning every score: a threshold from a strided sample,
    expected to let about ``OVERSAMPLE * m`` scores through, then an exact sort of those.
    Exact: when at least ``m`` scores are above the threshold, the ``m`` best (ties
    included) all are. None when too few are (rare; NaNs, or many equal scores), and the
    caller partitions them all. For ALS over 10,000 items this takes a third of the time."""
    n = len(scores)
    sample = scores[:: n // SAMPLE]
    rank = min(len(sample) - 1, OVERSAMPLE * m * len(sample) // n + 1)
    threshold = np.partition(sample, len(sample) - rank)[len(sample) - rank]
    above = np.flatnonzero(scores > threshold)
    if len(above) < m:
        return None
    return above[np.lexsort((above, -scores[above]))[:m]]
