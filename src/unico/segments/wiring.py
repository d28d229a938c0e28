"""How the container builds the segments context: engine, services, listener, person data."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING

from unico.collect.pipeline import IngestPipeline
from unico.core.settings import Settings
from unico.segments.persons import SegmentData
from unico.segments.realtime import SegmentEngine, SegmentListener
from unico.segments.service import SegmentService
from unico.segments.sql import install_sqlite_functions
from unico.segments.sweeper import Sweeper
from unico.store.events import SqlEventStore
from unico.store.profiles import SqlProfileStore
from unico.store.segments import SqlSegmentStore

if TYPE_CHECKING:
    from unico.container import Container


def wire_segments(
    container: Container,
    settings: Settings,
    profile_store: SqlProfileStore,
    event_store: SqlEventStore,
    pipeline: IngestPipeline | None,
    consent_defaults: Callable[[str], Mapping[str, bool]],
) -> None:
    """Set ``container.segments`` and ``container.segment_sweeper``; with a pipeline in
    this process, evaluate memberships on every ingest group."""
    store, clock = container.store, container.clock
    if store.is_sqlite:
        install_sqlite_functions(store.engine)  # ``matches`` in SQL
    segment_store = SqlSegmentStore(store)
    engine = SegmentEngine(
        segment_store, event_store, consent_defaults, max_points=settings.segment_window_points
    )
    container.segments = SegmentService(
        store,
        segment_store,
        engine,
        profile_store,
        clock,
        consent_defaults,
        max_list_rows=settings.segment_upload_max_rows,
    )
    container.segment_sweeper = Sweeper(
        store,
        segment_store,
        engine,
        profile_store,
        clock,
        poll_seconds=settings.segment_sweep_seconds,
    )
    if pipeline is not None:
        pipeline.listeners.append(SegmentListener(engine))
    container.profiles.persons.register(SegmentData(segment_store, profile_store))
