"""Standardised effect sizes for paired data, with intervals.

Two variants of "Cohen's d" circulate for paired designs, and papers rarely say which:

- ``d_z = mean(x - y) / sd(x - y)`` (Cohen 1988, sec. 2.3.5): the standardised mean of the
  differences, the quantity the paired t statistic is built from (t = d_z * sqrt(n)).
  This is the default everywhere in latentflow.
- ``d_pooled = mean(x - y) / sqrt((var(x) + var(y)) / 2)``: the two-sample Cohen's d with
  the pooled standard deviation, i.e. what the common ``cohens_d(a, b)`` snippet computes
  when it is handed two paired conditions. It ignores the correlation between x and y;
  for correlation r and equal variances, d_z = d_pooled / sqrt(2 (1 - r)). "Inside the
  Latent Flow" reports paired t-tests with "Cohen's d" without saying which; with its
  d values near 1 for STOI drops of 0.2-0.3 either reading is plausible, so both are
  available and the spec chooses (``effect_size="d_pooled"`` in `evaluate`).

Intervals: d_z has an exact interval from the noncentral t distribution (the paired t
statistic follows nct(df = n - 1, nc = delta * sqrt(n)); invert it at both tails,
Steiger & Fouladi 1997). d_pooled has no such pivot, so its interval is a BCa bootstrap
over pairs.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass

import numpy as np
from scipy import optimize, stats

from latentflow.stats.bootstrap import bca_bootstrap

EFFECT_SIZES = ("d_z", "d_pooled")
_MAX_BRACKET_DOUBLINGS = 60


@dataclass(frozen=True)
class EffectSize:
    name: str
    value: float
    interval: tuple[float, float]
    confidence: float
    method: str


def cohens_dz(differences: np.ndarray, axis: int = -1) -> np.ndarray | float:
    """mean / sample standard deviation (ddof=1) of the differences."""
    return np.mean(differences, axis=axis) / np.std(differences, axis=axis, ddof=1)


def cohens_d_pooled(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray | float:
    """mean(x - y) over the pooled standard deviation of the two conditions."""
    pooled = np.sqrt((np.var(x, axis=axis, ddof=1) + np.var(y, axis=axis, ddof=1)) / 2.0)
    return np.mean(x - y, axis=axis) / pooled


def dz_interval(differences: np.ndarray, confidence: float) -> tuple[float, float]:
    """Two-sided noncentral-t interval for the population d_z.

    Finds the noncentrality parameters under which the observed t sits at the upper and
    lower tail quantiles, then rescales by sqrt(n). NaN ends if the root search fails
    (it does not for finite t in practice; the effect's point value is unaffected).
    """
    n = differences.shape[0]
    df = n - 1
    t_observed = float(cohens_dz(differences)) * math.sqrt(n)
    tail = (1.0 - confidence) / 2.0
    # cdf(t_observed; nc) falls as nc grows: the lower end puts t_observed at the upper
    # tail (cdf = 1 - tail), the upper end at the lower tail (cdf = tail).
    low = _noncentrality_where_cdf_is(1.0 - tail, t_observed, df)
    high = _noncentrality_where_cdf_is(tail, t_observed, df)
    return (low / math.sqrt(n), high / math.sqrt(n))


def _noncentrality_where_cdf_is(target: float, t_observed: float, df: int) -> float:
    def excess(nc: float) -> float:
        cdf = float(stats.nct.cdf(t_observed, df, nc))
        if math.isnan(cdf):
            # scipy's nct returns NaN only far in a tail (seen for df = 1 at cdf ~ 1e-18):
            # there the cdf is 0 when nc lies far above t and 1 when far below.
            cdf = 0.0 if nc > t_observed else 1.0
        return cdf - target

    # The spread of t around nc grows like sqrt(1 + nc^2 / (2 df)); start there and
    # widen until the root is bracketed.
    width = 4.0 * math.sqrt(1.0 + t_observed**2 / (2.0 * df))
    for _ in range(_MAX_BRACKET_DOUBLINGS):
        lower, upper = t_observed - width, t_observed + width
        if excess(lower) >= 0.0 >= excess(upper):
            return float(optimize.brentq(excess, lower, upper, xtol=1e-12, rtol=1e-12))
        width *= 2.0
    return math.nan


def measure_effect_size(kind: str, differences: np.ndarray, x: np.ndarray | None, y: np.ndarray | None,
                *, confidence: float, n_resamples: int, rng: np.random.Generator) -> EffectSize:
    """The named effect size with its interval at ``confidence``."""
    if kind == "d_z":
        return EffectSize("d_z", float(cohens_dz(differences)),
                          dz_interval(differences, confidence), confidence, "noncentral t")
    if kind == "d_pooled":
        if x is None or y is None:
            raise ValueError("effect_size='d_pooled' needs both conditions: pass (x, y), "
                             "not only their differences")
        method = f"BCa bootstrap over pairs, {n_resamples} resamples"
        # A resample (or a jackknife sample of 1) in which both conditions are constant
        # has no pooled SD; with such replicates the interval is undefined, not infinite.
        with warnings.catch_warnings(), np.errstate(divide="ignore", invalid="ignore"):
            warnings.simplefilter("ignore", RuntimeWarning)
            fitted = bca_bootstrap((x, y), cohens_d_pooled, n_resamples=n_resamples, rng=rng)
        if fitted.defined and np.all(np.isfinite(fitted.replicates)):
            interval = fitted.interval(confidence)
        else:
            interval = (math.nan, math.nan)
            method += " (undefined: some resamples have no spread in x or y)"
        return EffectSize("d_pooled", float(cohens_d_pooled(x, y)), interval, confidence,
                          method)
    raise ValueError(f"effect_size {kind!r} is not known; allowed: {', '.join(EFFECT_SIZES)}")
