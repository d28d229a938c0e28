"""Popular and trending: counts, decay with time, categories."""

from __future__ import annotations

import pytest

from tests.recommend.conftest import DAY, T0
from unico.recommend.base import ItemInfo, Query
from unico.recommend.data import build_training_data
from unico.recommend.popular import PopularRecommender


def _old_hit_and_new_item() -> list[tuple[str, str, float, int]]:
    old = [(f"p{n}", "old-hit", 1.0, T0 - 60 * DAY) for n in range(10)]
    new = [(f"q{n}", "new-item", 1.0, T0 - DAY) for n in range(3)]
    return old + new


def test_popular_counts_all_time_and_trending_prefers_recent_items() -> None:
    data = build_training_data(_old_hit_and_new_item(), now_ms=T0)
    popular, trending = PopularRecommender(), PopularRecommender(half_life_days=7.0)
    popular.fit(data)
    trending.fit(data)
    assert [s.item_id for s in popular.recommend(Query())] == ["old-hit", "new-item"]
    assert [s.item_id for s in trending.recommend(Query())] == ["new-item", "old-hit"]
    assert popular.name == "popular" and trending.name == "trending"


def test_trending_follows_the_clock_as_interactions_arrive() -> None:
    data = build_training_data([(f"p{n}", "hit", 1.0, T0) for n in range(5)], now_ms=T0)
    trending = PopularRecommender(half_life_days=1.0)
    trending.fit(data)
    later = T0 + 10 * DAY
    trending.learn_one("q", "fresh", 1.0, later)
    assert [s.item_id for s in trending.recommend(Query(now_ms=later))] == ["fresh", "hit"]
    # Far later still: the scores are rebased, never overflow, and the order holds.
    much_later = T0 + 2000 * DAY
    trending.learn_one("r", "fresher", 1.0, much_later)
    answer = trending.recommend(Query())
    assert answer[0].item_id == "fresher"
    assert all(s.score < float("inf") for s in answer)


def test_popular_learn_one_counts_at_once() -> None:
    model = PopularRecommender()
    model.fit(build_training_data([("p", "a", 2.0, T0)]))
    model.learn_one("q", "b", 1.0, T0)
    model.learn_one("r", "b", 1.5, T0)
    assert [(s.item_id, s.score) for s in model.recommend(Query())] == [("b", 2.5), ("a", 2.0)]


def test_category_prefix_matches_whole_levels() -> None:
    catalog = {
        "trail": ItemInfo("trail", category=("shoes", "running", "trail")),
        "road": ItemInfo("road", category=("shoes", "running")),
        "boot": ItemInfo("boot", category=("shoes", "hiking")),
        "sock": ItemInfo("sock", category=("shoes-care",)),
    }
    rows = [(f"p{n}", item, 1.0, T0) for n, item in enumerate(["trail", "road", "boot", "sock"])]
    model = PopularRecommender()
    model.fit(build_training_data(rows, catalog=catalog))
    running = {s.item_id for s in model.recommend(Query(category=("shoes", "running")))}
    shoes = {s.item_id for s in model.recommend(Query(category=("shoes",)))}
    assert running == {"trail", "road"}
    assert shoes == {"trail", "road", "boot"}


def test_half_life_must_be_positive() -> None:
    with pytest.raises(ValueError, match="half_life_days"):
        PopularRecommender(half_life_days=0.0)
