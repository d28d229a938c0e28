"""What the browser tracking libraries send: analytics.js 2.0's one-letter paths (``/v1/t``,
``/v1/b``...), RudderStack's beacon path, ``text/plain`` bodies, their extra fields and
headers, and the CORS preflights they make. An alias answers exactly as its long path."""

from __future__ import annotations

import base64
import gzip
import secrets
from dataclasses import dataclass
from typing import Any

import orjson
import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient

from tests.conftest import Workspace
from tests.web.helpers import dead_letters, error_of, events_of, ok, retried_by_trackers
from unico.container import Container
from unico.web import collect
from unico.web.cors import PUBLIC_PATHS

ORIGIN = "https://shop.example"
#: Each one-letter path of analytics.js 2.0 and the long path it stands for.
SHORT = {
    "/v1/t": "/v1/track",
    "/v1/i": "/v1/identify",
    "/v1/p": "/v1/page",
    "/v1/s": "/v1/screen",
    "/v1/g": "/v1/group",
    "/v1/a": "/v1/alias",
    "/v1/b": "/v1/batch",
}
COLLECTION_PATHS = [*SHORT, *SHORT.values(), "/beacon/v1/batch", "/v1/consent"]
#: What analytics.js's preflights ask for (first send, then a retry), and RudderStack's
#: (an XHR, then a retry of one).
REQUESTED_HEADERS = [
    "authorization",
    "authorization,x-retry-count",
    "accept,anonymousid,authorization,content-type,sentat",
    "accept,anonymousid,authorization,content-type,rsa-retry-attempt,rsa-retry-reason,"
    "rsa-since-first-attempt,rsa-since-last-attempt,sentat",
]


def message(kind: str, n: int = 1) -> dict[str, Any]:
    """A valid message for ``kind``'s endpoint, with a fixed messageId."""
    base: dict[str, Any] = {"anonymousId": "anon-1", "userId": "u1", "messageId": f"m-{n}"}
    fields = {
        "track": {"event": "Product Viewed", "properties": {"sku": "A-1"}},
        "identify": {"traits": {"email": "ada@example.com"}},
        "page": {"name": "Home", "properties": {"path": "/"}},
        "screen": {"name": "Cart"},
        "group": {"groupId": "acme", "traits": {"size": 5}},
        "alias": {"previousId": "anon-1"},
    }
    if kind == "batch":
        return {"batch": [{**message(k, n * 10 + i), "type": k} for i, k in enumerate(fields)]}
    return {**base, **fields[kind]}


@dataclass
class Case:
    """One request, sent the same way to a long path and to its alias."""

    body: bytes
    headers: dict[str, str]
    key: str = "write"  # which key goes as Basic auth: write, secret, none


def cases(long_path: str) -> dict[str, Case]:
    kind = long_path.removeprefix("/v1/")
    valid = orjson.dumps(message(kind))
    plain = {"Content-Type": "text/plain"}
    found = {
        "valid": Case(valid, plain),
        "valid, gzip": Case(gzip.compress(valid), {**plain, "Content-Encoding": "gzip"}),
        "valid, as JSON": Case(valid, {"Content-Type": "application/json"}),
        "no key": Case(valid, plain, key="none"),
        "a secret key": Case(valid, plain, key="secret"),
        "malformed JSON": Case(b'{"userId": ', plain),
        "empty body": Case(b"", plain),
        "not an object": Case(b"[1, 2]", plain),
        "unknown encoding": Case(valid, {**plain, "Content-Encoding": "br"}),
        "body over the limit": Case(b" " * (500 * 1024 + 1), plain),
    }
    if kind == "batch":
        big = {"type": "track", "userId": "u1", "event": "E", "properties": {"s": "x" * 8000}}
        found["some invalid"] = Case(
            orjson.dumps({"batch": [*message("batch")["batch"], {"type": "track"}]}), plain
        )
        found["all invalid"] = Case(orjson.dumps({"batch": [{"type": "teleport"}]}), plain)
        found["too many"] = Case(orjson.dumps({"batch": [{"type": "track"}] * 2501}), plain)
        found["an event over the limit"] = Case(
            orjson.dumps(
                {"batch": [{**big, "properties": {f"k{i}": "x" * 8000 for i in range(5)}}]}
            ),
            plain,
        )
    else:
        found["no id"] = Case(orjson.dumps({"event": "E", "name": "N"}), plain)
        found["another type"] = Case(
            orjson.dumps({**message(kind), "type": "screen" if kind != "screen" else "page"}), plain
        )
        found["an event over the limit"] = Case(
            orjson.dumps({**message(kind), "properties": {f"k{i}": "x" * 8000 for i in range(5)}}),
            plain,
        )
    return found


