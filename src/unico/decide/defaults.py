"""The default experience's candidates: what a placement shows when it cannot personalize.

Listed items first (``default.items``, scores in (2, 3]), then the fallback strategy's
(``default.strategy``, rescaled into (1, 2]). When that strategy has fewer than asked for
(a new shop's popularity knows few items, or none yet), the catalog's newest items follow
(in (0, 1]), so a default experience is never empty while the catalog has an eligible
item; the decision's reason then says so. ``default.strategy: "none"`` shows the listed
items alone.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from typing import Protocol

from unico.catalog.snapshot import CatalogSnapshot
from unico.decide.placements import Placement
from unico.decide.ranking import Slot
from unico.recommend.base import Query, Recommender, Scored

log = logging.getLogger("unico.decide")

Candidates = Sequence[tuple[str, float]]


class Models(Protocol):
    """What the default experience reads of `unico.decide.models.ModelRegistry`."""

    def get(self, workspace_id: str, name: str) -> Recommender | None: ...

    def lock(self, workspace_id: str) -> threading.Lock: ...


def default_candidates(
    models: Models,
    workspace_id: str,
    placement: Placement,
    snapshot: CatalogSnapshot,
    query: Query,
    *,
    from_catalog: bool = False,
) -> tuple[Candidates, bool, frozenset[str]]:
    """Up to ``query.k`` candidates beyond the listed items, none of ``query.exclude``;
    whether there may be more; and which came from the catalog (only ``from_catalog``:
    a personalized list that is short is topped up with the strategy's items alone)."""
    n = len(placement.default_items)
    out = [(i, 2.0 + (n - j) / n) for j, i in enumerate(placement.default_items)]
    if placement.default_strategy == "none":
        return out, False, frozenset()
    banned = query.exclude | set(placement.default_items)
    scored = _recommended(models, workspace_id, placement.default_strategy, query, banned)
    top = max((abs(s.score) for s in scored), default=1.0) or 1.0
    out += [(s.item_id, 1.0 + s.score / top) for s in scored]
    k = query.k
    if len(scored) >= k or not from_catalog:
        return out, len(scored) >= k, frozenset()
    banned |= {s.item_id for s in scored}
    newest = snapshot.newest()
    picked: list[str] = []
    for item_id in newest:
        if item_id not in banned:
            picked.append(item_id)
            if len(picked) == k:
                break
    m = len(picked)
    out += [(i, (m - j) / m) for j, i in enumerate(picked)]
    return out, m == k and len(newest) > m, frozenset(picked)


def _recommended(
    models: Models, workspace_id: str, strategy: str, query: Query, banned: frozenset[str]
) -> Sequence[Scored]:
    model = models.get(workspace_id, strategy)
    if model is None:
        return []
    try:
        with models.lock(workspace_id):
            return model.recommend(replace(query, exclude=banned))
    except Exception:  # the default experience must answer whatever its model does
        log.exception("fallback model %s failed", strategy)
        return []


def catalog_reason(
    reason: str, from_catalog: frozenset[str], placement: Placement, slots: list[Slot]
) -> str:
    """``reason``, saying how many of the shown items are the catalog's newest.

    >>> from unico.catalog.model import Item
    >>> from unico.decide.placements import PlacementSpec, compile_placement
    >>> p = compile_placement(PlacementSpec(name="p", strategy="als", size=2), 0.0)
    >>> catalog_reason("model als is not trained yet", frozenset({"a"}), p,
    ...                [Slot(Item("a"), 0.5, 1, 1.0, "ranked")])
    "model als is not trained yet; 1 of the catalog's newest items (popular has too few yet)"
    """
    shown = sum(1 for s in slots if s.item.item_id in from_catalog)
    if not shown:
        return reason
    strategy = placement.default_strategy
    return f"{reason}; {shown} of the catalog's newest items ({strategy} has too few yet)"
