"""Multiple-comparison corrections across variants and metrics.

With many variants and metrics, some p-values fall under ``alpha`` by chance alone.
``holm`` controls the family-wise error rate (the chance of any false winner);
``benjamini_hochberg`` controls the false discovery rate (the share of false winners
among the winners), and rejects more. Both return adjusted p-values, in input order, to
compare with ``alpha`` as usual.

>>> holm([0.01, 0.04, 0.03, 0.005])
[0.03, 0.06, 0.06, 0.02]
>>> benjamini_hochberg([0.01, 0.04, 0.03, 0.005])
[0.02, 0.04, 0.04, 0.02]
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, TypeAlias

import numpy as np

Correction: TypeAlias = Literal["holm", "benjamini-hochberg"]


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjustment: the i-th smallest p times ``m - i + 1``, kept monotone."""
    p, order = _sorted(p_values)
    m = len(p)
    stepped = np.maximum.accumulate(p * (m - np.arange(m)))
    return _unsorted(np.minimum(stepped, 1.0), order)


def benjamini_hochberg(p_values: Sequence[float]) -> list[float]:
    """Benjamini-Hochberg's step-up adjustment: the i-th smallest p times ``m / i``, monotone."""
    p, order = _sorted(p_values)
    m = len(p)
    scaled = p * m / np.arange(1, m + 1)
    stepped = np.minimum.accumulate(scaled[::-1])[::-1]
    # Never below the raw p-value, which rounding of p * m / m could otherwise give.
    return _unsorted(np.clip(stepped, p, 1.0), order)


def adjust_p_values(p_values: Sequence[float], method: Correction) -> list[float]:
    """The adjusted p-values by ``method`` (``holm`` or ``benjamini-hochberg``)."""
    if method == "holm":
        return holm(p_values)
    if method == "benjamini-hochberg":
        return benjamini_hochberg(p_values)
    raise ValueError(f"unknown correction {method!r}")


def _sorted(p_values: Sequence[float]) -> tuple[np.ndarray, np.ndarray]:
    p = np.asarray(p_values, dtype=np.float64)
    if p.ndim != 1 or np.isnan(p).any() or (p < 0).any() or (p > 1).any():
        raise ValueError("p-values must be a list of numbers between 0 and 1")
    order = np.argsort(p, kind="stable")
    return p[order], order


def _unsorted(adjusted: np.ndarray, order: np.ndarray) -> list[float]:
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return [float(x) for x in out]