def send(ws: Workspace, path: str, case: Case) -> Any:
    headers = dict(case.headers)
    key = {"write": ws.created.write_key, "secret": ws.created.secret_key}.get(case.key)
    if key is not None:
        headers["Authorization"] = "Basic " + base64.b64encode(f"{key}:".encode()).decode()
    return ws.client.post(path, content=case.body, headers=headers)


def fresh(container: Container, client: TestClient) -> Workspace:
    return Workspace(container.workspaces.create(f"paths-{secrets.token_hex(3)}"), client)


def outcome(ws: Workspace, response: Any) -> dict[str, Any]:
    """Everything a caller can see of a request: the answer, what was stored, what was
    dead-lettered."""
    return {
        "status": response.status_code,
        "content-type": response.headers.get("content-type"),
        "retry-after": response.headers.get("retry-after"),
        "body": response.json(),
        "events": [e for ref in ("user_id:u1",) for e in _events(ws, ref)],
        "dead letters": [(d["code"], d["field"], d["reason"]) for d in dead_letters(ws)],
    }


def _events(ws: Workspace, ref: str) -> list[dict[str, Any]]:
    found = ws.client.get(f"/v1/profiles/{ref}/export", headers=ws.admin)
    return [] if found.status_code == 404 else events_of(ws, ref)


@pytest.mark.parametrize(("short", "long"), SHORT.items())
def test_an_alias_answers_stores_and_refuses_exactly_as_its_long_path(
    container: Container, client: TestClient, short: str, long: str, subtests: pytest.Subtests
) -> None:
    for name, case in cases(long).items():
        with subtests.test(case=name):
            by_long, by_short = fresh(container, client), fresh(container, client)
            answer = send(by_long, long, case)
            expected = outcome(by_long, answer)
            assert outcome(by_short, send(by_short, short, case)) == expected
            if name.startswith("valid") or name == "some invalid":
                assert expected["status"] == 200 and expected["events"], expected
            else:  # refused for good: no library sends it again
                assert not retried_by_trackers(answer), expected


def test_the_beacon_path_is_the_batch_with_the_key_in_the_query(
    container: Container, client: TestClient, subtests: pytest.Subtests
) -> None:
    for name, case in cases("/v1/batch").items():
        with subtests.test(case=name):
            by_batch, by_beacon = fresh(container, client), fresh(container, client)
            expected = outcome(by_batch, send(by_batch, "/v1/batch", case))
            key = {"write": by_beacon.created.write_key, "secret": by_beacon.created.secret_key}
            path = "/beacon/v1/batch"
            if case.key in key:
                path += f"?writeKey={key[case.key]}"
            beacon = by_beacon.client.post(path, content=case.body, headers=case.headers)
            assert outcome(by_beacon, beacon) == expected


def test_the_beacon_path_refuses_an_unknown_key(ws: Workspace) -> None:
    response = ws.client.post(
        "/beacon/v1/batch?writeKey=wk_nobody", content=orjson.dumps(message("batch"))
    )
    assert error_of(response, 401)["field"] == "writeKey"


@pytest.mark.parametrize("path", COLLECTION_PATHS)
def test_every_collection_path_takes_json_sent_as_text_plain(ws: Workspace, path: str) -> None:
    """``fetch`` and ``sendBeacon`` send a string as ``text/plain``; it holds JSON all the same."""
    long = SHORT.get(path, path).removeprefix("/beacon")
    kind = long.removeprefix("/v1/")
    body = {"userId": "u1", "purposes": {"marketing": True}} if kind == "consent" else message(kind)
    body["writeKey"] = ws.created.write_key
    response = ws.client.post(
        path, content=orjson.dumps(body), headers={"Content-Type": "text/plain;charset=UTF-8"}
    )
    assert ok(response)["accepted"] >= 1
    assert events_of(ws, "user_id:u1")


def test_what_analytics_js_sends_is_stored(ws: Workspace) -> None:
    """A message as analytics.js 2.0 sends it (writeKey, sentAt and _metadata in the body)."""
    sent = {
        "timestamp": "2026-01-15T09:59:59.000Z",
        "integrations": {"Segment.io": True},
        "type": "identify",
        "userId": "ada",
        "traits": {"email": "Ada@Example.com"},
        "context": {
            "page": {"path": "/", "url": "https://shop.example/"},
            "userAgentData": {"brands": [{"brand": "Chromium", "version": "156"}]},
            "library": {"name": "analytics.js", "version": "next-1.84.3"},
        },
        "messageId": "ajs-next-1768471199000-75cf7c66-d412-48c2-9f0c-02fa77eb3d6f",
        "anonymousId": "0775cf7c-66d4-4208-82df-0c02fa77eb3d",
        "writeKey": ws.created.write_key,
        "sentAt": "2026-01-15T10:00:00.000Z",
        "_metadata": {"bundled": ["Segment.io"], "unbundled": [], "bundledIds": []},
    }
    response = ws.client.post(
        "/v1/i",
        content=orjson.dumps(sent),
        headers={"Content-Type": "text/plain", "X-Retry-Count": "1", "Origin": ORIGIN},
        auth=(ws.created.write_key, ""),
    )
    assert ok(response)["accepted"] == 1
    [stored] = events_of(ws, "user_id:ada")
    assert stored["message_id"] == sent["messageId"]
    assert stored["traits"] == {"email": "Ada@Example.com"}
    assert stored["timestamp"] == "2026-01-15T09:59:59.000Z"


