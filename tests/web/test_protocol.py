"""The server's HTTP protocol: an answer's head and body go out in one write."""

from __future__ import annotations

import asyncio
import socket

from unico.web.protocol import JoinedWrites


class _Recording(asyncio.Transport):
    """Records each write it is given (what reaches the socket as one system call)."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self.writes.append(bytes(data))

    def close(self) -> None:
        self.closed = True

    def is_closing(self) -> bool:
        return self.closed

    def get_extra_info(self, name: str, default: object = None) -> object:
        return "extra" if name == "peername" else default


def test_writes_within_one_loop_step_go_out_as_one() -> None:
    async def main() -> tuple[list[bytes], list[bytes], _Recording]:
        raw = _Recording()
        joined = JoinedWrites(raw, asyncio.get_running_loop())
        joined.write(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n")
        joined.write(b"{}")
        before = list(raw.writes)  # nothing written yet: the step has not ended
        await asyncio.sleep(0)
        after = list(raw.writes)
        joined.write(b"next")
        joined.close()  # closing writes what is pending first
        return before, after, raw

    before, after, raw = asyncio.run(main())
    assert before == []
    assert after == [b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\n{}"]
    assert raw.writes[1:] == [b"next"] and raw.closed


def test_nothing_is_written_to_a_closing_transport_and_the_rest_passes_through() -> None:
    async def main() -> _Recording:
        raw = _Recording()
        joined = JoinedWrites(raw, asyncio.get_running_loop())
        joined.write(b"late")
        raw.close()  # the peer went away within the step
        await asyncio.sleep(0)
        assert joined.is_closing()
        assert joined.get_extra_info("peername") == "extra"
        return raw

    assert asyncio.run(main()).writes == []


def test_an_answer_arrives_whole_from_a_running_server() -> None:
    """Through uvicorn with the protocol: head and body in the first read."""
    import threading

    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse
    from starlette.routing import Route

    from unico.web.protocol import UnicoHttpProtocol

    async def hello(request: object) -> JSONResponse:
        return JSONResponse({"hello": "world"})

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        Starlette(routes=[Route("/", hello)]),
        host="127.0.0.1",
        port=port,
        http=UnicoHttpProtocol,
        log_level="warning",
        lifespan="off",
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        for _ in range(200):
            if server.started:
                break
            threading.Event().wait(0.02)
        with socket.create_connection(("127.0.0.1", port)) as client:
            for _ in range(20):  # keep-alive: each answer whole, in one segment
                client.sendall(b"GET / HTTP/1.1\r\nhost: x\r\n\r\n")
                data = client.recv(65536)
                head, _, body = data.partition(b"\r\n\r\n")
                assert head.startswith(b"HTTP/1.1 200"), data
                assert body == b'{"hello":"world"}', data
    finally:
        server.should_exit = True
        thread.join(10)
