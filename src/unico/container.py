"""The container: settings, clock, store and services, built once and passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from unico.collect.ingest import Ingestor
from unico.collect.pipeline import IngestPipeline
from unico.collect.validation import Limits
from unico.core.clock import Clock, SystemClock
from unico.core.settings import Settings
from unico.profiles.service import ProfileService
from unico.profiles.updater import ProfileUpdater
from unico.store.engine import Store
from unico.store.events import SqlEventStore
from unico.store.profiles import SqlProfileStore
from unico.workspaces.service import WorkspaceService


@dataclass
class Container:
    """Everything a running Unico needs. No globals: the web app and CLI receive one of these."""

    settings: Settings
    clock: Clock
    store: Store
    workspaces: WorkspaceService
    profiles: ProfileService
    ingestor: Ingestor
    events: SqlEventStore
    limits: Limits

    @classmethod
    def build(cls, settings: Settings, clock: Clock | None = None) -> Container:
        clock = clock or SystemClock()
        store = Store(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            pool_size=settings.pool_size,
        )
        workspaces = WorkspaceService(store, clock, cache_seconds=settings.key_cache_seconds)
        profile_store = SqlProfileStore(store)
        event_store = SqlEventStore(store)

        def consent_defaults(workspace_id: str) -> Mapping[str, bool]:
            return workspaces.get(workspace_id).settings.consent_defaults

        updater = ProfileUpdater(
            profile_store, session_gap_ms=settings.session_gap_minutes * 60_000
        )
        ingestor = Ingestor(
            store,
            IngestPipeline(event_store, updater),
            clock,
            group_events=settings.ingest_group_events,
            queue_events=settings.ingest_queue_events,
            timeout=settings.ingest_timeout_seconds,
        )
        profiles = ProfileService(
            store,
            profile_store,
            event_store,
            clock,
            consent_defaults,
            recent_events=settings.recent_events,
        )
        limits = Limits(
            max_event_bytes=settings.max_event_bytes,
            max_depth=settings.max_depth,
            max_string_chars=settings.max_string_chars,
            max_key_chars=settings.max_key_chars,
        )
        return cls(settings, clock, store, workspaces, profiles, ingestor, event_store, limits)

    def start(self) -> None:
        """Migrate (if enabled) and start the ingest writer."""
        if self.settings.auto_migrate:
            self.store.upgrade()
        self.ingestor.start()

    def stop(self) -> None:
        self.ingestor.stop()
        self.store.dispose()
