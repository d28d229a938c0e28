"""Small helpers for calling the API as a workspace and reading its tables in tests."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from sqlalchemy import Table, func, select

from tests.conftest import Workspace
from unico.container import Container
from unico.core.clock import to_iso

MINUTE = 60_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR


def iso(ms: int) -> str:
    out = to_iso(ms)
    assert out is not None
    return out


def send(ws: Workspace, kind: str, body: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
    """POST one message; assert it was accepted."""
    r = ws.send(kind, body, **kwargs)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def batch(ws: Workspace, items: list[dict[str, Any]], **kwargs: Any) -> dict[str, Any]:
    return send(ws, "batch", {"batch": items}, **kwargs)


def ref_path(ref: str) -> str:
    return quote(ref, safe=":")


def get(ws: Workspace, ref: str) -> dict[str, Any]:
    """GET a profile; assert it exists."""
    r = ws.client.get(f"/v1/profiles/{ref_path(ref)}", headers=ws.admin)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def status(ws: Workspace, ref: str) -> int:
    return ws.client.get(f"/v1/profiles/{ref_path(ref)}", headers=ws.admin).status_code


def export(ws: Workspace, ref: str) -> dict[str, Any]:
    r = ws.client.get(f"/v1/profiles/{ref_path(ref)}/export", headers=ws.admin)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def identities(profile: dict[str, Any]) -> set[tuple[str, str]]:
    return {(i["kind"], i["value"]) for i in profile["identities"]}


def list_all(ws: Workspace, **params: str) -> list[dict[str, Any]]:
    """Every live profile of the workspace, following cursors."""
    out: list[dict[str, Any]] = []
    cursor: str | None = None
    while True:
        query = dict(params, limit="100", **({"cursor": cursor} if cursor else {}))
        r = ws.client.get("/v1/profiles", params=query, headers=ws.admin)
        assert r.status_code == 200, r.text
        out += r.json()["profiles"]
        cursor = r.json()["next_cursor"]
        if cursor is None:
            return out


def rows(container: Container, table: Table, workspace_id: str) -> list[dict[str, Any]]:
    """Every row a table holds for one workspace."""
    with container.store.read() as conn:
        result = conn.execute(select(table).where(table.c.workspace_id == workspace_id))
        return [dict(r._mapping) for r in result]


def count(container: Container, table: Table, workspace_id: str) -> int:
    with container.store.read() as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.workspace_id == workspace_id)
            ).scalar_one()
        )
