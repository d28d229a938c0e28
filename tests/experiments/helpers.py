"""Setting up experiments through the API: a catalog, a placement, known events."""

from __future__ import annotations

from typing import Any

import httpx2
from sqlalchemy import select

from tests.conftest import T0, Workspace
from tests.decide.helpers import decide, manual, stock
from unico.container import Container
from unico.db.experiments_schema import exposure

HERO = ["t1", "t2"]


def shop(container: Container, ws: Workspace) -> None:
    """The decide tests' catalog, a manual ``hero`` placement, and the events metrics use."""
    stock(container, ws)
    manual(ws, "hero", HERO, size=2)
    for name in ("Order Completed", "Product Viewed", "Signed Up"):
        r = ws.send("track", {"userId": "seed", "event": name, "properties": {"revenue": 1}})
        assert r.status_code == 200, r.text


def spec(**extra: Any) -> dict[str, Any]:
    """A two-variant test of the hero placement: A keeps it, B shows s1 and s2."""
    body: dict[str, Any] = {
        "name": "hero test",
        "target": {"placement": "hero"},
        "variants": [
            {"name": "A"},
            {"name": "B", "placement": {"items": ["s1", "s2"]}},
        ],
        "metrics": [{"name": "orders", "event": "Order Completed"}],
    }
    body.update(extra)
    return body


def post(ws: Workspace, body: dict[str, Any], **params: Any) -> httpx2.Response:
    return ws.client.post("/v1/experiments", json=body, headers=ws.admin, params=params)


def create(ws: Workspace, **extra: Any) -> dict[str, Any]:
    r = post(ws, spec(**extra))
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    return out


def start(ws: Workspace, experiment_id: str) -> dict[str, Any]:
    r = ws.client.post(f"/v1/experiments/{experiment_id}/start", headers=ws.admin)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def running(ws: Workspace, **extra: Any) -> str:
    """Create and start an experiment; its id."""
    found: str = create(ws, **extra)["experiment_id"]
    start(ws, found)
    return found


def variant_of(ws: Workspace, **who: Any) -> str | None:
    """The hero placement's variant for this person (None: not in the experiment)."""
    one = decide(ws, "hero", **who)["hero"]
    tested = one.get("experiment")
    return None if tested is None else str(tested["variant"])


def exposures(container: Container, ws: Workspace, experiment_id: str) -> list[dict[str, Any]]:
    container.experiments.runtime.exposures.flush()
    with container.store.read() as conn:
        rows = conn.execute(
            select(exposure).where(
                exposure.c.workspace_id == ws.id, exposure.c.experiment_id == experiment_id
            )
        )
        return [dict(r._mapping) for r in rows]


def results(ws: Workspace, experiment_id: str) -> dict[str, Any]:
    r = ws.client.get(f"/v1/experiments/{experiment_id}/results", headers=ws.admin)
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


__all__ = ["T0"]
