"""The ingest writer in a process of its own, for SQLite servers.

One Python process has one GIL: HTTP parsing and validation and the writer's profile
work then take turns on one core, and a 2-core machine leaves the second idle. With
``serve`` on SQLite the API process validates requests and hands the events, encoded
with orjson, over a Unix socket to a writer process that owns the (only) SQLite
writer and its profile cache; the API process answers once the writer says the
events are committed, so a 2xx still means durable.

Frames are a 4-byte big-endian length and an orjson document. Requests:
``{"id", "op": "submit", "workspace_id", "defaults", "events", "dead_letters"}`` and
``{"op": "invalidate"}``; replies: ``{"id", "receipt"}`` or ``{"id", "error", "message"}``.
The writer process exits when the API process goes away (its socket closes), after
committing what it was given. If the writer dies, every request waiting for it gets a 503
``overloaded`` (its events may or may not be committed: the client sends them again with
the same message ids), and the API process starts a new writer at the next submission.

With ``unico serve --workers N`` on SQLite, the serving processes share one writer: the
supervising process starts it (`WriterProcess`), restarts it if it dies, and gives its
socket to the workers (``UNICO_WRITER_SOCKET``), whose `RemoteIngestor` connects to it
instead of starting one of its own. A shared writer exits only when told (SIGTERM) or
when its supervisor is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import multiprocessing
import os
import signal
import struct
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, replace
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any, Protocol

import orjson

from unico.collect.pipeline import Receipt, Submission
from unico.collect.store import DeadLetter
from unico.core.errors import Overloaded, QueueFull, UnicoError
from unico.core.event import PROFILE_CONTEXT_KEYS, STORED_COLUMNS, Event
from unico.core.worker import Worker

log = logging.getLogger("unico.writer")

_HEADER = struct.Struct(">I")
MAX_FRAME = 64 * 1024 * 1024
#: Longest wait for a new writer process to listen (it imports and opens the database).
START_TIMEOUT_S = 60.0
#: After a writer process failed to start, the next attempt waits this long.
RESTART_PAUSE_S = 1.0


class WriterHost(Protocol):
    """What the writer process serves with: its ingestor (``start``, ``stop``, ``submit``,
    ``pipeline.updater``) and its store (``dispose``)."""

    @property
    def ingestor(self) -> Any: ...

    @property
    def store(self) -> Any: ...


#: Builds the writer process's ingest side from the settings as JSON. The composition root
#: names it (a module-level function, so the spawned process can import it): collect does
#: not import the root that builds it.
BuildWriter = Callable[[str], WriterHost]


async def _read_frame(reader: asyncio.StreamReader) -> Any:
    (size,) = _HEADER.unpack(await reader.readexactly(_HEADER.size))
    if size > MAX_FRAME:
        raise ValueError(f"frame of {size} bytes")
    return orjson.loads(await reader.readexactly(size))


def _frame(document: Any) -> bytes:
    body = orjson.dumps(document)
    return _HEADER.pack(len(body)) + body


def _for_writer(event: Event) -> Event:
    """The event as the writer needs it: stored columns as ready JSON text, and of the
    context only what profile building reads (the rest of it is often most of the bytes)."""
    encoded = {name: orjson.dumps(getattr(event, name)).decode() for name in STORED_COLUMNS}
    context = {k: event.context[k] for k in PROFILE_CONTEXT_KEYS if k in event.context}
    return replace(event, context=context, integrations={}, encoded=encoded)


def encode_submission(request_id: int, submission: Submission) -> bytes:
    return _frame(
        {
            "id": request_id,
            "op": "submit",
            "workspace_id": submission.workspace_id,
            "defaults": dict(submission.consent_defaults),
            # orjson encodes dataclasses natively
            "events": [_for_writer(e) for e in submission.events],
            "dead_letters": submission.dead_letters,
        }
    )


def decode_submission(document: dict[str, Any]) -> Submission:
    return Submission(
        document["workspace_id"],
        document["defaults"],
        [Event(**e) for e in document["events"]],
        [DeadLetter(**d) for d in document["dead_letters"]],
    )


# -- the writer process --------------------------------------------------------------------


def run_writer(
    build: BuildWriter, settings_json: str, socket_path: str, ready: Any, shared: bool = False
) -> None:
    """Entry point of the writer process (``shared``: several API processes connect)."""
    # The writer keeps a large, long-lived cache of small objects: full collections would
    # rescan it again and again. Collect the young generation less often instead.
    gc.set_threshold(50_000, 50, 100)
    container = build(settings_json)
    container.ingestor.start()
    try:
        asyncio.run(_serve_writer(container, socket_path, ready, shared))
    finally:
        container.ingestor.stop()
        container.store.dispose()


async def _serve_writer(container: WriterHost, socket_path: str, ready: Any, shared: bool) -> None:
    done = asyncio.Event()
    connections = 0

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        pending: set[asyncio.Task[None]] = set()
        try:
            while True:
                try:
                    document = await _read_frame(reader)
                except (asyncio.IncompleteReadError, ConnectionError):
                    break
                if document.get("op") == "invalidate":
                    container.ingestor.pipeline.updater.invalidate()
                    continue
                task = asyncio.create_task(_answer(container, document, writer))
                pending.add(task)
                task.add_done_callback(pending.discard)
            if pending:
                await asyncio.wait(pending)
        finally:
            connections -= 1
            writer.close()
            if connections == 0 and not shared:
                done.set()  # the API process is gone: finish and exit

    loop = asyncio.get_running_loop()
    loop.add_signal_handler(signal.SIGTERM, done.set)  # drain, then exit
    parent = os.getppid()

    async def watch_parent() -> None:
        # A killed API process may leave its socket half-open: watch it directly.
        while os.getppid() == parent:
            await asyncio.sleep(0.5)
        done.set()

    watcher = asyncio.create_task(watch_parent())
    server = await asyncio.start_unix_server(handle, path=socket_path)
    ready.set()
    async with server:
        await done.wait()
    watcher.cancel()


async def _answer(
    container: WriterHost, document: dict[str, Any], writer: asyncio.StreamWriter
) -> None:
    request_id = document["id"]
    try:
        receipt = await container.ingestor.submit(decode_submission(document))
        reply: dict[str, Any] = {"id": request_id, "receipt": asdict(receipt)}
    except UnicoError as exc:
        reply = {"id": request_id, "error": exc.code, "message": exc.message}
    except Exception as exc:  # reported to the API process, which answers 503
        log.exception("writer failed a submission")
        reply = {"id": request_id, "error": "store_error", "message": str(exc)[:500]}
    with contextlib.suppress(ConnectionError):
        writer.write(_frame(reply))
        await writer.drain()


# -- starting and stopping it ----------------------------------------------------------------


class WriterProcess:
    """A writer process listening on a Unix socket in a private directory."""

    def __init__(self, build: BuildWriter, settings_json: str, *, shared: bool = False) -> None:
        self.build = build
        self.settings_json = settings_json
        self.shared = shared
        self._dir = tempfile.mkdtemp(prefix="unico-writer-")
        self.socket = str(Path(self._dir) / "writer.sock")
        self._process: BaseProcess | None = None
        self._watching: Worker | None = None

    def alive(self) -> bool:
        return self._process is not None and self._process.is_alive()

    def start(self) -> None:
        """Start the process (if it is not running) and wait until it listens."""
        if self.alive():
            return
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.socket)
        context = multiprocessing.get_context("spawn")
        ready = context.Event()
        process = context.Process(
            target=run_writer,
            args=(self.build, self.settings_json, self.socket, ready, self.shared),
            name="unico-writer",
            daemon=True,
        )
        process.start()
        deadline = time.monotonic() + START_TIMEOUT_S
        # Wait until it listens, but not for one that has died (a database it cannot open):
        # requests waiting for it then get their 503 at once, not after the whole timeout.
        while not ready.wait(timeout=0.1):
            if process.is_alive() and time.monotonic() < deadline:
                continue
            log.error("the writer process did not start (exit code %s)", process.exitcode)
            process.kill()
            process.join(timeout=10)
            raise Overloaded("the writer process did not start; retry shortly")
        self._process = process

    def supervise(self, every_s: float = 0.5) -> None:
        """Restart the process whenever it dies, from a thread, until `stop` (a start that
        fails is tried again on the next round)."""
        self._watching = Worker(
            "unico-writer-watch",
            self._restart_if_dead,
            interval=every_s,
            logger=log,
            failure="the writer process did not start",
        )
        self._watching.start()

    def _restart_if_dead(self) -> None:
        if not self.alive():
            log.error("the writer process died; starting a new one")
            self.start()

    @property
    def pid(self) -> int | None:
        return None if self._process is None else self._process.pid

    def stop(self) -> None:
        """Ask it to commit what it holds and exit (SIGTERM), and wait for it."""
        if self._watching is not None:
            self._watching.stop()
        if self._process is not None:
            self._process.terminate()
            self._process.join(timeout=60)
            if self._process.is_alive():
                self._process.kill()
            self._process = None
        with contextlib.suppress(OSError):
            os.unlink(self.socket)
            os.rmdir(self._dir)


# -- the API process side ------------------------------------------------------------------


class RemoteIngestor:
    """The `Ingestor` API (``submit``, ``start``, ``stop``) backed by a writer process: its
    own, or (``socket``) one shared with other serving processes and started by another."""

    def __init__(
        self,
        build: BuildWriter,
        settings_json: str,
        *,
        timeout: float,
        socket: str | None = None,
    ) -> None:
        self.timeout = timeout
        self._own: WriterProcess | None = None
        if socket is None:
            self._own = WriterProcess(build, settings_json)
            socket = self._own.socket
        self._socket = socket
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._waiting: dict[int, asyncio.Future[Receipt]] = {}
        self._next_id = 0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._connecting: asyncio.Lock | None = None
        self._read_task: asyncio.Task[None] | None = None
        self._failed_start = float("-inf")

    def start(self) -> None:
        """Start the own writer process (the connection opens with the first submission)."""
        if self._own is not None:
            self._own.start()

    def stop(self) -> None:
        """Close the connection; stop the own writer process (it commits what it holds)."""
        if self._writer is not None:
            self._writer.close()
        if self._own is not None:
            self._own.stop()

    async def _connection(self) -> asyncio.StreamWriter:
        if self._writer is not None and not self._writer.is_closing():
            return self._writer
        if self._connecting is None:
            self._connecting = asyncio.Lock()
        async with self._connecting:
            if self._writer is not None and not self._writer.is_closing():
                return self._writer
            self._loop = asyncio.get_running_loop()
            if self._own is not None and not self._own.alive():
                await self._restart(self._own)
            try:
                self._reader, self._writer = await asyncio.open_unix_connection(self._socket)
            except OSError:  # a shared writer being restarted by its supervisor
                raise Overloaded("the writer process is restarting; retry shortly") from None
            self._read_task = asyncio.create_task(self._read_replies(self._reader))
            return self._writer

    async def _restart(self, own: WriterProcess) -> None:
        # Requests queued behind an attempt that failed answer 503 at once: each one trying
        # again in turn would keep the last waiting for all the attempts before it.
        if time.monotonic() - self._failed_start < RESTART_PAUSE_S:
            raise Overloaded("the writer process is not running; retry shortly")
        try:
            await asyncio.to_thread(own.start)
        except Overloaded:
            self._failed_start = time.monotonic()
            raise

    async def _read_replies(self, reader: asyncio.StreamReader) -> None:
        try:
            while True:
                document = await _read_frame(reader)
                future = self._waiting.pop(document["id"], None)
                if future is None or future.done():
                    continue
                if "receipt" in document:
                    future.set_result(Receipt(**document["receipt"]))
                elif document["error"] == QueueFull.code:
                    future.set_exception(QueueFull(document["message"]))
                elif document["error"] == Overloaded.code:
                    future.set_exception(Overloaded(document["message"]))
                else:
                    future.set_exception(RuntimeError(document["message"]))
        except (asyncio.IncompleteReadError, ConnectionError, ValueError):
            log.error("the writer process went away; it will be restarted")
        finally:
            if self._writer is not None:
                self._writer.close()
            self._writer = None
            waiting, self._waiting = self._waiting, {}
            for future in waiting.values():
                if not future.done():
                    future.set_exception(Overloaded("the writer restarted; retry shortly"))

    async def submit(self, submission: Submission) -> Receipt:
        """Send a submission to the writer process and wait until it is committed."""
        writer = await self._connection()
        self._next_id += 1
        request_id = self._next_id
        future: asyncio.Future[Receipt] = asyncio.get_running_loop().create_future()
        self._waiting[request_id] = future
        writer.write(encode_submission(request_id, submission))
        try:
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            self._waiting.pop(request_id, None)
            raise Overloaded("the store did not commit in time; retry shortly") from None

    def invalidate(self) -> None:
        """Tell the writer to drop its profile cache (callable from any thread)."""
        loop = self._loop
        if loop is None or self._writer is None:
            return
        writer = self._writer
        loop.call_soon_threadsafe(lambda: writer.write(_frame({"op": "invalidate"})))
