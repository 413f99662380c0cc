"""The BCa bootstrap against scipy.stats.bootstrap(method="BCa") and against its own
definition (jackknife acceleration, inverted p-value)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from latentflow.stats import bca_bootstrap, cohens_d_pooled, evaluate

pytestmark = pytest.mark.filterwarnings("error")


def _skewed(seed: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).exponential(1.0, n) - 0.7


@pytest.mark.parametrize(("n", "n_resamples"), [(12, 2000), (25, 9999), (300, 4000)])
@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_bca_equals_scipy_given_the_same_generator(n, n_resamples, alternative):
    # scipy draws its resamples as rng.integers(0, n, (n_resamples, n)), as we do, so the
    # same seed gives the same replicates and any difference is in the BCa arithmetic.
    d = _skewed(n, n)
    ours = bca_bootstrap((d,), np.mean, n_resamples=n_resamples, rng=np.random.default_rng(7))
    reference = stats.bootstrap((d,), np.mean, n_resamples=n_resamples, method="BCa",
                                confidence_level=0.9, alternative=alternative,
                                random_state=np.random.default_rng(7))
    assert ours.interval(0.9, alternative) == pytest.approx(
        tuple(reference.confidence_interval), rel=1e-12)


def test_bca_over_pairs_equals_scipy_paired_bootstrap():
    rng = np.random.default_rng(3)
    y = rng.normal(0.5, 0.2, 40)
    x = 0.7 * y + rng.gamma(2.0, 0.1, 40)
    ours = bca_bootstrap((x, y), cohens_d_pooled, n_resamples=5000, rng=np.random.default_rng(11))
    reference = stats.bootstrap((x, y), cohens_d_pooled, paired=True, vectorized=True,
                                n_resamples=5000, method="BCa",
                                random_state=np.random.default_rng(11))
    assert ours.interval(0.95) == pytest.approx(tuple(reference.confidence_interval), rel=1e-12)


@pytest.mark.parametrize("seed", range(4))
def test_bca_agrees_with_scipy_on_independent_resamples(seed):
    # Different generators: the two intervals differ only by Monte Carlo error. With
    # 20000 resamples each the endpoints of these n=25 skewed samples differed by at most
    # 2.5% of the interval width (measured over these seeds), so 5% leaves room. This is
    # a sanity check only: on these seeds dropping the acceleration moves the upper end by
    # 5-10% of the width but dropping z0 by just 2-4%; the same-generator test above is
    # the exact comparison.
    d = _skewed(seed, 25)
    ours = bca_bootstrap((d,), np.mean, n_resamples=20000, rng=np.random.default_rng(100 + seed))
    reference = stats.bootstrap((d,), np.mean, n_resamples=20000, method="BCa",
                                random_state=np.random.default_rng(200 + seed))
    low, high = ours.interval(0.95)
    width = high - low
    assert abs(low - reference.confidence_interval.low) < 0.05 * width
    assert abs(high - reference.confidence_interval.high) < 0.05 * width


def test_acceleration_is_the_jackknife_skewness_of_the_mean():
    d = _skewed(1, 30)
    leave_one_out = np.array([np.delete(d, i).mean() for i in range(d.size)])
    spread = leave_one_out.mean() - leave_one_out
    expected = np.sum(spread**3) / (6 * np.sum(spread**2) ** 1.5)
    fitted = bca_bootstrap((d,), np.mean, n_resamples=100, rng=np.random.default_rng(0))
    assert fitted.acceleration == pytest.approx(expected, rel=1e-12)
    assert fitted.acceleration > 0  # exponential data skew right
    shares = (np.sum(fitted.replicates < d.mean()) + 0.5 * np.sum(fitted.replicates == d.mean()))
    assert fitted.bias_correction == pytest.approx(stats.norm.ppf(shares / 100), rel=1e-12)


def test_corrections_matter_for_skewed_data():
    d = _skewed(2, 20)
    fitted = bca_bootstrap((d,), np.mean, n_resamples=9999, rng=np.random.default_rng(0))
    percentile = np.quantile(fitted.replicates, [0.025, 0.975])
    low, high = fitted.interval(0.95)
    # Right skew: BCa moves both ends up relative to the plain percentile interval.
    assert low > percentile[0] and high > percentile[1]


@pytest.mark.parametrize("alternative", ["two-sided", "less", "greater"])
def test_bca_pvalue_is_where_the_interval_touches_the_null(alternative):
    # p near 0.03 (one-sided): inside the range the replicates resolve.
    d = (_skewed(4, 30) - 0.2) * (-1.0 if alternative == "less" else 1.0)
    fitted = bca_bootstrap((d,), np.mean, n_resamples=20000, rng=np.random.default_rng(1))
    p = fitted.pvalue(0.0, alternative)
    assert 0.01 < p < 0.1
    # At confidence 1 - p the relevant interval end sits on 0 (up to interpolation
    # between neighbouring replicates).
    confidence = 1.0 - p
    low, high = fitted.interval(confidence, alternative)
    spacing = np.max(np.diff(fitted.replicates))
    if alternative == "greater":
        assert abs(low) < spacing
    elif alternative == "less":
        assert abs(high) < spacing
    else:
        assert min(abs(low), abs(high)) < spacing
    for alpha in (p * 0.8, p * 1.2):
        low, high = fitted.interval(1 - alpha, alternative)
        excludes = low > 0 or high < 0
        assert excludes == (alpha > p)


def test_bootstrap_test_passes_on_the_interval_and_reports_it():
    d = _skewed(5, 40) + 0.2
    result = evaluate(d, test="bootstrap", alternative="greater", n_resamples=4000, seed=1)
    assert result.passed
    assert result.detail("bca_decision_low") > 0
    assert "lower bound" in result.reason
    fitted = bca_bootstrap((d,), np.mean, n_resamples=4000, rng=np.random.default_rng(1))
    assert result.confidence_interval == pytest.approx(fitted.interval(0.95), rel=1e-12)
    assert result.detail("bca_decision_low") == pytest.approx(
        fitted.interval(0.95, "greater")[0], rel=1e-12)
    assert result.pvalue == pytest.approx(fitted.pvalue(0.0, "greater"), rel=1e-12)
    assert result.pvalue <= result.alpha


def test_bootstrap_is_deterministic_per_seed_and_block_size_independent():
    d = _skewed(6, 2000)  # n large enough that resamples are drawn in several blocks
    first = bca_bootstrap((d,), np.mean, n_resamples=1500, rng=np.random.default_rng(3))
    again = bca_bootstrap((d,), np.mean, n_resamples=1500, rng=np.random.default_rng(3))
    np.testing.assert_array_equal(first.replicates, again.replicates)
    reference = stats.bootstrap((d,), np.mean, n_resamples=1500, method="BCa",
                                random_state=np.random.default_rng(3))
    assert first.interval(0.95) == pytest.approx(tuple(reference.confidence_interval), rel=1e-12)
