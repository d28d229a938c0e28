"""The decide context, built: placements, models, decisions, their log and outcomes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from unico.catalog.interactions import InteractionStore
from unico.catalog.service import CatalogService
from unico.core.clock import Clock
from unico.core.module import ContextModule
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
from unico.decide.store import DecideStore
from unico.profiles.store import ProfileStore


@dataclass(kw_only=True)
class DecideModule(ContextModule):
    #: Placements (named slots with strategy, rules, default) of each workspace.
    placements: PlacementService
    #: Fitted recommenders per workspace, trained and tailed in the background.
    models: ModelRegistry
    #: ``/v1/decide``: decisions, their log and outcomes.
    decisions: DecisionService


def build(
    settings: Settings,
    store: Store,
    clock: Clock,
    decide_store: DecideStore,
    profile_store: ProfileStore,
    consent_defaults: Callable[[str], Mapping[str, bool]],
    catalog: CatalogService,
    interactions: InteractionStore,
    *,
    segment_names: Callable[[str], set[str]],
    memberships: Callable[[str, str], set[str]],
) -> DecideModule:
    """Placements, models, decisions; the outcome listener and the decisions' person data.
    ``segment_names`` and ``memberships`` are what decide reads of segments."""

    def known_items(workspace_id: str, ids: Iterable[str]) -> set[str]:
        items = catalog.snapshot(workspace_id).items
        return {i for i in ids if i in items}

    placements = PlacementService(
        store,
        decide_store,
        clock,
        known_items,
        known_segments=segment_names,
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
        interactions,
        clock,
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
        store, profile_store, consent_defaults, interactions.recent_in, settings.decide_history
    )
    log = DecisionLog(store, decide_store)
    decisions = DecisionService(
        store,
        decide_store,
        placements,
        models,
        people,
        catalog.snapshot,
        log,
        clock,
        seed=settings.decide_seed,
        memberships=memberships,
    )
    return DecideModule(
        "decide",
        listeners=[OutcomeListener(decide_store)],
        # The log before the models, as the container always started them.
        workers=[log, models],
        person_data=DecisionData(decide_store, profile_store, log),
        placements=placements,
        models=models,
        decisions=decisions,
    )
