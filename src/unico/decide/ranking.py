"""From ranked candidates to the slots of a placement: pins, diversity caps and a small
epsilon-greedy exploration whose exact probabilities are logged.

Slots are filled in order. A pinned slot takes its pin. Any other slot takes, among the
remaining candidates that keep the diversity caps (the *eligible* ones), the best one with
probability ``1 - epsilon`` and one drawn uniformly with probability ``epsilon``. So the
item shown had probability ``(1 - epsilon) * [it was the best] + epsilon / eligible`` of
being there: its propensity, which off-policy evaluation divides by.

>>> from unico.catalog.model import Item
>>> from unico.decide.rules import Rules
>>> ranked = [(Item("a"), 3.0), (Item("b"), 2.0), (Item("c"), 1.0)]
>>> slots, _ = fill_slots(ranked, [], Rules(), 2, 0.0, SeededDraws(0))
>>> [(s.item.item_id, s.propensity) for s in slots]
[('a', 1.0), ('b', 1.0)]
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Protocol, TypeVar

from unico.catalog.model import Item
from unico.decide.rules import Rules, diversity_key

T = TypeVar("T")
MASK64 = (1 << 64) - 1


class Draws(Protocol):
    """What exploration draws with (`random.Random` has both)."""

    def random(self) -> float: ...

    def choice(self, seq: Sequence[T]) -> T: ...


class SeededDraws:
    """``random()`` and ``choice()`` from SplitMix64, seeded by an integer of any size:
    a decision's exploration, reproducible from its decision id.

    A `random.Random` per decision spent more on seeding its 624 words of Mersenne
    Twister state from a 160-bit seed than on everything it drew (2.6% of a serving
    process's time under load); a few draws need no more than SplitMix64's 64 bits.

    >>> a, b = SeededDraws(2**100 + 7), SeededDraws(2**100 + 7)
    >>> [a.random() for _ in range(3)] == [b.random() for _ in range(3)]
    True
    >>> 0.0 <= SeededDraws(1).random() < 1.0
    True
    """

    __slots__ = ("_state",)

    def __init__(self, seed: int) -> None:
        state = 0
        while True:  # fold a wide seed into 64 bits
            state ^= seed & MASK64
            seed >>= 64
            if not seed:
                break
        self._state = state

    def _next(self) -> int:
        self._state = z = (self._state + 0x9E3779B97F4A7C15) & MASK64
        z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK64
        z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK64
        return z ^ (z >> 31)

    def random(self) -> float:
        """Uniform in [0, 1), with 53 random bits."""
        return (self._next() >> 11) * 2.0**-53

    def choice(self, seq: Sequence[T]) -> T:
        """One element, uniformly (the modulo bias is below ``len(seq) / 2**64``)."""
        if not seq:
            raise IndexError("cannot choose from an empty sequence")
        return seq[self._next() % len(seq)]


#: Candidates exploration draws from: the best ``POOL_FACTOR * size`` (at least ``MIN_POOL``).
POOL_FACTOR = 3
MIN_POOL = 10


# Not frozen: a frozen dataclass sets each field through object.__setattr__, which made
# it 3.5 times slower to create, and a decision makes a slot for every item it shows.
@dataclass(slots=True)
class Slot:
    """One filled position of a placement; made once and never changed."""

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
    rng: Draws,
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
