"""Offline evaluation: metrics checked by hand, the split, and the real MovieLens-100k run."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from typer.testing import CliRunner

from unico.cli import app
from unico.core.errors import NotFound
from unico.recommend.evaluate import split_data, stratified_split
from unico.recommend.metrics import (
    average_precision_at_k,
    mean_metrics,
    ndcg_at_k,
    precision_at_k,
    recall_at_k,
)
from unico.recommend.movielens import find_wheel, load_movielens_100k

DATA_DIR = Path(__file__).parents[2] / ".unico" / "data"


def test_metrics_by_hand() -> None:
    ranked = ["a", "x", "b", "y", "c"]
    relevant = {"a", "b", "c", "d"}
    # Hits at ranks 1, 3, 5.
    assert precision_at_k(ranked, relevant, 5) == pytest.approx(3 / 5)
    assert recall_at_k(ranked, relevant, 5) == pytest.approx(3 / 4)
    dcg = 1 / np.log2(2) + 1 / np.log2(4) + 1 / np.log2(6)
    ideal = sum(1 / np.log2(r + 1) for r in range(1, 5))
    assert ndcg_at_k(ranked, relevant, 5) == pytest.approx(dcg / ideal)
    assert average_precision_at_k(ranked, relevant, 5) == pytest.approx((1 + 2 / 3 + 3 / 5) / 4)
    # k smaller than the relevant set: MAP and NDCG normalize by min(|relevant|, k).
    assert average_precision_at_k(ranked, relevant, 2) == pytest.approx(1 / 2)
    assert ndcg_at_k(ranked, relevant, 2) == pytest.approx(1 / (1 + 1 / np.log2(3)))
    # Precision divides by k even when the list is shorter.
    assert precision_at_k(["a"], relevant, 10) == pytest.approx(0.1)
    assert ndcg_at_k(["a", "b"], {"a", "b"}, 10) == pytest.approx(1.0)
    assert ndcg_at_k(["x"], {"a"}, 10) == 0.0 == average_precision_at_k(["x"], {"a"}, 10)


def test_mean_metrics_average_over_people_and_count_coverage() -> None:
    result = mean_metrics([["a", "b"], ["c", "a"]], [{"a"}, {"z"}], k=2, n_items=5)
    assert result["precision"] == pytest.approx((1 / 2 + 0) / 2)
    assert result["recall"] == pytest.approx(0.5)
    assert result["ndcg"] == pytest.approx(0.5)
    assert result["coverage"] == pytest.approx(3 / 5)


def test_stratified_split_keeps_three_quarters_of_each_person() -> None:
    users = np.repeat(np.array(["a", "b", "c"]), [4, 8, 10])
    mask = stratified_split(users, 0.75, seed=42)
    assert [int(mask[users == u].sum()) for u in "abc"] == [3, 6, 8]
    assert np.array_equal(mask, stratified_split(users, 0.75, seed=42))
    assert not np.array_equal(mask, stratified_split(users, 0.75, seed=43))


def test_split_data_holds_out_what_it_does_not_train_on() -> None:
    users = np.array(["a", "a", "a", "b"])
    items = np.array(["x", "y", "z", "x"])
    mask = np.array([True, False, True, True])
    train, test = split_data(users, items, np.zeros(4, dtype=np.int64), mask, {})
    assert test == {"a": {"y"}}
    assert train.matrix.nnz == 3 and "y" not in train.items


def test_a_missing_wheel_says_how_to_get_it(tmp_path: Path) -> None:
    with pytest.raises(NotFound, match="make movielens"):
        find_wheel(tmp_path)
    result = CliRunner().invoke(app, ["eval", "recs", "--data", str(tmp_path)])
    assert result.exit_code == 2
    assert "make movielens" in result.output


@pytest.fixture(scope="module")
def wheel_dir() -> Path:
    try:
        find_wheel(DATA_DIR)
    except NotFound as exc:
        pytest.fail(f"{exc.message} (make test does it)", pytrace=False)
    return DATA_DIR


def test_movielens_100k_is_read_from_the_wheel(wheel_dir: Path) -> None:
    ratings = load_movielens_100k(wheel_dir)
    assert len(ratings) == 100_000
    assert len(set(ratings.users.tolist())) == 943
    assert len(set(ratings.items.tolist())) == 1682 == len(ratings.catalog)
    assert set(np.unique(ratings.ratings).tolist()) == {1.0, 2.0, 3.0, 4.0, 5.0}
    assert ratings.catalog["1"].text.startswith("Toy Story")
    assert ratings.catalog["1"].category == ("movies", "Animation")


@pytest.fixture(scope="module")
def report(wheel_dir: Path) -> dict[str, Any]:
    """One real evaluation, run as a person runs it, on one split (seed 0) to keep
    ``make test`` short: ``unico eval recs --seeds 1 --json``."""
    run = CliRunner().invoke(
        app, ["eval", "recs", "--data", str(wheel_dir), "--seeds", "1", "--json"]
    )
    assert run.exit_code == 0, run.output
    document: dict[str, Any] = json.loads(run.stdout)
    return document


@pytest.fixture(scope="module")
def results(report: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in report["runs"][0]["results"]}


def test_every_recommender_and_the_hybrid_are_scored(results: dict[str, dict[str, Any]]) -> None:
    assert set(results) == {
        "popular",
        "trending",
        "cooccurrence",
        "content",
        "als",
        "ease",
        "hybrid",
    }
    for row in results.values():
        for metric in ("ndcg", "precision", "recall", "map", "coverage"):
            assert 0.0 <= row[metric] <= 1.0, row


def test_quality_reaches_the_published_baselines(results: dict[str, dict[str, Any]]) -> None:
    # Microsoft Recommenders on this protocol: BPR 0.442, LightGCN 0.420, SAR 0.382.
    assert max(row["ndcg"] for row in results.values()) >= 0.44
    assert 0.20 <= results["popular"]["ndcg"] <= 0.30
    assert results["ease"]["ndcg"] >= 0.46
    assert results["als"]["ndcg"] >= 0.40
    assert results["cooccurrence"]["ndcg"] >= 0.35
    assert results["ease"]["precision"] >= 0.38


def test_the_tuned_hybrid_is_at_least_as_good_as_its_best_part(
    report: dict[str, Any], results: dict[str, dict[str, Any]]
) -> None:
    parts = {name: row["ndcg"] for name, row in results.items() if name != "hybrid"}
    best = max(parts, key=lambda name: parts[name])
    assert results["hybrid"]["ndcg"] >= parts[best]
    check = report["hybrid_check"]["per_seed"][0]
    assert (check["seed"], check["best"], check["holds"]) == (0, best, True)
    assert check["best_ndcg"] == parts[best]
