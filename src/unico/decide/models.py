"""The model registry: each workspace's fitted recommenders, retrained in the background
and on demand, and fed new interactions in near real time.

A training run fits fresh objects and swaps one immutable `Fitted` snapshot in place of
the old one, so a decision never sees a half-trained model. Between runs, recommenders
with ``learn_one`` (item-to-item, trending, the hybrid's online parts) learn each new
interaction row as the tail thread reads it from the store (on SQLite the ingest writer is
another process: the database is all the two share); those calls and the decisions that
use an online model hold the workspace's lock.

>>> # registry.train_now("ws_…"); registry.get("ws_…", "als")
"""

from __future__ import annotations

import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from threadpoolctl import threadpool_limits

from unico.catalog.store import TailRow
from unico.core.clock import Clock, to_iso
from unico.core.memory import settle_garbage_collector
from unico.decide.shelf import ModelShelf, Version
from unico.recommend.base import Recommender, TrainingData

log = logging.getLogger("unico.decide")

Factory = Callable[[], Recommender]
#: Strategy -> the model it needs (recently_viewed and manual need none).
MODEL_OF = {
    "popular": "popular",
    "trending": "trending",
    "also_viewed": "also_viewed",
    "als": "als",
    "ease": "ease",
    "content": "content",
    "hybrid": "hybrid",
}
TAIL_PAGE = 5000
#: How often a process without a real-time tail looks for models published on the shelf.
SHELF_POLL_MS = 500


class Interactions(Protocol):
    """What the registry reads of the catalog context's interaction store."""

    def since(self, workspace_id: str, after_id: int, limit: int) -> list[TailRow]: ...

    def training_data(
        self,
        workspace_id: str,
        *,
        since_ms: int | None = None,
        max_rows: int | None = None,
        now_ms: int,
    ) -> TrainingData: ...


def default_factories(trending_half_life_days: float) -> dict[str, Factory]:
    """The built-in recommenders, registered as a third-party one would be. Each imports its
    module when first built: processes that never train (the ingest writer, the CLI) never
    load the numerical libraries."""

    def popular() -> Recommender:
        from unico.recommend.popular import PopularRecommender

        return PopularRecommender()

    def trending() -> Recommender:
        from unico.recommend.popular import PopularRecommender

        return PopularRecommender(half_life_days=trending_half_life_days)

    def also_viewed() -> Recommender:
        from unico.recommend.cooccurrence import ItemToItemRecommender

        return ItemToItemRecommender()

    def als() -> Recommender:
        from unico.recommend.als import ALSRecommender

        return ALSRecommender()

    def ease() -> Recommender:
        from unico.recommend.ease import EASERecommender

        return EASERecommender()

    def content() -> Recommender:
        from unico.recommend.content import ContentRecommender

        return ContentRecommender()

    def hybrid() -> Recommender:
        from unico.recommend.hybrid import HybridRecommender

        parts = {
            "als": als(),
            "also_viewed": also_viewed(),
            "content": content(),
            "popular": popular(),
        }
        return HybridRecommender(parts)

    return {
        "popular": popular,
        "trending": trending,
        "also_viewed": also_viewed,
        "als": als,
        "ease": ease,
        "content": content,
        "hybrid": hybrid,
    }


@dataclass(frozen=True, slots=True)
class ModelStatus:
    name: str
    fitted: bool
    trained_at: int | None = None
    rows: int = 0
    users: int = 0
    items: int = 0
    duration_ms: float = 0.0
    error: str | None = None

    def view(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "fitted": self.fitted,
            "trained_at": to_iso(self.trained_at),
            "rows": self.rows,
            "users": self.users,
            "items": self.items,
            "duration_ms": round(self.duration_ms, 1),
            "error": self.error,
        }


@dataclass(frozen=True)
class Fitted:
    """One workspace's models after a training run: replaced whole, never changed."""

    models: Mapping[str, Recommender] = field(default_factory=dict)
    status: Mapping[str, ModelStatus] = field(default_factory=dict)
    #: The interaction row id the run had seen: "changed since" compares with it.
    trained_row_id: int = 0
    #: Row ids within ``lookback`` of ``trained_row_id`` already seen (PostgreSQL's tail).
    seen: frozenset[int] = frozenset()


