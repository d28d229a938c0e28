"""An app built from ``UNICO_*`` variables, for ``uvicorn --factory`` with several workers."""

from __future__ import annotations

import fcntl
import gc
import sys
from pathlib import Path
from typing import IO

from fastapi import FastAPI

from unico.container import Container
from unico.core.settings import load_settings
from unico.web.app import create_app

#: Seconds a thread may hold the interpreter while another waits for it (Python's
#: default is 5 ms). The serving thread shares it with the decision log, model tail and
#: training threads: each hand-over could stall a request for the whole interval, which was
#: a visible part of the decisions' latency tail. A millisecond keeps such stalls short.
SWITCH_INTERVAL_S = 0.001
#: Collections of the young generation before a full one (Python's default is 10). Much of
#: what outlives two young collections in a serving process is requests' lists and dicts
#: that reference counting frees soon after, but each counts towards the next full
#: collection: with two workers sharing 1,000 calls/s, one came every 6 s in each.
#: It walked the 20,000-35,000 objects made since the last settle (`unico.core.memory`),
#: freed nothing, and paused the serving thread for 7 to 14 ms, the slowest answers of a
#: run (BENCHMARKS.md). A hundred times fewer still collect the occasional long-lived cycle.
FULL_COLLECTION_EVERY = 1000


def serving_process() -> None:
    """Tune this interpreter for serving requests (called once, before the app starts)."""
    sys.setswitchinterval(SWITCH_INTERVAL_S)
    young, middle, _ = gc.get_threshold()
    gc.set_threshold(young, middle, FULL_COLLECTION_EVERY)


#: The file lock held for life by the worker that runs the jobs one process does for all.
_leader: IO[bytes] | None = None


def _lead(directory: str | None) -> bool:
    """Whether this worker is (now) the one to run the singleton jobs: the first to lock
    ``leader.lock`` in the shared directory. The lock goes with its process, so the worker
    started in place of a dead leader takes it over."""
    global _leader
    if directory is None:
        return True
    Path(directory).mkdir(parents=True, exist_ok=True)
    f = (Path(directory) / "leader.lock").open("a+b")
    try:
        fcntl.flock(f.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        f.close()
        return False
    _leader = f
    return True


def app_from_env() -> FastAPI:
    """A worker's app (see web/workers.py): on SQLite its events go to the shared writer."""
    from unico.core.memory import settle_garbage_collector
    from unico.web import balance

    serving_process()
    balance.join()
    settings = load_settings()
    container = Container.build(settings, writer_process=settings.writer_socket is not None)
    container.singletons = _lead(settings.models_dir)
    settle_garbage_collector()
    return create_app(container)
