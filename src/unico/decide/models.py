"""The model registry: each workspace's recommenders, fitted in the background and fed
new interactions in real time.

Real-time models (``realtime``: popular, trending, item-to-item) learn every interaction
row as the tail reads it from the store (on SQLite the ingest writer is another process:
the database is all the two share), from a workspace's first interaction on: until its
first training run they start empty and learn its short history row by row, so a new
shop answers from its first events. Batch models (ALS, EASE, content, the hybrid) exist
once a training run has fitted them. A run fits fresh objects of every model on the
interactions up to a cut (the newest row id) and swaps one immutable `Fitted` snapshot in
place of the old one, so a decision never sees a half-trained model; the tail then goes
on from the cut, feeding the new models. Online learning and the decisions that use an
online model hold the workspace's lock. When runs start is `unico.decide.schedule`'s part.

With a shelf (``unico serve --workers N``) one process fits a workspace's models and
publishes them; the others load them (`unico.decide.shelf`).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from unico.catalog.snapshot import CatalogSnapshot
from unico.catalog.store import TailRow
from unico.core.clock import Clock
from unico.core.memory import settle_garbage_collector
from unico.decide.fitted import Fitted, ModelStatus
from unico.decide.recommenders import MODEL_OF, REALTIME, Factory, default_factories
from unico.decide.schedule import Schedule, Triggers
from unico.decide.shelf import ModelShelf, Version
from unico.recommend.base import Recommender, TrainingData

log = logging.getLogger("unico.decide")

__all__ = ["MODEL_OF", "REALTIME", "Factory", "Fitted", "ModelRegistry", "default_factories"]
TAIL_PAGE = 5000
#: The most history a workspace's real-time models learn row by row before their first
#: fit (a second or so of learning); a longer one waits for a training run started at once.
REPLAY_ROWS = 20_000


class Interactions(Protocol):
    """What the registry reads of the catalog context's interaction store."""

    def since(self, workspace_id: str, after_id: int, limit: int) -> list[TailRow]: ...

    def last_id(self, workspace_id: str) -> int: ...

    def training_data(
        self,
        workspace_id: str,
        *,
        since_ms: int | None = None,
        max_rows: int | None = None,
        max_id: int | None = None,
        now_ms: int,
    ) -> TrainingData: ...


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
    #: Bumped by every swap: rows the tail read for the models before are read again.
    generation: int = 0
    #: Too long a history to learn row by row: the real-time models wait for a first fit.
    backlog: bool = False
    #: The real-time models last started empty (before the first fit), by name.
    started: frozenset[str] = frozenset()
    #: Serializes training runs; `lock` serializes online learning with online serving.
    train_lock: threading.Lock = field(default_factory=threading.Lock)
    lock: threading.Lock = field(default_factory=threading.Lock)


