"""Scores over several splits: the spread arithmetic, the hybrid check per split and on the
means, and `unico eval recs --seeds` end to end on small data."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.recommend.helpers import small_ratings, write_wheel
from unico.cli import app
from unico.recommend.evaluate import ModelSettings, Result, evaluate_split
from unico.recommend.movielens import Ratings
from unico.recommend.seeds import SeedRun, SeedsReport, Spread, evaluate_seeds

NAMES = {"popular", "trending", "cooccurrence", "content", "als", "ease", "hybrid"}


def result(name: str, ndcg: float) -> Result:
    return Result(name, ndcg, ndcg / 2, ndcg / 3, ndcg / 4, 0.5, 0.1, 1.0)


def scores(result: Result) -> tuple[object, ...]:
    """Everything but the timings, which differ from one run to the next."""
    return dataclasses.astuple(result)[:6]


@pytest.fixture(scope="module")
def ratings() -> Ratings:
    return small_ratings()


def test_spread_is_mean_sample_std_min_and_max() -> None:
    spread = Spread.of([0.40, 0.46, 0.43, 0.45])
    assert spread.mean == pytest.approx(0.435)
    assert spread.std == pytest.approx(np.sqrt((0.035**2 + 0.025**2 + 0.005**2 + 0.015**2) / 3))
    assert (spread.min, spread.max) == (0.40, 0.46)
    assert Spread.of([0.3]) == Spread(0.3, 0.0, 0.3, 0.3)
    with pytest.raises(ValueError):
        Spread.of([])


def test_hybrid_check_per_split_and_on_the_means() -> None:
    # The hybrid wins split 0, loses split 1 to ALS, and wins on the means (against EASE).
    runs = [
        SeedRun(
            0, ModelSettings(), [result("als", 0.40), result("ease", 0.50), result("hybrid", 0.52)]
        ),
        SeedRun(
            1, ModelSettings(), [result("als", 0.49), result("ease", 0.48), result("hybrid", 0.485)]
        ),
    ]
    report = SeedsReport(k=10, runs=runs)
    first, second = report.checks()
    assert (first.seed, first.best, first.holds) == (0, "ease", True)
    assert first.margin == pytest.approx(0.02)
    assert (second.seed, second.best, second.holds) == (1, "als", False)
    assert second.margin == pytest.approx(-0.005)
    means = report.check_on_means()
    assert (means.seed, means.best, means.holds) == (None, "ease", True)
    assert (means.hybrid, means.best_ndcg) == pytest.approx((0.5025, 0.49))
    spreads = report.spreads()
    assert spreads["hybrid"]["ndcg"] == Spread(
        pytest.approx(0.5025), pytest.approx(0.035 / np.sqrt(2)), 0.485, 0.52
    )
    assert spreads["als"]["precision"].max == pytest.approx(0.245)
    document = report.to_json()
    assert [c["holds"] for c in document["hybrid_check"]["per_seed"]] == [True, False]
    assert document["hybrid_check"]["on_means"]["best"] == "ease"
    assert document["recommenders"]["ease"]["ndcg"]["min"] == 0.48


def test_each_seed_is_the_single_split_run_of_that_seed(ratings: Ratings) -> None:
    steps: list[str] = []
    report = evaluate_seeds(ratings, [0, 1, 2], k=5, on_step=steps.append)
    assert report.seeds == [0, 1, 2]
    for run in report.runs:
        alone = evaluate_split(ratings, run.seed, k=5)
        assert [scores(r) for r in run.results] == [scores(r) for r in alone]
        assert run.settings == ModelSettings()
    assert set(report.names()) == NAMES
    # The splits differ, so the spread is not zero; the mean is over the three splits.
    als = [next(r.ndcg for r in run.results if r.name == "als") for run in report.runs]
    assert len(set(als)) > 1
    assert report.spreads()["als"]["ndcg"].mean == pytest.approx(np.mean(als))
    assert report.spreads()["als"]["ndcg"].std > 0
    assert (
        len(steps) == 3 * 8 and steps[0].startswith("seed 0: ") and steps[-1].startswith("seed 2: ")
    )


def test_settings_reach_every_split(ratings: Ratings) -> None:
    settings = ModelSettings(als_factors=4, ease_l2=2.0)
    report = evaluate_seeds(ratings, [3, 4], k=5, settings=settings)
    assert [run.settings for run in report.runs] == [settings, settings]
    default = evaluate_seeds(ratings, [3], k=5)
    ease = {r.name: r for r in default.runs[0].results}["ease"]
    assert scores({r.name: r for r in report.runs[0].results}["ease"]) != scores(ease)


def test_eval_recs_reports_the_spread_over_seeds(tmp_path: Path, ratings: Ratings) -> None:
    write_wheel(tmp_path, ratings)
    run = CliRunner().invoke(
        app, ["eval", "recs", "--data", str(tmp_path), "--seeds", "3", "--k", "5", "--json"]
    )
    assert run.exit_code == 0, run.output
    document = json.loads(run.stdout)
    assert document["seeds"] == [0, 1, 2] and document["k"] == 5
    assert set(document["recommenders"]) == NAMES
    for metrics in document["recommenders"].values():
        for spread in metrics.values():
            assert spread["min"] <= spread["mean"] <= spread["max"], spread
    assert [c["seed"] for c in document["hybrid_check"]["per_seed"]] == [0, 1, 2]
    assert document["hybrid_check"]["on_means"]["seed"] is None
    ndcg = document["recommenders"]["ease"]["ndcg"]
    per_seed = [
        next(r["ndcg"] for r in run["results"] if r["name"] == "ease") for run in document["runs"]
    ]
    assert ndcg["mean"] == pytest.approx(np.mean(per_seed))
    assert ndcg["std"] == pytest.approx(np.std(per_seed, ddof=1))

    table = CliRunner().invoke(app, ["eval", "recs", "--data", str(tmp_path), "--seeds", "2"])
    assert table.exit_code == 0, table.output
    assert "seeds 0..1" in table.output and "±" in table.output
    assert "hybrid ≥ best single recommender at NDCG@10" in table.output
    assert "means" in table.output
