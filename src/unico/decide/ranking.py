"""From ranked candidates to the slots of a placement: pins, diversity caps and a small
epsilon-greedy exploration whose exact probabilities are logged.

Slots are filled in order. A pinned slot takes its pin. Any other slot takes, among the
remaining candidates that keep the diversity caps (the *eligible* ones), the best one with
probability ``1 - epsilon`` and one drawn uniformly with probability ``epsilon``. So the
item shown had probability ``(1 - epsilon) * [it was the best] + epsilon / eligible`` of
being there: its propensity, which off-policy evaluation divides by.

>>> import random
>>> from unico.catalog.model import Item
>>> from unico.decide.rules import Rules
>>> ranked = [(Item("a"), 3.0), (Item("b"), 2.0), (Item("c"), 1.0)]
>>> slots, _ = fill_slots(ranked, [], Rules(), 2, 0.0, random.Random(0))
>>> [(s.item.item_id, s.propensity) for s in slots]
[('a', 1.0), ('b', 1.0)]
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from unico.catalog.model import Item
from unico.decide.rules import Rules, diversity_key

#: Candidates exploration draws from: the best ``POOL_FACTOR * size`` (at least ``MIN_POOL``).
POOL_FACTOR = 3
MIN_POOL = 10


@dataclass(frozen=True, slots=True)
class Slot:
    item: Item
    score: float
    position: int
    propensity: float
    #: "ranked" (best eligible), "explored" (drawn), "pinned", "default".
    source: str


def pool_size(size: int) -> int:
    """How many of the best candidates (pins aside) slot filling looks at."""
    return max(MIN_POOL, POOL_FACTOR * size)


class _Caps:
    """Diversity counts. Each candidate's category key and brand are worked out once."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.max_category = rules.max_per_category
        self.max_brand = rules.max_per_brand
        self.categories: dict[tuple[str, ...], int] = {}
        self.brands: dict[str, int] = {}

    @property
    def active(self) -> bool:
        return self.max_category is not None or self.max_brand is not None

    def keys(self, item: Item) -> tuple[tuple[str, ...] | None, str | None]:
        """What ``item`` counts against: its category key and brand (None: no cap)."""
        category = diversity_key(self.rules, item) if item.category else None
        return (
            category if self.max_category is not None else None,
            (item.brand or None) if self.max_brand is not None else None,
        )

    def eligible(self, keys: Sequence[tuple[tuple[str, ...] | None, str | None]]) -> list[int]:
        categories, brands = self.categories, self.brands
        max_category, max_brand = self.max_category or 0, self.max_brand or 0
        return [
            n
            for n, (category, brand) in enumerate(keys)
            if (category is None or categories.get(category, 0) < max_category)
            and (brand is None or brands.get(brand, 0) < max_brand)
        ]

    def take(self, item: Item) -> None:
        category, brand = self.keys(item)
        if category is not None:
            self.categories[category] = self.categories.get(category, 0) + 1
        if brand is not None:
            self.brands[brand] = self.brands.get(brand, 0) + 1


def fill_slots(
    ranked: Sequence[tuple[Item, float]],
    pins: Sequence[tuple[Item, int]],
    rules: Rules,
    size: int,
    epsilon: float,
    rng: random.Random,
) -> tuple[list[Slot], int]:
    """Up to ``size`` slots from ``ranked`` (best first) and ``pins`` (1-based positions),
    and how many better candidates the diversity caps passed over."""
    pinned = {position: item for item, position in pins if position <= size}
    pinned_ids = {item.item_id for item in pinned.values()}
    limit = pool_size(size)
    if pinned_ids:
        pool = [(i, s) for i, s in ranked if i.item_id not in pinned_ids][:limit]
    else:
        pool = list(ranked[:limit])
    caps = _Caps(rules)
    keys = [caps.keys(item) for item, _ in pool] if caps.active else []
    for item in pinned.values():
        caps.take(item)
    slots: list[Slot] = []
    passed_over: set[str] = set()
    for position in range(1, size + 1):
        if position in pinned:
            # Positions are consecutive on the page even when a slot found nothing.
            slots.append(Slot(pinned[position], 0.0, len(slots) + 1, 1.0, "pinned"))
            continue
        # Without caps every candidate left is eligible (the same draws as a full list).
        eligible = caps.eligible(keys) if caps.active else range(len(pool))
        if not eligible:
            continue
        first = eligible[0]
        passed_over.update(pool[n][0].item_id for n in range(first))
        explore = epsilon > 0 and rng.random() < epsilon
        chosen = rng.choice(eligible) if explore else first
        best = 1.0 - epsilon if chosen == first else 0.0
        item, score = pool.pop(chosen)
        if keys:
            keys.pop(chosen)
        caps.take(item)
        source = "explored" if chosen != first else "ranked"
        slots.append(Slot(item, score, len(slots) + 1, best + epsilon / len(eligible), source))
    return slots, len(passed_over - {s.item.item_id for s in slots})
