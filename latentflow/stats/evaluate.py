"""`evaluate`: the one call the spec engine makes per hypothesis.

It checks the arguments (usage errors raise ValueError naming the argument, the value and
what is allowed), checks the data (degenerate data fail with a reason, never raise), runs
the chosen test, adds the mean difference with its interval and the effect size with its
interval, and lets `latentflow.stats.decision` give the verdict.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
from dataclasses import dataclass
from typing import Any

import numpy as np

from latentflow.stats.bootstrap import BcaBootstrap, bca_bootstrap
from latentflow.stats.data import PairedData, as_paired, degeneracy, normalize_alternative
from latentflow.stats.decision import decide
from latentflow.stats.effect_size import EFFECT_SIZES, measure_effect_size
from latentflow.stats.equivalence import equivalence_margin, tost_paired
from latentflow.stats.paired import (
    PERMUTATION_METHODS,
    ZERO_METHODS,
    TestOutcome,
    mean_interval_t,
    paired_t,
    sign_flip_permutation,
    wilcoxon_signed_rank,
)
from latentflow.stats.result import TestResult
from latentflow.vocabulary import TESTS

DEFAULT_N_RESAMPLES = 9999
DEFAULT_SEED = 0
_MIN_PAIRS = 2  # every test also reports d_z, which needs a standard deviation
_NAN_INTERVAL = (math.nan, math.nan)


def evaluate(data: Any, y: Any = None, *, test: str = "paired_t",
             alternative: str = "two-sided", alpha: float = 0.05,
             min_effect_size: float | None = None,
             margin: float | tuple[float, float] | None = None, confidence: float = 0.95,
             n_resamples: int = DEFAULT_N_RESAMPLES, seed: int = DEFAULT_SEED,
             effect_size: str = "d_z", zero_method: str = "wilcox",
             permutation_method: str = "auto") -> TestResult:
    """Test one paired hypothesis and return its verdict.

    data: the differences d = x - y, or a tuple (x, y); or x, with ``y`` given.
        x is the treatment (intervened) condition, y the baseline.
    test: "paired_t" (scipy.stats.ttest_rel), "wilcoxon" (signed-rank), "permutation"
        (sign-flip), "bootstrap" (BCa interval of the mean difference), "tost"
        (equivalence within ``margin``).
    alternative: "two-sided", "less", "greater"; "decrease"/"increase" mean less/greater
        (of x - y). TOST takes no direction; its result reports "equivalence".
    alpha: significance level, 0 < alpha < 1 (< 0.5 for TOST).
    min_effect_size: required |effect| (>= 0), in the stated direction; None for none.
        Not allowed with TOST.
    margin: TOST only; delta > 0 for (-delta, +delta), or (low, high).
    confidence: level of the reported two-sided intervals (mean difference, effect size).
    n_resamples, seed: resampling budget and seed of the numpy Generator used for every
        random draw (bootstrap intervals, Monte Carlo permutation). The same seed gives
        the same numbers.
    effect_size: "d_z" (default) or "d_pooled" (needs x and y); see
        `latentflow.stats.effect_size`.
    zero_method: Wilcoxon's handling of zero differences: "wilcox", "pratt", "zsplit".
    permutation_method: "auto" (exact for n <= 30), "exact", "monte_carlo".

    The interval of the mean difference is a Student t interval for "paired_t" and "tost",
    and a BCa bootstrap interval for the tests that avoid the normal model ("wilcoxon",
    "permutation", "bootstrap").
    """
    settings = _Settings.check(test=test, alternative=alternative, alpha=alpha,
                               min_effect_size=min_effect_size, margin=margin,
                               confidence=confidence, n_resamples=n_resamples, seed=seed,
                               effect_size=effect_size, zero_method=zero_method,
                               permutation_method=permutation_method)
    paired = as_paired(data, y)
    if effect_size == "d_pooled" and not paired.has_pairs:
        raise ValueError("effect_size='d_pooled' needs both conditions: pass (x, y), not "
                         "only their differences")
    problem = degeneracy(paired, test=test, min_n=_MIN_PAIRS)
    if problem is not None:
        return _untestable(paired, settings, problem)
    return _tested(paired, settings)


@dataclass(frozen=True)
class _Settings:
    """The checked arguments of one `evaluate` call."""

    test: str
    alternative: str
    alpha: float
    min_effect_size: float | None
    margin: tuple[float, float] | None
    confidence: float
    n_resamples: int
    seed: int
    effect_size: str
    zero_method: str
    permutation_method: str

    @classmethod
    def check(cls, *, test: str, alternative: str, alpha: float,
              min_effect_size: float | None, margin: Any, confidence: float,
              n_resamples: int, seed: int, effect_size: str, zero_method: str,
              permutation_method: str) -> _Settings:
        if test not in TESTS:
            raise ValueError(f"test {test!r} is not known; allowed: {', '.join(TESTS)}")
        alternative = normalize_alternative(alternative)
        _check_level("alpha", alpha, upper=0.5 if test == "tost" else 1.0)
        _check_level("confidence", confidence)
        if min_effect_size is not None:
            if not _is_real(min_effect_size) or not (0 <= min_effect_size < math.inf):
                raise ValueError(f"min_effect_size must be a finite number >= 0 or None; got "
                                 f"{min_effect_size!r}")
            min_effect_size = float(min_effect_size)
        if test == "tost":
            if alternative != "two-sided":
                raise ValueError(f"test='tost' tests equivalence and takes no direction; got "
                                 f"alternative={alternative!r} (leave it 'two-sided')")
            if min_effect_size is not None:
                raise ValueError("min_effect_size does not apply to test='tost': the margin "
                                 "states what counts as negligible")
            margin = equivalence_margin(margin)
            alternative = "equivalence"
        elif margin is not None:
            raise ValueError(f"margin applies only to test='tost'; got margin={margin!r} with "
                             f"test={test!r}")
        if not _is_integer(n_resamples) or n_resamples < 1:
            raise ValueError(f"n_resamples must be a positive integer; got {n_resamples!r}")
        if not _is_integer(seed) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
        if effect_size not in EFFECT_SIZES:
            raise ValueError(f"effect_size {effect_size!r} is not known; allowed: "
                             f"{', '.join(EFFECT_SIZES)}")
        if zero_method not in ZERO_METHODS:
            raise ValueError(f"zero_method {zero_method!r} is not known; allowed: "
                             f"{', '.join(ZERO_METHODS)}")
        if permutation_method not in PERMUTATION_METHODS:
            raise ValueError(f"permutation_method {permutation_method!r} is not known; "
                             f"allowed: {', '.join(PERMUTATION_METHODS)}")
        return cls(test=test, alternative=alternative, alpha=float(alpha),
                   min_effect_size=min_effect_size, margin=margin,
                   confidence=float(confidence), n_resamples=int(n_resamples), seed=int(seed),
                   effect_size=effect_size, zero_method=zero_method,
                   permutation_method=permutation_method)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _check_level(name: str, value: Any, upper: float = 1.0) -> None:
    if not _is_real(value) or not (0 < value < upper):
        raise ValueError(f"{name} must be a number in (0, {upper:g}); got {value!r}")


def _untestable(paired: PairedData, settings: _Settings, problem: str) -> TestResult:
    with np.errstate(all="ignore"):
        mean = float(np.mean(paired.differences)) if paired.n else math.nan
    return TestResult(
        test=settings.test, alternative=settings.alternative, n=paired.n,
        statistic=math.nan, statistic_name=_STATISTIC_NAMES[settings.test], pvalue=math.nan,
        alpha=settings.alpha, mean_difference=mean if math.isfinite(mean) else math.nan,
        confidence_interval=_NAN_INTERVAL, confidence=settings.confidence,
        interval_method="not computed", effect_size=math.nan,
        effect_size_name=settings.effect_size, effect_size_interval=_NAN_INTERVAL,
        effect_size_method="not computed", passed=False,
        reason=f"cannot be tested: {problem}", min_effect_size=settings.min_effect_size,
        margin=settings.margin)


_STATISTIC_NAMES = {"paired_t": "t", "wilcoxon": "W+", "permutation": "mean difference",
                    "bootstrap": "mean difference", "tost": "t (binding one-sided test)"}


def _tested(paired: PairedData, settings: _Settings) -> TestResult:
    d = paired.differences
    rng = np.random.default_rng(settings.seed)
    draws_random = settings.effect_size == "d_pooled"
    details: tuple = ()
    if settings.test in ("paired_t", "tost"):
        interval = mean_interval_t(d, settings.confidence)
        interval_method = "Student t"
    else:
        # One bootstrap serves the reported interval and, for test="bootstrap", the
        # verdict, so both come from the same replicates.
        fitted = bca_bootstrap((d,), np.mean, n_resamples=settings.n_resamples, rng=rng)
        draws_random = True
        interval_method = f"BCa bootstrap, {settings.n_resamples} resamples"
        interval = fitted.interval(settings.confidence) if fitted.defined else _NAN_INTERVAL
        if not fitted.defined and settings.test == "bootstrap":
            return _untestable(paired, settings, (
                f"the BCa corrections are undefined (bias correction {fitted.bias_correction}, "
                f"acceleration {fitted.acceleration}): every replicate fell on one side of "
                f"the estimate; raise n_resamples"))

    if settings.test == "paired_t":
        outcome = paired_t(d, settings.alternative)
    elif settings.test == "wilcoxon":
        outcome = wilcoxon_signed_rank(d, settings.alternative, settings.zero_method)
    elif settings.test == "permutation":
        outcome = sign_flip_permutation(d, settings.alternative,
                                        method=settings.permutation_method,
                                        n_resamples=settings.n_resamples, rng=rng)
    elif settings.test == "bootstrap":
        outcome = _bootstrap_outcome(fitted, settings)
    else:
        assert settings.margin is not None, "_Settings.check gives every tost its margin"
        low, high = settings.margin
        tost = tost_paired(d, low, high, settings.alpha)
        outcome = tost.outcome
        details = (("equivalence_interval_low", tost.equivalence_interval[0]),
                   ("equivalence_interval_high", tost.equivalence_interval[1]))

    effect = measure_effect_size(settings.effect_size, d, paired.x, paired.y,
                                 confidence=settings.confidence,
                                 n_resamples=settings.n_resamples, rng=rng)
    provisional = TestResult(
        test=settings.test, alternative=settings.alternative, n=paired.n,
        statistic=outcome.statistic, statistic_name=outcome.statistic_name,
        pvalue=outcome.pvalue, alpha=settings.alpha, mean_difference=float(np.mean(d)),
        confidence_interval=(float(interval[0]), float(interval[1])),
        confidence=settings.confidence, interval_method=interval_method,
        effect_size=effect.value, effect_size_name=effect.name,
        effect_size_interval=effect.interval, effect_size_method=effect.method,
        passed=False, reason="", min_effect_size=settings.min_effect_size,
        margin=settings.margin,
        n_resamples=settings.n_resamples if draws_random else None,
        seed=settings.seed if draws_random else None,
        details=outcome.details + details)
    passed, reason = decide(provisional)
    return dataclasses.replace(provisional, passed=passed, reason=reason)


def _bootstrap_outcome(fitted: BcaBootstrap, settings: _Settings) -> TestOutcome:
    alternative = settings.alternative
    low, high = fitted.interval(1.0 - settings.alpha, alternative)
    details: tuple = (("bias_correction", fitted.bias_correction),
                      ("acceleration", fitted.acceleration))
    if alternative in ("two-sided", "greater"):
        details += (("bca_decision_low", low),)
    if alternative in ("two-sided", "less"):
        details += (("bca_decision_high", high),)
    return TestOutcome(fitted.estimate, "mean difference", fitted.pvalue(0.0, alternative),
                       details)

