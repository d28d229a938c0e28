"""Building the decide context's services into the container (called by `Container.build`)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from unico.collect.pipeline import IngestPipeline
from unico.core.settings import Settings
from unico.db.engine import Store
from unico.decide.log import DecisionLog
from unico.decide.models import ModelRegistry
from unico.decide.outcomes import OutcomeListener
from unico.decide.people import People
from unico.decide.persons import DecisionData
from unico.decide.placements import PlacementService
from unico.decide.recommenders import MODEL_OF, default_factories
from unico.decide.schedule import Triggers
from unico.decide.service import DecisionService
from unico.decide.shelf import ModelShelf
from unico.profiles.store import ProfileStore
from unico.store.decide import SqlDecideStore

if TYPE_CHECKING:
    from unico.container import Container


def wire_decisions(
    container: Container,
    settings: Settings,
    store: Store,
    profile_store: ProfileStore,
    pipeline: IngestPipeline | None,
) -> None:
    """Placements, models, decisions; the outcome listener and the decisions' eraser."""
    decide_store = SqlDecideStore(store)
    catalog = container.catalog

    def known_items(workspace_id: str, ids: Iterable[str]) -> set[str]:
        items = catalog.snapshot(workspace_id).items
        return {i for i in ids if i in items}

    placements = PlacementService(
        store,
        decide_store,
        container.clock,
        known_items,
        # The segments context is wired after this one: look it up when a placement is saved.
        known_segments=lambda ws: {s["name"] for s in container.segments.list(ws)},
        cache_seconds=settings.decide_placement_cache_seconds,
        default_epsilon=settings.decide_epsilon,
    )

    def needed(workspace_id: str) -> set[str]:
        out = set()
        for p in placements.active(workspace_id).values():
            strategies = (p.strategy, p.default_strategy, *(t.strategy for t in p.targets))
            out |= {MODEL_OF[s] for s in strategies if s in MODEL_OF}
        return out

    def workspaces() -> list[str]:
        with store.read() as conn:
            return decide_store.placement_workspaces(conn)

    models = ModelRegistry(
        container.interactions,
        container.clock,
        default_factories(settings.decide_trending_half_life_days),
        needed=needed,
        workspaces=workspaces,
        catalog=catalog.snapshot,
        train_minutes=settings.decide_train_minutes,
        tail_ms=settings.decide_tail_ms,
        triggers=Triggers(
            interactions=settings.decide_retrain_interactions,
            items=settings.decide_retrain_items,
            debounce_ms=round(settings.decide_retrain_debounce_seconds * 1000),
        ),
        lookback=0 if store.is_sqlite else 2000,
        shelf=ModelShelf(settings.models_dir) if settings.models_dir else None,
    )
    people = People(
        store,
        profile_store,
        lambda ws: container.workspaces.get(ws).settings.consent_defaults,
        container.interactions.recent_in,
        settings.decide_history,
    )
    container.placements = placements
    container.models = models
    container.decisions = DecisionService(
        store,
        decide_store,
        placements,
        models,
        people,
        catalog.snapshot,
        DecisionLog(store, decide_store),
        container.clock,
        seed=settings.decide_seed,
        # Wired after this context: looked up on use.
        memberships=lambda ws, pid: container.segments.memberships(ws, pid),
    )
    if pipeline is not None:
        pipeline.listeners.append(OutcomeListener(decide_store))
    persons = DecisionData(decide_store, profile_store, container.decisions.log)
    container.profiles.persons.register(persons)
