"""The composition root: settings, clock, store and every context's module, built once in
the order of the flow and passed down. It owns start and stop; nothing below imports it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from unico.catalog import module as catalog_module
from unico.catalog.interactions import InteractionStore
from unico.catalog.service import CatalogService
from unico.collect.ingest import Ingestor
from unico.collect.pipeline import IngestPipeline
from unico.collect.remote import RemoteIngestor
from unico.collect.service import CollectService
from unico.collect.validation import Limits
from unico.core.clock import Clock, SystemClock
from unico.core.module import ContextModule, start_all, stop_all
from unico.core.settings import Settings
from unico.db.engine import Store
from unico.decide import module as decide_module
from unico.decide.models import ModelRegistry
from unico.decide.placements import PlacementService
from unico.decide.service import DecisionService
from unico.experiments import module as experiments_module
from unico.experiments.service import ExperimentService
from unico.profiles.cache import ProfileCache
from unico.profiles.service import ProfileService
from unico.profiles.updater import ProfileUpdater
from unico.segments import module as segments_module
from unico.segments.service import SegmentService
from unico.segments.sweeper import Sweeper
from unico.store.catalog import SqlCatalogStore
from unico.store.decide import SqlDecideStore
from unico.store.events import SqlEventStore
from unico.store.experiments import SqlExperimentStore
from unico.store.profiles import SqlProfileStore
from unico.store.segments import SqlSegmentStore
from unico.workspaces.service import WorkspaceService


@dataclass
class Container:
    """Everything a running Unico needs. No globals: the web app and CLI receive one of these.
    The service fields are shortcuts into ``modules`` for the entry layers and the tests."""

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
    pipeline: IngestPipeline | None
    #: The tracking API's rules: messages and batches into submissions, consent requests.
    collect: CollectService
    #: Items and cached catalog snapshots.
    catalog: CatalogService
    #: Item interactions (views, clicks, carts, purchases) for recommenders and decisions.
    interactions: InteractionStore
    #: Placements (named slots with strategy, rules, default) of each workspace.
    placements: PlacementService
    #: Fitted recommenders per workspace, trained and tailed in the background.
    models: ModelRegistry
    #: ``/v1/decide``: decisions, their log and outcomes.
    decisions: DecisionService
    #: Segments: definitions, memberships (``is_member``, ``memberships``), static lists.
    segments: SegmentService
    #: Re-evaluates people when a window expires or a relative date passes.
    segment_sweeper: Sweeper
    #: Experiments: definitions, assignment in decisions, exposures, results, bandits.
    experiments: ExperimentService
    #: Every context's module in the order of the flow: their workers start in this order
    #: and stop in reverse; the entry layers look up their routers and commands by name.
    modules: tuple[ContextModule, ...]
    #: Whether this process runs the jobs one process does for all (segment sweeper, bandit
    #: allocation); of several serving processes only one does (see web/factory.py).
    singletons: bool = True

    @classmethod
    def build(
        cls, settings: Settings, clock: Clock | None = None, *, writer_process: bool = False
    ) -> Container:
        """Build every context in the order of the flow. With ``writer_process`` (SQLite
        servers), ingest goes to a writer in its own process (see collect/remote.py);
        otherwise to a writer thread."""
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
        collect = CollectService(
            store,
            event_store,
            ingestor,
            clock,
            limits,
            consent_defaults,
            profiles.consent,
            max_batch_events=settings.max_batch_events,
        )
        collecting = ContextModule("collect", workers=[ingestor])
        catalog = catalog_module.build(store, SqlCatalogStore(store), clock)
        # Segments before decide, their sibling: decide reads segment names and memberships.
        segments = segments_module.build(
            settings,
            store,
            clock,
            SqlSegmentStore(store),
            profile_store,
            event_store,
            consent_defaults,
        )

        def segment_names(workspace_id: str) -> set[str]:
            return {s["name"] for s in segments.segments.list(workspace_id)}

        decide = decide_module.build(
            settings,
            store,
            clock,
            SqlDecideStore(store),
            profile_store,
            consent_defaults,
            catalog.catalog,
            catalog.interactions,
            segment_names=segment_names,
            memberships=segments.segments.memberships,
        )
        experiments = experiments_module.build(
            settings,
            store,
            clock,
            SqlExperimentStore(store),
            profile_store,
            event_store,
            catalog.catalog,
            decide.placements,
            segment_names=segment_names,
            memberships=segments.segments.memberships,
        )
        # Experiments need decide's placements, so decide gets their variant chooser last.
        decide.decisions.experiments = experiments.experiments.runtime
        modules = (collecting, catalog, decide, segments, experiments)
        for module in modules:
            if pipeline is not None:
                pipeline.listeners.extend(module.listeners)
            if module.person_data is not None:
                profiles.persons.register(module.person_data)
        return cls(
            settings=settings,
            clock=clock,
            store=store,
            workspaces=workspaces,
            profiles=profiles,
            ingestor=ingestor,
            events=event_store,
            limits=limits,
            pipeline=pipeline,
            collect=collect,
            catalog=catalog.catalog,
            interactions=catalog.interactions,
            placements=decide.placements,
            models=decide.models,
            decisions=decide.decisions,
            segments=segments.segments,
            segment_sweeper=segments.sweeper,
            experiments=experiments.experiments,
            modules=modules,
        )

    def start(self) -> None:
        """Migrate (if enabled), then start every module's workers in the order of the flow
        (the ingest writer first)."""
        if self.settings.auto_migrate:
            self.store.upgrade()
        start_all(self.modules, singletons=self.singletons)

    def stop(self) -> None:
        """Stop the workers in reverse (the ingest writer last), then close the store."""
        stop_all(self.modules)
        self.store.dispose()


def build_writer(settings_json: str) -> Container:
    """The writer process's own container (collect/remote.py starts its ingestor): handed to
    `RemoteIngestor` and `WriterProcess` so that collect does not import this root."""
    return Container.build(Settings.model_validate_json(settings_json))
