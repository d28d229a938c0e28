"""Deterministic assignment: which units take part in an experiment, and in which variant.

Every choice is a hash of ``(salt, unit id)`` mapped to ``[0, 1)``, so any process, on any
day, assigns a unit the same way with nothing stored. The hash is BLAKE2b (8 bytes):
in the standard library and written in C (well under a microsecond), stable across
processes, machines and Python versions (``hash()`` is salted per process), and
uniform enough that no bucket is favoured (a cryptographic hash has no structure for
sequential ids such as ``user-1``, ``user-2`` to line up with).

Three independent hashes answer three questions, each with a salt of its own:

* ``traffic``: is the unit in the experiment? in iff its draw is under the traffic share,
  so raising the traffic only adds people: everyone in stays in;
* ``holdout``: is it in the permanent holdout (the placement's own experience)?
* ``variant``: which variant? by the cumulative weights.

Experiments of one layer share the layer's hash instead of their traffic hash: the
layer's ``LAYER_BUCKETS`` buckets are split among its experiments as disjoint ranges, so
no unit is in two of them.

>>> draw("exp_1", "p_42") == draw("exp_1", "p_42")
True
>>> pick([0.5, 0.5], 0.7)
1
"""

from __future__ import annotations

import bisect
import hashlib
import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

#: Buckets of a layer; an experiment holds a contiguous range of them.
LAYER_BUCKETS = 1000
_SCALE = float(2**64)


def draw(salt: str, unit_id: str) -> float:
    """A uniform number in ``[0, 1)``, the same for the same salt and unit everywhere."""
    digest = hashlib.blake2b(f"{salt}\x00{unit_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / _SCALE


def layer_bucket(layer: str, unit_id: str) -> int:
    """The unit's bucket in a layer (``0 .. LAYER_BUCKETS - 1``)."""
    return int(draw(f"layer:{layer}", unit_id) * LAYER_BUCKETS)


def pick(weights: Sequence[float], u: float) -> int:
    """The index whose cumulative weight interval holds ``u`` (weights summing to 1)."""
    cumulative = list(itertools.accumulate(weights))
    index = bisect.bisect_right(cumulative, u * cumulative[-1])
    return min(index, len(weights) - 1)


def buckets_for(traffic: float) -> int:
    """How many layer buckets an experiment with this traffic share holds."""
    return max(1, math.ceil(traffic * LAYER_BUCKETS - 1e-9))


def free_range(taken: Sequence[tuple[int, int]], size: int) -> tuple[int, int] | None:
    """The first free run of ``size`` buckets between the ``taken`` (inclusive) ranges.

    >>> free_range([(0, 499)], 300)
    (500, 799)
    >>> free_range([(0, 499), (500, 999)], 1) is None
    True
    """
    start = 0
    for low, high in sorted(taken):
        if low - start >= size:
            break
        start = max(start, high + 1)
    if start + size > LAYER_BUCKETS:
        return None
    return start, start + size - 1


@dataclass(frozen=True, slots=True)
class Variant:
    name: str
    #: Overrides of the placement (``strategy``, ``items``, ``rules``), compiled.
    overrides: dict[str, Any]
    payload: dict[str, Any]


@dataclass(slots=True)
class RunningExperiment:
    """A running experiment as assignment needs it (cached in memory per workspace)."""

    experiment_id: str
    placement: str | None
    key: str | None
    variants: tuple[Variant, ...]
    weights: list[float]
    traffic: float
    holdout: float
    segment: str | None
    layer: str | None
    buckets: tuple[int, int] | None
    #: The allocation's weights were set by a bandit (propensities change over time).
    bandit: bool = False
    by_name: dict[str, Variant] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.by_name = {v.name: v for v in self.variants}

    def admits(self, unit_id: str) -> bool:
        """Whether the unit falls in the experiment's traffic (or its layer range)."""
        if self.layer is not None and self.buckets is not None:
            low, high = self.buckets
            return low <= layer_bucket(self.layer, unit_id) <= high
        return draw(f"{self.experiment_id}:traffic", unit_id) < self.traffic

    def held_out(self, unit_id: str) -> bool:
        return bool(self.holdout) and draw(f"{self.experiment_id}:holdout", unit_id) < self.holdout

    def choose(self, unit_id: str) -> tuple[Variant, float]:
        """The unit's variant under the current weights, and the chance it had of it."""
        index = pick(self.weights, draw(f"{self.experiment_id}:variant", unit_id))
        return self.variants[index], self.weights[index]
