"""When a workspace's models are trained, and the background threads that train them and
feed the real-time ones.

Three things start a training run, always in the training thread, never in a request's:

- the workspace's own activity: its first interactions, and later a burst of
  ``Triggers.interactions`` new interactions or ``Triggers.items`` new catalog items since
  the last run, or a placement that needs a model the last run did not fit; the run starts
  once they pause for ``Triggers.debounce_ms`` by the injected clock (a burst that goes on
  starts one after `MAX_DEBOUNCES` times that);
- the clock, every ``train_minutes``, for each workspace with new interactions;
- a request (``POST /v1/models/train``), as soon as the training thread is free.

The tail thread reads each workspace's new interaction rows every ``tail_ms``: the
registry feeds them to the real-time models, and the schedule notes that something
changed. Every serving process watches (``unico serve --workers N``); a run that a burst
or the clock asked for trains only if it is still due once its process holds the
workspace's training lock and serves the newest published models, so whichever process
asks first trains and publishes, and the others find nothing left to do.

>>> Triggers().debounce_ms
3000
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Sized
from dataclasses import dataclass
from typing import Any, Protocol

from threadpoolctl import threadpool_limits

from unico.catalog.snapshot import CatalogSnapshot
from unico.core.clock import Clock
from unico.core.worker import Worker
from unico.decide.fitted import Fitted

log = logging.getLogger("unico.decide")

#: A burst that never pauses starts its training after this many debounce periods.
MAX_DEBOUNCES = 20
#: How often a process whose tail is off looks for models published on the shelf.
SHELF_POLL_MS = 500
#: How often (ms) the tail lists the workspaces with placements (a new one's tail starts
#: there, unless a decision asked for it first) and looks at their catalogs and placements.
LIST_MS = 1000
FAILED = "background model work failed"


@dataclass(frozen=True, slots=True)
class Triggers:
    """What starts a training run before the clock does (0 turns a threshold off)."""

    interactions: int = 1000
    items: int = 100
    debounce_ms: int = 3000


@dataclass(slots=True)
class _Watch:
    """What the tail has noticed of one workspace since its last check."""

    catalog_version: int | None = None
    names: frozenset[str] = frozenset()
    changed_ms: int = 0
    #: When the first change not yet checked was seen (None: nothing to check).
    dirty_since: int | None = None
    queued: bool = False
    backlog_seen: bool = False


class _Tail(Protocol):
    def since(self, workspace_id: str, after_id: int, limit: int) -> Sized: ...


class Trainable(Protocol):
    """What the schedule drives: `unico.decide.models.ModelRegistry`, which builds its
    schedule; declared here so that the two modules do not import each other."""

    @property
    def interactions(self) -> _Tail: ...

    @property
    def shelf(self) -> object | None: ...

    def workspaces(self) -> Iterable[str]: ...

    def known(self) -> list[str]: ...

    def fitted(self, workspace_id: str) -> Fitted: ...

    def names(self, workspace_id: str) -> set[str]: ...

    def backlogged(self, workspace_id: str) -> bool: ...

    def changed(self, workspace_id: str) -> bool: ...

    def poll_once(self, workspace_id: str) -> int: ...

    def sync_shelf(self) -> int: ...

    def train_now(self, workspace_id: str) -> Any: ...

    def train_if(self, workspace_id: str, still_due: Callable[[str], bool]) -> bool: ...


class Schedule:
    """The training and tail threads of one process's `ModelRegistry`."""

    def __init__(
        self,
        registry: Trainable,
        clock: Clock,
        catalog: Callable[[str], CatalogSnapshot],
        triggers: Triggers,
        *,
        train_minutes: float,
        tail_ms: int,
    ) -> None:
        self.registry = registry
        self.clock = clock
        self.catalog = catalog
        self.triggers = triggers
        self.train_minutes = train_minutes
        self.tail_ms = tail_ms
        self._watches: dict[str, _Watch] = {}
        self._listed: set[str] = set()
        self._requests: queue.SimpleQueue[tuple[str, bool]] = queue.SimpleQueue()
        #: Set while stopping: long rounds end between workspaces.
        self._stop = threading.Event()
        self._workers: list[Worker] = []
        self._next_run = 0.0
        self._rounds = 0
        self._blas: threadpool_limits | None = None

    @property
    def running(self) -> bool:
        return bool(self._workers)

    def request(self, workspace_id: str) -> None:
        """Queue a run on demand (it trains whatever the triggers would say)."""
        self._requests.put((workspace_id, False))
        self._wake_trainer()

    def wake_tail(self) -> None:
        """Run the tail's next round now: a workspace seen for the first time learns its
        history at once instead of at the next period."""
        workers = self._workers  # one read: `stop` may empty the list meanwhile
        if len(workers) > 1:
            workers[1].wake()

    def _wake_trainer(self) -> None:
        workers = self._workers  # one read: `stop` may empty the list meanwhile
        if workers:
            workers[0].wake()

    # -- the tail ---------------------------------------------------------------------------

    def tick(self, *, full: bool = True) -> None:
        """One round of the tail: load the models other processes published, feed new rows
        to the real-time models, and start the training runs that are due (in this thread
        when the schedule is not running: tests, the CLI). A ``full`` round also lists the
        workspaces with placements and looks at their catalogs and placements."""
        self.registry.sync_shelf()
        if full:
            self._listed = set(self.registry.workspaces())
        for workspace_id in sorted(self._listed.union(self.registry.known())):
            if self._stop.is_set():
                return
            self._guarded(functools.partial(self._round, workspace_id, full))

    def _round(self, workspace_id: str, full: bool) -> None:
        self.watch(workspace_id, self.registry.poll_once(workspace_id), full=full)

    def watch(self, workspace_id: str, new_rows: int, *, full: bool = True) -> None:
        """Note what changed in the workspace (``new_rows`` the tail just read and, with
        ``full``, its catalog and its placements' models) and queue a training run once
        the changes pause."""
        w = self._watches.setdefault(workspace_id, _Watch())
        now = self.clock.now_ms()
        changed = new_rows > 0
        if full:
            version = self.catalog(workspace_id).version
            names = frozenset(self.registry.names(workspace_id))
            changed = changed or version != w.catalog_version or names != w.names
            w.catalog_version, w.names = version, names
        if changed:
            w.changed_ms = now
            if w.dirty_since is None:
                w.dirty_since = now
        if w.queued:
            return
        if self.registry.backlogged(workspace_id) and not w.backlog_seen:
            w.backlog_seen = True  # too long a history to learn row by row: fit it now
            self._queue(workspace_id, w)
            return
        debounce = self.triggers.debounce_ms
        if w.dirty_since is None or (
            now - w.changed_ms < debounce and now - w.dirty_since < MAX_DEBOUNCES * debounce
        ):
            return
        w.dirty_since = None
        if self.due(workspace_id):
            self._queue(workspace_id, w)

    def due(self, workspace_id: str) -> bool:
        """Whether the workspace needs a training run (the debounce aside), judged from the
        store and the catalog: its first once it has any interaction; later, once enough
        interactions or items are new since the last, or a model it needs was not fitted."""
        registry, fitted = self.registry, self.registry.fitted(workspace_id)
        if fitted.trained and registry.names(workspace_id) - set(fitted.status):
            return True
        rows = self.triggers.interactions if fitted.trained else 1
        if rows:
            new = registry.interactions.since(workspace_id, fitted.trained_row_id, rows)
            if len(new) >= rows:
                return True
        items = self.triggers.items
        return bool(items) and len(self.catalog(workspace_id).items.keys() - fitted.items) >= items

    def _queue(self, workspace_id: str, w: _Watch) -> None:
        w.queued = True
        if self.running:
            self._requests.put((workspace_id, True))
            self._wake_trainer()
        else:
            self._train(workspace_id, True)

    def _train(self, workspace_id: str, triggered: bool) -> None:
        if not triggered:
            self.registry.train_now(workspace_id)
            return
        try:
            self.registry.train_if(workspace_id, self.due)
        finally:
            self._watches[workspace_id].queued = False

    # -- threads ----------------------------------------------------------------------------

    def start(self) -> None:
        # Decisions fold people into ALS with a small solve per request: a multi-threaded
        # BLAS spins its threads against the event loop for it (tens of ms on a busy 2-core
        # machine instead of microseconds). One BLAS thread in the serving process.
        # threadpoolctl limits the libraries loaded when it is called, and only the first
        # thread to limit OpenBLAS may change it later (fits in the training thread cannot):
        # load SciPy's OpenBLAS too (the recommenders' modules load it lazily) before.
        import scipy.linalg  # noqa: F401

        self._blas = threadpool_limits(1, "blas")
        self.registry.sync_shelf()
        self._stop.clear()
        period = self.train_minutes * 60 if self.train_minutes > 0 else None
        self._next_run = time.monotonic() + (period or 0)
        self._workers = [
            Worker("unico-train", self._train_step, interval=period, logger=log, failure=FAILED)
        ]
        if self.tail_ms > 0 or self.registry.shelf is not None:
            self._rounds = 0
            period_ms = self.tail_ms or SHELF_POLL_MS
            self._workers.append(
                Worker(
                    "unico-tail",
                    self._tail_step,
                    interval=period_ms / 1000,
                    logger=log,
                    failure=FAILED,
                )
            )
        for worker in self._workers:
            worker.start()
        if not self._requests.empty():
            self._wake_trainer()  # runs asked for before the start

    def stop(self) -> None:
        self._stop.set()
        for worker in self._workers:
            worker.stop()
        self._workers = []
        self._stop.clear()  # rounds called from outside (tests, the CLI) run to the end
        if self._blas is not None:
            self._blas.restore_original_limits()
            self._blas = None

    def _train_step(self) -> float | None:
        """The training thread's round: the runs asked for, one by one, then the clock's
        run once it is due; how long to wait for the next."""
        while not self._stop.is_set():
            try:
                requested = self._requests.get_nowait()
            except queue.Empty:
                break
            self._guarded(functools.partial(self._train, *requested))
        period = self.train_minutes * 60 if self.train_minutes > 0 else None
        if period is None:
            return None
        if time.monotonic() >= self._next_run and not self._stop.is_set():
            self._next_run = time.monotonic() + period
            self._guarded(self._scheduled)
        return max(0.0, self._next_run - time.monotonic())

    def _scheduled(self) -> None:
        for workspace_id in self.registry.workspaces():
            if self._stop.is_set():
                return
            if self.registry.changed(workspace_id):
                self.registry.train_if(workspace_id, self.registry.changed)

    def _tail_step(self) -> None:
        if self.tail_ms <= 0:
            self._guarded(self.registry.sync_shelf)
            return
        full = self._rounds % max(1, LIST_MS // self.tail_ms) == 0
        self._guarded(functools.partial(self.tick, full=full))
        self._rounds += 1

    def _guarded(self, work: Callable[[], object]) -> None:
        if not self.running:
            work()  # called from a test or the CLI: let it fail there
            return
        try:
            work()
        except Exception:  # the loop must survive a failing store or model; the next round retries
            log.exception(FAILED)
