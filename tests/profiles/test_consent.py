"""Consent: defaults, every way a change arrives, history, last-writer-wins, enforcement at
collect, and `ProfileService.is_granted` as the one check for other contexts."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import T0, Workspace
from tests.profiles.helpers import HOUR, MINUTE, export, get, iso, list_all, send, status
from unico.container import Container
from unico.core.errors import InvalidInput
from unico.profiles import consent as rules
from unico.profiles.consent import DEFAULT_CONSENT, PURPOSES


def _consent(ws: Workspace, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    r = ws.client.post("/v1/consent", json=body, auth=(ws.created.write_key, ""), **kwargs)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def _granted(ws: Workspace, ref: str) -> dict[str, bool]:
    r = ws.client.get(f"/v1/consent/{ref}", headers=ws.admin)
    assert r.status_code == 200, r.text
    return {p: v["granted"] for p, v in r.json()["consent"].items()}


def _stats(ws: Workspace) -> dict[tuple[str, str, bool], int]:
    r = ws.client.get("/v1/stats/events", headers=ws.admin)
    assert r.status_code == 200, r.text
    return {(d["type"], d["name"], d["profiled"]): d["count"] for d in r.json()["days"]}


# -- the rules --------------------------------------------------------------------------------


def test_rules_last_writer_wins_and_merge_keeps_the_newer_decision() -> None:
    state: rules.ConsentState = {}
    assert rules.apply_change(state, "marketing", True, 200, "api")
    assert not rules.apply_change(state, "marketing", False, 100, "event")  # older
    assert not rules.apply_change(state, "marketing", True, 300, "event")  # no change
    assert rules.is_granted(state, DEFAULT_CONSENT, "marketing")
    assert rules.apply_change(state, "marketing", False, 300, "gpc")
    other = {"marketing": {"granted": True, "at": 400, "source": "api"}}
    assert rules.merge_states(state, other)["marketing"]["granted"] is True
    assert rules.merge_states(other, state)["marketing"]["at"] == 400
    with pytest.raises(ValueError, match="unknown purpose"):
        rules.is_granted(state, DEFAULT_CONSENT, "telepathy")


# -- through the API --------------------------------------------------------------------------


def test_workspace_defaults_apply_to_everyone_without_a_decision(
    ws: Workspace, container: Container
) -> None:
    assert _granted(ws, "user_id:nobody") == {
        "analytics": True,
        "personalization": True,
        "marketing": False,
        "soft_profiling": False,
        "sensors": False,
    }
    send(ws, "track", {"userId": "u1", "event": "Visit"})
    assert get(ws, "user_id:u1")["consent"]["marketing"] == {"granted": False, "default": True}
    r = ws.client.patch(
        "/v1/workspace",
        json={"consent_defaults": {"marketing": True, "personalization": False}},
        headers=ws.admin,
    )
    assert r.status_code == 200, r.text
    assert r.json()["settings"]["consent_defaults"]["marketing"] is True
    for person in ("user_id:u1", "user_id:nobody", get(ws, "user_id:u1")["profile_id"]):
        assert container.profiles.is_granted(ws.id, person, "marketing"), person
        assert not container.profiles.is_granted(ws.id, person, "personalization"), person
        assert container.profiles.is_granted(ws.id, person, "analytics"), person
    assert _granted(ws, "user_id:u1")["marketing"] is True


@pytest.mark.parametrize(
    "patch",
    [{"consent_defaults": {"telepathy": True}}, {"consent_defaults": {"marketing": "maybe"}}],
)
def test_bad_default_purposes_are_refused(ws: Workspace, patch: dict[str, Any]) -> None:
    r = ws.client.patch("/v1/workspace", json=patch, headers=ws.admin)
    assert 400 <= r.status_code < 500, r.text
    got = ws.client.get("/v1/workspace", headers=ws.admin).json()
    assert got["settings"]["consent_defaults"] == DEFAULT_CONSENT


def test_post_consent_by_user_or_anonymous_id(ws: Workspace, container: Container) -> None:
    out = _consent(ws, {"userId": "u1", "purposes": {"marketing": True, "sensors": True}})
    assert out["consent"]["marketing"]["granted"] is True
    assert out["consent"]["marketing"]["source"] == "api"
    assert out["consent"]["marketing"]["at"] == T0
    assert out["consent"]["soft_profiling"] == {"granted": False, "default": True}
    assert container.profiles.is_granted(ws.id, "user_id:u1", "sensors")

    out = _consent(ws, {"anonymousId": "a1", "purposes": {"personalization": False}})
    assert out["consent"]["personalization"]["granted"] is False
    assert not container.profiles.is_granted(ws.id, "anonymous_id:a1", "personalization")
    assert container.profiles.is_granted(ws.id, "anonymous_id:a1", "analytics")


@pytest.mark.parametrize(
    "body",
    [
        {"userId": "u1", "purposes": {"telepathy": True}},
        {"userId": "u1", "purposes": {"marketing": "yes"}},
        {"userId": "u1", "purposes": {}},
        {"userId": "u1", "purposes": ["marketing"]},
        {"userId": "u1"},
        {"purposes": {"marketing": True}},
        {"userId": "u1", "purposes": {"marketing": True}, "extra": 1},
    ],
)
def test_bad_consent_requests_are_4xx_and_change_nothing(
    ws: Workspace, body: dict[str, Any]
) -> None:
    r = ws.client.post("/v1/consent", json=body, auth=(ws.created.write_key, ""))
    assert 400 <= r.status_code < 500, r.text
    assert r.json()["error"]["field"]
    assert status(ws, "user_id:u1") == 404


def test_bad_consent_updated_event_is_4xx(ws: Workspace) -> None:
    r = ws.send(
        "track",
        {"userId": "u1", "event": "Consent Updated", "properties": {"purposes": {"x": True}}},
    )
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == "properties.purposes.x"


def test_consent_needs_the_write_key(ws: Workspace) -> None:
    body = {"userId": "u1", "purposes": {"marketing": True}}
    secret = ws.client.post("/v1/consent", json=body, auth=(ws.created.secret_key, ""))
    assert secret.status_code == 403
    assert ws.client.post("/v1/consent", json=body).status_code == 401
    assert status(ws, "user_id:u1") == 404


def test_every_source_of_change_is_kept_with_time_and_source(
    ws: Workspace, container: Container
) -> None:
    user = {"userId": "u1"}
    send(
        ws,
        "track",
        {
            **user,
            "event": "Consent Updated",
            "properties": {"purposes": {"marketing": True}},
            "timestamp": iso(T0 - 3 * HOUR),
        },
    )
    send(
        ws,
        "track",
        {
            **user,
            "event": "Consent Updated",
            "properties": {"soft_profiling": True, "label": "banner v2"},
            "timestamp": iso(T0 - 2 * HOUR),
        },
    )
    send(
        ws,
        "page",
        {
            **user,
            "timestamp": iso(T0 - HOUR),
            "context": {
                "consent": {"categoryPreferences": {"sensors": True, "Advertising": False}}
            },
        },
    )
    assert container.profiles.is_granted(ws.id, "user_id:u1", "marketing")
    send(ws, "page", {**user, "timestamp": iso(T0 - 30 * MINUTE)}, headers={"Sec-GPC": "1"})
    _consent(ws, {**user, "purposes": {"analytics": False}, "timestamp": iso(T0 - MINUTE)})

    history = [
        (c["purpose"], c["granted"], c["source"], c["at"])
        for c in export(ws, "user_id:u1")["consent_history"]
    ]
    assert history == [
        ("marketing", True, "event", iso(T0 - 3 * HOUR)),
        ("soft_profiling", True, "event", iso(T0 - 2 * HOUR)),
        ("sensors", True, "context", iso(T0 - HOUR)),
        ("marketing", False, "gpc", iso(T0 - 30 * MINUTE)),
        ("analytics", False, "api", iso(T0 - MINUTE)),
    ]
    assert _granted(ws, "user_id:u1") == {
        "analytics": False,
        "personalization": True,
        "marketing": False,
        "soft_profiling": True,
        "sensors": True,
    }


def test_gpc_overrides_a_grant_in_the_same_request(ws: Workspace, container: Container) -> None:
    _consent(ws, {"userId": "u1", "purposes": {"marketing": True}}, headers={"Sec-GPC": "1"})
    assert not container.profiles.is_granted(ws.id, "user_id:u1", "marketing")
    send(ws, "track", {"userId": "u2", "event": "Visit"}, headers={"Sec-GPC": "0"})
    assert get(ws, "user_id:u2")["consent"]["marketing"]["default"] is True


def test_an_older_change_never_overrides_a_newer_one(ws: Workspace, container: Container) -> None:
    _consent(ws, {"userId": "u1", "purposes": {"marketing": True}, "timestamp": iso(T0 - MINUTE)})
    _consent(ws, {"userId": "u1", "purposes": {"marketing": False}, "timestamp": iso(T0 - HOUR)})
    assert container.profiles.is_granted(ws.id, "user_id:u1", "marketing")
    history = export(ws, "user_id:u1")["consent_history"]
    assert [(c["granted"], c["at"]) for c in history] == [(True, iso(T0 - MINUTE))]
    _consent(ws, {"userId": "u1", "purposes": {"marketing": False}, "timestamp": iso(T0)})
    assert not container.profiles.is_granted(ws.id, "user_id:u1", "marketing")


def test_without_analytics_events_build_no_profile(ws: Workspace, container: Container) -> None:
    send(ws, "track", {"userId": "u1", "event": "Visit"})
    _consent(ws, {"userId": "u1", "purposes": {"analytics": False}})
    before = get(ws, "user_id:u1")["computed"]
    for _ in range(3):
        send(ws, "track", {"userId": "u1", "event": "Visit"})
    send(ws, "identify", {"userId": "u1", "anonymousId": "a-new", "traits": {"name": "Hidden"}})
    after = get(ws, "user_id:u1")
    assert after["computed"]["events"] == before["events"]
    assert after["traits"] == {}
    assert status(ws, "anonymous_id:a-new") == 404
    assert len(export(ws, "user_id:u1")["events"]) == before["events"]
    stats = _stats(ws)
    assert stats[("track", "Visit", False)] == 3
    assert stats[("track", "Visit", True)] == 1
    assert stats[("identify", "", False)] == 1


def test_without_a_default_analytics_grant_nobody_gets_a_profile(ws: Workspace) -> None:
    r = ws.client.patch(
        "/v1/workspace", json={"consent_defaults": {"analytics": False}}, headers=ws.admin
    )
    assert r.status_code == 200
    send(ws, "track", {"anonymousId": "a1", "event": "Visit"})
    send(ws, "identify", {"userId": "u1", "traits": {"email": "x@example.com"}})
    assert list_all(ws) == []
    assert _stats(ws) == {("track", "Visit", False): 1, ("identify", "", False): 1}
    # An explicit grant starts a profile, from that event on.
    _consent(ws, {"anonymousId": "a1", "purposes": {"analytics": True}})
    send(ws, "track", {"anonymousId": "a1", "event": "Visit"})
    computed = get(ws, "anonymous_id:a1")["computed"]
    assert computed["event_counts"] == {"Consent Updated": 1, "Visit": 1}


def test_a_withdrawal_for_an_unknown_person_is_remembered(
    ws: Workspace, container: Container
) -> None:
    _consent(ws, {"anonymousId": "a1", "purposes": {"analytics": False, "marketing": False}})
    assert not container.profiles.is_granted(ws.id, "anonymous_id:a1", "analytics")
    send(ws, "track", {"anonymousId": "a1", "event": "Visit"})
    profile = get(ws, "anonymous_id:a1")
    assert profile["computed"].get("events", 0) == 0
    assert profile["recent_events"] == []
    history = export(ws, "anonymous_id:a1")["consent_history"]
    assert {(c["purpose"], c["granted"]) for c in history} == {
        ("analytics", False),
        ("marketing", False),
    }
    # The same via a Consent Updated event and via categoryPreferences.
    send(
        ws,
        "track",
        {"anonymousId": "a2", "event": "Consent Updated", "properties": {"analytics": False}},
    )
    send(
        ws,
        "page",
        {
            "anonymousId": "a3",
            "context": {"consent": {"categoryPreferences": {"analytics": False}}},
        },
    )
    for ref in ("anonymous_id:a2", "anonymous_id:a3"):
        assert not container.profiles.is_granted(ws.id, ref, "analytics"), ref
        assert get(ws, ref)["computed"].get("events", 0) == 0


def test_merging_keeps_the_newer_decision_per_purpose(ws: Workspace, container: Container) -> None:
    _consent(
        ws,
        {
            "userId": "u1",
            "purposes": {"marketing": False, "sensors": True},
            "timestamp": iso(T0 - HOUR),
        },
    )
    _consent(
        ws, {"anonymousId": "a1", "purposes": {"marketing": True}, "timestamp": iso(T0 - MINUTE)}
    )
    _consent(
        ws, {"anonymousId": "a1", "purposes": {"sensors": False}, "timestamp": iso(T0 - 2 * HOUR)}
    )
    send(ws, "identify", {"userId": "u1", "anonymousId": "a1"})
    assert get(ws, "anonymous_id:a1")["profile_id"] == get(ws, "user_id:u1")["profile_id"]
    assert container.profiles.is_granted(ws.id, "user_id:u1", "marketing")
    assert container.profiles.is_granted(ws.id, "anonymous_id:a1", "sensors")
    history = export(ws, "user_id:u1")["consent_history"]
    assert len(history) == 4  # both profiles' changes are kept


def test_is_granted_refuses_unknown_purposes(ws: Workspace, container: Container) -> None:
    with pytest.raises(InvalidInput):
        container.profiles.is_granted(ws.id, "user_id:u1", "telepathy")
    for purpose in PURPOSES:
        assert (
            container.profiles.is_granted(ws.id, "user_id:u1", purpose) is DEFAULT_CONSENT[purpose]
        )
