"""Decisions: personalization from real events, the default experience and its reasons,
model training and real-time learning, failures."""

from __future__ import annotations

from tests.conftest import Workspace
from tests.decide.helpers import create_placement, decide, ids, logged, stock, track, view
from tests.web.helpers import ok
from unico.container import Container
from unico.recommend.base import Query, Scored, TrainingData


def _co_viewers(ws: Workspace) -> None:
    """People who viewed s1 also viewed s3; people who viewed t1 also viewed t2."""
    view(ws, "bo", "s1", "s3")
    view(ws, "cy", "s1", "s3", "s4")
    view(ws, "di", "t1", "t2")
    view(ws, "ed", "t1", "t2")


def test_decisions_follow_what_the_person_views(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    create_placement(ws, name="for_you", strategy="also_viewed", size=2, default_items=["s2"])
    _co_viewers(ws)
    container.models.train_now(ws.id)
    before = decide(ws, "for_you", userId="ada")["for_you"]
    assert before["is_default"] is True
    assert "unknown person" in before["explanation"]["reason"]
    assert ids(before)[0] == "s2"  # the default's listed item, then popular ones
    view(ws, "ada", "s1")  # counts at once: history is read per request
    after = decide(ws, "for_you", userId="ada")["for_you"]
    assert after["is_default"] is False
    assert ids(after)[0] == "s3"
    assert after["explanation"]["strategy"] == "also_viewed"
    assert after["explanation"]["history"] == 1
    view(ws, "ada", "t1")
    later = decide(ws, "for_you", userId="ada")["for_you"]
    assert set(ids(later)) == {"s3", "t2"}


def test_page_item_drives_also_viewed_even_without_a_profile(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    create_placement(ws, name="pdp", strategy="also_viewed", size=1)
    _co_viewers(ws)
    container.models.train_now(ws.id)
    one = decide(ws, "pdp", anonymousId="new", context={"item": "t1"})["pdp"]
    assert (ids(one), one["is_default"]) == (["t2"], False)
    assert "page's items only" in one["explanation"]["reason"]


def test_withdrawn_consent_brings_back_the_default(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    create_placement(ws, name="for_you", strategy="als", size=3, default_items=["t2"])
    _co_viewers(ws)
    view(ws, "ada", "s1")
    container.models.train_now(ws.id)
    assert decide(ws, "for_you", userId="ada")["for_you"]["is_default"] is False
    track(ws, "ada", "Consent Updated", purposes={"personalization": False})
    withdrawn = decide(ws, "for_you", userId="ada")["for_you"]
    assert withdrawn["is_default"] is True
    assert "no personalization consent" in withdrawn["explanation"]["reason"]
    assert ids(withdrawn)[0] == "t2"
    track(ws, "ada", "Consent Updated", purposes={"personalization": True})
    assert decide(ws, "for_you", userId="ada")["for_you"]["is_default"] is False


def test_untrained_and_empty_models_give_the_default(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    create_placement(ws, name="for_you", strategy="als", size=2, default_items=["s4", "t1"])
    view(ws, "ada", "s1")
    untrained = decide(ws, "for_you", userId="ada")["for_you"]
    assert untrained["is_default"] is True
    assert "not trained" in untrained["explanation"]["reason"]
    assert ids(untrained) == ["s4", "t1"]
    # A workspace whose only person viewed one item: ALS has nothing to say to her.
    container.models.train_now(ws.id)
    empty = decide(ws, "for_you", userId="ada")["for_you"]
    assert empty["is_default"] is True
    assert ids(empty)[:2] == ["s4", "t1"]


class Broken:
    """A recommender that fits and then fails on every query."""

    name = "broken"

    def fit(self, data: TrainingData) -> None:
        pass

    def recommend(self, query: Query) -> list[Scored]:
        raise RuntimeError("the model is broken")


def test_a_failing_model_serves_the_default_and_says_so(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    container.models.register("als", Broken)
    create_placement(ws, name="for_you", strategy="als", size=2, default_items=["s2"])
    view(ws, "ada", "s1")
    container.models.train_now(ws.id)
    one = decide(ws, "for_you", userId="ada")["for_you"]
    assert one["is_default"] is True
    assert "failed" in one["explanation"]["reason"]
    assert one["explanation"]["error"] == "RuntimeError: the model is broken"
    assert ids(one)[0] == "s2"
    row = logged(container, ws)[-1]
    assert (row["is_default"], row["strategy"]) == (True, "default")
    assert row["explanation"]["error"] == "RuntimeError: the model is broken"


def test_training_failure_is_reported_per_model(container: Container, ws: Workspace) -> None:
    class FailsToFit(Broken):
        def fit(self, data: TrainingData) -> None:
            raise ValueError("no data for me")

    stock(container, ws)
    container.models.register("ease", FailsToFit)
    create_placement(ws, name="a", strategy="ease", size=2)
    view(ws, "ada", "s1")
    status = container.models.train_now(ws.id)
    models = {m["name"]: m for m in status["models"]}
    assert models["ease"]["fitted"] is False
    assert "no data for me" in models["ease"]["error"]
    assert models["popular"]["fitted"] is True and models["popular"]["rows"] == 1
    listed = ok(ws.client.get("/v1/models", headers=ws.admin))
    assert {m["name"] for m in listed["models"]} == {"ease", "popular"}


def test_real_time_learning_without_retraining(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    create_placement(ws, name="pdp", strategy="also_viewed", size=1)
    view(ws, "bo", "s1", "s3")
    container.models.train_now(ws.id)
    assert ids(decide(ws, "pdp", context={"item": "t1"})["pdp"]) != ["t2"]
    view(ws, "di", "t1", "t2")
    view(ws, "ed", "t1", "t2")
    assert container.models.poll_once(ws.id) == 4
    assert container.models.poll_once(ws.id) == 0
    assert ids(decide(ws, "pdp", context={"item": "t1"})["pdp"]) == ["t2"]
    assert container.models.status(ws.id)["learnt_online"] == 4


def test_training_on_demand_answers_202(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    create_placement(ws, name="hot", strategy="trending", size=2)
    r = ws.client.post("/v1/models/train", headers=ws.admin)
    assert r.status_code == 202, r.text
    assert {m["name"] for m in r.json()["models"]} == {"popular", "trending"}


def test_popular_is_the_same_for_everyone(container: Container, ws: Workspace) -> None:
    stock(container, ws)
    create_placement(ws, name="top", strategy="popular", size=2)
    view(ws, "bo", "s4", "t1")
    view(ws, "cy", "s4")
    container.models.train_now(ws.id)
    anonymous = decide(ws, "top", anonymousId="x")["top"]
    assert (ids(anonymous), anonymous["is_default"]) == (["s4", "t1"], False)
    assert decide(ws, "top")["top"]["items"] == anonymous["items"]
