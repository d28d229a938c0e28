"""What a context hands the composition root: its listeners, workers and person data.

Each context's ``module.py`` has a ``build(...)`` that takes exactly what the context needs
(settings, clock, store, its store adapter, services of contexts before it) and returns a
`ContextModule` subclass whose extra fields are the services it built. The root
(``unico.container``) builds the modules in the order of the flow, hands their listeners to
the ingest pipeline and their person data to the profiles' registry, and starts their
workers in that order and stops them in reverse. Routers and CLI commands live in the entry
layers, above the root, and are looked up there by the module's ``name``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlalchemy import Connection

from unico.core.persons import PersonData


class Worker(Protocol):
    """Something running in the background: started with the process, stopped before it
    ends. ``stop`` is safe on a worker that was never started."""

    def start(self) -> None: ...

    def stop(self) -> None: ...


class Listener(Protocol):
    """An ingest pipeline listener (``unico.collect.pipeline.EventListener``), restated here
    so that a context below collect can hand one over; ``group`` is a ``ProfiledGroup``."""

    def on_events(self, conn: Connection, group: Any) -> None: ...

    def rollback(self) -> None: ...


@dataclass
class ContextModule:
    """One context, built."""

    name: str
    #: Run by the ingest writer in this process, in the order of the modules.
    listeners: list[Listener] = field(default_factory=list)
    #: Started in every process that serves.
    workers: list[Worker] = field(default_factory=list)
    #: Started only in the process that runs the jobs one process does for all (see
    #: ``Container.singletons``); stopped in every process.
    singleton_workers: list[Worker] = field(default_factory=list)
    #: What the context holds on a person (export and erase), or None.
    person_data: PersonData | None = None


def start_all(modules: Iterable[ContextModule], *, singletons: bool) -> None:
    """Start the modules' workers in the order of the modules."""
    for module in modules:
        for worker in module.workers:
            worker.start()
        if singletons:
            for worker in module.singleton_workers:
                worker.start()


def stop_all(modules: Iterable[ContextModule]) -> None:
    """Stop every worker, in the reverse of the start order."""
    for module in reversed(list(modules)):
        for worker in reversed([*module.workers, *module.singleton_workers]):
            worker.stop()
