"""The admin API around collection: dead letters, stats, and its own bad input."""

from __future__ import annotations

import pytest

from tests.conftest import Workspace
from tests.web.helpers import error_of, ok


def test_dead_letters_page_newest_first(ws: Workspace) -> None:
    for i in range(5):
        error_of(ws.send("track", {"event": f"No id {i}"}), 400)
    first = ok(ws.client.get("/v1/dead-letters", params={"limit": 2}, headers=ws.admin))
    assert [d["payload"] for d in first["dead_letters"]] == [
        '{"event":"No id 4"}',
        '{"event":"No id 3"}',
    ]
    assert first["dead_letters"][0]["received_at"] == "2026-01-15T10:00:00.000Z"
    rest = ok(
        ws.client.get(
            "/v1/dead-letters",
            params={"limit": 10, "before": first["next_before"]},
            headers=ws.admin,
        )
    )
    assert [d["payload"] for d in rest["dead_letters"]] == [
        '{"event":"No id 2"}',
        '{"event":"No id 1"}',
        '{"event":"No id 0"}',
    ]
    assert rest["next_before"] is None


def test_daily_stats_count_accepted_events(ws: Workspace) -> None:
    batch = {
        "batch": [
            {"type": "track", "userId": "u1", "event": "E"},
            {"type": "track", "userId": "u2", "event": "E"},
            {"type": "page", "userId": "u1"},
            {"type": "track", "event": "no id"},
        ]
    }
    ok(ws.send("batch", batch))
    days = ok(ws.client.get("/v1/stats/events", headers=ws.admin))["days"]
    assert {(d["day"], d["type"], d["name"], d["count"]) for d in days} == {
        ("2026-01-15", "track", "E", 2),
        ("2026-01-15", "page", "", 1),
    }


@pytest.mark.parametrize(
    ("path", "field"),
    [
        ("/v1/profiles/user_id:a%00b", "ref"),
        ("/v1/profiles/p_%00/export", "ref"),
        ("/v1/consent/anonymous_id:%00", "ref"),
        ("/v1/profiles?cursor=%00", "cursor"),
        ("/v1/profiles?trait.plan=gold%00", "trait.plan"),
        ("/v1/profiles?trait.pl%00an=gold", "trait.pl\x00an"),
    ],
)
def test_nul_in_admin_parameters_is_400(ws: Workspace, path: str, field: str) -> None:
    # These used to reach PostgreSQL, which cannot hold NUL: a 500 there, a 404 on SQLite.
    error = error_of(ws.client.get(path, headers=ws.admin), 400)
    assert error["field"] == field


def test_erasing_by_a_ref_with_nul_is_400(ws: Workspace) -> None:
    error = error_of(ws.client.delete("/v1/profiles/user_id:%00", headers=ws.admin), 400)
    assert error == {
        "code": "invalid_input",
        "message": "parameters cannot contain NUL characters",
        "field": "ref",
    }


@pytest.mark.parametrize(
    ("patch", "field"),
    [
        ({"languages": ["it\u0000"]}, "languages[0]"),
        ({"languages": ["not a tag"]}, "languages[0]"),
        ({"timezone": "Mars/Olympus"}, "timezone"),
        ({"timezone": "Europe/Rome\u0000"}, "timezone"),
        ({"consent_defaults": {"telepathy": True}}, "consent_defaults"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_workspace_settings_are_4xx_with_the_field(
    ws: Workspace, patch: dict[str, object], field: str
) -> None:
    response = ws.client.patch("/v1/workspace", json=patch, headers=ws.admin)
    assert response.status_code in (400, 422), response.text
    error = error_of(response, response.status_code)
    assert error["field"] == field
    assert ok(ws.client.get("/v1/workspace", headers=ws.admin))["settings"]["languages"] == ["en"]


def test_good_workspace_settings_are_saved(ws: Workspace) -> None:
    patch = {"languages": ["it", "pt-BR"], "timezone": "Europe/Rome"}
    settings = ok(ws.client.patch("/v1/workspace", json=patch, headers=ws.admin))["settings"]
    assert (settings["languages"], settings["timezone"]) == (["it", "pt-BR"], "Europe/Rome")


def test_unknown_routes_and_methods_have_the_error_shape(ws: Workspace) -> None:
    assert error_of(ws.client.get("/v1/nothing-here"), 404)["code"] == "not_found"
    assert error_of(ws.client.get("/v1/track"), 405)["code"] == "method_not_allowed"
    bad_limit = ws.client.get("/v1/profiles", params={"limit": 0}, headers=ws.admin)
    assert error_of(bad_limit, 422)["field"] == "limit"
    not_json = ws.client.patch(
        "/v1/workspace", content=b"{nope", headers={**ws.admin, "Content-Type": "application/json"}
    )
    assert error_of(not_json, 422)["code"] == "invalid_input"
