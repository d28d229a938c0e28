"""Top-k ranking metrics, as Microsoft Recommenders defines them (binary relevance).

For one person, ``recommended`` is the ranked list and ``relevant`` the held-out items:

>>> precision_at_k(["a", "b", "c"], {"a", "c", "z"}, k=3)
0.6666666666666666
>>> recall_at_k(["a", "b", "c"], {"a", "c", "z"}, k=3)
0.6666666666666666
>>> round(ndcg_at_k(["a", "b", "c"], {"a", "c", "z"}, k=3), 4)
0.7039
>>> round(average_precision_at_k(["a", "b", "c"], {"a", "c", "z"}, k=3), 4)
0.5556

Precision divides by ``k`` even when fewer items were recommended; MAP@k divides the sum
of precisions at each hit by ``min(|relevant|, k)``; NDCG's ideal list puts
``min(|relevant|, k)`` hits first. Each is averaged over the people evaluated.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence

import numpy as np


def _hits(recommended: Sequence[str], relevant: Collection[str], k: int) -> np.ndarray:
    return np.asarray([item in relevant for item in recommended[:k]], dtype=bool)


def precision_at_k(recommended: Sequence[str], relevant: Collection[str], k: int) -> float:
    return float(_hits(recommended, relevant, k).sum() / k)


def recall_at_k(recommended: Sequence[str], relevant: Collection[str], k: int) -> float:
    if not relevant:
        return 0.0
    return float(_hits(recommended, relevant, k).sum() / len(relevant))


def ndcg_at_k(recommended: Sequence[str], relevant: Collection[str], k: int) -> float:
    hits = _hits(recommended, relevant, k)
    ideal_hits = min(len(relevant), k)
    if not ideal_hits:
        return 0.0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    return float((discounts[: len(hits)] * hits).sum() / discounts[:ideal_hits].sum())


def average_precision_at_k(recommended: Sequence[str], relevant: Collection[str], k: int) -> float:
    hits = _hits(recommended, relevant, k)
    if not relevant or not hits.any():
        return 0.0
    ranks = np.flatnonzero(hits) + 1
    precisions = np.arange(1, len(ranks) + 1) / ranks
    return float(precisions.sum() / min(len(relevant), k))


def mean_metrics(
    lists: Sequence[Sequence[str]], truths: Sequence[Collection[str]], k: int, n_items: int
) -> dict[str, float]:
    """Every metric averaged over people, plus catalogue coverage: the share of the
    ``n_items`` items that appear in at least one list.

    >>> mean_metrics([["a"], ["b"]], [{"a"}, {"c"}], k=1, n_items=4)["coverage"]
    0.5
    """
    metrics = {
        "ndcg": ndcg_at_k,
        "precision": precision_at_k,
        "recall": recall_at_k,
        "map": average_precision_at_k,
    }
    result = {
        name: float(np.mean([f(r, t, k) for r, t in zip(lists, truths, strict=True)]))
        if lists
        else 0.0
        for name, f in metrics.items()
    }
    shown = {item for items in lists for item in items[:k]}
    result["coverage"] = len(shown) / n_items if n_items else 0.0
    return result
