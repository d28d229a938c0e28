"""When the store is slow, full or gone: 429 or 503 with Retry-After (which the tracking libraries
retry), the error shape, and recovery."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from fastapi.testclient import TestClient

from tests.collect.events import stored_message_ids
from tests.collect.store_lock import hold_write_lock
from tests.web.helpers import error_of, ok, retried_by_trackers
from unico.container import Container
from unico.core.clock import ManualClock
from unico.core.settings import load_settings
from unico.web.app import create_app


@pytest.fixture
def impatient_client(database_url: str, clock: ManualClock) -> Iterator[TestClient]:
    """A client of an app whose requests wait at most 0.3 s for their commit."""
    settings = load_settings(
        database_url=database_url,
        auto_migrate=False,
        key_cache_seconds=0,
        ingest_timeout_seconds=0.3,
    )
    with TestClient(create_app(Container.build(settings, clock))) as client:
        yield client


def test_a_commit_that_takes_too_long_is_503_and_a_retry_is_safe(
    impatient_client: TestClient, database_url: str
) -> None:
    container: Container = impatient_client.app.state.container  # type: ignore[attr-defined]
    keys = container.workspaces.create("slow")
    message = {"userId": "u1", "event": "E", "messageId": "retry-me"}
    auth = (keys.write_key, "")
    with hold_write_lock(database_url):
        response = impatient_client.post("/v1/track", json=message, auth=auth)
        error = error_of(response, 503)
        assert response.headers["retry-after"] == "1"
        assert error["code"] == "overloaded"
        assert retried_by_trackers(response)
    retried = impatient_client.post("/v1/track", json=message, auth=auth)
    body = ok(retried)
    assert body["accepted"] + body["duplicates"] == 1
    assert ok(impatient_client.post("/v1/track", json={**message, "messageId": "next"}, auth=auth))
    assert stored_message_ids(container, keys.workspace_id) == {"retry-me": 1, "next": 1}


def test_an_unreachable_store_is_503_not_500(tmp_path: Path, clock: ManualClock) -> None:
    # A directory cannot be opened as a database: every query fails to connect.
    url = f"sqlite:///{tmp_path}"
    settings = load_settings(database_url=url, auto_migrate=False, key_cache_seconds=0)
    with TestClient(create_app(Container.build(settings, clock))) as client:
        track = client.post("/v1/track", json={"userId": "u", "event": "E"}, auth=("wk_x", ""))
        assert error_of(track, 503)["code"] == "store_unavailable"
        assert track.headers["retry-after"] == "1"
        assert retried_by_trackers(track)
        profiles = client.get("/v1/profiles", headers={"Authorization": "Bearer sk_x"})
        assert error_of(profiles, 503)["code"] == "store_unavailable"


def test_a_full_ingest_queue_is_429_with_a_retry_after_a_page_can_read(
    database_url: str, clock: ManualClock
) -> None:
    """One batch larger than the whole queue: refused at once, nothing of it stored, and
    the answer readable by a page on another origin (which may then wait as it says)."""
    settings = load_settings(
        database_url=database_url,
        auto_migrate=False,
        key_cache_seconds=0,
        ingest_queue_events=1000,
    )
    container = Container.build(settings, clock)
    with TestClient(create_app(container)) as client:
        keys = container.workspaces.create("full")
        batch = {"batch": [{"type": "track", "userId": "u1", "event": "E"}] * 1001}
        for path in ("/v1/batch", "/v1/b"):
            response = client.post(
                path,
                content=orjson.dumps(batch),
                headers={"Origin": "https://shop.example", "Content-Type": "text/plain"},
                auth=(keys.write_key, ""),
            )
            assert error_of(response, 429)["code"] == "queue_full"
            assert "queue is full" in response.json()["error"]["message"]
            assert response.headers["retry-after"] == "1"
            assert response.headers["access-control-allow-origin"] == "*"
            assert response.headers["access-control-expose-headers"] == "Retry-After"
            assert retried_by_trackers(response)
        assert stored_message_ids(container, keys.workspace_id) == {}
        # A batch the queue can take goes in.
        small = {"batch": batch["batch"][:10]}
        assert ok(client.post("/v1/b", json=small, auth=(keys.write_key, "")))["accepted"] == 10
