"""Placements that target segments: an audience, per-segment experiences, and consent."""

from __future__ import annotations

from tests.conftest import Workspace
from tests.decide.helpers import ask, create_placement, decide, ids, stock
from tests.segments.helpers import create
from unico.container import Container


def _identify(ws: Workspace, user: str, **traits: object) -> None:
    r = ws.send("identify", {"userId": user, "traits": traits})
    assert r.status_code == 200, r.text


def _segments(ws: Workspace) -> None:
    create(ws, "italians", 'traits.country == "IT"')
    create(ws, "vip", 'traits.tier == "gold"')


def test_segment_targets_give_members_their_own_experience(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    _segments(ws)
    create_placement(
        ws,
        name="hero",
        strategy="manual",
        items=["t1", "t2"],
        size=2,
        targets=[
            {"segment": "vip", "items": ["s3", "s2"]},
            {"segment": "italians", "items": ["s1", "s4"]},
        ],
    )
    _identify(ws, "ada", country="IT")
    _identify(ws, "bo", country="IT", tier="gold")
    _identify(ws, "cy", country="FR")
    ada, bo, cy = (decide(ws, "hero", userId=u)["hero"] for u in ("ada", "bo", "cy"))
    assert ids(ada) == ["s1", "s4"] and ada["explanation"]["segment"] == "italians"
    assert ids(bo) == ["s3", "s2"] and bo["explanation"]["segment"] == "vip"  # first target wins
    assert ids(cy) == ["t1", "t2"] and "segment" not in cy["explanation"]
    _identify(ws, "ada", country="FR")  # membership is real time: she leaves "italians"
    assert ids(decide(ws, "hero", userId="ada")["hero"]) == ["t1", "t2"]


def test_an_audience_limits_personalization_to_its_members(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    _segments(ws)
    create_placement(
        ws,
        name="offers",
        strategy="manual",
        items=["s3"],
        size=1,
        default_items=["t1"],
        audience={"segments": ["italians"], "exclude": ["vip"]},
    )
    _identify(ws, "ada", country="IT")
    _identify(ws, "bo", country="IT", tier="gold")
    ada, bo = (decide(ws, "offers", userId=u)["offers"] for u in ("ada", "bo"))
    assert (ids(ada), ada["is_default"]) == (["s3"], False)
    assert (ids(bo), bo["is_default"]) == (["t1"], True)
    assert "audience" in bo["explanation"]["reason"]
    stranger = decide(ws, "offers", anonymousId="nobody")["offers"]
    assert stranger["is_default"] is True


def test_without_personalization_consent_segments_do_not_count(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    _segments(ws)
    create_placement(
        ws,
        name="hero",
        strategy="manual",
        items=["t1"],
        size=1,
        targets=[{"segment": "italians", "items": ["s1"]}],
    )
    _identify(ws, "ada", country="IT")
    assert ids(decide(ws, "hero", userId="ada")["hero"]) == ["s1"]
    r = ws.send(
        "track",
        {"userId": "ada", "event": "Consent Updated", "properties": {"personalization": False}},
    )
    assert r.status_code == 200, r.text
    withdrawn = decide(ws, "hero", userId="ada")["hero"]
    assert ids(withdrawn) == ["t1"] and "segment" not in withdrawn["explanation"]


def test_targeting_names_only_existing_segments_and_items(
    container: Container, ws: Workspace
) -> None:
    stock(container, ws)
    _segments(ws)
    base = {"name": "p", "strategy": "popular", "size": 2}
    cases = [
        ({"targets": [{"segment": "nope", "strategy": "popular"}]}, "targets[0].segment"),
        ({"targets": [{"segment": "vip", "items": ["missing"]}]}, "targets[0].items[0]"),
        ({"audience": {"segments": ["vip", "ghosts"]}}, "audience.segments[1]"),
        ({"targets": [{"segment": "vip"}]}, "targets[0]"),
        ({"audience": {}}, "audience"),
    ]
    for extra, field in cases:
        r = ws.client.post("/v1/placements", json={**base, **extra}, headers=ws.admin)
        assert 400 <= r.status_code < 500, (extra, r.text)
        assert r.json()["error"]["field"] == field, (extra, r.json())
    assert ask(ws, "p", userId="x").status_code == 404  # nothing was saved
