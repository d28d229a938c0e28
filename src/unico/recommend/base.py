"""The one small interface every recommender implements, so they can be blended,
served and evaluated alike.

A recommender learns from a `TrainingData` snapshot (``fit``), may learn one interaction
at a time between fits (``learn_one``, for the real-time ones), and answers a `Query`
with scored item ids (``recommend``). The same objects serve `/v1/decide` and run in
``unico eval recs``; business rules (stock, price, diversity...) are applied by the
caller, never inside a recommender.

>>> from unico.recommend.base import Query
>>> Query(history={"i1": 1.0}, k=3).k
3
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import NamedTuple, Protocol

import numpy as np
from scipy import sparse


@dataclass(frozen=True, slots=True)
class ItemInfo:
    """What content-based and per-category recommenders know of an item."""

    item_id: str
    #: Free text: title, description, tags, attribute values, joined.
    text: str = ""
    #: Category path, most general first ("shoes", "running").
    category: tuple[str, ...] = ()
    #: Attribute name -> value (brand, style, colour, material, tone...).
    attributes: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainingData:
    """Implicit feedback: ``matrix[u, i]`` is how strongly user ``users[u]`` interacted
    with item ``items[i]`` (views 1, cart adds 3, purchases 5, ... summed); ``last_seen``
    has the same sparsity and holds the epoch ms of the latest interaction, when known.
    ``catalog`` describes items, including ones nobody interacted with yet (cold start)."""

    users: Sequence[str]
    items: Sequence[str]
    matrix: sparse.csr_matrix
    last_seen: sparse.csr_matrix | None = None
    catalog: Mapping[str, ItemInfo] = field(default_factory=dict)
    #: When the snapshot was taken (epoch ms), the "now" of time decay.
    now_ms: int = 0


@dataclass(frozen=True, slots=True)
class Query:
    """One person's request for ``k`` items."""

    #: Item id -> implicit-feedback weight of the person's interactions (may be empty).
    history: Mapping[str, float] = field(default_factory=dict)
    #: Items in view now: the product page's item, the cart's items.
    context_items: Sequence[str] = ()
    #: Restrict to a category path prefix ("shoes",) or not at all.
    category: tuple[str, ...] = ()
    k: int = 10
    #: Items never to return (already bought, shown elsewhere on the page...).
    exclude: frozenset[str] = frozenset()
    #: Epoch ms of the request (time decay); 0 means "the training snapshot's now".
    now_ms: int = 0


class Scored(NamedTuple):
    """One recommended item and its score. A named tuple, not a frozen dataclass: a decision
    makes about a hundred of them, and a tuple is made in a third of the time (and is
    already the ``(item_id, score)`` pair decisions screen)."""

    item_id: str
    score: float


class Recommender(Protocol):
    """Every recommender: ``fit`` on a snapshot, ``recommend`` for a query.

    Implementations take their hyperparameters (and ``seed``) as constructor arguments,
    return at most ``query.k`` items best first, never an excluded item or an item of
    the query's history, and an empty list when they cannot say anything (not fitted,
    unknown person and no context): the caller then falls back.
    """

    #: Short stable name ("popular", "als", ...), used in explanations and reports.
    name: str

    def fit(self, data: TrainingData) -> None: ...

    def recommend(self, query: Query) -> list[Scored]: ...


class OnlineRecommender(Recommender, Protocol):
    """A recommender that also learns from each interaction as it happens."""

    def learn_one(self, user_id: str, item_id: str, weight: float, at_ms: int) -> None: ...


def top_k(scores: np.ndarray, k: int, banned: np.ndarray | None = None) -> np.ndarray:
    """Indexes of the ``k`` highest finite scores, best first (``banned`` indexes skipped).

    >>> top_k(np.array([0.1, 0.9, 0.5]), 2).tolist()
    [1, 2]
    """
    scores = scores.astype(np.float64, copy=True)
    if banned is not None and len(banned):
        scores[banned] = -np.inf
    k = min(k, int(np.isfinite(scores).sum()))
    if k <= 0:
        return np.empty(0, dtype=np.int64)
    part = np.argpartition(-scores, k - 1)[:k]
    return part[np.argsort(-scores[part], kind="stable")]
