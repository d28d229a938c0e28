"""Sample-ratio mismatch: did the split send people where it should have?

If a 50/50 test shows 52/48, something (a redirect that loses people, a bot filter,
a cache) broke randomization, and no lift measured on it can be trusted. A chi-square
test of the observed counts against the expected weights flags it; the threshold is
strict (p < 0.001) because every experiment is checked, every day.

>>> srm_check([5200, 4800]).flagged
True
>>> srm_check([5020, 4980]).flagged
False
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from scipy import special

#: A split whose chi-square p-value is under this is flagged.
SRM_THRESHOLD = 0.001


@dataclass(frozen=True)
class SrmResult:
    """The chi-square p-value and whether the results should not be trusted."""

    p_value: float
    flagged: bool


def srm_check(
    counts: Sequence[int],
    weights: Sequence[float] | None = None,
    *,
    threshold: float = SRM_THRESHOLD,
) -> SrmResult:
    """Chi-square goodness of fit of ``counts`` to ``weights`` (equal when omitted)."""
    observed = np.asarray(counts, dtype=np.float64)
    expected_share = np.ones_like(observed) if weights is None else np.asarray(weights, float)
    if observed.ndim != 1 or len(observed) < 2 or expected_share.shape != observed.shape:
        raise ValueError("give at least two counts and one weight per count")
    if (observed < 0).any() or (expected_share <= 0).any():
        raise ValueError("counts must not be negative and weights must be positive")
    total = observed.sum()
    if total == 0:
        return SrmResult(p_value=1.0, flagged=False)
    expected = expected_share / expected_share.sum() * total
    # A weight so small that its expected count underflows to 0 yet units came: mismatch.
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        terms = np.where(observed == expected, 0.0, (observed - expected) ** 2 / expected)
    statistic = float(terms.sum())
    p_value = float(special.chdtrc(len(observed) - 1, statistic))
    return SrmResult(p_value=p_value, flagged=p_value < threshold)
