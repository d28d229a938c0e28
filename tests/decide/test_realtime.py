"""A new shop recommends from its first events: the real-time models learn from the tail
before any training run, and the first training (then one after each burst of new
interactions or items) starts by itself once the changes pause, by the injected clock."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import Workspace
from tests.decide.helpers import create_placement, decide, ids, stock, track, view
from unico.container import Container
from unico.core.clock import ManualClock
from unico.core.settings import Settings
from unico.decide.recommenders import default_factories
from unico.decide.schedule import MAX_DEBOUNCES
from unico.recommend.base import Query, Recommender, Scored, TrainingData

#: Small thresholds, so a test makes a burst with a few events.
BURST = 6
#: More than the test catalog's 8 items: a catalog alone does not start a run here.
NEW_ITEMS = 20
DEBOUNCE_S = 3.0


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(
        update={
            "decide_retrain_interactions": BURST,
            "decide_retrain_items": NEW_ITEMS,
            "decide_retrain_debounce_seconds": DEBOUNCE_S,
        }
    )


def _watching(container: Container, ws: Workspace) -> Container:
    """The container with its schedule's threads stopped, so a test's ``tick()`` does a
    tail round, and any training run it starts, in the test's own thread; and watching the
    test's workspace only (the session's database holds the other tests' workspaces)."""
    container.models.schedule.stop()
    container.models.workspaces = lambda: [ws.id]
    return container


@pytest.fixture
def inline(container: Container, ws: Workspace) -> Container:
    return _watching(container, ws)


def _counting_als(container: Container) -> list[str]:
    """Every ALS the registry builds: ALS is fitted by training runs only, once each."""
    built: list[str] = []
    als = default_factories(3.0)["als"]

    def counted() -> Recommender:
        built.append("als")
        return als()

    container.models.register("als", counted)
    return built


def test_real_time_models_answer_from_the_first_interactions_without_training(
    inline: Container, ws: Workspace
) -> None:
    stock(inline, ws)
    create_placement(ws, name="pdp", strategy="also_viewed", size=2, epsilon=0)
    create_placement(ws, name="top", strategy="popular", size=2, epsilon=0)
    create_placement(ws, name="hot", strategy="trending", size=1, epsilon=0)
    create_placement(ws, name="seen", strategy="recently_viewed", size=2, epsilon=0)
    view(ws, "bo", "s1", "s3")
    view(ws, "cy", "s1", "s3", "s4")
    view(ws, "di", "t1", "t2")
    view(ws, "ed", "t1", "t2")
    view(ws, "fa", "t2")
    # The person's history is read per request: recently viewed needs no model at all.
    assert ids(decide(ws, "seen", userId="cy")["seen"]) == ["s4", "s3"]
    assert decide(ws, "pdp", anonymousId="x", context={"item": "s1"})["pdp"]["is_default"]
    inline.models.schedule.tick()  # one round of the tail; the clock has not moved
    status = inline.models.status(ws.id)
    assert not status["training"] and status["learnt_online"] == 10
    models = {m["name"]: m for m in status["models"]}
    assert all(m["trained_at"] is None for m in models.values())  # nothing was trained
    assert {n for n, m in models.items() if m["serving"]} == {"also_viewed", "popular", "trending"}
    pdp = decide(ws, "pdp", anonymousId="x", context={"item": "s1"})["pdp"]
    assert (ids(pdp), pdp["is_default"]) == (["s3", "s4"], False)
    assert pdp["explanation"]["model"] == "also_viewed"
    top = decide(ws, "top", anonymousId="x")["top"]
    assert (ids(top), top["is_default"]) == (["t2", "s1"], False)
    # Trending weighs recent interactions more: two fresh views of s4 beat older ones.
    track(ws, "gu", "Product Viewed", inline.clock.now_ms() + 86_400_000, product_id="s4")
    track(ws, "hu", "Product Viewed", inline.clock.now_ms() + 86_400_000, product_id="s4")
    assert ids(decide(ws, "hot")["hot"]) == ["t2"]  # not learnt yet
    inline.models.schedule.tick()
    assert ids(decide(ws, "hot")["hot"]) == ["s4"]
    assert inline.models.status(ws.id)["learnt_online"] == 12
    assert all(m["trained_at"] is None for m in inline.models.status(ws.id)["models"])


