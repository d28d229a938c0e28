"""The shortcuts recommenders take when serving give the answers of the plain computation:
ALS fold-in by the Woodbury identity, item-to-item scores summed from a few rows, popular
items ranked once, and top-k lists whose order does not depend on k."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import sparse

from tests.recommend.conftest import T0
from unico.recommend.als import ALSRecommender
from unico.recommend.base import Query, Scored
from unico.recommend.cooccurrence import ItemToItemRecommender
from unico.recommend.data import Row, build_training_data
from unico.recommend.popular import RANKED, PopularRecommender
from unico.recommend.ranking import ItemSpace, top_indexes


def _rows(people: int = 300, items: int = 120, seed: int = 3) -> list[Row]:
    rng = np.random.default_rng(seed)
    weights = 1 / np.arange(1, items + 1)
    picks = rng.choice(items, size=(people, 6), p=weights / weights.sum())
    return [
        (f"u{u}", f"i{i:03d}", float(rng.integers(1, 4)), T0)
        for u in range(people)
        for i in picks[u]
    ]


def test_als_fold_in_solves_the_normal_equations() -> None:
    model = ALSRecommender(factors=16, regularization=5.0, iterations=4)
    model.fit(build_training_data(_rows()))
    space, factors = model._space, model._item_factors.astype(np.float64)
    gram = factors.T @ factors + model.regularization * np.eye(16)
    for history in ({"i001": 1.0}, {"i002": 2.0, "i010": 1.0, "i050": 5.0}):
        items = np.array([space.positions[i] for i in history])
        values = np.array(list(history.values()))
        lengths = np.full(len(items), len(items))
        confidence = model._confidence(values, model._length_norm[items], lengths, len(space))
        f = factors[items]
        expected = np.linalg.solve(gram + (f.T * (confidence - 1.0)) @ f, f.T @ confidence)
        assert np.allclose(model.user_factor(history), expected, rtol=1e-9, atol=1e-12)


def test_item_to_item_scores_match_the_sparse_product() -> None:
    model = ItemToItemRecommender(max_neighbors=15)
    model.fit(build_training_data(_rows()))
    model.learn_one("new", "i004", 1.0, T0)
    model.learn_one("new", "i007", 1.0, T0 + 1)  # pending counts, not in the matrix yet
    space = model._space
    history = {"i004": 2.0, "i007": 1.0, "i030": 1.0}
    sources = space.indexes(history)
    weights = np.array([history[space.items[s]] for s in sources])
    n = len(space)
    support = np.maximum(model._support[:n], 1.0)
    row = np.zeros(n)
    row[sources] = weights / support[sources] ** model.alpha
    counts = model._counts.copy()
    counts.resize((n, n))
    pending = sparse.lil_matrix((n, n))
    for a, neighbours in model._pending.items():
        for b, count in neighbours.items():
            pending[a, b] = count
    dense = (row @ (counts + pending.tocsr())) / support ** (1.0 - model.alpha)
    positions, scores = model._scores(sources, weights, n)
    assert positions.tolist() == np.flatnonzero(dense).tolist()
    assert np.allclose(scores, dense[positions])
    best = model.recommend(Query(history=history, k=5))
    expected = [i for i in top_indexes(dense, 5 + len(sources)).tolist() if i not in sources]
    assert [s.item_id for s in best] == [space.items[i] for i in expected[:5]]


def test_top_lists_are_prefixes_of_longer_ones_with_ties_in_item_order() -> None:
    scores = np.array([1.0, 3.0, 2.0, 3.0, 2.0, 2.0, 0.5])
    assert top_indexes(scores, 4).tolist() == [1, 3, 2, 4]
    space = ItemSpace([f"i{n}" for n in range(len(scores))], {})
    for k in range(1, 7):
        answer = [s.item_id for s in space.answer(scores, Query(k=k, exclude=frozenset({"i3"})))]
        assert answer == ["i1", "i2", "i4", "i5", "i0", "i6"][:k]


def test_popular_ranking_follows_online_learning() -> None:
    model = PopularRecommender()
    model.fit(build_training_data(_rows()))
    before = [s.item_id for s in model.recommend(Query(k=3))]
    assert before[0] == "i000"
    for n in range(500):
        model.learn_one(f"fan{n}", "i099", 1.0, T0)
    after = [s.item_id for s in model.recommend(Query(k=3, exclude=frozenset({"i000"})))]
    assert after[0] == "i099"
    assert after[1:] == [i for i in before if i != "i000"][:2]


def test_popular_ranked_once_answers_as_ranking_each_query() -> None:
    rows: list[Row] = [(f"u{n}", f"i{n:04d}", float(1 + n % 7), T0) for n in range(RANKED + 200)]
    model = PopularRecommender()
    model.fit(build_training_data(rows))
    scores = model._scores[: len(model._space)]
    for excluded in (0, 30, RANKED + 10):  # the last: more than the kept ranking covers
        query = Query(k=12, exclude=frozenset(f"i{n:04d}" for n in range(0, 2 * excluded, 2)))
        expected = model._space.answer(scores, query, positive_only=True)
        assert model.recommend(query) == expected
        assert len(expected) == 12


def test_answers_skip_banned_and_non_finite_scores_and_stop_at_k() -> None:
    scores = np.array([1.0, 5.0, 0.5, 4.0, -2.0, 3.0, 2.0, 0.0, -1.0])
    space = ItemSpace([f"i{n}" for n in range(len(scores))], {})
    query = Query(history={"i1": 1.0}, context_items=("i9", "i5"), k=3, exclude=frozenset({"zz"}))
    assert space.banned(query) == {1, 5}
    assert space.answer(scores, query) == [("i3", 4.0), ("i6", 2.0), ("i0", 1.0)]
    positive = space.answer(scores, Query(k=9), positive_only=True)
    assert [s.item_id for s in positive] == ["i1", "i3", "i5", "i6", "i0", "i2"]
    assert space.answer(scores, Query(k=0)) == []
    odd = np.array([np.nan, 5.0, np.inf, 4.0, -np.inf, 3.0])
    assert [s.item_id for s in space.answer(odd, Query(k=6))] == ["i1", "i3", "i5"]


def test_scored_is_an_item_and_score_pair() -> None:
    item_id, score = Scored("a", 0.5)
    assert (item_id, score) == ("a", 0.5) and Scored("a", 0.5).score == 0.5


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(4096, 12_000),
    m=st.integers(1, 400),
    levels=st.sampled_from([0, 3, 50]),
    nans=st.integers(0, 3),
    seed=st.integers(0, 2**32 - 1),
)
def test_sampled_top_lists_are_the_full_sort(
    n: int, m: int, levels: int, nans: int, seed: int
) -> None:
    """Long score vectors take a sampled threshold; the answer is still the first ``m`` of
    the full sort (best first, ties in index order), with few distinct scores and NaNs."""
    rng = np.random.default_rng(seed)
    if levels:
        scores = rng.integers(0, levels, n).astype(np.float32)
    else:
        scores = rng.standard_normal(n).astype(np.float32)
    scores[rng.integers(0, n, nans)] = np.nan
    finite = np.flatnonzero(~np.isnan(scores))
    expected = finite[np.lexsort((finite, -scores[finite]))][:m]
    got = top_indexes(scores, m)
    assert got[: len(expected)].tolist() == expected.tolist()
