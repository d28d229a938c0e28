"""Building training snapshots from interaction rows."""

from __future__ import annotations

import numpy as np

from unico.recommend.base import ItemInfo
from unico.recommend.data import build_training_data, from_arrays, history_of


def test_rows_add_up_and_keep_the_latest_time() -> None:
    rows = [("ada", "a", 1.0, 30), ("bo", "b", 2.0, 5), ("ada", "a", 5.0, 10), ("ada", "b", 1.0, 7)]
    catalog = {"c": ItemInfo("c", "never touched")}
    data = build_training_data(rows, catalog=catalog)
    assert data.users == ["ada", "bo"] and data.items == ["a", "b"]
    assert data.matrix.toarray().tolist() == [[6.0, 1.0], [0.0, 2.0]]
    assert data.last_seen is not None
    assert data.last_seen.toarray().tolist() == [[30.0, 7.0], [0.0, 5.0]]
    assert data.now_ms == 30 and "c" in data.catalog
    assert history_of(data, 1) == {"b": 2.0}


def test_from_arrays_matches_rows_and_takes_an_explicit_now() -> None:
    data = from_arrays(
        ["u"], ["i", "j"], np.array([0, 0]), np.array([1, 1]), np.array([1.0, 2.0]), now_ms=99
    )
    assert data.matrix.toarray().tolist() == [[0.0, 3.0]]
    assert data.last_seen is None and data.now_ms == 99


def test_an_empty_snapshot_is_valid() -> None:
    data = build_training_data([])
    assert data.matrix.shape == (0, 0) and data.now_ms == 0