def test_what_rudderstack_sends_is_stored(ws: Workspace) -> None:
    """A batch as RudderStack's JavaScript SDK sends it: its headers, channel, originalTimestamp."""
    event = {
        "properties": {"sku": "A-1"},
        "event": "Product Viewed",
        "type": "track",
        "channel": "web",
        "context": {"library": {"name": "RudderLabs JavaScript SDK", "version": "3.34.1"}},
        "originalTimestamp": "2026-01-15T09:59:58.000Z",
        "messageId": "c9dfdadc-ca0f-4185-bb53-52ed463d1016",
        "anonymousId": "4e1ed9d0-82a2-4d4a-b221-e55ff21a244a",
        "userId": "ada",
        "integrations": {"All": True},
        "sentAt": "2026-01-15T10:00:00.000Z",
    }
    response = ws.client.post(
        "/v1/batch",
        content=orjson.dumps({"batch": [event], "sentAt": "2026-01-15T10:00:00.000Z"}),
        headers={
            "Content-Type": "application/json;charset=UTF-8",
            "Accept": "application/json",
            "AnonymousId": base64.b64encode(event["anonymousId"].encode()).decode(),
            "SentAt": "2026-01-15T10:00:00.000Z",
            "Rsa-Retry-Attempt": "1",
            "Rsa-Retry-Reason": "server-503",
        },
        auth=(ws.created.write_key, ""),
    )
    assert ok(response)["accepted"] == 1
    [stored] = events_of(ws, "user_id:ada")
    assert (stored["message_id"], stored["name"]) == (event["messageId"], "Product Viewed")
    assert stored["timestamp"] == "2026-01-15T09:59:58.000Z"


def preflight(client: TestClient, path: str, headers: str) -> Any:
    return client.options(
        path,
        headers={
            "Origin": ORIGIN,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": headers,
        },
    )


@pytest.mark.parametrize("path", [*SHORT, *SHORT.values(), "/beacon/v1/batch"])
def test_the_libraries_preflights_are_answered(client: TestClient, path: str) -> None:
    for requested in REQUESTED_HEADERS:
        answer = preflight(client, path, requested)
        assert answer.status_code == 200, (requested, answer.text)
        assert answer.headers["access-control-allow-origin"] == "*"
        assert "POST" in answer.headers["access-control-allow-methods"]
        allowed = {
            h.strip().lower() for h in answer.headers["access-control-allow-headers"].split(",")
        }
        assert set(requested.split(",")) <= allowed
        assert int(answer.headers["access-control-max-age"]) >= 600
        assert "access-control-allow-credentials" not in answer.headers


def test_a_page_on_another_origin_can_read_every_answer_and_its_retry_after(
    ws: Workspace,
) -> None:
    """Without these headers the browser hides the status, and a library cannot tell a
    refusal (dropped) from a network failure (retried)."""
    for path, body in (("/v1/t", message("track")), ("/v1/t", {"event": "no id"})):
        response = ws.client.post(
            path,
            content=orjson.dumps(body),
            headers={"Origin": ORIGIN, "Content-Type": "text/plain"},
            auth=(ws.created.write_key, ""),
        )
        assert response.headers["access-control-allow-origin"] == "*"
        assert response.headers["access-control-expose-headers"] == "Retry-After"


def test_every_write_key_route_answers_preflights(client: TestClient) -> None:
    """A route added to the tracking API without CORS would be unusable from a page."""
    posted = {
        route.path
        for route in collect.router.routes
        if isinstance(route, APIRoute) and "POST" in route.methods
    }
    assert posted <= PUBLIC_PATHS, posted - PUBLIC_PATHS
    assert set(SHORT) | {"/beacon/v1/batch"} <= posted


def test_the_aliases_stay_out_of_the_openapi_document(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    assert "/v1/track" in paths and "/v1/batch" in paths
    assert not {*SHORT, "/beacon/v1/batch"} & set(paths)
