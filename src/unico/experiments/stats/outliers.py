"""Outlier capping: winsorize per-unit values at a percentile.

One customer buying for a whole company can swamp a revenue test; capping values at,
say, the 99th percentile keeps the metric's signal and drops most of that noise. Cap
with thresholds computed on every variant's units together, so that all variants are
capped the same way.

>>> winsorize([1.0, 2.0, 3.0, 4.0, 100.0], upper=75).tolist()
[1.0, 2.0, 3.0, 4.0, 4.0]
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt


def winsorize(
    values: npt.ArrayLike,
    *,
    upper: float | None = 99.0,
    lower: float | None = None,
) -> npt.NDArray[np.float64]:
    """``values`` clipped to their ``lower`` and ``upper`` percentiles (0-100; None: no cap)."""
    array = np.asarray(values, dtype=np.float64)
    low, high = percentile_caps(array, upper=upper, lower=lower)
    return np.clip(array, low, high)


def percentile_caps(
    values: npt.ArrayLike,
    *,
    upper: float | None = 99.0,
    lower: float | None = None,
) -> tuple[float, float]:
    """The ``(low, high)`` caps ``winsorize`` applies, to reuse on other units.

    >>> percentile_caps([1.0, 2.0, 3.0], upper=None, lower=None)
    (-inf, inf)
    """
    array = np.asarray(values, dtype=np.float64)
    for name, level in (("upper", upper), ("lower", lower)):
        if level is not None and not 0 <= level <= 100:
            raise ValueError(f"the {name} percentile must be between 0 and 100")
    if array.size == 0:
        return -np.inf, np.inf
    high = float(np.percentile(array, upper)) if upper is not None else np.inf
    low = float(np.percentile(array, lower)) if lower is not None else -np.inf
    return low, high
