"""What every router answers with: JSON bodies (orjson, no pydantic pass) and the error
responses its OpenAPI lists.

>>> json_response({"ok": True}, 201).body
b'{"ok":true}'
>>> error_responses(404, say={404: "No such segment"})[404]["description"]
'No such segment'
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson
from starlette.responses import Response

from unico.collect.models import ErrorResponse

#: What each error status means, unless a router says it more precisely (``say``). The
#: keys are the admin API's (secret key); the write-key endpoints say theirs.
ERRORS: dict[int, str] = {
    400: "Bad request",
    401: "Missing or unknown secret key",
    403: "A write key was sent",
    404: "Not found",
    409: "Conflict",
    413: "Body too large",
    415: "Unsupported Content-Type or Content-Encoding",
    422: "Invalid parameter",
    429: "Queue full; retry after Retry-After",
    503: "Store busy or unavailable; retry",
}


def error_responses(
    *statuses: int, say: Mapping[int, str] | None = None
) -> dict[int | str, dict[str, Any]]:
    """The OpenAPI ``responses`` of a router or route: each status with the
    ``{"error": ...}`` body, described by ``say`` or else by `ERRORS`."""
    said = say or {}
    return {
        status: {"model": ErrorResponse, "description": said.get(status, ERRORS[status])}
        for status in statuses
    }


def json_response(
    data: Any, status: int = 200, headers: Mapping[str, str] | None = None
) -> Response:
    """``data`` serialized by orjson: the hot routes skip FastAPI's response model."""
    return Response(
        orjson.dumps(data), status_code=status, media_type="application/json", headers=headers
    )
