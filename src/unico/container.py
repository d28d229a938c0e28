"""The container: settings, clock, store and services, built once and passed down."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from unico.catalog.interactions import InteractionListener, InteractionStore
from unico.catalog.persons import InteractionData
from unico.catalog.service import CatalogService
from unico.collect.ingest import Ingestor
from unico.collect.pipeline import IngestPipeline
from unico.collect.remote import RemoteIngestor
from unico.collect.validation import Limits
from unico.core.clock import Clock, SystemClock
from unico.core.settings import Settings
from unico.db.engine import Store
from unico.decide.models import ModelRegistry
from unico.decide.placements import PlacementService
from unico.decide.service import DecisionService
from unico.decide.wiring import wire_decisions
from unico.experiments.service import ExperimentService
from unico.experiments.wiring import wire_experiments
from unico.profiles.cache import ProfileCache
from unico.profiles.service import ProfileService
from unico.profiles.updater import ProfileUpdater
from unico.segments.service import SegmentService
from unico.segments.sweeper import Sweeper
from unico.segments.wiring import wire_segments
from unico.store.catalog import SqlCatalogStore
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
    ingestor: Ingestor | RemoteIngestor
    events: SqlEventStore
    limits: Limits
    #: The ingest pipeline of this process's writer thread (None with a writer process:
    #: that process builds its own container, listeners included).
    pipeline: IngestPipeline | None = None
    # -- decide context fields (catalog, recommend, decide) --
    #: Items and cached catalog snapshots.
    catalog: CatalogService = field(init=False)
    #: Item interactions (views, clicks, carts, purchases) for recommenders and decisions.
    interactions: InteractionStore = field(init=False)
    #: Placements (named slots with strategy, rules, default) of each workspace.
    placements: PlacementService = field(init=False)
    #: Fitted recommenders per workspace, trained and tailed in the background.
    models: ModelRegistry = field(init=False)
    #: ``/v1/decide``: decisions, their log and outcomes.
    decisions: DecisionService = field(init=False)
    # -- segments context fields --
    #: Segments: definitions, memberships (``is_member``, ``memberships``), static lists.
    segments: SegmentService = field(init=False)
    #: Re-evaluates people when a window expires or a relative date passes.
    segment_sweeper: Sweeper = field(init=False)
    # -- experiments context fields --
    #: Experiments: definitions, assignment in decisions, exposures, results, bandits.
    experiments: ExperimentService = field(init=False)

    @classmethod
    def build(
        cls, settings: Settings, clock: Clock | None = None, *, writer_process: bool = False
    ) -> Container:
        """Wire everything. With ``writer_process`` (SQLite servers), ingest goes to a writer
        in its own process (see collect/remote.py); otherwise to a writer thread."""
        clock = clock or SystemClock()
        store = Store(
            settings.database_url,
            sqlite_synchronous=settings.sqlite_synchronous,
            sqlite_mmap_mib=settings.sqlite_mmap_mib,
            pool_size=settings.pool_size,
            # The process that runs the ingest writer checkpoints the WAL in the background.
            background_checkpoints=not writer_process,
        )
        workspaces = WorkspaceService(store, clock, cache_seconds=settings.key_cache_seconds)
        profile_store = SqlProfileStore(store)
        event_store = SqlEventStore(store)

        def consent_defaults(workspace_id: str) -> Mapping[str, bool]:
            return workspaces.get(workspace_id).settings.consent_defaults

        # Only a single-writer store may cache what it wrote (see profiles/cache.py).
        cache = (
            ProfileCache(settings.profile_cache_size)
            if store.is_sqlite and settings.profile_cache_size
            else None
        )
        updater = ProfileUpdater(
            profile_store, session_gap_ms=settings.session_gap_minutes * 60_000, cache=cache
        )
        ingestor: Ingestor | RemoteIngestor
        pipeline: IngestPipeline | None = None
        if writer_process:
            # The API process migrates; the writer must not race it.
            writer_settings = settings.model_copy(update={"auto_migrate": False})
            remote = RemoteIngestor(
                build_writer,
                writer_settings.model_dump_json(),
                timeout=settings.ingest_timeout_seconds,
                socket=settings.writer_socket,
            )
            ingestor, on_erase = remote, remote.invalidate
        else:
            pipeline = IngestPipeline(event_store, updater)
            ingestor = Ingestor(
                store,
                pipeline,
                clock,
                group_events=settings.ingest_group_events,
                queue_events=settings.ingest_queue_events,
                timeout=settings.ingest_timeout_seconds,
            )
            on_erase = updater.invalidate
        profiles = ProfileService(
            store,
            profile_store,
            event_store,
            clock,
            consent_defaults,
            recent_events=settings.recent_events,
            on_erase=on_erase,
        )
        limits = Limits(
            max_event_bytes=settings.max_event_bytes,
            max_depth=settings.max_depth,
            max_string_chars=settings.max_string_chars,
            max_key_chars=settings.max_key_chars,
        )
        container = cls(
            settings, clock, store, workspaces, profiles, ingestor, event_store, limits, pipeline
        )
        # -- decide context wiring --
        catalog_store = SqlCatalogStore(store)
        container.catalog = CatalogService(store, catalog_store, clock)
        container.interactions = InteractionStore(store, catalog_store, container.catalog)
        if pipeline is not None:
            pipeline.listeners.append(InteractionListener(catalog_store, container.catalog))
        profiles.persons.register(InteractionData(catalog_store))
        wire_decisions(container, settings, store, profile_store, pipeline)
        # -- segments context wiring --
        wire_segments(container, settings, profile_store, event_store, pipeline, consent_defaults)
        # -- experiments context wiring --
        wire_experiments(container, settings, profile_store, event_store)
        return container

    #: Whether this process runs the jobs one process does for all (segment sweeper, bandit
    #: allocation); of several serving processes only one does (see web/factory.py).
    singletons: bool = True

    def start(self) -> None:
        """Migrate (if enabled) and start the ingest writer."""
        if self.settings.auto_migrate:
            self.store.upgrade()
        self.ingestor.start()
        # -- decide context start --
        self.decisions.log.start()
        self.models.start()
        # -- experiments context start --
        self.experiments.start_background(bandits=self.singletons)
        # -- segments context start --
        if self.singletons:
            self.segment_sweeper.start()

    def stop(self) -> None:
        # -- experiments context stop --
        self.experiments.stop_background()
        # -- decide context stop --
        self.models.stop()
        self.decisions.log.stop()
        # -- segments context stop --
        self.segment_sweeper.stop()
        self.ingestor.stop()
        self.store.dispose()


def build_writer(settings_json: str) -> Container:
    """The writer process's own container (collect/remote.py starts its ingestor): handed to
    `RemoteIngestor` and `WriterProcess` so that collect does not import this root."""
    return Container.build(Settings.model_validate_json(settings_json))
