"""Generic checks every recommender must pass (as River checks every estimator)."""

from __future__ import annotations

import dataclasses
import pickle

import pytest

from tests.recommend.conftest import FACTORIES, T0, training_data
from unico.recommend.base import Query, Recommender, Scored, TrainingData
from unico.recommend.data import history_of

NAMES = sorted(FACTORIES)


def fitted(name: str, data: TrainingData, seed: int = 0) -> Recommender:
    model = FACTORIES[name](seed)
    model.fit(data)
    return model


def queries(data: TrainingData) -> list[Query]:
    """A person of each taste, a product page, a category page, an unknown visitor."""
    return [
        Query(history=history_of(data, 0), k=5),
        Query(history=history_of(data, 1), k=3),
        Query(context_items=["shoes-1"], k=4),
        Query(history=history_of(data, 0), category=("garden",), k=5),
        Query(k=5),
    ]


def answers(model: Recommender, data: TrainingData) -> list[list[Scored]]:
    return [model.recommend(q) for q in queries(data)]


@pytest.mark.parametrize("name", NAMES)
def test_returns_at_most_k_distinct_items_best_first(name: str, data: TrainingData) -> None:
    model = fitted(name, data)
    for query, answer in zip(queries(data), answers(model, data), strict=True):
        items = [s.item_id for s in answer]
        assert len(items) <= query.k
        assert len(set(items)) == len(items)
        scores = [s.score for s in answer]
        assert scores == sorted(scores, reverse=True)
    assert any(answers(model, data)), f"{name} said nothing at all"


@pytest.mark.parametrize("name", NAMES)
def test_never_returns_history_context_or_excluded_items(name: str, data: TrainingData) -> None:
    model = fitted(name, data)
    history = history_of(data, 0)
    first = [s.item_id for s in model.recommend(Query(history=history, k=3))]
    assert len(first) == 3, first
    # Exclude the two best items and put the third in view: each would be recommended.
    excluded, context = frozenset(first[:2]), first[2]
    query = Query(history=history, context_items=[context], exclude=excluded, k=20)
    answer = [s.item_id for s in model.recommend(query)]
    assert answer, f"{name} said nothing"
    assert set(answer).isdisjoint(history)
    assert set(answer).isdisjoint(excluded)
    assert context not in answer
    # The right items: what the same query answers without exclusions, less the excluded.
    unexcluded = [
        s.item_id for s in model.recommend(dataclasses.replace(query, exclude=frozenset(), k=40))
    ]
    assert excluded <= set(unexcluded)
    expected = [item for item in unexcluded if item not in excluded][: query.k]
    if name == "hybrid":
        # The blend rescales each part's own list, so excluding items may reorder the rest.
        assert sorted(answer) == sorted(expected)
    else:
        assert answer == expected


@pytest.mark.parametrize("name", NAMES)
def test_honours_the_category_prefix(name: str, data: TrainingData) -> None:
    model = fitted(name, data)
    query = Query(history=history_of(data, 0), category=("garden",), k=10)
    answer = model.recommend(query)
    assert all(s.item_id.startswith("garden-") for s in answer), answer


@pytest.mark.parametrize("name", NAMES)
def test_same_seed_same_answers(name: str, data: TrainingData) -> None:
    assert answers(fitted(name, data, seed=7), data) == answers(fitted(name, data, seed=7), data)


@pytest.mark.parametrize("name", NAMES)
def test_pickle_round_trip_answers_the_same(name: str, data: TrainingData) -> None:
    model = fitted(name, data)
    copy = pickle.loads(pickle.dumps(model))
    assert copy.name == model.name
    assert answers(copy, data) == answers(model, data)


@pytest.mark.parametrize("name", NAMES)
def test_unfitted_model_and_unknown_person_do_not_raise(name: str, data: TrainingData) -> None:
    blank = FACTORIES[name](0)
    assert blank.recommend(Query(history={"i1": 1.0}, context_items=["i2"])) == []
    model = fitted(name, data)
    unknown = model.recommend(Query(history={"never-seen": 1.0}, context_items=["nope"]))
    assert isinstance(unknown, list)
    assert "never-seen" not in {s.item_id for s in unknown}
    assert model.recommend(Query(history=history_of(data, 0), k=0)) == []


@pytest.mark.parametrize("name", NAMES)
def test_fitting_a_fresh_object_leaves_a_fitted_one_alone(name: str, data: TrainingData) -> None:
    serving = fitted(name, data)
    before = answers(serving, data)
    other = training_data(seed=99, people=10)
    fitted(name, other)
    assert answers(serving, data) == before


@pytest.mark.parametrize("name", NAMES)
def test_fitting_on_an_empty_snapshot_answers_nothing(name: str) -> None:
    empty = training_data(people=0)
    model = fitted(name, empty)
    answer = model.recommend(Query(history={"shoes-1": 1.0}, k=5))
    # Only content can still say something: it needs no interactions.
    assert answer == [] or name in ("content", "hybrid")


@pytest.mark.parametrize("name", [n for n in NAMES if hasattr(FACTORIES[n](0), "learn_one")])
def test_online_models_learn_new_people_and_items(name: str, data: TrainingData) -> None:
    model = fitted(name, data)
    for step in range(3):
        model.learn_one("newcomer", "brand-new-item", 5.0, T0 + step)
        model.learn_one("newcomer", "shoes-2", 1.0, T0 + step)
    found = {s.item_id for s in model.recommend(Query(context_items=["shoes-2"], k=50))}
    found |= {s.item_id for s in model.recommend(Query(k=50))}
    assert "brand-new-item" in found