class ModelRegistry:
    """Fitted recommenders per workspace.

    ``needed(workspace_id)`` names the models a workspace's placements use;
    ``workspaces()`` lists the workspaces the schedule watches; ``catalog(workspace_id)``
    is the workspace's catalog snapshot. A first call of `get` for a workspace returns
    None and makes the tail watch it; `train_now` fits its models in the calling thread.
    """

    def __init__(
        self,
        interactions: Interactions,
        clock: Clock,
        factories: Mapping[str, Factory],
        *,
        needed: Callable[[str], set[str]],
        workspaces: Callable[[], Iterable[str]],
        catalog: Callable[[str], CatalogSnapshot],
        train_minutes: float = 10.0,
        tail_ms: int = 200,
        triggers: Triggers | None = None,
        lookback: int = 0,
        shelf: ModelShelf | None = None,
        realtime: Iterable[str] = REALTIME,
        replay_rows: int = REPLAY_ROWS,
    ) -> None:
        self.interactions = interactions
        self.clock = clock
        self.factories = dict(factories)
        self.needed = needed
        self.workspaces = workspaces
        #: Names of the models that learn from a workspace's first interaction on.
        self.realtime = frozenset(realtime)
        #: The longest history the real-time models learn row by row before a first fit.
        self.replay_rows = replay_rows
        #: PostgreSQL commits sequence ids out of order: re-read this many ids behind the tail.
        self.lookback = lookback
        #: Shared with the other serving processes: models are fitted by one, loaded by all.
        self.shelf = shelf
        self._state: dict[str, _Workspace] = {}
        self._state_lock = threading.Lock()
        self.schedule = Schedule(
            self,
            clock,
            catalog,
            triggers or Triggers(),
            train_minutes=train_minutes,
            tail_ms=tail_ms,
        )

    def register(self, name: str, factory: Factory) -> None:
        """Add or replace a recommender (a plug-in's, or a test's)."""
        self.factories[name] = factory

    def _ws(self, workspace_id: str) -> _Workspace:
        found = self._state.get(workspace_id)
        if found is None:
            with self._state_lock:
                found = self._state.setdefault(workspace_id, _Workspace())
        return found

    def known(self) -> list[str]:
        """The workspaces this process has models (or a tail) for."""
        return list(self._state)

    def fitted(self, workspace_id: str) -> Fitted:
        """The workspace's current models and what their training run saw."""
        return self._ws(workspace_id).fitted

    def names(self, workspace_id: str) -> set[str]:
        """The models the workspace's placements need (popular always: defaults use it)."""
        return {"popular", *self.needed(workspace_id)} & set(self.factories)

    # -- serving ----------------------------------------------------------------------------

    def get(self, workspace_id: str, name: str) -> Recommender | None:
        """The model ``name`` of a workspace, or None (not trained yet, or it failed)."""
        state = self._state.get(workspace_id)
        if state is None:
            self._ws(workspace_id)  # first sight: the tail starts on it now
            self.schedule.wake_tail()
            return None
        return state.fitted.models.get(name)

    def lock(self, workspace_id: str) -> threading.Lock:
        """Hold while calling an online model: the tail thread changes it under this lock."""
        return self._ws(workspace_id).lock

    # -- training ---------------------------------------------------------------------------

    def train_now(self, workspace_id: str, names: Iterable[str] | None = None) -> dict[str, Any]:
        """Fit the workspace's models on its interactions now, in this thread; swap them in."""
        self._run(workspace_id, set(names or self.names(workspace_id)), None)
        return self.status(workspace_id)

    def train_if(self, workspace_id: str, still_due: Callable[[str], bool]) -> bool:
        """Fit the workspace's models unless ``still_due(workspace_id)`` is false once this
        process holds the training lock and serves the newest published models: a run the
        clock or a burst asked for is not done again when another process (or an earlier
        request) has just done it. Whether it trained."""
        return self._run(workspace_id, self.names(workspace_id), still_due)

    def request_training(self, workspace_id: str) -> dict[str, Any]:
        """Queue a training run for the background thread (or run it here when not started)."""
        if not self.schedule.running:
            return self.train_now(workspace_id)
        self._ws(workspace_id).training = True
        self.schedule.request(workspace_id)
        return self.status(workspace_id)

    def _run(
        self, workspace_id: str, names: set[str], still_due: Callable[[str], bool] | None
    ) -> bool:
        state = self._ws(workspace_id)
        with state.train_lock:
            state.training = True
            try:
                return self._train(workspace_id, state, names, still_due)
            finally:
                state.training = False

    def _train(
        self,
        workspace_id: str,
        state: _Workspace,
        names: set[str],
        still_due: Callable[[str], bool] | None,
    ) -> bool:
        if self.shelf is None:
            if still_due is not None and not still_due(workspace_id):
                return False
            self._swap(state, self._fit(workspace_id, names), None)
            return True
        waiting_since = time.time_ns()
        with self.shelf.training(workspace_id):
            version = self.shelf.version(workspace_id)
            if version is not None and version[1] >= waiting_since:
                # Another process trained while this one waited: take its models.
                self._adopt(workspace_id, state)
                return False
            if still_due is not None:
                if version is not None and version != state.shelf_version:
                    self._adopt(workspace_id, state)  # published before this run was asked
                if not still_due(workspace_id):
                    return False
            fitted = self._fit(workspace_id, names)
            try:
                published: Version | None = self.shelf.publish(workspace_id, fitted)
                # Serve the mapped copy every process shares, not this one's own.
                loaded = self.shelf.load(workspace_id)
                if loaded is not None and loaded[1] == published:
                    fitted = loaded[0]
            except Exception:  # serve them here at least; the others keep theirs
                log.exception("publishing the models of %s failed", workspace_id)
                published = None
        self._swap(state, fitted, published)
        return True

    def _fit(self, workspace_id: str, names: set[str]) -> Fitted:
        # The cut: rows after it are the tail's, learnt online by the new models.
        cut = self.interactions.last_id(workspace_id)
        seen: frozenset[int] = frozenset()
        if self.lookback and cut:
            near = self.interactions.since(workspace_id, max(0, cut - self.lookback), TAIL_PAGE)
            seen = frozenset(r[0] for r in near if r[0] <= cut)
        now = self.clock.now_ms()
        data = self.interactions.training_data(workspace_id, max_id=cut, now_ms=now)
        models: dict[str, Recommender] = {}
        status: dict[str, ModelStatus] = {}
        for name in sorted(names):
            models_or_none, status[name] = self._fit_one(name, data)
            if models_or_none is not None:
                models[name] = models_or_none
        return Fitted(models, status, cut, seen, frozenset(data.catalog))

    def _swap(self, state: _Workspace, fitted: Fitted, version: Version | None) -> None:
        """Serve ``fitted``; the tail goes on from its cut, feeding its online models."""
        with state.lock:
            state.fitted, state.shelf_version = fitted, version
            state.tail_id, state.seen = fitted.trained_row_id, set(fitted.seen)
            state.generation += 1
            state.backlog = False
        if self.schedule.running:
            settle_garbage_collector()

    def _adopt(self, workspace_id: str, state: _Workspace) -> bool:
        """Serve the shelf's snapshot of the workspace; whether there was a new one."""
        assert self.shelf is not None
        loaded = self.shelf.load(workspace_id)
        if loaded is None or loaded[1] == state.shelf_version:
            return False
        self._swap(state, *loaded)
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

    def changed(self, workspace_id: str) -> bool:
        """Whether interactions arrived since the last training run."""
        state = self._ws(workspace_id)
        return bool(self.interactions.since(workspace_id, state.fitted.trained_row_id, 1))

    def backlogged(self, workspace_id: str) -> bool:
        """Whether the workspace's real-time models wait for a first fit (long history)."""
        return self._ws(workspace_id).backlog

    # -- real time ----------------------------------------------------------------------------

    def poll_once(self, workspace_id: str) -> int:
        """Feed interaction rows newer than the tail to the online models; how many. Before
        a workspace's first training run, its real-time models start empty here."""
        state = self._ws(workspace_id)
        if self._starts_empty(workspace_id, state):
            return self._start_realtime(workspace_id, state)
        total = 0
        while True:
            generation = state.generation
            rows = self._unseen(workspace_id, state)
            if not rows:
                return total
            with state.lock:
                if state.generation != generation:
                    continue  # new models were swapped in: read again from their cut
                online = [
                    m
                    for m in state.fitted.models.values()
                    if callable(getattr(m, "learn_one", None))
                ]
                for _, profile_id, item_id, weight, at in rows:
                    for model in online:
                        model.learn_one(profile_id, item_id, weight, at)  # type: ignore[attr-defined]
                self._advance(state, rows)
                state.learnt_online += len(rows)
            total += len(rows)

    def _starts_empty(self, workspace_id: str, state: _Workspace) -> bool:
        if state.fitted.trained or state.backlog:
            return False
        return state.started != self.names(workspace_id) & self.realtime

    def _start_realtime(self, workspace_id: str, state: _Workspace) -> int:
        """Build the real-time models empty and learn the history so far, row by row (a
        placement needing another one builds them again: a new shop's history is short)."""
        generation = state.generation
        rows: list[TailRow] = []
        while len(rows) <= self.replay_rows:
            page = self.interactions.since(workspace_id, rows[-1][0] if rows else 0, TAIL_PAGE)
            rows += page
            if len(page) < TAIL_PAGE:
                break
        if len(rows) > self.replay_rows:
            state.backlog = True  # the schedule trains it at once
            return 0
        # No rows: the catalog alone, which the models need to know items' categories.
        empty = self.interactions.training_data(
            workspace_id, max_rows=0, now_ms=self.clock.now_ms()
        )
        names = frozenset(self.names(workspace_id) & self.realtime)
        models: dict[str, Recommender] = {}
        for name in sorted(names):
            model, _ = self._fit_one(name, empty)
            if model is not None and callable(getattr(model, "learn_one", None)):
                models[name] = model
        for _, profile_id, item_id, weight, at in rows:
            for model in models.values():
                model.learn_one(profile_id, item_id, weight, at)  # type: ignore[attr-defined]
        with state.lock:
            if state.generation != generation:
                return 0  # a training run or a published snapshot came first
            state.fitted, state.started = Fitted(models), names
            state.tail_id, state.seen = 0, set()
            if rows:
                self._advance(state, rows)
            state.generation += 1
            state.learnt_online += len(rows)
        return len(rows)

    def _unseen(self, workspace_id: str, state: _Workspace) -> list[TailRow]:
        floor = max(0, state.tail_id - self.lookback)
        rows = self.interactions.since(workspace_id, floor, TAIL_PAGE)
        return [r for r in rows if r[0] > state.tail_id or r[0] not in state.seen]

    def _advance(self, state: _Workspace, rows: list[TailRow]) -> None:
        state.tail_id = max(state.tail_id, rows[-1][0])
        if self.lookback:
            floor = state.tail_id - self.lookback
            state.seen = {i for i in state.seen if i > floor} | {r[0] for r in rows if r[0] > floor}

    # -- status ---------------------------------------------------------------------------------

    def status(self, workspace_id: str) -> dict[str, Any]:
        """Each model's last training, and whether it serves decisions now (``serving``:
        fitted, or learning in real time before its first fit)."""
        state = self._ws(workspace_id)
        fitted = state.fitted
        names = sorted(self.names(workspace_id) | set(fitted.status))
        training = state.training or (self.shelf is not None and self.shelf.busy(workspace_id))
        return {
            "training": training,
            "learnt_online": state.learnt_online,
            "models": [
                {
                    **(fitted.status[n] if n in fitted.status else ModelStatus(n, False)).view(),
                    "serving": n in fitted.models,
                }
                for n in names
            ],
        }

    # -- background threads ---------------------------------------------------------------------

    def start(self) -> None:
        """Load the published models and start the schedule's threads."""
        self.schedule.start()

    def stop(self) -> None:
        self.schedule.stop()
