"""The paired location tests on differences d = x - y: t, Wilcoxon signed-rank, sign-flip
permutation. Each returns a small `TestOutcome`; `latentflow.stats.evaluate` turns it into a
verdict. Inputs here are already checked (finite, n >= 2, some spread).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import stats

ZERO_METHODS = ("wilcox", "pratt", "zsplit")
PERMUTATION_METHODS = ("auto", "exact", "monte_carlo")
# Exact enumeration splits the 2^n sign patterns into two halves of 2^(n/2) partial sums
# and counts with a sorted search, so n = 30 costs two arrays of 32768 sums. Past that,
# Monte Carlo.
EXACT_PERMUTATION_MAX_N = 30
# Beyond this even method="exact" is refused: each half would hold over 2^20 sums.
EXACT_PERMUTATION_LIMIT = 40
# Partial sums reach the observed sum by a different order of additions; count sums within
# this relative distance of it as equal (about 100 ulp of the sum of |d|).
_SUM_TOLERANCE = 100 * np.finfo(np.float64).eps


@dataclass(frozen=True)
class TestOutcome:
    __test__ = False

    statistic: float
    statistic_name: str
    pvalue: float
    details: tuple[tuple[str, float | int | str], ...] = ()


def paired_t(differences: np.ndarray, alternative: str) -> TestOutcome:
    """Student's paired t-test: a one-sample t-test of the differences against 0, which
    is exactly what scipy.stats.ttest_rel(x, y) computes."""
    result = stats.ttest_1samp(differences, 0.0, alternative=alternative)
    return TestOutcome(float(result.statistic), "t", float(result.pvalue),
                       (("df", int(differences.shape[0] - 1)),))


def wilcoxon_signed_rank(differences: np.ndarray, alternative: str,
                         zero_method: str = "wilcox") -> TestOutcome:
    """Wilcoxon signed-rank test via scipy.stats.wilcoxon(method="auto").

    Zero differences: ``"wilcox"`` (default) drops them before ranking, so the test uses
    only the pairs that changed (``n_nonzero`` in the details); ``"pratt"`` ranks them and
    then drops them (Pratt 1959); ``"zsplit"`` splits their ranks between the signs.
    scipy's "auto" p-value is exact for n <= 50 without ties or zeros, an exact
    sign-flip enumeration for n <= 13 otherwise, and the normal approximation beyond.

    The statistic is always W+ (sum of the ranks of positive differences; zsplit adds
    half the zero ranks), for every alternative, so swapping x and y turns it into
    W- = n_ranked (n_ranked + 1) / 2 - W+. scipy instead reports min(W+, W-) for the
    two-sided test.
    """
    if zero_method not in ZERO_METHODS:
        raise ValueError(f"zero_method {zero_method!r} is not known; allowed: "
                         f"{', '.join(ZERO_METHODS)}")
    nonzero = differences != 0
    ranked = differences[nonzero] if zero_method == "wilcox" else differences
    ranks = stats.rankdata(np.abs(ranked))
    w_plus = float(np.sum(ranks[ranked > 0]))
    if zero_method == "zsplit":
        w_plus += float(np.sum(ranks[ranked == 0])) / 2.0
    result = stats.wilcoxon(differences, zero_method=zero_method, alternative=alternative,
                            method="auto")
    details = (("n_nonzero", int(np.count_nonzero(nonzero))), ("zero_method", zero_method))
    return TestOutcome(w_plus, "W+", float(result.pvalue), details)


def sign_flip_permutation(differences: np.ndarray, alternative: str, *, method: str = "auto",
                          n_resamples: int = 9999,
                          rng: np.random.Generator | None = None) -> TestOutcome:
    """Paired permutation test: under H0 each difference is as likely to carry either
    sign, so flip signs and see how often the mean is as extreme as observed.

    The statistic is the mean difference (for a fixed sum of squares the t statistic is a
    monotone function of it, so both give the same test). ``method="auto"`` enumerates all
    2^n patterns exactly when n <= EXACT_PERMUTATION_MAX_N; otherwise draws ``n_resamples``
    random sign patterns from ``rng`` with scipy.stats.permutation_test and reports
    (1 + hits) / (1 + n_resamples), which counts the observed pattern and so is never 0
    (Phipson & Smyth 2010). Two-sided: exact counts |mean| as large as observed; Monte Carlo
    takes twice the smaller tail (scipy's rule; the same p under the symmetric null).
    """
    if method not in PERMUTATION_METHODS:
        raise ValueError(f"permutation method {method!r} is not known; allowed: "
                         f"{', '.join(PERMUTATION_METHODS)}")
    n = differences.shape[0]
    exact = method == "exact" or (method == "auto" and n <= EXACT_PERMUTATION_MAX_N)
    if exact and n > EXACT_PERMUTATION_LIMIT:
        raise ValueError(f"exact permutation over 2^{n} sign patterns is too large (limit "
                         f"n <= {EXACT_PERMUTATION_LIMIT}); use method='monte_carlo' or 'auto'")
    observed = float(np.sum(differences))
    tolerance = _SUM_TOLERANCE * float(np.sum(np.abs(differences)))
    if exact:
        pvalue = _exact_sign_flip_pvalue(differences, observed, tolerance, alternative)
        details = (("permutation_method", "exact"), ("sign_patterns", 2**n))
    else:
        if rng is None:
            raise ValueError("a Monte Carlo permutation test needs a seeded numpy Generator")
        pvalue = _monte_carlo_sign_flip_pvalue(differences, alternative, n_resamples, rng)
        details = (("permutation_method", "monte_carlo"), ("sign_patterns", n_resamples))
    return TestOutcome(observed / n, "mean difference", pvalue, details)


def _all_signed_sums(values: np.ndarray) -> np.ndarray:
    sums = np.zeros(1)
    for value in values:
        sums = np.concatenate([sums + value, sums - value])
    return sums


def _exact_sign_flip_pvalue(differences: np.ndarray, observed: float, tolerance: float,
                            alternative: str) -> float:
    half = differences.shape[0] // 2
    left = np.sort(_all_signed_sums(differences[:half]))
    right = _all_signed_sums(differences[half:])
    total = left.shape[0] * right.shape[0]

    def at_least(threshold: float) -> int:  # patterns with left + right >= threshold
        return int(np.sum(left.shape[0] - np.searchsorted(left, threshold - right, "left")))

    def at_most(threshold: float) -> int:  # patterns with left + right <= threshold
        return int(np.sum(np.searchsorted(left, threshold - right, "right")))

    if alternative == "greater":
        hits = at_least(observed - tolerance)
    elif alternative == "less":
        hits = at_most(observed + tolerance)
    else:
        magnitude = abs(observed) - tolerance
        if magnitude <= 0:
            return 1.0
        hits = at_least(magnitude) + at_most(-magnitude)
    return hits / total


def _monte_carlo_sign_flip_pvalue(differences: np.ndarray, alternative: str, n_resamples: int,
                                  rng: np.random.Generator) -> float:
    # scipy's one-sample permutation_type="samples" flips signs, draws from the seeded
    # generator it is handed (so the worker count cannot matter) and reports
    # (1 + hits) / (1 + n_resamples); two-sided is twice the smaller tail, which equals the
    # |sum| count this replaced up to Monte Carlo error (the null is symmetric). The exact
    # path above stays hand-written: scipy enumerates all 2^n patterns (measured 6.8 s at
    # n = 20, 27 s at n = 22; about 2 h at n = 30), the split enumeration takes 3 ms at n = 30.
    # Ties: scipy counts sums within 100 ulp of the observed one (relative to it).
    result = stats.permutation_test((differences,), _vectorized_sum, permutation_type="samples",
                                    vectorized=True, n_resamples=n_resamples,
                                    alternative=alternative, rng=rng)
    return float(result.pvalue)


def _vectorized_sum(values: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.sum(values, axis=axis)


def mean_interval_t(differences: np.ndarray, confidence: float) -> tuple[float, float]:
    """Two-sided Student t interval for the mean difference."""
    n = differences.shape[0]
    mean = float(np.mean(differences))
    half_width = (float(stats.t.ppf((1.0 + confidence) / 2.0, n - 1))
                  * float(np.std(differences, ddof=1)) / math.sqrt(n))
    return (mean - half_width, mean + half_width)
