"""``POST /v1/decide`` (write key) and the admin API of placements, models and decisions
(secret key).

The decide handler is ``async`` and runs the decision inline: it is a few microseconds of
Python over in-memory placements, catalog snapshot and models, plus two or three indexed
reads, so a hop to the thread pool would cost more than it frees.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from unico.container import Container
from unico.core.errors import InvalidInput
from unico.decide.request import parse_request
from unico.web.admin import Auth, Deps
from unico.web.auth import header_write_principal, write_principal
from unico.web.body import read_json
from unico.web.responses import error_responses, json_response

#: What this router's errors mean, where the admin API's words do not say it.
_SAY = {
    401: "Missing or unknown key",
    403: "Wrong kind of key",
    404: "Unknown placement, decision or item",
    409: "The placement exists",
    422: "A placement names items the catalog does not have",
}

router = APIRouter(
    tags=["decide"],
    responses=error_responses(400, 401, 403, 404, 409, 413, 422, say=_SAY),
)

PlacementName = Annotated[str, Path(min_length=1, max_length=64, description="Placement name.")]
DecisionId = Annotated[str, Path(min_length=1, max_length=64, description="A decision id.")]
MAX_ADMIN_BODY = 256 * 1024


@router.post(
    "/v1/decide",
    summary="What each placement should show this person now",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"type": "object"}}},
        }
    },
)
async def decide(request: Request) -> Response:
    """Body: ``{"anonymousId"?, "userId"?, "context"?: {"channel", "device", "language",
    "page": {"url", "type"}, "item", "cart", "location", "local_time"}, "placements": [...]}``.
    Other context fields (a Segment context's) are ignored and listed in each explanation's
    ``ignored_context``. Write key as Basic user (or ``writeKey``), exactly as ``/v1/track``."""
    container: Container = request.app.state.container
    principal = header_write_principal(request, container.workspaces)
    raw = await read_json(request, container.settings.decide_max_body_bytes)
    if principal is None:
        key = raw.get("writeKey") if isinstance(raw, dict) else None
        if key is not None and not isinstance(key, str):
            raise InvalidInput("writeKey must be a string", field="writeKey")
        principal = write_principal(request, container.workspaces, key)
    parsed = parse_request(raw, container.settings.decide_max_placements)
    return json_response(container.decisions.decide(principal.workspace_id, parsed))


@router.get("/v1/placements", summary="Every placement")
def list_placements(who: Auth, c: Deps) -> dict[str, Any]:
    return {"placements": c.placements.list(who.workspace_id)}


@router.post("/v1/placements", summary="Create a placement", status_code=201)
async def create_placement(request: Request, who: Auth, c: Deps) -> Response:
    """At least ``{"name", "strategy", "size"}``; optional ``rules``, ``default``
    (``{"items", "strategy"}``) or ``default_items``, ``items`` (manual), ``kinds``,
    ``epsilon``, ``description``."""
    raw = await read_json(request, MAX_ADMIN_BODY)
    created = await run_in_threadpool(c.placements.create, who.workspace_id, raw)
    return json_response(created, 201)


@router.get("/v1/placements/{name}", summary="One placement")
def get_placement(name: PlacementName, who: Auth, c: Deps) -> dict[str, Any]:
    return c.placements.get(who.workspace_id, name)


@router.put("/v1/placements/{name}", summary="Create or replace a placement")
async def put_placement(name: PlacementName, request: Request, who: Auth, c: Deps) -> Response:
    raw = await read_json(request, MAX_ADMIN_BODY)
    saved = await run_in_threadpool(c.placements.replace, who.workspace_id, name, raw)
    return json_response(saved)


@router.patch("/v1/placements/{name}", summary="Change some fields of a placement")
async def patch_placement(name: PlacementName, request: Request, who: Auth, c: Deps) -> Response:
    raw = await read_json(request, MAX_ADMIN_BODY)
    saved = await run_in_threadpool(c.placements.update, who.workspace_id, name, raw)
    return json_response(saved)


@router.delete("/v1/placements/{name}", summary="Delete a placement")
def delete_placement(name: PlacementName, who: Auth, c: Deps) -> dict[str, Any]:
    c.placements.delete(who.workspace_id, name)
    return {"deleted": name}


@router.post("/v1/models/train", summary="Train this workspace's models now", status_code=202)
def train_models(who: Auth, c: Deps) -> Response:
    """Queues a training run (202) and answers with the models' status."""
    return json_response(c.models.request_training(who.workspace_id), 202)


@router.get("/v1/models", summary="This workspace's models")
def list_models(who: Auth, c: Deps) -> dict[str, Any]:
    """Each model: fitted, trained_at, rows, users, items, duration_ms, error."""
    return c.models.status(who.workspace_id)


@router.get("/v1/decisions/{decision_id}", summary="A decision, its impressions and clicks")
def get_decision(decision_id: DecisionId, who: Auth, c: Deps) -> dict[str, Any]:
    return c.decisions.get(who.workspace_id, decision_id)
