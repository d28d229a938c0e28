"""The catalog context, built: items, their snapshots and the item interactions."""

from __future__ import annotations

from dataclasses import dataclass

from unico.catalog.interactions import InteractionListener, InteractionStore
from unico.catalog.persons import InteractionData
from unico.catalog.service import CatalogService
from unico.catalog.store import CatalogStore
from unico.core.clock import Clock
from unico.core.module import ContextModule
from unico.db.engine import Store


@dataclass(kw_only=True)
class CatalogModule(ContextModule):
    catalog: CatalogService
    interactions: InteractionStore


def build(store: Store, catalog_store: CatalogStore, clock: Clock) -> CatalogModule:
    """Items and interactions; the interaction listener and the interactions' person data."""
    catalog = CatalogService(store, catalog_store, clock)
    return CatalogModule(
        "catalog",
        listeners=[InteractionListener(catalog_store, catalog)],
        person_data=InteractionData(catalog_store),
        catalog=catalog,
        interactions=InteractionStore(store, catalog_store, catalog),
    )
