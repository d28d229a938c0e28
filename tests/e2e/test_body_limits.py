"""Body limits over a real socket: streamed (chunked) bodies are counted as they arrive, and a
declared oversized body is refused before it is sent."""

from __future__ import annotations

import base64
import gzip
import http.client
import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from tests.e2e.conftest import Server

pytestmark = [
    pytest.mark.e2e,
    # Limits are checked before any store work: one store is enough.
    pytest.mark.parametrize("backend", ["sqlite"]),
]

LIMIT = 500 * 1024


@pytest.fixture
def server(start_server: Callable[[str], Server], e2e_database: str) -> Server:
    return start_server(e2e_database)


def connect(server: Server) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)


def basic(keys: dict[str, Any]) -> str:
    return "Basic " + base64.b64encode(f"{keys['write_key']}:".encode()).decode()


def error_of(response: http.client.HTTPResponse, status: int) -> dict[str, Any]:
    body = response.read()
    assert response.status == status, body
    error: dict[str, Any] = json.loads(body)["error"]
    assert set(error) == {"code", "message", "field"}
    return error


def test_a_streamed_body_over_the_limit_is_413(server: Server, keys: dict[str, Any]) -> None:
    item = json.dumps({"type": "track", "userId": "u1", "event": "E", "p": "x" * 1000}).encode()

    def chunks() -> Iterator[bytes]:
        yield b'{"batch": [' + item
        sent = len(item)
        while sent < LIMIT + 16 * 1024:
            yield b"," + item
            sent += len(item) + 1
        yield b"]}"

    conn = connect(server)
    try:
        conn.request(
            "POST",
            "/v1/batch",
            body=chunks(),
            headers={"Authorization": basic(keys), "Content-Type": "application/json"},
            encode_chunked=True,
        )
        error = error_of(conn.getresponse(), 413)
    finally:
        conn.close()
    assert (error["code"], error["field"]) == ("payload_too_large", "body")
    assert "over the limit" in error["message"]


def test_a_declared_oversized_body_is_refused_without_waiting_for_it(
    server: Server, keys: dict[str, Any]
) -> None:
    conn = connect(server)
    try:
        conn.putrequest("POST", "/v1/batch")
        conn.putheader("Authorization", basic(keys))
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", str(10 * 1024 * 1024))
        conn.endheaders()  # and not one byte of the body
        error = error_of(conn.getresponse(), 413)
    finally:
        conn.close()
    assert str(10 * 1024 * 1024) in error["message"]


def test_a_gzip_bomb_is_413(server: Server, keys: dict[str, Any]) -> None:
    bomb = gzip.compress(b'{"batch": [' + b" " * (64 * 1024 * 1024) + b"]}")
    conn = connect(server)
    try:
        conn.request(
            "POST",
            "/v1/batch",
            body=bomb,
            headers={"Authorization": basic(keys), "Content-Encoding": "gzip"},
        )
        assert error_of(conn.getresponse(), 413)["field"] == "body"
    finally:
        conn.close()
