"""Paired t, Wilcoxon and sign-flip permutation against scipy and against hand counts."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from latentflow.stats import evaluate, paired_t, sign_flip_permutation, wilcoxon_signed_rank

pytestmark = pytest.mark.filterwarnings("error")  # no warning may leak out of scipy

ALTERNATIVES = ("two-sided", "less", "greater")


def _pair(seed: int, n: int, shift: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(0.6, 0.15, n)
    return y + shift + rng.normal(0.0, 0.1, n), y


@pytest.mark.parametrize("alternative", ALTERNATIVES)
def test_paired_t_equals_scipy_ttest_rel(alternative):
    x, y = _pair(0, 24, -0.04)
    reference = stats.ttest_rel(x, y, alternative=alternative)
    result = evaluate((x, y), test="paired_t", alternative=alternative)
    assert result.statistic == pytest.approx(reference.statistic, rel=1e-12)
    assert result.pvalue == pytest.approx(reference.pvalue, rel=1e-10)
    assert paired_t(x - y, alternative).pvalue == pytest.approx(reference.pvalue, rel=1e-10)
    low, high = stats.ttest_rel(x, y).confidence_interval(0.95)
    assert result.confidence_interval == pytest.approx((low, high), rel=1e-10)


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("zero_method", ["wilcox", "pratt", "zsplit"])
@pytest.mark.parametrize("n", [9, 60])
def test_wilcoxon_equals_scipy_with_ties_and_zeros(alternative, zero_method, n):
    rng = np.random.default_rng(n)
    # Rounded differences give ties and zeros, the cases where the method choice matters.
    d = np.round(rng.normal(-0.3, 1.0, n), 1)
    d[:2] = 0.0
    reference = stats.wilcoxon(d, zero_method=zero_method, alternative=alternative)
    outcome = wilcoxon_signed_rank(d, alternative, zero_method)
    assert outcome.pvalue == pytest.approx(reference.pvalue, rel=1e-12)
    one_sided = stats.wilcoxon(d, zero_method=zero_method, alternative="greater")
    assert outcome.statistic == pytest.approx(one_sided.statistic, rel=1e-12)  # W+
    assert outcome.details[0] == ("n_nonzero", n - int(np.sum(d == 0)))


def test_wilcoxon_exact_small_sample_equals_scipy():
    d = np.array([0.3, -0.1, 0.7, 1.2, 0.45, -0.25, 0.9, 0.05])
    reference = stats.wilcoxon(d, alternative="greater", method="exact")
    assert evaluate(d, test="wilcoxon", alternative="greater").pvalue == pytest.approx(
        reference.pvalue, rel=1e-12)


def test_wilcoxon_drops_zeros_by_default_and_says_so():
    d = np.array([0.0, 0.0, 0.0, 1.0, 2.0, 3.0, -0.5, 4.0])
    result = evaluate(d, test="wilcoxon", alternative="greater")
    assert result.detail("n_nonzero") == 5
    assert result.detail("zero_method") == "wilcox"
    assert result.statistic == 2 + 3 + 4 + 5  # |d| .5, 1, 2, 3, 4 rank 1..5; only .5 is negative
    assert result.pvalue == pytest.approx(stats.wilcoxon(d[3:], alternative="greater").pvalue)


@pytest.mark.parametrize(("d", "alternative", "expected"), [
    # Signed sums of (1, 2, 4) are the 8 distinct values +-1 +-2 +-4.
    ([1.0, 2.0, 4.0], "greater", 1 / 8),
    ([1.0, 2.0, 4.0], "two-sided", 2 / 8),
    ([1.0, 2.0, 4.0], "less", 1.0),
    # Observed sum -1: sums >= -1 are 7, 5, 3, 1, -1; sums <= -1 are -1, -3, -5, -7.
    ([1.0, 2.0, -4.0], "greater", 5 / 8),
    ([1.0, 2.0, -4.0], "less", 4 / 8),
    ([1.0, 2.0, -4.0], "two-sided", 1.0),
    # Tied patterns. |d| = (1, 1, 1, 3): the sum is (three signs of 1) + 3 s4.
    # Observed 6 is the maximum: one pattern of 16.
    ([1.0, 1.0, 1.0, 3.0], "greater", 1 / 16),
    # Observed 4 needs s4 = + and the three ones summing to >= 1: 1 + 3 patterns.
    ([1.0, 1.0, -1.0, 3.0], "greater", 4 / 16),
    # Only the sum 6 exceeds 4.
    ([1.0, 1.0, -1.0, 3.0], "less", 15 / 16),
])
def test_exact_permutation_hand_counts(d, alternative, expected):
    outcome = sign_flip_permutation(np.array(d), alternative, method="exact")
    assert outcome.pvalue == pytest.approx(expected, abs=1e-15)
    assert outcome.statistic == pytest.approx(np.mean(d))


@pytest.mark.parametrize("alternative", ALTERNATIVES)
@pytest.mark.parametrize("n", [7, 12])
def test_exact_permutation_equals_scipy_permutation_test(alternative, n):
    rng = np.random.default_rng(40 + n)
    d = rng.normal(0.4, 1.0, n)
    reference = stats.permutation_test((d,), np.mean, permutation_type="samples",
                                       alternative=alternative, n_resamples=np.inf)
    outcome = sign_flip_permutation(d, alternative, method="exact")
    assert outcome.pvalue == pytest.approx(reference.pvalue, rel=1e-12)


def test_exact_permutation_with_repeated_values_counts_ties():
    d = np.array([0.5, 0.5, 0.5, -0.5, 1.5, 1.5, 0.5, 2.5, -1.5, 0.5])
    reference = stats.permutation_test((d,), np.mean, permutation_type="samples",
                                       alternative="greater", n_resamples=np.inf)
    assert sign_flip_permutation(d, "greater", method="exact").pvalue == pytest.approx(
        reference.pvalue, rel=1e-12)


def test_auto_permutation_is_exact_up_to_30_then_monte_carlo():
    rng = np.random.default_rng(5)
    small = evaluate(rng.normal(0.5, 1, 30), test="permutation")
    large = evaluate(rng.normal(0.5, 1, 31), test="permutation", n_resamples=999)
    assert small.detail("permutation_method") == "exact"
    assert small.detail("sign_patterns") == 2**30
    assert large.detail("permutation_method") == "monte_carlo"
    assert large.detail("sign_patterns") == 999


def test_monte_carlo_permutation_is_close_to_exact_and_never_zero():
    rng = np.random.default_rng(9)
    d = rng.normal(0.35, 1.0, 18)
    exact = sign_flip_permutation(d, "two-sided", method="exact").pvalue
    monte_carlo = sign_flip_permutation(d, "two-sided", method="monte_carlo",
                                        n_resamples=20000, rng=np.random.default_rng(1))
    # Binomial standard error of a p near 0.14 with 20000 draws is about 0.0025.
    assert monte_carlo.pvalue == pytest.approx(exact, abs=0.01)
    extreme = sign_flip_permutation(np.linspace(1, 2, 50), "greater", method="monte_carlo",
                                    n_resamples=999, rng=np.random.default_rng(1))
    assert extreme.pvalue == 1 / 1000  # the observed pattern counts: (1 + 0) / (1 + 999)


def test_monte_carlo_permutation_is_deterministic_per_seed():
    d = np.random.default_rng(2).normal(0.1, 1.0, 60)
    first = evaluate(d, test="permutation", seed=3, n_resamples=2000)
    again = evaluate(d, test="permutation", seed=3, n_resamples=2000)
    other = evaluate(d, test="permutation", seed=4, n_resamples=2000)
    assert first == again
    assert first.pvalue == again.pvalue
    assert other.pvalue != first.pvalue


def test_permutation_refuses_exact_enumeration_past_its_limit():
    with pytest.raises(ValueError, match="too large"):
        sign_flip_permutation(np.ones(41), "greater", method="exact")
    with pytest.raises(ValueError, match="seeded numpy Generator"):
        sign_flip_permutation(np.arange(50.0), "greater", method="monte_carlo")
