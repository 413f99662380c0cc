"""TOST: two one-sided paired t-tests for equivalence within a margin (Schuirmann 1987).

H0: the mean difference is at or below ``low`` or at or above ``high``;
H1: low < mean difference < high. Reject H0 (declare equivalence) when both
    t_lower = (mean - low) / se   rejects "mean <= low"   (upper tail, p_lower)
    t_upper = (mean - high) / se  rejects "mean >= high"  (lower tail, p_upper)
at alpha; the TOST p-value is max(p_lower, p_upper). Equivalently, the (1 - 2 alpha)
t interval of the mean lies inside (low, high). This is the computation of statsmodels'
``ttost_paired(x, y, low, high)``.

With zero spread (all differences equal) the t statistics are undefined, so TOST fails
with a reason even when every difference is 0 and the margin is positive: equivalence is
then plausible but not something a t-test can show.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass

import numpy as np
from scipy import stats

from latentflow.stats.paired import TestOutcome, mean_interval_t


def equivalence_margin(margin: float | tuple[float, float] | None) -> tuple[float, float]:
    """Read a margin: ``delta > 0`` means (-delta, +delta); a pair is (low, high)."""
    if margin is None:
        raise ValueError("test='tost' needs margin=delta (for [-delta, +delta]) or "
                         "margin=(low, high)")
    not_a_margin = f"margin must be a positive number or a pair (low, high); got {margin!r}"
    if isinstance(margin, bool):
        raise ValueError(not_a_margin)
    # float spelled out for the type checker, which does not count float as a numbers.Real
    if isinstance(margin, (float, numbers.Real)):
        delta = float(margin)
        if not (math.isfinite(delta) and delta > 0):
            raise ValueError(f"margin must be a finite positive number or (low, high); got "
                             f"{margin!r}")
        return (-delta, delta)
    try:
        low, high = (float(end) for end in margin)
    except (TypeError, ValueError):
        raise ValueError(not_a_margin) from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise ValueError(f"margin (low, high) needs finite low < high; got {margin!r}")
    return (low, high)


@dataclass(frozen=True)
class TostOutcome:
    outcome: TestOutcome
    equivalence_interval: tuple[float, float]  # the (1 - 2 alpha) t interval of the mean


def tost_paired(differences: np.ndarray, low: float, high: float, alpha: float) -> TostOutcome:
    lower = stats.ttest_1samp(differences, low, alternative="greater")
    upper = stats.ttest_1samp(differences, high, alternative="less")
    p_lower, p_upper = float(lower.pvalue), float(upper.pvalue)
    # Report the t of the test that binds (the larger p): it decides the verdict.
    binding = lower if p_lower >= p_upper else upper
    details = (("t_lower", float(lower.statistic)), ("pvalue_lower", p_lower),
               ("t_upper", float(upper.statistic)), ("pvalue_upper", p_upper),
               ("df", int(differences.shape[0] - 1)))
    outcome = TestOutcome(float(binding.statistic), "t (binding one-sided test)",
                          max(p_lower, p_upper), details)
    return TostOutcome(outcome, mean_interval_t(differences, 1.0 - 2.0 * alpha))
