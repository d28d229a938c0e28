"""Experiments in decisions: the variant applied and returned, exposures logged once,
stickiness across identification, traffic, layers, holdouts, segments and payloads."""

from __future__ import annotations

from tests.conftest import Workspace
from tests.decide.helpers import decide, ids, logged
from tests.experiments.helpers import (
    HERO,
    create,
    exposures,
    running,
    shop,
    start,
    variant_of,
)
from tests.profiles.helpers import get
from tests.segments.helpers import create as create_segment
from unico.container import Container
from unico.experiments.runtime import Who


def _identify(ws: Workspace, user: str, anonymous: str | None = None, **traits: object) -> None:
    body: dict[str, object] = {"userId": user, "traits": traits}
    if anonymous is not None:
        body["anonymousId"] = anonymous
    r = ws.send("identify", body)
    assert r.status_code == 200, r.text


def test_decide_applies_the_variant_returns_it_and_logs_one_exposure(
    container: Container, ws: Workspace
) -> None:
    shop(container, ws)
    experiment_id = running(ws)
    users = [f"u{i}" for i in range(30)]
    for user in users:
        _identify(ws, user)
    seen: dict[str, str] = {}
    for _ in range(3):  # asked three times: one exposure each, the same variant each time
        for user in users:
            one = decide(ws, "hero", userId=user)["hero"]
            variant = one["experiment"]["variant"]
            assert one["experiment"]["id"] == experiment_id
            assert seen.setdefault(user, variant) == variant
            assert ids(one) == (["s1", "s2"] if variant == "B" else HERO)
            assert one["explanation"]["experiment"] == one["experiment"]
    assert set(seen.values()) == {"A", "B"}
    rows = exposures(container, ws, experiment_id)
    assert len(rows) == len(users)
    assert {r["variant"] for r in rows} == {"A", "B"}
    assert all(r["propensity"] == 0.5 and r["profile_id"] for r in rows)
    # The decision log keeps the variant with the decision.
    assert all("experiment" in d["explanation"] for d in logged(container, ws))


