"""ALS, EASE and content: what each one is for."""

from __future__ import annotations

import numpy as np

from tests.recommend.conftest import T0, training_data
from unico.recommend.als import ALSRecommender
from unico.recommend.base import Query, TrainingData
from unico.recommend.content import ContentRecommender
from unico.recommend.data import build_training_data, history_of
from unico.recommend.ease import EASERecommender


def _taste_share(answer: list, kind: str) -> float:
    return sum(s.item_id.startswith(kind) for s in answer) / max(len(answer), 1)


def test_als_folds_in_people_who_were_not_in_training(data: TrainingData) -> None:
    model = ALSRecommender(factors=8, regularization=1.0, iterations=10, seed=3)
    model.fit(data)
    # A newcomer who looked at two shoes gets shoes; one who looked at garden items, garden.
    shoes = model.recommend(Query(history={"shoes-0": 1.0, "shoes-1": 1.0}, k=5))
    garden = model.recommend(Query(history={"garden-0": 1.0, "garden-1": 1.0}, k=5))
    assert _taste_share(shoes, "shoes") == 1.0
    assert _taste_share(garden, "garden") == 1.0
    # With only a product page in view, the page's item stands in for a history.
    page = model.recommend(Query(context_items=["garden-2"], k=5))
    assert _taste_share(page, "garden") >= 0.8


def test_als_fold_in_agrees_with_the_trained_user_factors(data: TrainingData) -> None:
    model = ALSRecommender(factors=8, regularization=1.0, iterations=10, seed=3)
    model.fit(data)
    person = history_of(data, 0)
    folded = model.user_factor(person)
    assert folded is not None
    scores = model._item_factors @ folded.astype(np.float32)
    trained_best = {model._space.items[i] for i in np.argsort(-scores)[:8]} - set(person)
    answered = {s.item_id for s in model.recommend(Query(history=person, k=3))}
    assert answered <= trained_best


def test_ease_models_only_the_most_popular_items() -> None:
    rows = [(f"p{n}", item, 1.0, T0) for n in range(6) for item in ("a", "b", "c")]
    rows += [("p0", "rare", 1.0, T0), ("p1", "d", 1.0, T0), ("p2", "d", 1.0, T0)]
    model = EASERecommender(l2=1.0, max_items=4)
    model.fit(build_training_data(rows))
    assert set(model._space.items) == {"a", "b", "c", "d"}
    assert model._weights.shape == (4, 4)
    answer = {s.item_id for s in model.recommend(Query(history={"a": 1.0, "rare": 1.0}, k=10))}
    assert "rare" not in answer and answer <= {"b", "c", "d"}
    assert np.allclose(np.diag(model._weights), 0.0)


def test_ease_ranks_same_taste_items_first(data: TrainingData) -> None:
    model = EASERecommender(l2=5.0)
    model.fit(data)
    assert _taste_share(model.recommend(Query(history=history_of(data, 1), k=5)), "garden") == 1.0


def test_content_recommends_a_never_interacted_item_like_the_history() -> None:
    data = training_data()
    assert "shoes-new" not in data.items
    model = ContentRecommender()
    model.fit(data)
    answer = model.recommend(Query(history={"shoes-0": 1.0, "shoes-1": 1.0}, k=5))
    assert "shoes-new" in [s.item_id for s in answer[:3]]
    assert _taste_share(answer, "shoes") >= 0.8
    # Cosine similarities summed over the two history items.
    assert all(0 < s.score <= 2.0 + 1e-6 for s in answer)


def test_content_uses_attributes_when_text_says_nothing() -> None:
    from unico.recommend.base import ItemInfo

    catalog = {
        "a": ItemInfo("a", "", ("tops",), {"brand": "acme", "tone": "warm"}),
        "b": ItemInfo("b", "", ("tops",), {"brand": "acme", "tone": "warm"}),
        "c": ItemInfo("c", "", ("bottoms",), {"brand": "zed", "tone": "cool"}),
    }
    model = ContentRecommender()
    model.fit(build_training_data([], catalog=catalog))
    assert [s.item_id for s in model.recommend(Query(context_items=["a"]))] == ["b"]
