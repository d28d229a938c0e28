"""Reading request bodies within limits: size (before and after gzip) and JSON syntax.

Every endpoint that takes a body reads it here, so the limits and the errors are the
same everywhere: a body that cannot be read (truncated, bad gzip, not JSON) is 400
``invalid_json``, one too large 413, an unknown encoding 415."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import Request
from starlette.requests import ClientDisconnect

from unico.core.errors import InvalidJSON, PayloadTooLarge, UnsupportedMediaType


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body, gunzipped; 413 past ``limit`` bytes (checked as it streams, and again
    as it inflates), 415 for an encoding other than gzip."""
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding not in ("gzip", "identity", ""):
        raise UnsupportedMediaType(
            f"unsupported Content-Encoding {encoding!r}; use gzip", field="content-encoding"
        )
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit}", field="body")
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(f"the body is over the limit of {limit} bytes", field="body")
            chunks.append(chunk)
    except ClientDisconnect:
        raise InvalidJSON("the client disconnected before sending the whole body") from None
    data = b"".join(chunks)
    return _gunzip(data, limit) if encoding == "gzip" else data


async def read_json(request: Request, limit: int) -> Any:
    """The parsed JSON body (`read_body`'s limits); 400 ``invalid_json`` if not JSON."""
    data = await read_body(request, limit)
    if not data.strip():
        raise InvalidJSON("the body is empty; send a JSON object", field="body")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"the body is not valid JSON: {exc}", field="body") from None


def _gunzip(data: bytes, limit: int) -> bytes:
    """Inflate every gzip member of ``data``, never producing more than ``limit + 1`` bytes
    (a small bomb cannot make the server allocate its decompressed size)."""
    out = bytearray()
    rest = data
    while rest:
        decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
        try:
            out += decoder.decompress(rest, limit + 1 - len(out))
        except zlib.error:
            raise InvalidJSON("the body is not valid gzip", field="body") from None
        if len(out) > limit or decoder.unconsumed_tail:
            raise PayloadTooLarge(
                f"the decompressed body is over the limit of {limit} bytes", field="body"
            )
        if not decoder.eof:
            raise InvalidJSON("the gzip body is truncated", field="body")
        rest = decoder.unused_data
    return bytes(out)