def test_the_first_training_starts_when_the_first_interactions_pause(
    inline: Container, ws: Workspace, clock: ManualClock
) -> None:
    built = _counting_als(inline)
    stock(inline, ws)
    create_placement(ws, name="for_you", strategy="als", size=2, epsilon=0)
    tick = inline.models.schedule.tick
    tick()
    clock.advance(10 * DEBOUNCE_S)
    tick()
    assert built == []  # a catalog (of fewer than NEW_ITEMS items) and no events
    view(ws, "bo", "s1", "s3")
    tick()
    clock.advance(DEBOUNCE_S - 1)
    view(ws, "cy", "s1", "s3", "s4")  # the burst goes on: the debounce starts again
    tick()
    clock.advance(DEBOUNCE_S - 1)
    tick()
    assert built == []
    clock.advance(1)
    tick()
    assert built == ["als"]
    assert inline.models.fitted(ws.id).trained_row_id > 0
    for _ in range(3):
        clock.advance(DEBOUNCE_S)
        tick()
    assert built == ["als"]  # nothing new: nothing to train


def test_a_burst_of_interactions_or_items_trains_again_once_it_pauses(
    inline: Container, ws: Workspace, clock: ManualClock
) -> None:
    built = _counting_als(inline)
    stock(inline, ws)
    create_placement(ws, name="for_you", strategy="als", size=2, epsilon=0)
    view(ws, "bo", "s1", "s3")
    inline.models.train_now(ws.id)
    tick = inline.models.schedule.tick
    tick()
    assert built == ["als"]
    # Fewer new interactions than a burst: the clock's run will have them.
    view(ws, "cy", *["s1", "s2", "s3", "s4", "t1"][: BURST - 1])
    tick()
    clock.advance(DEBOUNCE_S)
    tick()
    assert built == ["als"]
    view(ws, "di", "t2")  # the burst's BURST-th new interaction
    tick()
    assert built == ["als"]  # not while it may go on
    clock.advance(DEBOUNCE_S)
    tick()
    assert built == ["als", "als"]
    # New items: NEW_ITEMS of them since the last run start one too.
    fresh = [{"id": f"n{n}", "title": f"New {n}"} for n in range(NEW_ITEMS)]
    inline.catalog.upsert(ws.id, fresh[:-1])
    tick()
    clock.advance(DEBOUNCE_S)
    tick()
    assert built == ["als", "als"]
    inline.catalog.upsert(ws.id, fresh[-1:])
    tick()
    clock.advance(DEBOUNCE_S)
    tick()
    assert built == ["als", "als", "als"]
    assert {f"n{n}" for n in range(NEW_ITEMS)} <= inline.models.fitted(ws.id).items
    # A placement that needs a model the last run did not fit starts one as well.
    create_placement(ws, name="similar", strategy="ease", size=2)
    tick()
    clock.advance(DEBOUNCE_S)
    tick()
    assert len(built) == 4 and inline.models.get(ws.id, "ease") is not None


def test_a_long_history_is_fitted_at_once_instead_of_learnt_row_by_row(
    inline: Container, ws: Workspace
) -> None:
    """A process meeting a workspace with more history than its real-time models learn one
    row at a time (a restart without published models) trains it at once, no debounce."""
    built = _counting_als(inline)
    stock(inline, ws)
    create_placement(ws, name="pdp", strategy="also_viewed", size=2, epsilon=0)
    create_placement(ws, name="for_you", strategy="als", size=2, epsilon=0)
    view(ws, "bo", "s1", "s3")
    view(ws, "cy", "s1", "s3", "s4")
    inline.models.replay_rows = 4
    inline.models.schedule.tick()  # the clock does not move
    assert built == ["als"]
    status = inline.models.status(ws.id)
    assert status["learnt_online"] == 0  # nothing was learnt row by row
    assert all(m["trained_at"] and m["serving"] for m in status["models"])
    pdp = decide(ws, "pdp", anonymousId="x", context={"item": "s1"})["pdp"]
    assert (ids(pdp), pdp["is_default"]) == (["s3", "s4"], False)


