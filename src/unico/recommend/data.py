"""Building `TrainingData` from interaction rows, and reading it back per person.

Rows are ``(user_id, item_id, weight, at_ms)``; repeated (user, item) pairs add their
weights up and keep the latest time, as the event log produces them.

>>> rows = [("ada", "i1", 1.0, 10), ("ada", "i1", 3.0, 20), ("bo", "i2", 1.0, 5)]
>>> data = build_training_data(rows)
>>> data.matrix.toarray().tolist(), data.last_seen.toarray().tolist()
([[4.0, 0.0], [0.0, 1.0]], [[20.0, 0.0], [0.0, 5.0]])
>>> history_of(data, 0)
{'i1': 4.0}
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from scipy import sparse

from unico.recommend.base import ItemInfo, TrainingData

Row = tuple[str, str, float, int]


def build_training_data(
    rows: Iterable[Row],
    catalog: Mapping[str, ItemInfo] | None = None,
    now_ms: int | None = None,
) -> TrainingData:
    """A snapshot from interaction rows. ``now_ms`` defaults to the latest row's time."""
    users: dict[str, int] = {}
    items: dict[str, int] = {}
    u_idx: list[int] = []
    i_idx: list[int] = []
    weights: list[float] = []
    times: list[int] = []
    for user_id, item_id, weight, at_ms in rows:
        u_idx.append(users.setdefault(user_id, len(users)))
        i_idx.append(items.setdefault(item_id, len(items)))
        weights.append(weight)
        times.append(at_ms)
    return from_arrays(
        list(users),
        list(items),
        np.asarray(u_idx, dtype=np.int64),
        np.asarray(i_idx, dtype=np.int64),
        np.asarray(weights, dtype=np.float64),
        np.asarray(times, dtype=np.int64),
        catalog=catalog,
        now_ms=now_ms,
    )


def from_arrays(
    users: Sequence[str],
    items: Sequence[str],
    user_index: np.ndarray,
    item_index: np.ndarray,
    weights: np.ndarray,
    times: np.ndarray | None = None,
    *,
    catalog: Mapping[str, ItemInfo] | None = None,
    now_ms: int | None = None,
) -> TrainingData:
    """A snapshot from parallel index arrays (the vectorized form of `build_training_data`)."""
    shape = (len(users), len(items))
    matrix = sparse.csr_matrix(
        (weights.astype(np.float32), (user_index, item_index)), shape=shape, dtype=np.float32
    )
    matrix.sum_duplicates()
    last_seen = None
    if times is not None:
        last_seen = _latest(user_index, item_index, times, shape)
    if now_ms is None:
        now_ms = int(times.max()) if times is not None and len(times) else 0
    return TrainingData(
        users=list(users),
        items=list(items),
        matrix=matrix,
        last_seen=last_seen,
        catalog=dict(catalog or {}),
        now_ms=now_ms,
    )


def _latest(
    user_index: np.ndarray, item_index: np.ndarray, times: np.ndarray, shape: tuple[int, int]
) -> sparse.csr_matrix:
    # Sort by time so that, of duplicate (user, item) pairs, the latest one wins.
    order = np.argsort(times, kind="stable")
    cell = user_index[order] * shape[1] + item_index[order]
    cells, last = np.unique(cell[::-1], return_index=True)
    latest = times[order][::-1][last].astype(np.float64)
    rows, cols = np.divmod(cells, shape[1])
    return sparse.csr_matrix((latest, (rows, cols)), shape=shape, dtype=np.float64)


def history_of(data: TrainingData, user: int) -> dict[str, float]:
    """Item id -> weight for the user at row ``user`` of the snapshot."""
    start, end = data.matrix.indptr[user], data.matrix.indptr[user + 1]
    cols = data.matrix.indices[start:end]
    vals = data.matrix.data[start:end]
    return {data.items[c]: float(v) for c, v in zip(cols, vals, strict=True)}


def item_positions(items: Sequence[str]) -> dict[str, int]:
    """Item id -> column, for turning a query's item ids into indexes."""
    return {item: i for i, item in enumerate(items)}
