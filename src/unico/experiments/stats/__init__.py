"""The experiments statistics engine: pure computation (numpy and scipy) on summary statistics.

Each variant is a ``Statistic`` (``SampleStats``, ``ProportionStats``, ``RatioStats``, or
CUPED's ``AdjustedStats``); tests compare the control with one variant and return a
``FrequentistResult`` or ``BayesianResult`` whose fields mean what GrowthBook's mean:

>>> from unico.experiments.stats import ProportionStats, two_sided_ttest
>>> result = two_sided_ttest(ProportionStats(2000, 200), ProportionStats(2000, 260))
>>> round(result.expected, 2), result.p_value < 0.05
(0.3, True)

``sequential_ttest`` may be looked at every day; ``bayesian_test`` gives the chance to
win and the risks; ``srm_check`` flags broken splits; ``holm`` and
``benjamini_hochberg`` correct for many comparisons; ``sample_size`` plans; ``adjust``
(CUPED) and ``winsorize`` reduce noise; ``ThompsonSampling`` allocates bandit traffic.
"""

from __future__ import annotations

from unico.experiments.stats.analyze import analyze, analyze_document
from unico.experiments.stats.bandit import ThompsonSampling
from unico.experiments.stats.bayesian import GaussianPrior, bayesian_test, normal_risk
from unico.experiments.stats.corrections import adjust_p_values, benjamini_hochberg, holm
from unico.experiments.stats.cuped import (
    AdjustedStats,
    CovariateStats,
    adjust,
    adjust_values,
    estimate_theta,
    pooled_theta,
)
from unico.experiments.stats.document import AnalysisInputError, AnalysisRequest, read_request
from unico.experiments.stats.frequentist import two_sided_ttest, welch_dof
from unico.experiments.stats.lift import Difference, Lift, estimate_lift
from unico.experiments.stats.outliers import percentile_caps, winsorize
from unico.experiments.stats.posteriors import (
    BetaPosterior,
    NormalPosterior,
    compare_posteriors,
    posterior_of,
)
from unico.experiments.stats.power import Baseline, power, sample_size, units_to_go
from unico.experiments.stats.results import BayesianResult, FrequentistResult
from unico.experiments.stats.sequential import sequential_ttest
from unico.experiments.stats.srm import SrmResult, srm_check
from unico.experiments.stats.summary import (
    ProportionStats,
    RatioStats,
    SampleStats,
    Statistic,
)

__all__ = [
    "AdjustedStats",
    "AnalysisInputError",
    "AnalysisRequest",
    "Baseline",
    "BayesianResult",
    "BetaPosterior",
    "CovariateStats",
    "Difference",
    "FrequentistResult",
    "GaussianPrior",
    "Lift",
    "NormalPosterior",
    "ProportionStats",
    "RatioStats",
    "SampleStats",
    "SrmResult",
    "Statistic",
    "ThompsonSampling",
    "adjust",
    "adjust_p_values",
    "adjust_values",
    "analyze",
    "analyze_document",
    "bayesian_test",
    "benjamini_hochberg",
    "compare_posteriors",
    "estimate_lift",
    "estimate_theta",
    "holm",
    "normal_risk",
    "percentile_caps",
    "pooled_theta",
    "posterior_of",
    "power",
    "read_request",
    "sample_size",
    "sequential_ttest",
    "srm_check",
    "two_sided_ttest",
    "units_to_go",
    "welch_dof",
    "winsorize",
]
