"""The tracking API, compatible with Segment's HTTP Tracking API, and ``/v1/consent``.

Handlers are ``async`` and take the raw request: the body is read within its size
limit, parsed once with orjson, validated by hand (so one bad event in a batch is
dead-lettered rather than failing the batch) and handed to the ingest writer. The
answer comes after the commit.

The browser libraries post to other paths for the same messages: analytics.js 2.0 to
one letter per type (``/v1/t``, ``/v1/b`` for a batch), RudderStack's JavaScript SDK
to ``/beacon/v1/batch`` when it sends with ``navigator.sendBeacon``. Each is the same
handler as its long path, left out of the OpenAPI document.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, Request
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from unico.collect.dead_letters import dead_letter_for
from unico.collect.models import (
    TYPE_MODELS,
    BatchRequest,
    ConsentRequest,
    IngestResponse,
)
from unico.collect.pipeline import Receipt, Submission
from unico.collect.store import DeadLetter
from unico.collect.validation import parse_time, validate_event
from unico.container import Container
from unico.core.errors import InvalidInput, Overloaded, UnicoError
from unico.core.event import Event
from unico.core.ids import new_id
from unico.profiles.consent import PURPOSES
from unico.web.auth import header_write_principal, write_principal
from unico.web.body import read_json
from unico.web.responses import error_responses, json_response

router = APIRouter(tags=["collect"])
log = logging.getLogger("unico.web")

MAX_REPORTED_ERRORS = 50

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


def _container(request: Request) -> Container:
    container: Container = request.app.state.container
    return container


def _body_key(raw: Any) -> str | None:
    """The ``writeKey`` field of a body, when it has one."""
    key = raw.get("writeKey") if isinstance(raw, dict) else None
    if key is not None and not isinstance(key, str):
        raise InvalidInput("writeKey must be a string", field="writeKey")
    return key


def _ingest_body(receipt: Receipt, errors: list[dict[str, Any]]) -> dict[str, Any]:
    return {
        "success": True,
        "accepted": receipt.accepted,
        "rejected": receipt.rejected,
        "duplicates": receipt.duplicates,
        "errors": errors[:MAX_REPORTED_ERRORS],
    }


async def _submit(
    request: Request, workspace_id: str, events: list[Event], letters: list[DeadLetter]
) -> Receipt:
    container = _container(request)
    defaults = container.workspaces.get(workspace_id).settings.consent_defaults
    try:
        return await container.ingestor.submit(Submission(workspace_id, defaults, events, letters))
    except UnicoError:
        raise
    except Exception:
        # Nothing of this request was committed (the writer reports per submission).
        log.exception("the store failed to save a submission")
        raise Overloaded("the store could not save this request; retry shortly") from None


async def _single(request: Request, kind: str) -> Response:
    container = _container(request)
    principal = header_write_principal(request, container.workspaces)
    raw = await read_json(request, container.settings.max_batch_bytes)
    if principal is None:
        principal = write_principal(request, container.workspaces, _body_key(raw))
    now = container.clock.now_ms()
    try:
        event = validate_event(
            raw,
            received_at=now,
            limits=container.limits,
            message_id=new_id("m_", now),
            type_hint=kind,
            gpc=request.headers.get("sec-gpc") == "1",
        )
    except UnicoError as exc:
        await _submit(request, principal.workspace_id, [], [dead_letter_for(raw, exc)])
        raise
    receipt = await _submit(request, principal.workspace_id, [event], [])
    return json_response(_ingest_body(receipt, []))


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
    container = _container(request)
    principal = header_write_principal(request, container.workspaces)
    raw = await read_json(request, container.settings.max_batch_bytes)
    if not isinstance(raw, dict):
        raise InvalidInput("the body must be an object with a batch list", field="body")
    body_key = _body_key(raw) or query_key
    principal = principal or write_principal(request, container.workspaces, body_key)
    items = raw.get("batch")
    if not isinstance(items, list):
        raise InvalidInput("batch must be a list of messages", field="batch")
    if len(items) > container.settings.max_batch_events:
        raise InvalidInput(
            f"batch has {len(items)} messages; the limit is {container.settings.max_batch_events}",
            field="batch",
        )
    top_context = _batch_object(raw, "context")
    top_integrations = _batch_object(raw, "integrations")
    now = container.clock.now_ms()
    gpc = request.headers.get("sec-gpc") == "1"
    sent_at = _batch_sent_at(raw)
    events: list[Event] = []
    letters: list[DeadLetter] = []
    errors: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        if isinstance(item, dict) and (top_context or top_integrations):
            item = _with_defaults(item, top_context, top_integrations)
        try:
            events.append(
                validate_event(
                    item,
                    received_at=now,
                    limits=container.limits,
                    message_id=new_id("m_", now),
                    sent_at=sent_at,
                    prefix=f"batch[{index}].",
                    gpc=gpc,
                )
            )
        except UnicoError as exc:
            letters.append(dead_letter_for(item, exc))
            errors.append(
                {"index": index, "code": exc.code, "message": exc.message, "field": exc.field}
            )
    receipt = await _submit(request, principal.workspace_id, events, letters)
    body = _ingest_body(receipt, errors)
    if errors and not events:
        first = errors[0]
        body["success"] = False
        body["error"] = {
            "code": first["code"],
            "message": first["message"],
            "field": first["field"],
        }
        return json_response(body, 400)
    return json_response(body)


def _batch_sent_at(raw: dict[str, Any]) -> int | None:
    return parse_time(raw, "sentAt", "")


def _batch_object(raw: dict[str, Any], key: str) -> dict[str, Any] | None:
    """The batch-level ``context`` or ``integrations``, merged into every message."""
    value = raw.get(key)
    if value is not None and not isinstance(value, dict):
        raise InvalidInput(f"{key} must be an object", field=key)
    return value or None


def _with_defaults(
    item: dict[str, Any], context: dict[str, Any] | None, integrations: dict[str, Any] | None
) -> dict[str, Any]:
    """The item with the batch's context and integrations under its own (an item's value of
    the wrong type is left alone, for validation to refuse)."""
    merged = dict(item)
    for key, shared in (("context", context), ("integrations", integrations)):
        own = item.get(key)
        if shared and own is None:
            merged[key] = shared
        elif shared and isinstance(own, dict):
            merged[key] = {**shared, **own}
    return merged


@router.post(
    "/v1/consent",
    summary="Record a person's consent per purpose",
    responses=_ERRORS,
    openapi_extra=_body_schema(ConsentRequest),
)
async def consent(request: Request) -> Response:
    """``{"userId" or "anonymousId", "purposes": {"marketing": false, ...}}``. Answers with the
    person's consent after the change."""
    container = _container(request)
    principal = header_write_principal(request, container.workspaces)
    raw = await read_json(request, container.settings.max_event_bytes)
    if not isinstance(raw, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    body_key = _body_key(raw)
    principal = principal or write_principal(request, container.workspaces, body_key)
    unknown = set(raw) - set(ConsentRequest.model_fields)
    if unknown:
        raise InvalidInput(f"unknown field {sorted(unknown)[0]!r}", field=sorted(unknown)[0])
    purposes = raw.get("purposes")
    if not isinstance(purposes, dict) or not purposes:
        raise InvalidInput(
            f"purposes must map any of {', '.join(PURPOSES)} to true/false", field="purposes"
        )
    message = {
        "type": "track",
        "event": "Consent Updated",
        "properties": {"purposes": purposes},
        **{
            k: raw[k]
            for k in ("userId", "anonymousId", "timestamp", "messageId", "context")
            if k in raw
        },
    }
    now = container.clock.now_ms()
    try:
        event = validate_event(
            message,
            received_at=now,
            limits=container.limits,
            message_id=new_id("m_", now),
            gpc=request.headers.get("sec-gpc") == "1",
        )
    except UnicoError as exc:
        # Name the field as this endpoint's caller sent it, not as the inner event has it.
        if exc.field and exc.field.startswith("properties.purposes"):
            exc.field = exc.field.removeprefix("properties.")
        raise
    event.source = "api"
    receipt = await _submit(request, principal.workspace_id, [event], [])
    ref = f"user_id:{event.user_id}" if event.user_id else f"anonymous_id:{event.anonymous_id}"
    state = await run_in_threadpool(container.profiles.consent, principal.workspace_id, ref)
    return json_response(
        {
            "success": True,
            "accepted": receipt.accepted,
            "duplicates": receipt.duplicates,
            "consent": state,
        }
    )
