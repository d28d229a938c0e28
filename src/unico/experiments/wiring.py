"""How the container builds the experiments context (called by `Container.build`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from sqlalchemy import Connection

from unico.core.settings import Settings
from unico.experiments.persons import ExperimentData
from unico.experiments.service import ExperimentService
from unico.profiles.store import ProfileStore
from unico.store.events import SqlEventStore
from unico.store.experiments import SqlExperimentStore

if TYPE_CHECKING:
    from unico.container import Container


def wire_experiments(
    container: Container,
    settings: Settings,
    profile_store: ProfileStore,
    event_store: SqlEventStore,
) -> None:
    """Set ``container.experiments``, hook it into decisions, and erase exposures with
    the people they are of."""
    store = container.store

    def known_placements(workspace_id: str) -> set[str]:
        return set(container.placements.active(workspace_id))

    def known_items(workspace_id: str, ids: Iterable[str]) -> set[str]:
        items = container.catalog.snapshot(workspace_id).items
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

    container.experiments = ExperimentService(
        store,
        SqlExperimentStore(store),
        container.clock,
        known_placements=known_placements,
        known_items=known_items,
        known_segments=lambda ws: {s["name"] for s in container.segments.list(ws)},
        known_events=known_events,
        memberships=container.segments.memberships,
        identities=identities,
        merged_from=profile_store.merged_from,
        cache_seconds=settings.decide_placement_cache_seconds,
        seed=settings.decide_seed,
    )
    container.decisions.experiments = container.experiments.runtime
    container.profiles.persons.register(ExperimentData(container.experiments))
