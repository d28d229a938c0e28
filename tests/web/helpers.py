"""Reading results back through the admin API, and checking error bodies."""

from __future__ import annotations

from typing import Any

import httpx
import httpx2

from tests.conftest import Workspace

#: The test client answers with httpx2 responses; real clients with httpx ones.
AnyResponse = httpx.Response | httpx2.Response


def error_of(response: AnyResponse, status: int) -> dict[str, Any]:
    """The ``{"code", "message", "field"}`` of an error response, after checking its shape."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message", "field"}, error
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    assert error["field"] is None or isinstance(error["field"], str)
    return dict(error)


def ok(response: AnyResponse) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def export(ws: Workspace, ref: str) -> dict[str, Any]:
    """Everything held on one person (GET /v1/profiles/{ref}/export)."""
    return ok(ws.client.get(f"/v1/profiles/{ref}/export", headers=ws.admin))


def events_of(ws: Workspace, ref: str) -> list[dict[str, Any]]:
    """The person's events, oldest first."""
    return list(reversed(export(ws, ref)["events"]))


def dead_letters(ws: Workspace) -> list[dict[str, Any]]:
    """Every dead letter of the workspace, oldest first."""
    letters: list[dict[str, Any]] = ok(
        ws.client.get("/v1/dead-letters", params={"limit": 500}, headers=ws.admin)
    )["dead_letters"]
    return list(reversed(letters))


def retried_by_trackers(response: AnyResponse) -> bool:
    """Whether analytics.js 2.0 and RudderStack's JavaScript SDK both send this again later
    (True), or both drop the events for good (False); an answer they disagree on fails.

    analytics.js retries a 429 (after its Retry-After) and a 5xx but 501, 505 and 511, and
    also 408, 410 and 460; RudderStack retries a 429 and everything but a 4xx.
    """
    status = response.status_code
    assert 400 <= status < 600, status
    if status == 429:
        assert response.headers.get("retry-after", "").isdigit(), response.headers
        return True
    assert status not in (408, 410, 460, 501, 505, 511), f"the libraries disagree on {status}"
    return status >= 500