def test_a_person_keeps_the_variant_once_identified(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    experiment_id = running(ws)
    before = {f"v{i}": variant_of(ws, anonymousId=f"anon-{i}") for i in range(24)}
    assert set(before.values()) == {"A", "B"}  # strangers are tested too (by anonymous id)
    for i in range(24):
        _identify(ws, f"v{i}", anonymous=f"anon-{i}")
    # Identified, on another device (no anonymous id): the same variant.
    after = {f"v{i}": variant_of(ws, userId=f"v{i}") for i in range(24)}
    assert after == before
    rows = exposures(container, ws, experiment_id)
    assert len(rows) == 24  # one person, one exposure: no second row under the profile id
    assert all(r["profile_id"] is not None and r["user_id"] for r in rows)


def test_raising_traffic_adds_people_and_keeps_everyone_in_their_variant(
    container: Container, ws: Workspace
) -> None:
    shop(container, ws)
    experiment_id = running(ws, traffic=30)
    users = [f"t{i}" for i in range(60)]
    for user in users:
        _identify(ws, user)
    first = {u: variant_of(ws, userId=u) for u in users}
    inside = {u: v for u, v in first.items() if v is not None}
    assert 5 < len(inside) < 35
    r = ws.client.patch(f"/v1/experiments/{experiment_id}", json={"traffic": 80}, headers=ws.admin)
    assert r.status_code == 200, r.text
    second = {u: variant_of(ws, userId=u) for u in users}
    assert all(second[u] == v for u, v in inside.items())
    assert sum(v is not None for v in second.values()) > len(inside)


def test_experiments_in_one_layer_never_share_a_person(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    first = running(ws, layer="home", traffic=0.5)
    second = create(
        ws,
        name="hero strategy",
        layer="home",
        traffic=0.5,
        variants=[{"name": "A"}, {"name": "C", "placement": {"items": ["s3", "s4"]}}],
    )
    assert start(ws, second["experiment_id"])["buckets"] == [500, 999]
    hits: dict[str, int] = {}
    for i in range(80):
        _identify(ws, f"l{i}")
        tested = decide(ws, "hero", userId=f"l{i}")["hero"].get("experiment")
        if tested is not None:
            hits[tested["id"]] = hits.get(tested["id"], 0) + 1
    assert set(hits) == {first, second["experiment_id"]}
    rows = exposures(container, ws, first) + exposures(container, ws, second["experiment_id"])
    assert len({r["unit_id"] for r in rows}) == len(rows) == sum(hits.values())
    # The layer is full: a third experiment cannot start.
    third = create(ws, name="third", layer="home", traffic=0.1)
    r = ws.client.post(f"/v1/experiments/{third['experiment_id']}/start", headers=ws.admin)
    assert r.status_code == 409 and r.json()["error"]["code"] == "layer_full"
    # Stopping one frees its buckets.
    ws.client.post(f"/v1/experiments/{first}/stop", headers=ws.admin)
    assert start(ws, third["experiment_id"])["buckets"] == [0, 99]


def test_a_holdout_keeps_the_placement_as_it_is(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    experiment_id = running(ws, holdout=0.3)
    shown: dict[str, list[str]] = {}
    for i in range(60):
        _identify(ws, f"h{i}")
        one = decide(ws, "hero", userId=f"h{i}")["hero"]
        shown.setdefault(one["experiment"]["variant"], ids(one))
    assert set(shown) == {"A", "B", "holdout"}
    assert shown["holdout"] == HERO
    rows = exposures(container, ws, experiment_id)
    assert {r["propensity"] for r in rows if r["variant"] == "holdout"} == {0.3}
    assert {r["propensity"] for r in rows if r["variant"] != "holdout"} == {0.35}


def test_a_targeting_segment_limits_who_takes_part(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    create_segment(ws, "italians", 'traits.country == "IT"')
    running(ws, segment="italians")
    _identify(ws, "ada", country="IT")
    _identify(ws, "cy", country="FR")
    assert variant_of(ws, userId="ada") in ("A", "B")
    assert variant_of(ws, userId="cy") is None
    assert variant_of(ws, anonymousId="stranger") is None  # no profile, no segment


def test_no_personalization_consent_means_no_experiment(
    container: Container, ws: Workspace
) -> None:
    shop(container, ws)
    running(ws)
    _identify(ws, "gus")
    r = ws.send("consent", {"userId": "gus", "purposes": {"personalization": False}})
    assert r.status_code == 200, r.text
    assert variant_of(ws, userId="gus") is None


def test_other_channels_read_a_variant_payload_by_key(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    experiment_id = running(
        ws,
        target={"key": "welcome_email"},
        factors=[
            {
                "name": "subject",
                "levels": [
                    {"name": "plain", "payload": {"subject": "Welcome"}},
                    {"name": "emoji", "payload": {"subject": "Welcome 👋"}},
                ],
            },
            {
                "name": "offer",
                "levels": [
                    {"name": "none", "payload": {"discount": 0}},
                    {"name": "ten", "payload": {"discount": 10}},
                ],
            },
        ],
        variants=[],
    )
    runtime = container.experiments.runtime
    got = [runtime.assign(ws.id, "welcome_email", Who(f"p_{i}")) for i in range(80)]
    cells = {g["variant"] for g in got if g is not None}
    assert len(cells) == 4 and all(g is not None for g in got)
    for g in got:
        assert g is not None and g["id"] == experiment_id
        levels = dict(part.split("=") for part in g["variant"].split("|"))
        assert g["payload"]["discount"] == (10 if levels["offer"] == "ten" else 0)
    # The same person, asked again by id: the same cell; no placement is touched.
    again = runtime.assign(ws.id, experiment_id, Who("p_0"))
    assert again == got[0]
    assert "experiment" not in decide(ws, "hero", userId="seed")["hero"]
    assert len(exposures(container, ws, experiment_id)) == 80


def test_stopping_gives_everyone_the_placement_again(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    experiment_id = running(ws)
    _identify(ws, "zed")
    assert variant_of(ws, userId="zed") is not None
    r = ws.client.post(f"/v1/experiments/{experiment_id}/stop", headers=ws.admin)
    assert r.status_code == 200 and r.json()["status"] == "stopped"
    assert variant_of(ws, userId="zed") is None


def test_erasing_a_person_erases_their_exposures(container: Container, ws: Workspace) -> None:
    shop(container, ws)
    experiment_id = running(ws)
    variant_of(ws, anonymousId="anon-e")
    _identify(ws, "eve", anonymous="anon-e")
    _identify(ws, "max")
    variant_of(ws, userId="eve")
    variant_of(ws, userId="max")
    variant_of(ws, userId="newbie")  # asked for before the person had a profile
    _identify(ws, "newbie")
    assert len(exposures(container, ws, experiment_id)) == 3
    for user in ("eve", "newbie"):
        r = ws.client.delete(f"/v1/profiles/user_id:{user}", headers=ws.admin)
        assert r.status_code == 200, r.text
    assert [r["user_id"] for r in exposures(container, ws, experiment_id)] == ["max"]


def test_a_variant_given_by_profile_alone_follows_the_person_into_a_merge(
    container: Container, ws: Workspace
) -> None:
    shop(container, ws)
    experiment_id = running(
        ws,
        target={"key": "welcome_email"},
        variants=[
            {"name": "A", "payload": {"subject": "Hello"}},
            {"name": "B", "payload": {"subject": "Welcome"}},
        ],
    )
    runtime = container.experiments.runtime
    # Visitors known by an anonymous id only, each given a variant by profile (an e-mail
    # step knows the profile, not the browser); then each logs in to an existing account.
    merged = 0
    for i in range(12):
        ws.send("track", {"anonymousId": f"anon-{i}", "event": "Newsletter Viewed"})
        visitor = str(get(ws, f"anonymous_id:anon-{i}")["profile_id"])
        first = runtime.assign(ws.id, "welcome_email", Who(visitor))
        assert first is not None
        _identify(ws, f"member-{i}", plan="gold")
        account = str(get(ws, f"user_id:member-{i}")["profile_id"])
        _identify(ws, f"member-{i}", anonymous=f"anon-{i}")
        survivor = str(get(ws, f"anonymous_id:anon-{i}")["profile_id"])
        merged += survivor != visitor
        assert survivor in (visitor, account)
        again = runtime.assign(ws.id, "welcome_email", Who(survivor, f"member-{i}"))
        assert again is not None and again["variant"] == first["variant"]
    assert merged == 12  # the accounts survived: the lookups went through the merge
    rows = exposures(container, ws, experiment_id)
    assert len(rows) == 12
