"""Cohen's d_z with its noncentral-t interval, and the pooled-SD variant."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from latentflow.stats import cohens_d_pooled, cohens_dz, dz_interval, evaluate

pytestmark = pytest.mark.filterwarnings("error")


def test_dz_is_mean_over_sample_sd_and_matches_t_over_sqrt_n():
    d = np.array([0.1, -0.3, 0.25, 0.4, 0.05, 0.6, -0.1])
    expected = d.mean() / d.std(ddof=1)
    assert cohens_dz(d) == pytest.approx(expected, rel=1e-14)
    t = stats.ttest_1samp(d, 0.0).statistic
    assert cohens_dz(d) == pytest.approx(t / math.sqrt(d.size), rel=1e-12)


@pytest.mark.parametrize(("n", "dz"), [(5, 0.3), (12, -0.9), (40, 1.6), (200, 0.05)])
@pytest.mark.parametrize("confidence", [0.9, 0.95])
def test_dz_interval_puts_the_observed_t_at_the_tail_quantiles(n, dz, confidence):
    rng = np.random.default_rng(n)
    d = rng.normal(0, 1, n)
    d = (d - d.mean()) / d.std(ddof=1) + dz  # mean dz, sd 1: exactly this d_z
    observed_dz = float(cohens_dz(d))
    assert observed_dz == pytest.approx(dz, rel=1e-12)
    low, high = dz_interval(d, confidence)
    t = observed_dz * math.sqrt(n)
    tail = (1 - confidence) / 2
    assert stats.nct.sf(t, n - 1, low * math.sqrt(n)) == pytest.approx(tail, rel=1e-8)
    assert stats.nct.cdf(t, n - 1, high * math.sqrt(n)) == pytest.approx(tail, rel=1e-8)
    assert low < observed_dz < high


def test_dz_interval_approaches_the_normal_approximation_for_large_n():
    # Large-sample standard error of d_z: sqrt(1/n + d_z^2 / (2n)) (Hedges & Olkin 1985).
    d = np.random.default_rng(8).normal(0.5, 1.0, 4000)
    dz = float(cohens_dz(d))
    low, high = dz_interval(d, 0.95)
    half_width = 1.959964 * math.sqrt(1 / d.size + dz**2 / (2 * d.size))
    assert (high - low) / 2 == pytest.approx(half_width, rel=0.01)
    assert (low + high) / 2 == pytest.approx(dz, abs=0.01)


def test_dz_interval_coverage_on_simulated_experiments():
    # 200 experiments of n=15 with true d_z = 0.8: a 90% interval should cover about 180
    # times (binomial sd 4.2); the bounds below are 4 sd each side.
    rng = np.random.default_rng(12)
    covered = 0
    for _ in range(200):
        low, high = dz_interval(rng.normal(0.8, 1.0, 15), 0.9)
        covered += low <= 0.8 <= high
    assert 163 <= covered <= 197


def test_d_pooled_uses_the_two_conditions_standard_deviations():
    x = np.array([0.5, 0.7, 0.6, 0.9, 0.4, 0.8])
    y = np.array([0.6, 0.75, 0.7, 0.95, 0.5, 0.85])
    pooled = math.sqrt((x.var(ddof=1) + y.var(ddof=1)) / 2)
    assert cohens_d_pooled(x, y) == pytest.approx((x - y).mean() / pooled, rel=1e-14)
    # Strongly correlated conditions: the paired d_z is much larger than d_pooled.
    assert abs(cohens_dz(x - y)) > 3 * abs(cohens_d_pooled(x, y))


def test_evaluate_reports_the_requested_effect_size():
    rng = np.random.default_rng(4)
    y = rng.normal(0.6, 0.1, 30)
    x = y - 0.05 + rng.normal(0, 0.05, 30)
    default = evaluate((x, y), alternative="less")
    pooled = evaluate((x, y), alternative="less", effect_size="d_pooled", n_resamples=2000)
    assert default.effect_size_name == "d_z"
    assert default.effect_size_method == "noncentral t"
    assert default.effect_size == pytest.approx(cohens_dz(x - y))
    assert default.effect_size_interval == pytest.approx(dz_interval(x - y, 0.95))
    assert pooled.effect_size_name == "d_pooled"
    assert pooled.effect_size == pytest.approx(cohens_d_pooled(x, y))
    low, high = pooled.effect_size_interval
    assert low < pooled.effect_size < high
    assert pooled.pvalue == default.pvalue  # the test itself does not change
    assert pooled.seed == 0 and pooled.n_resamples == 2000
    assert default.seed is None  # nothing random was drawn
    with pytest.raises(ValueError, match="needs both conditions"):
        evaluate(x - y, effect_size="d_pooled")
    with pytest.raises(ValueError, match="allowed: d_z, d_pooled"):
        evaluate(x - y, effect_size="hedges_g")
