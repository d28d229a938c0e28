"""What the tests return: the same fields, with the same meanings, as GrowthBook's results.

``expected`` is the lift estimate (a posterior mean for Bayesian tests), ``ci`` its
interval, ``stddev`` the standard deviation of the estimate. When the inputs cannot give
an answer (too few units, no variance) ``error`` says why and the numbers are the neutral
ones GrowthBook reports: no lift, p-value 1, chance to win 0.5, no risk.

>>> FrequentistResult.unavailable("a variant has zero variance").to_dict()["p_value"]
1.0
"""

from __future__ import annotations

from dataclasses import dataclass

from unico.core.types import JSONObject


@dataclass(frozen=True)
class FrequentistResult:
    """A confidence interval and a two-sided p-value for the lift."""

    expected: float
    ci: tuple[float, float]
    p_value: float
    stddev: float
    error: str | None = None

    @classmethod
    def unavailable(cls, error: str) -> FrequentistResult:
        return cls(expected=0.0, ci=(0.0, 0.0), p_value=1.0, stddev=0.0, error=error)

    def to_dict(self) -> JSONObject:
        return {
            "expected": self.expected,
            "ci": list(self.ci),
            "p_value": self.p_value,
            "error": self.error,
        }


@dataclass(frozen=True)
class BayesianResult:
    """A credible interval, the chance the variant beats the control, and the risks.

    ``risk`` is ``(control, variant)``: the expected lift lost by shipping the control if
    the variant is better, and by shipping the variant if it is worse (expected loss).
    """

    expected: float
    ci: tuple[float, float]
    chance_to_win: float
    risk: tuple[float, float]
    stddev: float
    error: str | None = None

    @classmethod
    def unavailable(cls, error: str) -> BayesianResult:
        return cls(0.0, (0.0, 0.0), chance_to_win=0.5, risk=(0.0, 0.0), stddev=0.0, error=error)

    def to_dict(self) -> JSONObject:
        return {
            "expected": self.expected,
            "ci": list(self.ci),
            "chance_to_win": self.chance_to_win,
            "risk": list(self.risk),
            "error": self.error,
        }
