"""One mapping from errors to ``{"error": {"code", "message", "field"}}`` responses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from sqlalchemy.exc import OperationalError
from starlette.exceptions import HTTPException
from starlette.responses import Response

from unico.core.errors import UnicoError
from unico.core.spec import field_path
from unico.web.responses import json_response

log = logging.getLogger("unico.web")

_HTTP_CODES = {
    404: "not_found",
    405: "method_not_allowed",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def error_response(
    status: int,
    code: str,
    message: str,
    field: str | None = None,
    headers: dict[str, str] | None = None,
) -> Response:
    return json_response(
        {"error": {"code": code, "message": message, "field": field}}, status, headers
    )


def unico_error(exc: UnicoError) -> Response:
    headers = {"Retry-After": "1"} if exc.status in (429, 503) else None
    if exc.status == 401:
        headers = {"WWW-Authenticate": 'Basic realm="unico"'}
    return json_response(exc.to_dict(), exc.status, headers)


def store_unavailable(exc: OperationalError) -> Response:
    # Connection refused, database missing or locked, disk full: the request may succeed
    # later, so say so (503 + Retry-After) instead of reporting a bug (500).
    log.error("the store is unavailable: %s", exc.orig)
    return error_response(
        503,
        "store_unavailable",
        "the store is unavailable; retry shortly",
        headers={"Retry-After": "1"},
    )


def unexpected(exc: Exception) -> Response:
    log.exception("unexpected error", exc_info=exc)
    return error_response(500, "internal_error", "an unexpected error occurred")


def response_for(exc: Exception) -> Response:
    """The answer the app's handlers give ``exc`` (for handlers called outside FastAPI)."""
    if isinstance(exc, UnicoError):
        return unico_error(exc)
    if isinstance(exc, OperationalError):
        return store_unavailable(exc)
    return unexpected(exc)


def install(app: FastAPI) -> None:
    @app.exception_handler(UnicoError)
    async def _unico(_: Request, exc: UnicoError) -> Response:
        return unico_error(exc)

    @app.exception_handler(RequestValidationError)
    async def _validation(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        loc = [p for p in first.get("loc", ()) if p not in ("body", "query", "path", "header")]
        return error_response(422, "invalid_input", str(first.get("msg")), field_path(loc))

    @app.exception_handler(HTTPException)
    async def _http(_: Request, exc: HTTPException) -> Response:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        headers = dict(exc.headers) if exc.headers else None
        return error_response(exc.status_code, code, str(exc.detail), None, headers)

    @app.exception_handler(OperationalError)
    async def _store_unavailable(_: Request, exc: OperationalError) -> Response:
        return store_unavailable(exc)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        return unexpected(exc)
