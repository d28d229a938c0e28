"""API keys: write keys only send events, secret keys only reach the admin API."""

from __future__ import annotations

import base64
from typing import Any

import pytest

from tests.conftest import Workspace
from tests.web.helpers import error_of, ok
from unico.container import Container

COLLECT = ["track", "identify", "page", "screen", "group", "alias", "batch", "consent"]
BODIES: dict[str, dict[str, Any]] = {
    "batch": {"batch": [{"type": "track", "userId": "u1", "event": "E"}]},
    "consent": {"userId": "u1", "purposes": {"marketing": True}},
}
MESSAGE = {"userId": "u1", "event": "E", "groupId": "g", "previousId": "p"}


def body_for(kind: str) -> dict[str, Any]:
    return BODIES.get(kind, MESSAGE)


@pytest.mark.parametrize("kind", COLLECT)
def test_every_collect_endpoint_needs_a_write_key(
    ws: Workspace, kind: str, subtests: pytest.Subtests
) -> None:
    with subtests.test("no key"):
        response = ws.client.post(f"/v1/{kind}", json=body_for(kind))
        error = error_of(response, 401)
        assert (error["code"], error["field"]) == ("unauthorized", "writeKey")
        assert response.headers["www-authenticate"].startswith("Basic")
    with subtests.test("unknown key"):
        response = ws.client.post(f"/v1/{kind}", json=body_for(kind), auth=("wk_nope", ""))
        assert error_of(response, 401)["message"] == "unknown or revoked write key"
    with subtests.test("secret key as Basic user"):
        response = ws.client.post(
            f"/v1/{kind}", json=body_for(kind), auth=(ws.created.secret_key, "")
        )
        assert error_of(response, 403)["code"] == "wrong_key_kind"
    with subtests.test("secret key in the body"):
        response = ws.client.post(
            f"/v1/{kind}", json={**body_for(kind), "writeKey": ws.created.secret_key}
        )
        assert error_of(response, 403)["code"] == "wrong_key_kind"
    with subtests.test("the write key works"):
        ok(ws.send(kind, body_for(kind)))


def test_the_write_key_also_works_as_a_bearer_token(ws: Workspace) -> None:
    response = ws.client.post(
        "/v1/track",
        json=MESSAGE,
        headers={"Authorization": f"Bearer {ws.created.write_key}"},
    )
    assert ok(response)["accepted"] == 1


def test_an_empty_basic_user_falls_back_to_the_body_key(ws: Workspace) -> None:
    response = ws.client.post(
        "/v1/track", json={**MESSAGE, "writeKey": ws.created.write_key}, auth=("", "")
    )
    assert ok(response)["accepted"] == 1


@pytest.mark.parametrize(
    "header",
    [
        b"Basic not-base64!!",
        b"Basic " + base64.b64encode(b"\xff\xfe:"),  # not UTF-8 once decoded
        "Basic é".encode("latin-1"),  # not ASCII: used to be a 500
        b"Digest username=x",
        b"Token abc",
    ],
)
def test_broken_authorization_headers_are_401(ws: Workspace, header: bytes) -> None:
    headers = {b"Authorization": header}
    collect = ws.client.post("/v1/track", json=MESSAGE, headers=headers)
    assert error_of(collect, 401)["field"] == "authorization"
    admin = ws.client.get("/v1/profiles", headers=headers)
    assert error_of(admin, 401)["field"] == "authorization"


def test_the_admin_api_needs_the_secret_key(ws: Workspace, subtests: pytest.Subtests) -> None:
    for path in ("/v1/profiles", "/v1/workspace", "/v1/dead-letters", "/v1/stats/events"):
        with subtests.test(path=path, key="none"):
            error_of(ws.client.get(path), 401)
        with subtests.test(path=path, key="unknown"):
            error_of(ws.client.get(path, headers={"Authorization": "Bearer sk_nope"}), 401)
        with subtests.test(path=path, key="write"):
            bearer = {"Authorization": f"Bearer {ws.created.write_key}"}
            error = error_of(ws.client.get(path, headers=bearer), 403)
            assert (error["code"], error["field"]) == ("wrong_key_kind", "authorization")
            basic = ws.client.get(path, auth=(ws.created.write_key, ""))
            assert error_of(basic, 403)["code"] == "wrong_key_kind"
        with subtests.test(path=path, key="secret"):
            ok(ws.client.get(path, headers=ws.admin))


def test_another_workspaces_secret_key_sees_nothing_here(
    ws: Workspace, container: Container
) -> None:
    ok(ws.send("track", {"userId": "u1", "event": "E"}))
    other = container.workspaces.create("other")
    response = ws.client.get(
        "/v1/profiles/user_id:u1", headers={"Authorization": f"Bearer {other.secret_key}"}
    )
    assert error_of(response, 404)["code"] == "not_found"


def test_a_rotated_key_stops_working(ws: Workspace, container: Container) -> None:
    ok(ws.send("track", MESSAGE))
    new_key = container.workspaces.rotate_key(ws.id, "write")
    assert error_of(ws.send("track", MESSAGE), 401)["code"] == "unauthorized"
    response = ws.client.post("/v1/track", json=MESSAGE, auth=(new_key, ""))
    assert ok(response)["accepted"] == 1
