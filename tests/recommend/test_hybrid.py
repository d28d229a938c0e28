"""The hybrid: blending, falling back, tuning on held-out interactions."""

from __future__ import annotations

import numpy as np
import pytest

from tests.recommend.conftest import FACTORIES, training_data
from unico.recommend.base import Query, TrainingData
from unico.recommend.blend import WeightSearch
from unico.recommend.content import ContentRecommender
from unico.recommend.cooccurrence import ItemToItemRecommender
from unico.recommend.data import build_training_data, history_of
from unico.recommend.hybrid import FLOOR, HybridRecommender
from unico.recommend.popular import PopularRecommender


def _parts() -> dict:
    return {
        "popular": PopularRecommender(),
        "cooccurrence": ItemToItemRecommender(),
        "content": ContentRecommender(),
    }


def test_no_history_and_no_context_falls_back_to_popularity(data: TrainingData) -> None:
    hybrid = HybridRecommender(_parts(), weights={"popular": 0.0, "cooccurrence": 1.0})
    hybrid.fit(data)
    popular = hybrid.parts["popular"].recommend(Query(k=5))
    assert [s.item_id for s in hybrid.recommend(Query(k=5))] == [s.item_id for s in popular]


def test_new_items_come_through_content(data: TrainingData) -> None:
    weights = {"popular": 0.1, "cooccurrence": 1.0, "content": 0.5}
    hybrid = HybridRecommender(_parts(), weights=weights)
    hybrid.fit(data)
    # Nobody interacted with shoes-new: co-occurrence knows nothing of it, content does.
    assert hybrid.parts["cooccurrence"].recommend(Query(context_items=["shoes-new"])) == []
    answer = hybrid.recommend(Query(context_items=["shoes-new"], k=5))
    assert [s.item_id.split("-")[0] for s in answer[:3]] == ["shoes"] * 3
    # And a shoe page shows the new shoe.
    page = hybrid.recommend(Query(context_items=["shoes-0"], k=10))
    assert "shoes-new" in {s.item_id for s in page}


def test_weights_shift_the_blend(data: TrainingData) -> None:
    query = Query(history=history_of(data, 0), k=5)
    off = {"popular": 0.0, "cooccurrence": 0.0, "content": 0.0}
    popular_led = HybridRecommender(_parts(), weights=off | {"popular": 1.0})
    co_led = HybridRecommender(_parts(), weights=off | {"cooccurrence": 1.0})
    popular_led.fit(data)
    co_led.fit(data)
    top_popular = [s.item_id for s in popular_led.parts["popular"].recommend(query)]
    top_co = [s.item_id for s in co_led.parts["cooccurrence"].recommend(query)]
    led_by_popular = [s.item_id for s in popular_led.recommend(query)]
    led_by_co = [s.item_id for s in co_led.recommend(query)]
    # The leading part decides the order; the others (at FLOOR) only break its ties.
    assert led_by_popular[0] == top_popular[0]
    assert led_by_co == top_co
    assert led_by_popular != led_by_co


def test_tune_is_at_least_as_good_as_the_best_part_on_validation() -> None:
    full = training_data(seed=5, people=60)
    # Hold out one item per person: the validation set, never in the tuning fit.
    held: dict[str, set[str]] = {}
    rows = []
    for user in range(len(full.users)):
        items = sorted(history_of(full, user))
        held[full.users[user]] = {items[0]}
        rows += [(full.users[user], i, 1.0, 0) for i in items[1:]]
    train = build_training_data(rows, catalog=full.catalog)
    hybrid = FACTORIES["hybrid"](0)
    assert isinstance(hybrid, HybridRecommender)
    weights = hybrid.tune(train, held, k=5)
    assert weights == hybrid.weights and set(weights) == set(hybrid.parts)
    search = WeightSearch.build(hybrid.parts, train, held, 5, hybrid.candidates, FLOOR)
    best_part = max(search.ndcg(row) for row in np.eye(len(search.names)))
    tuned = search.ndcg(np.array([weights[n] for n in search.names]))
    assert tuned >= best_part > 0


def test_weights_must_name_parts() -> None:
    with pytest.raises(ValueError, match="unknown parts"):
        HybridRecommender(_parts(), weights={"nope": 1.0})
    with pytest.raises(ValueError, match="at least one part"):
        HybridRecommender({})
