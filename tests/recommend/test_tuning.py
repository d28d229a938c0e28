"""The search for ALS and EASE settings: its validation split comes from training rows
only, test rows cannot change what it chooses, and its file feeds `unico eval recs`."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tests.recommend.helpers import small_ratings, write_wheel
from unico.cli import app
from unico.core.errors import InvalidInput
from unico.recommend.evaluate import (
    ModelSettings,
    stratified_split,
    tuning_data,
    validation_split,
)
from unico.recommend.movielens import Ratings
from unico.recommend.seeds import evaluate_seeds, steps_of_evaluate_seeds
from unico.recommend.tuning import Grid, read_settings, tune, tune_on

SMALL = Grid(
    als_factors=(4, 16), als_regularization=(0.5, 5.0), als_alpha=(10.0,), ease_l2=(1.0, 50.0)
)


@pytest.fixture(scope="module")
def ratings() -> Ratings:
    return small_ratings()


def pairs(users: np.ndarray, items: np.ndarray, mask: np.ndarray) -> set[tuple[str, str]]:
    return set(zip(users[mask].tolist(), items[mask].tolist(), strict=True))


def test_the_validation_split_is_carved_from_training_rows_only(ratings: Ratings) -> None:
    train = stratified_split(ratings.users, 0.75, seed=3)
    fit = validation_split(ratings.users, train, seed=3)
    validation = train & ~fit
    test = ~train
    assert fit.any() and validation.any() and test.any()
    assert not (fit & test).any() and not (validation & test).any()
    assert not (fit & validation).any() and np.array_equal(fit | validation, train)
    # Per person: 8 ratings -> 6 training (2 test) -> 4 to fit and 2 to validate (rounded 4.5).
    for person in np.unique(ratings.users):
        own = ratings.users == person
        assert (int((fit & own).sum()), int((validation & own).sum())) == (4, 2)
    # What tuning fits on and validates against are training pairs, never a test pair.
    fit_part, held = tuning_data(ratings, train, seed=3)
    fitted = {
        (fit_part.users[u], fit_part.items[i])
        for u, i in zip(*fit_part.matrix.nonzero(), strict=True)
    }
    validated = {(user, item) for user, items in held.items() for item in items}
    assert fitted == pairs(ratings.users, ratings.items, fit)
    assert validated == pairs(ratings.users, ratings.items, validation)
    assert not (fitted | validated) & pairs(ratings.users, ratings.items, test)


def _with_rows_replaced(ratings: Ratings, rows: np.ndarray) -> Ratings:
    """``ratings`` with ``rows`` pointing at items nobody else rated, at other times."""
    items, at_ms = ratings.items.copy().astype(object), ratings.at_ms.copy()
    items[rows] = [f"poison-{n}" for n in range(int(rows.sum()))]
    at_ms[rows] += 12_345
    return dataclasses.replace(ratings, items=items.astype(str), at_ms=at_ms)


def test_test_rows_cannot_change_what_tuning_sees_or_chooses(ratings: Ratings) -> None:
    train = stratified_split(ratings.users, 0.75, seed=0)
    base = tune_on(ratings, train, 0, 5, SMALL, lambda _label: None)
    poisoned = tune_on(_with_rows_replaced(ratings, ~train), train, 0, 5, SMALL, lambda _l: None)
    assert poisoned.scores == base.scores and poisoned.chosen == base.chosen
    # The same change to validation rows does change the scores: the check can fail.
    validation = train & ~validation_split(ratings.users, train, 0)
    moved = tune_on(_with_rows_replaced(ratings, validation), train, 0, 5, SMALL, lambda _l: None)
    assert [s.ndcg for s in moved.scores] != [s.ndcg for s in base.scores]


def test_tune_chooses_each_models_best_validation_point(ratings: Ratings) -> None:
    steps: list[str] = []
    tuning = tune(ratings, seed=1, k=5, grid=SMALL, on_step=steps.append)
    assert len(tuning.scores) == len(steps) == 2 * 2 + 2
    assert {s.model for s in tuning.scores} == {"als", "ease"}
    als = max((s for s in tuning.scores if s.model == "als"), key=lambda s: s.ndcg)
    ease = max((s for s in tuning.scores if s.model == "ease"), key=lambda s: s.ndcg)
    assert tuning.chosen == ModelSettings(
        als_factors=als.settings.als_factors,
        als_regularization=als.settings.als_regularization,
        als_alpha=als.settings.als_alpha,
        ease_l2=ease.settings.ease_l2,
    )
    # The points really differ (else "best" means nothing), and the search is repeatable.
    assert len({s.ndcg for s in tuning.scores if s.model == "als"}) > 1
    assert tune(ratings, seed=1, k=5, grid=SMALL).scores == tuning.scores


def test_tune_each_searches_every_split_on_its_own_training_rows(ratings: Ratings) -> None:
    steps: list[str] = []
    report = evaluate_seeds(ratings, [0, 2], k=5, tune_each=True, grid=SMALL, on_step=steps.append)
    assert report.tuned_per_seed
    assert [run.settings for run in report.runs] == [
        tune(ratings, seed, 5, SMALL).chosen for seed in (0, 2)
    ]
    assert len(steps) == steps_of_evaluate_seeds(2, tune_each=True, grid=SMALL) == 2 * (6 + 8)
    assert steps[0] == "seed 0: tune als: factors 4, reg 0.5, alpha 10"


def test_eval_tune_writes_settings_that_eval_recs_uses(tmp_path: Path, ratings: Ratings) -> None:
    write_wheel(tmp_path, ratings)
    out = tmp_path / "settings.json"
    runner = CliRunner()
    tuned = runner.invoke(app, ["eval", "tune", "--data", str(tmp_path), "--out", str(out)])
    assert tuned.exit_code == 0, tuned.output
    written = json.loads(out.read_text())
    assert "chosen:" in tuned.output and "validation split of split 0" in tuned.output
    grid = written["grid"]
    assert len(grid) == len(Grid().points())
    best_als = max((g for g in grid if g["model"] == "als"), key=lambda g: g["ndcg"])
    assert written["settings"]["als_factors"] == best_als["als_factors"]
    assert written["tuned_on"]["validation_ndcg"]["als"] == best_als["ndcg"]
    assert written["tuned_on"]["split_seed"] == 0
    chosen = read_settings(out)
    used = runner.invoke(
        app,
        ["eval", "recs", "--data", str(tmp_path), "--seeds", "1", "--settings", str(out), "--json"],
    )
    assert used.exit_code == 0, used.output
    assert json.loads(used.stdout)["runs"][0]["settings"] == chosen.model_dump()
    # --tune searches split 0's training rows itself, as `eval tune --seed 0` did.
    searched = runner.invoke(
        app, ["eval", "recs", "--data", str(tmp_path), "--seeds", "1", "--tune", "--json"]
    )
    assert searched.exit_code == 0, searched.output
    document = json.loads(searched.stdout)
    assert document["tuned_per_seed"] and document["runs"][0]["settings"] == written["settings"]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("{nope", "not a readable JSON file"),
        ('{"grid": []}', 'no "settings" object'),
        ('{"settings": {"als_factors": 0}}', "settings.als_factors"),
        ('{"settings": {"ease_l3": 5}}', "settings.ease_l3"),
    ],
)
def test_a_bad_settings_file_is_refused_with_the_reason(
    tmp_path: Path, content: str, message: str
) -> None:
    path = tmp_path / "settings.json"
    path.write_text(content)
    with pytest.raises(InvalidInput, match=message) as caught:
        read_settings(path)
    assert caught.value.field == "settings"
    write_wheel(tmp_path, small_ratings(people=4))
    run = CliRunner().invoke(
        app, ["eval", "recs", "--data", str(tmp_path), "--settings", str(path)]
    )
    assert run.exit_code == 2 and message in run.output


def test_settings_and_tune_exclude_each_other(tmp_path: Path) -> None:
    run = CliRunner().invoke(
        app, ["eval", "recs", "--data", str(tmp_path), "--settings", "x.json", "--tune"]
    )
    assert run.exit_code == 2 and "exclude each other" in run.output
