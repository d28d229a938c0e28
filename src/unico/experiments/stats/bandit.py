"""Thompson-sampling allocation: send traffic to each variant in proportion to the
posterior chance that it is the best.

The weights are estimated by drawing from every variant's posterior (``posteriors``)
and counting how often each draw is the largest, so they are reproducible from the
``rng`` passed in. A ``floor`` keeps every variant exploring.

>>> from unico.experiments.stats.summary import ProportionStats
>>> policy = ThompsonSampling(draws=20_000)
>>> stats = [ProportionStats(500, 50), ProportionStats(500, 75)]
>>> policy.weights(stats, np.random.default_rng(3)).round(2).tolist()
[0.01, 0.99]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from unico.experiments.stats.posteriors import FloatArray, posterior_of
from unico.experiments.stats.summary import Statistic


@dataclass(frozen=True)
class ThompsonSampling:
    """Allocation probabilities by Monte Carlo over the variants' posteriors.

    ``inverse`` favours the lowest metric; ``floor`` is each variant's minimum weight.
    """

    draws: int = 10_000
    floor: float = 0.0
    inverse: bool = False

    def __post_init__(self) -> None:
        if self.draws < 1:
            raise ValueError("draws must be at least 1")
        if not 0 <= self.floor < 1:
            raise ValueError("floor must be in [0, 1)")

    def weights(self, stats: Sequence[Statistic], rng: np.random.Generator) -> FloatArray:
        """One weight per variant, in order, summing to 1."""
        if not stats:
            raise ValueError("there must be at least one variant")
        if self.floor * len(stats) > 1:
            raise ValueError("floor times the number of variants must not exceed 1")
        samples = np.stack([posterior_of(s).sample(rng, self.draws) for s in stats])
        best = samples.argmin(axis=0) if self.inverse else samples.argmax(axis=0)
        shares = np.bincount(best, minlength=len(stats)) / self.draws
        return self.floor + (1 - self.floor * len(stats)) * shares
