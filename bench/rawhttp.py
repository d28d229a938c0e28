"""A minimal HTTP/1.1 keep-alive client for load generation.

On a 2-core machine every cycle the load generator spends is taken from the server it
measures. httpx spends about 5-8 ms of CPU per 70 KB ``/v1/batch`` request (h11 framing,
header objects, anyio streams); this client writes pre-built request bytes to a socket and
reads the answer by ``content-length``, at a few tens of microseconds per request. It
speaks only what the benchmark needs: one request at a time per connection,
``content-length`` or chunked answers, reconnecting after ``connection: close`` or errors.
"""

from __future__ import annotations

import asyncio

#: Raised for a broken or closed connection; the caller counts it and carries on.
ERRORS = (OSError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError)


def request_bytes(method: str, path: str, host: str, headers: dict[str, str], body: bytes) -> bytes:
    """A complete HTTP/1.1 request (``content-length`` is added when there is a body)."""
    lines = [f"{method} {path} HTTP/1.1", f"host: {host}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if body or method in ("POST", "PUT", "PATCH"):
        lines.append(f"content-length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


class Connection:
    """One keep-alive connection, opened on first use and after any failure."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def roundtrip(self, raw: bytes) -> tuple[int, bytes]:
        """Send one request and return (status, body)."""
        try:
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            assert self.reader is not None
            self.writer.write(raw)
            head = await self.reader.readuntil(b"\r\n\r\n")
            status = int(head[9:12])
            lower = head.lower()
            start = lower.find(b"\r\ncontent-length:")
            if start >= 0:
                end = lower.index(b"\r\n", start + 2)
                body = await self.reader.readexactly(int(lower[start + 17 : end]))
            elif b"\r\ntransfer-encoding: chunked" in lower:
                body = await self._chunked()
            else:
                raise ValueError("an answer without content-length or chunked encoding")
            if b"\r\nconnection: close" in lower:
                self.close()
            return status, body
        except ERRORS:
            self.close()
            raise

    async def _chunked(self) -> bytes:
        assert self.reader is not None
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            data = await self.reader.readexactly(size + 2)
            if size == 0:
                return b"".join(parts)
            parts.append(data[:-2])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


class Pool:
    """At most ``size`` connections; a request waits for a free one (as a browser would)."""

    def __init__(self, host: str, port: int, size: int) -> None:
        self._free: asyncio.Queue[Connection] = asyncio.Queue()
        for _ in range(size):
            self._free.put_nowait(Connection(host, port))

    async def roundtrip(self, raw: bytes) -> tuple[int, bytes]:
        conn = await self._free.get()
        try:
            return await conn.roundtrip(raw)
        finally:
            self._free.put_nowait(conn)

    def close(self) -> None:
        while not self._free.empty():
            self._free.get_nowait().close()
