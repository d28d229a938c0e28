"""The experiments context, built: definitions, assignment in decisions, exposures, bandits,
and the exposures a person leaves."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from sqlalchemy import Connection

from unico.catalog.service import CatalogService
from unico.collect.store import EventStore
from unico.core.clock import Clock
from unico.core.module import ContextModule
from unico.core.settings import Settings
from unico.db.engine import Store
from unico.decide.placements import PlacementService
from unico.experiments.persons import ExperimentData
from unico.experiments.service import ExperimentService
from unico.experiments.store import ExperimentStore
from unico.profiles.store import ProfileStore


@dataclass(kw_only=True)
class ExperimentsModule(ContextModule):
    #: Experiments: definitions, assignment in decisions, exposures, results, bandits.
    experiments: ExperimentService


def build(
    settings: Settings,
    store: Store,
    clock: Clock,
    experiment_store: ExperimentStore,
    profile_store: ProfileStore,
    event_store: EventStore,
    catalog: CatalogService,
    placements: PlacementService,
    *,
    segment_names: Callable[[str], set[str]],
    memberships: Callable[[str, str], set[str]],
) -> ExperimentsModule:
    """The service; the exposure log in every process, the bandit allocation in one."""

    def known_items(workspace_id: str, ids: Iterable[str]) -> set[str]:
        items = catalog.snapshot(workspace_id).items
        return {i for i in ids if i in items}

    def known_events(workspace_id: str) -> set[str]:
        with store.read() as conn:
            rows = event_store.aggregates(conn, workspace_id, since_day=0)
        return {r["name"] for r in rows if r["name"]}

    def identities(
        conn: Connection, workspace_id: str, profile_ids: list[str], kind: str
    ) -> list[str]:
        return [
            identity["value"]
            for pid in profile_ids
            for identity in profile_store.identities_of(conn, workspace_id, pid)
            if identity["kind"] == kind
        ]

    experiments = ExperimentService(
        store,
        experiment_store,
        clock,
        known_placements=lambda ws: set(placements.active(ws)),
        known_items=known_items,
        known_segments=segment_names,
        known_events=known_events,
        memberships=memberships,
        identities=identities,
        merged_from=profile_store.merged_from,
        cache_seconds=settings.decide_placement_cache_seconds,
        seed=settings.decide_seed,
    )
    return ExperimentsModule(
        "experiments",
        workers=[experiments.runtime.exposures],
        singleton_workers=[experiments.bandits],
        person_data=ExperimentData(experiments),
        experiments=experiments,
    )
