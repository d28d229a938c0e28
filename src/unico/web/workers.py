"""``unico serve --workers N``: N serving processes on one machine, sharing what they can.

uvicorn's supervisor runs N worker processes (and restarts any that dies); each builds its
app with `app_from_env`. A Python process serves on one core, so a 2-core machine needs
two of them to use both.

On Linux each worker listens on a socket of its own, all bound to the address with
``SO_REUSEPORT``, and the kernel spreads new connections over them by a hash of each
connection's addresses. With one socket shared by all workers, whichever worker was idle
when a connection arrived accepted it, and keep-alive connections then stayed where they
landed: a benchmark's 32 connections were seen split 32 to 0, one worker saturated while
the other idled. Elsewhere the workers share one socket, as uvicorn does by default.

What the workers share, set up here before they start:

- the **database**, migrated once here (the workers do not migrate);
- the **fitted models**: a shelf directory (``UNICO_MODELS_DIR``, a private one when unset)
  where one worker fits a workspace's models and the others load them (decide/shelf.py);
- on **SQLite**, the **ingest writer**: one writer process owns the database's only write
  lock and its profile cache; it is started and restarted from here, and every worker
  hands its events to it over its socket (``UNICO_WRITER_SOCKET``). On PostgreSQL each
  worker writes for itself;
- the **count of open connections** per worker (``UNICO_CONNECTION_SLOTS``), by which a
  worker holding more than its share closes one (web/balance.py, web/protocol.py).
"""

from __future__ import annotations

import logging
import os
import socket
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from unico.collect.remote import WriterProcess
from unico.core.settings import Settings
from unico.web.balance import ENV as SLOTS_ENV
from unico.web.balance import create_slots
from unico.web.protocol import UnicoHttpProtocol

if TYPE_CHECKING:
    from uvicorn import Config

log = logging.getLogger("unico.serve")


def serve_workers(
    settings: Settings, host: str, port: int, workers: int, *, access_log: bool = False
) -> None:
    """Run ``workers`` serving processes until interrupted."""
    import uvicorn
    from uvicorn.supervisors import Multiprocess

    from unico.container import Container, build_writer

    if settings.auto_migrate:
        container = Container.build(settings)
        container.store.upgrade()
        container.store.dispose()
    quiet = settings.model_copy(update={"auto_migrate": False})
    with tempfile.TemporaryDirectory(prefix="unico-serve-") as tmp:
        env = {
            "UNICO_DATABASE_URL": settings.database_url,
            "UNICO_AUTO_MIGRATE": "false",
            "UNICO_MODELS_DIR": settings.models_dir or str(Path(tmp) / "models"),
        }
        writer = None
        if settings.is_sqlite:
            writer = WriterProcess(build_writer, quiet.model_dump_json(), shared=True)
            writer.start()
            writer.supervise()
            env["UNICO_WRITER_SOCKET"] = writer.socket
        # Open connections per worker, shared, so that none keeps more than its share.
        slots = Path(tmp) / "connections"
        create_slots(slots, workers)
        env[SLOTS_ENV] = str(slots)
        os.environ.update(env)  # the workers are spawned: they read their settings from here
        config = uvicorn.Config(
            "unico.web.factory:app_from_env",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            http=UnicoHttpProtocol,
            access_log=access_log,
            log_level="warning",
        )
        try:
            Multiprocess(config, sockets=_listeners(config)).run()
        finally:
            if writer is not None:
                writer.stop()


def reuse_port_supported() -> bool:
    """Whether the kernel balances connections over ``SO_REUSEPORT`` sockets (Linux)."""
    return sys.platform.startswith("linux") and hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def reuse_port_socket(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port`` with ``SO_REUSEPORT`` (the worker's server listens)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


class _OwnListener:
    """Stands for a listening socket in uvicorn's supervisor, which hands its sockets to
    each worker it spawns by pickling them: unpickled, this is a new socket bound there
    (`reuse_port_socket`), so every worker, restarted ones too, gets a socket of its own."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def __reduce__(self) -> tuple[Any, tuple[str, int]]:
        return reuse_port_socket, (self.host, self.port)


def _listeners(config: Config) -> list[socket.socket]:
    """What uvicorn's supervisor hands each worker: a socket of its own where the kernel
    balances them, else the one socket every worker shares (as ``uvicorn.run`` does)."""
    if not reuse_port_supported():
        return [config.bind_socket()]
    # Fail here, once and clearly, when the address is taken (not in every worker). A bind
    # without SO_REUSEPORT also fails when another server listens there with it: this one
    # must not join that server's group and take half of its connections.
    with socket.socket(_family(config.host)) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind((config.host, config.port))
    return [cast(socket.socket, _OwnListener(config.host, config.port))]
