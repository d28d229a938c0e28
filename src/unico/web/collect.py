"""The tracking API, compatible with Segment's HTTP Tracking API, and ``/v1/consent``.

Handlers are ``async`` and take the raw request: the body is read within its size
limit and parsed once with orjson, the write key authenticated, and the rest is the
collect service's (``collect/service.py``: validation, dead letters, Segment's batch
rules, the ingest writer). The answer comes after the commit.

The browser libraries post to other paths for the same messages: analytics.js 2.0 to
one letter per type (``/v1/t``, ``/v1/b`` for a batch), RudderStack's JavaScript SDK
to ``/beacon/v1/batch`` when it sends with ``navigator.sendBeacon``. Each is the same
handler as its long path, left out of the OpenAPI document.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.responses import Response

from unico.collect.models import (
    TYPE_MODELS,
    BatchRequest,
    ConsentRequest,
    IngestResponse,
)
from unico.collect.service import BATCH_BODY, CONSENT_BODY, Answer, CollectService, write_key_of
from unico.container import Container
from unico.web.auth import header_write_principal, write_principal
from unico.web.body import read_json
from unico.web.responses import error_responses, json_response

router = APIRouter(tags=["collect"])

#: What this router's errors mean, where the admin API's words do not say it.
_SAY = {
    400: "Invalid JSON or event",
    401: "Missing or unknown write key",
    403: "A secret key was sent",
    413: "Body or event over the limit",
    415: "Unsupported Content-Encoding (use gzip or none)",
    429: "Ingest queue full; retry after Retry-After",
}
_ERRORS = error_responses(400, 401, 403, 413, 415, 429, 503, say=_SAY)


def _body_schema(model: type[BaseModel]) -> dict[str, Any]:
    return {
        "requestBody": {
            "required": True,
            "content": {
                "application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}
            },
        }
    }


def _service(request: Request) -> tuple[Container, CollectService]:
    container: Container = request.app.state.container
    return container, container.collect


def _gpc(request: Request) -> bool:
    return request.headers.get("sec-gpc") == "1"


def _answer(answer: Answer) -> Response:
    return json_response(answer.body, answer.status)


async def _single(request: Request, kind: str) -> Response:
    container, collect = _service(request)
    principal = header_write_principal(request, container.workspaces)
    raw = await read_json(request, container.settings.max_batch_bytes)
    if principal is None:
        principal = write_principal(request, container.workspaces, write_key_of(raw))
    return _answer(await collect.message(principal.workspace_id, raw, kind, gpc=_gpc(request)))


def _single_route(kind: str) -> None:
    async def endpoint(request: Request) -> Response:
        return await _single(request, kind)

    endpoint.__name__ = kind
    router.add_api_route(
        f"/v1/{kind}",
        endpoint,
        methods=["POST"],
        summary=f"Send one {kind} message",
        response_model=IngestResponse,
        responses=_ERRORS,
        openapi_extra=_body_schema(TYPE_MODELS[kind]),
    )
    # analytics.js 2.0's path: the type's first letter.
    router.add_api_route(f"/v1/{kind[0]}", endpoint, methods=["POST"], include_in_schema=False)


for _kind in TYPE_MODELS:
    _single_route(_kind)


@router.post(
    "/v1/batch",
    summary="Send many messages at once",
    response_model=IngestResponse,
    responses=_ERRORS,
    openapi_extra=_body_schema(BatchRequest),
)
async def batch(request: Request) -> Response:
    """Each valid message is stored; each invalid one is dead-lettered with its reason.
    A 200 means every accepted message is committed."""
    return await _batch(request)


router.add_api_route("/v1/b", batch, methods=["POST"], include_in_schema=False)


@router.post("/beacon/v1/batch", include_in_schema=False)
async def beacon_batch(request: Request) -> Response:
    """RudderStack's ``navigator.sendBeacon`` path: a beacon carries no headers of its
    own, so the write key comes in the query string (``?writeKey=``)."""
    return await _batch(request, request.query_params.get("writeKey"))


async def _batch(request: Request, query_key: str | None = None) -> Response:
    container, collect = _service(request)
    principal = header_write_principal(request, container.workspaces)
    raw = await read_json(request, container.settings.max_batch_bytes)
    body_key = write_key_of(raw, body_error=BATCH_BODY) or query_key
    principal = principal or write_principal(request, container.workspaces, body_key)
    return _answer(await collect.batch(principal.workspace_id, raw, gpc=_gpc(request)))


@router.post(
    "/v1/consent",
    summary="Record a person's consent per purpose",
    responses=_ERRORS,
    openapi_extra=_body_schema(ConsentRequest),
)
async def consent(request: Request) -> Response:
    """``{"userId" or "anonymousId", "purposes": {"marketing": false, ...}}``. Answers with the
    person's consent after the change."""
    container, collect = _service(request)
    principal = header_write_principal(request, container.workspaces)
    raw = await read_json(request, container.settings.max_event_bytes)
    body_key = write_key_of(raw, body_error=CONSENT_BODY)
    principal = principal or write_principal(request, container.workspaces, body_key)
    return _answer(await collect.consent(principal.workspace_id, raw, gpc=_gpc(request)))
