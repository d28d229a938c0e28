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
from collections.abc import Iterable, Sequence
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


Keys = tuple[tuple[str, ...] | None, str | None]


class _Caps:
    """Diversity counts. Each candidate's category key and brand are worked out once, and
    which candidates the caps rule out is worked out again only when a cap fills up."""

    def __init__(self, rules: Rules) -> None:
        self.rules = rules
        self.max_category = rules.max_per_category
        self.max_brand = rules.max_per_brand
        self.categories: dict[tuple[str, ...], int] = {}
        self.brands: dict[str, int] = {}

    @property
    def active(self) -> bool:
        return self.max_category is not None or self.max_brand is not None

    def keys(self, items: Iterable[Item]) -> list[Keys]:
        """What each item counts against: its category key and brand (None: no cap)."""
        by_category, by_brand = self.max_category is not None, self.max_brand is not None
        return [
            (
                (diversity_key(self.rules, item) or None) if by_category else None,
                (item.brand or None) if by_brand else None,
            )
            for item in items
        ]

    def blocked(self, keys: Sequence[Keys]) -> list[bool]:
        """For each of ``keys``, whether a full cap rules it out."""
        categories, brands = self.categories, self.brands
        max_category, max_brand = self.max_category or 0, self.max_brand or 0
        return [
            (category is not None and categories.get(category, 0) >= max_category)
            or (brand is not None and brands.get(brand, 0) >= max_brand)
            for category, brand in keys
        ]

    def take(self, item: Item) -> bool:
        """Count ``item``; whether that filled a cap."""
        ((category, brand),) = self.keys((item,))
        full = False
        if category is not None:
            count = self.categories[category] = self.categories.get(category, 0) + 1
            full = count >= (self.max_category or 0)
        if brand is not None:
            count = self.brands[brand] = self.brands.get(brand, 0) + 1
            full = full or count >= (self.max_brand or 0)
        return full


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
    active = caps.active
    keys = caps.keys(item for item, _ in pool) if active else []
    if active:
        for item in pinned.values():
            caps.take(item)
    blocked = caps.blocked(keys)
    slots: list[Slot] = []
    passed_over: set[str] = set()
    for position in range(1, size + 1):
        if position in pinned:
            # Positions are consecutive on the page even when a slot found nothing.
            slots.append(Slot(pinned[position], 0.0, len(slots) + 1, 1.0, "pinned"))
            continue
        # Without caps every candidate left is eligible (the same draws as a full list).
        eligible = [n for n, b in enumerate(blocked) if not b] if active else range(len(pool))
        if not eligible:
            continue
        first = eligible[0]
        if first:
            passed_over.update(pool[n][0].item_id for n in range(first))
        explore = epsilon > 0 and rng.random() < epsilon
        chosen = rng.choice(eligible) if explore else first
        best = 1.0 - epsilon if chosen == first else 0.0
        item, score = pool.pop(chosen)
        if active:
            keys.pop(chosen)
            blocked.pop(chosen)
            if caps.take(item):
                blocked = caps.blocked(keys)
        source = "explored" if chosen != first else "ranked"
        slots.append(Slot(item, score, len(slots) + 1, best + epsilon / len(eligible), source))
    if not passed_over:
        return slots, 0
    return slots, len(passed_over - {s.item.item_id for s in slots})