def test_a_burst_that_never_pauses_trains_after_a_longer_wait(
    inline: Container, ws: Workspace, clock: ManualClock
) -> None:
    built = _counting_als(inline)
    stock(inline, ws)
    create_placement(ws, name="for_you", strategy="als", size=2, epsilon=0)
    step = DEBOUNCE_S / 2
    rounds = 0
    while not built:
        view(ws, f"p{rounds}", "s1")  # an event every half debounce: never a pause
        inline.models.schedule.tick()
        clock.advance(step)
        rounds += 1
        assert rounds <= 2 * MAX_DEBOUNCES + 2
    assert rounds == 2 * MAX_DEBOUNCES + 1


@pytest.fixture
def shared(settings: Settings, tmp_path: Path) -> Settings:
    return settings.model_copy(update={"models_dir": str(tmp_path / "models")})


@pytest.fixture
def pair(shared: Settings, clock: ManualClock) -> Iterator[tuple[Container, Container]]:
    """Two serving processes' containers on one store and one shelf, threads not started."""
    first, second = Container.build(shared, clock), Container.build(shared, clock)
    yield first, second
    for c in (first, second):
        c.ingestor.stop()
        c.store.dispose()


def test_processes_that_see_the_same_burst_train_it_once(
    pair: tuple[Container, Container], ws: Workspace, clock: ManualClock, container: Container
) -> None:
    """Both processes' tails see the burst and both find a run due: the first to ask
    trains and publishes; the other, once it holds the workspace's training lock, serves
    the published models and finds nothing left to train (the case of two runs waiting
    for the lock at once is `tests/decide/test_shelf.py`'s)."""
    first, second = (_watching(c, ws) for c in pair)
    builds = [_counting_als(first), _counting_als(second)]
    stock(container, ws)
    create_placement(ws, name="for_you", strategy="als", size=2, epsilon=0)
    view(ws, "bo", "s1", "s3")
    view(ws, "cy", "s1", "s3", "s4")
    for c in pair:
        c.models.schedule.tick()
    clock.advance(DEBOUNCE_S)
    first.models.schedule.tick()
    assert builds == [["als"], []]
    # The second process decided before the first published (its tail has not looked).
    assert second.models.schedule.due(ws.id)
    assert not second.models.fitted(ws.id).trained
    assert second.models.train_if(ws.id, second.models.schedule.due) is False
    assert builds == [["als"], []]
    assert second.models.status(ws.id) == first.models.status(ws.id)
    assert second.models.fitted(ws.id).trained
    # The next burst: whichever process asks first trains it; the other takes its models.
    view(ws, "di", "t1", "t2", "s2", "s4", "t1", "s1")
    for c in (second, first):
        c.models.schedule.tick()
    clock.advance(DEBOUNCE_S)
    for c in (second, first):
        c.models.schedule.tick()
    assert builds == [["als"], ["als"]]
    assert first.models.status(ws.id) == second.models.status(ws.id)


class _Offline:
    """A recommender without ``learn_one``, registered under a real-time model's name."""

    name = "offline"

    def fit(self, data: TrainingData) -> None:
        pass

    def recommend(self, query: Query) -> list[Scored]:
        return []


def test_a_model_that_cannot_learn_online_waits_for_its_fit(
    inline: Container, ws: Workspace
) -> None:
    built: list[str] = []

    def offline() -> Recommender:
        built.append("popular")
        return _Offline()

    inline.models.register("popular", offline)
    stock(inline, ws)
    create_placement(ws, name="top", strategy="popular", size=2, epsilon=0)
    view(ws, "bo", "s1", "s3")
    for _ in range(3):
        inline.models.schedule.tick()
    assert built == ["popular"]  # built once for the empty start, then left out
    top = decide(ws, "top")["top"]
    assert top["is_default"] and "not trained yet" in top["explanation"]["reason"]
    assert ids(top) == ["s1", "s2"]  # the catalog's newest items, all equally new
