"""Helpers for the segments tests: define segments, read members and segment events."""

from __future__ import annotations

from typing import Any

from tests.conftest import Workspace
from tests.profiles.helpers import get, ref_path, send
from unico.container import Container

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

__all__ = ["DAY", "HOUR", "MINUTE", "get", "send"]


def create(ws: Workspace, name: str, condition: str | None, **extra: Any) -> dict[str, Any]:
    """Create a segment; assert it was created."""
    body = {"name": name, "condition": condition, **extra}
    r = ws.client.post("/v1/segments", json=body, headers=ws.admin)
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def track(ws: Workspace, user: str, event: str, **properties: Any) -> None:
    send(ws, "track", {"userId": user, "event": event, "properties": properties})


def pid(ws: Workspace, user: str) -> str:
    found: str = get(ws, f"user_id:{user}")["profile_id"]
    return found


def segments_of(ws: Workspace, ref: str) -> set[str]:
    """Names of the segments the API lists for a person."""
    r = ws.client.get(f"/v1/profiles/{ref_path(ref)}/segments", headers=ws.admin)
    assert r.status_code == 200, r.text
    return {s["name"] for s in r.json()["segments"]}


def member_ids(ws: Workspace, segment: str) -> set[str]:
    r = ws.client.get(f"/v1/segments/{segment}/members", headers=ws.admin)
    assert r.status_code == 200, r.text
    return {m["profile_id"] for m in r.json()["members"]}


def segment_events(container: Container, ws: Workspace, profile_id: str) -> list[dict[str, Any]]:
    """The person's Segment Entered / Exited events, oldest first."""
    with container.store.read() as conn:
        rows = container.events.events_of(conn, ws.id, [profile_id], limit=None)
    # events_of lists newest first (by time, then by storage order)
    return [r for r in reversed(rows) if r["name"] in ("Segment Entered", "Segment Exited")]


def transitions(container: Container, ws: Workspace, profile_id: str) -> list[tuple[str, str]]:
    """(``in``/``out``, segment name) in order."""
    return [
        ("in" if e["name"] == "Segment Entered" else "out", e["properties"]["segment"])
        for e in segment_events(container, ws, profile_id)
    ]
