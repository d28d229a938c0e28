"""Item-to-item co-occurrence: fitted counts, online counts, bounded memory."""

from __future__ import annotations

from tests.recommend.conftest import T0
from unico.recommend.base import Query
from unico.recommend.cooccurrence import ItemToItemRecommender
from unico.recommend.data import build_training_data


def _basket_rows() -> list[tuple[str, str, float, int]]:
    baskets = {"a": ["tent", "stove", "mat"], "b": ["tent", "stove"], "c": ["tent", "lamp"]}
    return [(person, item, 1.0, T0) for person, items in baskets.items() for item in items]


def test_recommends_from_context_items_first_then_history() -> None:
    model = ItemToItemRecommender()
    model.fit(build_training_data(_basket_rows()))
    by_context = model.recommend(Query(history={"lamp": 1.0}, context_items=["stove"]))
    assert by_context[0].item_id == "tent"
    assert "mat" in {s.item_id for s in by_context}
    by_history = {s.item_id for s in model.recommend(Query(history={"lamp": 1.0}))}
    assert by_history == {"tent"}


def test_learn_one_changes_answers_immediately() -> None:
    model = ItemToItemRecommender()
    model.fit(build_training_data(_basket_rows()))
    assert "kettle" not in {s.item_id for s in model.recommend(Query(context_items=["stove"]))}
    model.learn_one("d", "stove", 1.0, T0)
    model.learn_one("d", "kettle", 1.0, T0 + 1)
    assert "kettle" in {s.item_id for s in model.recommend(Query(context_items=["stove"]))}
    # Symmetric: the new item leads back to the old one.
    assert {s.item_id for s in model.recommend(Query(context_items=["kettle"]))} == {"stove"}


def test_repeated_interactions_do_not_inflate_counts() -> None:
    model = ItemToItemRecommender()
    model.fit(build_training_data(_basket_rows()))
    model.learn_one("d", "stove", 1.0, T0)
    model.learn_one("d", "kettle", 1.0, T0)
    once = model.recommend(Query(context_items=["kettle"]))
    for _ in range(5):
        model.learn_one("d", "kettle", 1.0, T0)
        model.learn_one("d", "stove", 1.0, T0)
    assert model.recommend(Query(context_items=["kettle"])) == once


def test_memory_is_bounded_and_merging_keeps_the_answers() -> None:
    model = ItemToItemRecommender(max_history=3, max_people=2, max_pending=10_000)
    model.fit(build_training_data(_basket_rows()))
    for n in range(5):
        model.learn_one("d", f"item-{n}", 1.0, T0 + n)
    model.learn_one("e", "x", 1.0, T0)
    model.learn_one("f", "y", 1.0, T0)
    assert len(model._recent) == 2 and "d" not in model._recent
    # item-4 co-occurred only with the 3 items before it, not with item-0.
    assert {s.item_id for s in model.recommend(Query(context_items=["item-4"]))} == {
        "item-1",
        "item-2",
        "item-3",
    }
    before = model.recommend(Query(context_items=["item-3"]))
    model._merge_pending()
    assert model._pending_size == 0
    assert model.recommend(Query(context_items=["item-3"])) == before


def test_neighbours_are_pruned_to_the_strongest() -> None:
    rows = [(f"p{n}", "hub", 1.0, T0) for n in range(6)]
    rows += [(f"p{n}", f"spoke-{n}", 1.0, T0) for n in range(6)]
    rows += [("p0", "spoke-1", 1.0, T0)]
    model = ItemToItemRecommender(max_neighbors=2)
    model.fit(build_training_data(rows))
    assert model._counts[model._space.positions["hub"]].nnz == 2
