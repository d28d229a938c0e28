"""The background worker: a named daemon thread that runs one step every interval, or
sooner when woken.

Every periodic job of a process (the WAL checkpointer, the queued writers, the segment
sweeper, the bandit allocations, the model tail and trainer, the writer process's
supervisor, the connection heartbeat) is one of these, so they all stop the same way
(``stop`` wakes the thread and joins it) and a failing step is logged and retried on the
next round instead of ending the thread. The ingest writer is not: it is a queue consumer
woken by each submission under a condition variable, committing groups and answering
futures, with no interval at all.

The request path touches a worker at most through `Worker.wake` (one ``Event.set``): no
lock is taken. The interval is wall time: a step reads the injected clock itself when it
decides what is due, so tests drive the step directly after moving the clock.

>>> import threading
>>> ran = threading.Event()
>>> worker = Worker("unico-example", lambda: ran.set(), interval=60)
>>> worker.start()
>>> worker.wake()
>>> ran.wait(5)
True
>>> worker.stop()
>>> worker.running
False
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("unico.worker")

#: A step's answer: seconds until the next step (``None``: the worker's interval).
Step = Callable[[], float | None]


class Worker:
    """Runs ``step`` in a daemon thread named ``name``.

    ``interval`` is the wait between steps (``None``: only when woken); a step may return
    its own wait instead (0 runs it again at once). With ``run_first`` the first step runs
    as soon as the thread starts, otherwise after the first wait; with ``run_last`` one
    more step runs after ``stop`` asked the thread to end (what is pending gets done).
    """

    def __init__(
        self,
        name: str,
        step: Step,
        *,
        interval: float | None,
        run_first: bool = False,
        run_last: bool = False,
        logger: logging.Logger = log,
        failure: str = "background work failed",
        level: int = logging.ERROR,
    ) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.run_first = run_first
        self.run_last = run_last
        self.logger = logger
        self.failure = failure
        self.level = level
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None

    @property
    def stopping(self) -> bool:
        """Whether ``stop`` was called: long steps check it between units of work."""
        return self._stopping

    def start(self) -> None:
        """Start the thread (nothing if it runs already)."""
        if self._thread is None:
            self._stopping = False
            self._wake.clear()
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()

    def stop(self) -> None:
        """Ask the thread to end and wait for it (nothing if it is not running)."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None

    def wake(self) -> None:
        """Run the next step now rather than at the end of the wait."""
        self._wake.set()

    def _run(self) -> None:
        wait = 0.0 if self.run_first else self.interval
        while True:
            if wait is None or wait > 0:
                self._wake.wait(wait)
                self._wake.clear()
            if self._stopping:
                break
            wait = self._guarded()
        if self.run_last:
            self._guarded()

    def _guarded(self) -> float | None:
        try:
            found = self.step()
        except Exception:  # a busy or unreachable store, a failing model: retry next round
            self.logger.log(self.level, "%s: %s", self.name, self.failure, exc_info=True)
            return self.interval
        return self.interval if found is None else found
