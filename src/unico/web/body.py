"""Reading request bodies within limits: size (before and after gzip) and JSON syntax."""

from __future__ import annotations

import zlib
from typing import Any

import orjson
from fastapi import Request

from unico.core.errors import InvalidJSON, PayloadTooLarge, UnsupportedMediaType


async def read_json(request: Request, limit: int) -> Any:
    """The parsed JSON body; 413 past ``limit`` bytes (checked as it streams), 400 if not JSON."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"the body is over the limit of {limit} bytes")
        chunks.append(chunk)
    data = b"".join(chunks)
    encoding = request.headers.get("content-encoding", "identity").strip().lower()
    if encoding == "gzip":
        data = _gunzip(data, limit)
    elif encoding not in ("identity", ""):
        raise UnsupportedMediaType(f"unsupported Content-Encoding {encoding!r}; use gzip")
    if not data.strip():
        raise InvalidJSON("the body is empty; send a JSON object", field="body")
    try:
        return orjson.loads(data)
    except orjson.JSONDecodeError as exc:
        raise InvalidJSON(f"the body is not valid JSON: {exc}", field="body") from None


def _gunzip(data: bytes, limit: int) -> bytes:
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    try:
        out = decoder.decompress(data, limit + 1)
    except zlib.error:
        raise InvalidJSON("the body is not valid gzip", field="body") from None
    if len(out) > limit or decoder.unconsumed_tail:
        raise PayloadTooLarge(f"the decompressed body is over the limit of {limit} bytes")
    return out