@dataclass
class _Workspace:
    fitted: Fitted = field(default_factory=Fitted)
    tail_id: int = 0
    #: Row ids learnt within ``lookback`` of the tail (rows may commit out of id order).
    seen: set[int] = field(default_factory=set)
    learnt_online: int = 0
    training: bool = False
    #: The shelf snapshot these models came from or were published as.
    shelf_version: Version | None = None
    #: Serializes training runs; `lock` serializes online learning with online serving.
    train_lock: threading.Lock = field(default_factory=threading.Lock)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ModelRegistry:
    """Fitted recommenders per workspace.

    ``needed(workspace_id)`` names the models a workspace's placements use;
    ``workspaces()`` lists the workspaces the schedule trains.
    """

    def __init__(
        self,
        interactions: Interactions,
        clock: Clock,
        factories: Mapping[str, Factory],
        *,
        needed: Callable[[str], set[str]],
        workspaces: Callable[[], Iterable[str]],
        train_minutes: float = 10.0,
        tail_ms: int = 200,
        lookback: int = 0,
        shelf: ModelShelf | None = None,
    ) -> None:
        self.interactions = interactions
        self.clock = clock
        self.factories = dict(factories)
        self.needed = needed
        self.workspaces = workspaces
        self.train_minutes = train_minutes
        self.tail_ms = tail_ms
        #: PostgreSQL commits sequence ids out of order: re-read this many ids behind the tail.
        self.lookback = lookback
        #: Shared with the other serving processes: models are fitted by one, loaded by all.
        self.shelf = shelf
        self._state: dict[str, _Workspace] = {}
        self._state_lock = threading.Lock()
        self._requests: queue.SimpleQueue[str | None] = queue.SimpleQueue()
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._blas: threadpool_limits | None = None

    def register(self, name: str, factory: Factory) -> None:
        """Add or replace a recommender (a plug-in's, or a test's)."""
        self.factories[name] = factory

    def _ws(self, workspace_id: str) -> _Workspace:
        found = self._state.get(workspace_id)
        if found is None:
            with self._state_lock:
                found = self._state.setdefault(workspace_id, _Workspace())
        return found

    # -- serving ----------------------------------------------------------------------------

    def get(self, workspace_id: str, name: str) -> Recommender | None:
        """The fitted model ``name`` of a workspace, or None (never trained, or it failed)."""
        state = self._state.get(workspace_id)
        return None if state is None else state.fitted.models.get(name)

    def lock(self, workspace_id: str) -> threading.Lock:
        """Hold while calling an online model: the tail thread changes it under this lock."""
        return self._ws(workspace_id).lock

    # -- training ---------------------------------------------------------------------------

    def train_now(self, workspace_id: str, names: Iterable[str] | None = None) -> dict[str, Any]:
        """Fit the workspace's models on its interactions now, in this thread; swap them in."""
        state = self._ws(workspace_id)
        with state.train_lock:
            state.training = True
            try:
                self._train(workspace_id, state, set(names or self._names(workspace_id)))
            finally:
                state.training = False
        return self.status(workspace_id)

    def _names(self, workspace_id: str) -> set[str]:
        return {"popular", *self.needed(workspace_id)} & set(self.factories)

    def _train(self, workspace_id: str, state: _Workspace, names: set[str]) -> None:
        if self.shelf is None:
            fitted = self._fit(workspace_id, state, names)
            with state.lock:
                state.fitted = fitted
        else:
            waiting_since = time.time_ns()
            with self.shelf.training(workspace_id):
                version = self.shelf.version(workspace_id)
                if version is not None and version[1] >= waiting_since:
                    # Another process trained while this one waited: take its models.
                    self._adopt(workspace_id, state)
                    return
                fitted = self._fit(workspace_id, state, names)
                try:
                    published = self.shelf.publish(workspace_id, fitted)
                    # Serve the mapped copy every process shares, not this one's own.
                    loaded = self.shelf.load(workspace_id)
                    if loaded is not None and loaded[1] == published:
                        fitted = loaded[0]
                except Exception:  # serve them here at least; the others keep theirs
                    log.exception("publishing the models of %s failed", workspace_id)
                    published = None
            with state.lock:
                state.fitted, state.shelf_version = fitted, published
        if self._threads:
            settle_garbage_collector()

    def _fit(self, workspace_id: str, state: _Workspace, names: set[str]) -> Fitted:
        row_id = self._drain_tail(workspace_id, state)
        seen = frozenset(state.seen)
        data = self.interactions.training_data(workspace_id, now_ms=self.clock.now_ms())
        models: dict[str, Recommender] = {}
        status: dict[str, ModelStatus] = {}
        for name in sorted(names):
            models_or_none, status[name] = self._fit_one(name, data)
            if models_or_none is not None:
                models[name] = models_or_none
        return Fitted(models, status, row_id, seen)

    def _adopt(self, workspace_id: str, state: _Workspace) -> bool:
        """Serve the shelf's snapshot of the workspace; whether there was a new one."""
        assert self.shelf is not None
        loaded = self.shelf.load(workspace_id)
        if loaded is None or loaded[1] == state.shelf_version:
            return False
        fitted, version = loaded
        with state.lock:
            # Learn online from where the snapshot's fit stopped, as its trainer does.
            state.fitted, state.shelf_version = fitted, version
            state.tail_id, state.seen = fitted.trained_row_id, set(fitted.seen)
        return True

    def sync_shelf(self) -> int:
        """Load the snapshots other processes published since the last look; how many."""
        if self.shelf is None:
            return 0
        loaded = 0
        for workspace_id in self.shelf.workspaces():
            state = self._ws(workspace_id)
            if state.shelf_version == self.shelf.version(workspace_id):
                continue
            # A training run in this process will publish (or adopt) itself.
            if not state.train_lock.acquire(blocking=False):
                continue
            try:
                loaded += self._adopt(workspace_id, state)
            finally:
                state.train_lock.release()
        if loaded and self._threads:
            settle_garbage_collector()
        return loaded

    def _fit_one(self, name: str, data: TrainingData) -> tuple[Recommender | None, ModelStatus]:
        started = time.perf_counter()
        now = self.clock.now_ms()
        rows, users, items = int(data.matrix.nnz), len(data.users), len(data.items)
        try:
            model = self.factories[name]()
            model.fit(data)
        except Exception as exc:  # a failing model must not take the others down
            log.exception("training %s failed", name)
            elapsed = (time.perf_counter() - started) * 1000
            return None, ModelStatus(name, False, now, rows, users, items, elapsed, repr(exc)[:300])
        elapsed = (time.perf_counter() - started) * 1000
        return model, ModelStatus(name, rows > 0, now, rows, users, items, elapsed)

    def _drain_tail(self, workspace_id: str, state: _Workspace) -> int:
        """Move the tail to the newest interaction row (a fresh fit includes them all)."""
        while True:
            rows = self._unseen(workspace_id, state)
            if not rows:
                return state.tail_id
            self._advance(state, rows)

    def _unseen(self, workspace_id: str, state: _Workspace) -> list[TailRow]:
        floor = max(0, state.tail_id - self.lookback)
        rows = self.interactions.since(workspace_id, floor, TAIL_PAGE)
        return [r for r in rows if r[0] > state.tail_id or r[0] not in state.seen]

    def _advance(self, state: _Workspace, rows: list[TailRow]) -> None:
        state.tail_id = max(state.tail_id, rows[-1][0])
        if self.lookback:
            floor = state.tail_id - self.lookback
            state.seen = {i for i in state.seen if i > floor} | {r[0] for r in rows if r[0] > floor}

    def changed(self, workspace_id: str) -> bool:
        """Whether interactions arrived since the last training run."""
        state = self._ws(workspace_id)
        return bool(self.interactions.since(workspace_id, state.fitted.trained_row_id, 1))

    def request_training(self, workspace_id: str) -> dict[str, Any]:
        """Queue a training run for the background thread (or run it here when not started)."""
        if not self._threads:
            return self.train_now(workspace_id)
        self._ws(workspace_id).training = True
        self._requests.put(workspace_id)
        return self.status(workspace_id)

    # -- real time ----------------------------------------------------------------------------

    def poll_once(self, workspace_id: str) -> int:
        """Feed interaction rows newer than the tail to the online models; how many."""
        state = self._ws(workspace_id)
        online = [
            m for m in state.fitted.models.values() if callable(getattr(m, "learn_one", None))
        ]
        total = 0
        while True:
            rows = self._unseen(workspace_id, state)
            if not rows:
                return total
            with state.lock:
                for _, profile_id, item_id, weight, at in rows:
                    for model in online:
                        model.learn_one(profile_id, item_id, weight, at)  # type: ignore[attr-defined]
                self._advance(state, rows)
                state.learnt_online += len(rows)
            total += len(rows)

    # -- status ---------------------------------------------------------------------------------

    def status(self, workspace_id: str) -> dict[str, Any]:
        state = self._ws(workspace_id)
        fitted = state.fitted
        names = sorted(self._names(workspace_id) | set(fitted.status))
        training = state.training or (self.shelf is not None and self.shelf.busy(workspace_id))
        return {
            "training": training,
            "learnt_online": state.learnt_online,
            "models": [
                fitted.status[n].view() if n in fitted.status else ModelStatus(n, False).view()
                for n in names
            ],
        }

    # -- background threads ---------------------------------------------------------------------

    def start(self) -> None:
        # Decisions fold people into ALS with a small solve per request: a multi-threaded
        # BLAS spins its threads against the event loop for it (tens of ms on a busy 2-core
        # machine instead of microseconds). One BLAS thread in the serving process.
        # threadpoolctl limits the libraries loaded when it is called, and only the first
        # thread to limit OpenBLAS may change it later (fits in the training thread cannot):
        # load SciPy's OpenBLAS too (the recommenders' modules load it lazily) before.
        import scipy.linalg  # noqa: F401

        self._blas = threadpool_limits(1, "blas")
        self._stop.clear()
        self._threads = [threading.Thread(target=self._train_loop, name="unico-train", daemon=True)]
        self.sync_shelf()
        if self.tail_ms > 0 or self.shelf is not None:
            self._threads.append(
                threading.Thread(target=self._tail_loop, name="unico-tail", daemon=True)
            )
        for thread in self._threads:
            thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._requests.put(None)
        for thread in self._threads:
            thread.join()
        self._threads = []
        if self._blas is not None:
            self._blas.restore_original_limits()
            self._blas = None

    def _train_loop(self) -> None:
        period = self.train_minutes * 60 if self.train_minutes > 0 else None
        next_run = time.monotonic() + (period or 0)
        while not self._stop.is_set():
            wait = None if period is None else max(0.0, next_run - time.monotonic())
            try:
                requested = self._requests.get(timeout=wait)
            except queue.Empty:
                requested = None
                next_run = time.monotonic() + (period or 0)
                self._guarded(self._scheduled)
            if requested is not None:
                self._guarded(functools.partial(self.train_now, requested))

    def _scheduled(self) -> None:
        for workspace_id in self.workspaces():
            if self._stop.is_set():
                return
            if self.changed(workspace_id):
                self.train_now(workspace_id)

    def _tail_loop(self) -> None:
        while not self._stop.wait((self.tail_ms or SHELF_POLL_MS) / 1000):
            self._guarded(self.sync_shelf)
            if self.tail_ms <= 0:
                continue
            for workspace_id in list(self._state):
                self._guarded(functools.partial(self.poll_once, workspace_id))

    @staticmethod
    def _guarded(work: Callable[[], object]) -> None:
        try:
            work()
        except Exception:  # the loop must survive a failing store or model; the next round retries
            log.exception("background model work failed")
