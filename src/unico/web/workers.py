"""``unico serve --workers N``: N serving processes on one machine, sharing what they can.

uvicorn's supervisor binds the socket and runs N worker processes that accept on it (the
kernel spreads connections over them); each builds its app with `app_from_env`. A Python
process serves on one core, so a 2-core machine needs two of them to use both.

What the workers share, set up here before they start:

- the **database**, migrated once here (the workers do not migrate);
- the **fitted models**: a shelf directory (``UNICO_MODELS_DIR``, a private one when unset)
  where one worker fits a workspace's models and the others load them (decide/shelf.py);
- on **SQLite**, the **ingest writer**: one writer process owns the database's only write
  lock and its profile cache; it is started and restarted from here, and every worker
  hands its events to it over its socket (``UNICO_WRITER_SOCKET``). On PostgreSQL each
  worker writes for itself.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from unico.collect.remote import WriterProcess
from unico.core.settings import Settings

log = logging.getLogger("unico.serve")


def serve_workers(
    settings: Settings, host: str, port: int, workers: int, *, access_log: bool = False
) -> None:
    """Run ``workers`` serving processes until interrupted."""
    import uvicorn

    from unico.container import Container

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
            writer = WriterProcess(quiet.model_dump_json(), shared=True)
            writer.start()
            writer.supervise()
            env["UNICO_WRITER_SOCKET"] = writer.socket
        os.environ.update(env)  # the workers are spawned: they read their settings from here
        try:
            uvicorn.run(
                "unico.web.factory:app_from_env",
                factory=True,
                host=host,
                port=port,
                workers=workers,
                access_log=access_log,
                log_level="warning",
            )
        finally:
            if writer is not None:
                writer.stop()
