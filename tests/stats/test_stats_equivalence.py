"""TOST equivalence against the two one-sided t-tests written out by hand (the formula of
statsmodels' ttost_paired)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from latentflow.stats import evaluate, tost_paired

pytestmark = pytest.mark.filterwarnings("error")


def _hand_tost(d: np.ndarray, low: float, high: float) -> tuple[float, float, float, float]:
    n = d.size
    se = d.std(ddof=1) / math.sqrt(n)
    t_lower = (d.mean() - low) / se
    t_upper = (d.mean() - high) / se
    return t_lower, stats.t.sf(t_lower, n - 1), t_upper, stats.t.cdf(t_upper, n - 1)


def _small_change(seed: int, shift: float, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(10.0, 2.0, n)
    return y + shift + rng.normal(0.0, 0.2, n), y


@pytest.mark.parametrize("margin", [0.15, (-0.1, 0.25), (-0.3, 0.05)])
def test_tost_matches_the_hand_computation(margin):
    x, y = _small_change(1, 0.02)
    d = x - y
    low, high = (-margin, margin) if isinstance(margin, float) else margin
    t_lower, p_lower, t_upper, p_upper = _hand_tost(d, low, high)
    result = evaluate((x, y), test="tost", margin=margin)
    assert result.detail("t_lower") == pytest.approx(t_lower, rel=1e-12)
    assert result.detail("pvalue_lower") == pytest.approx(p_lower, rel=1e-10)
    assert result.detail("t_upper") == pytest.approx(t_upper, rel=1e-12)
    assert result.detail("pvalue_upper") == pytest.approx(p_upper, rel=1e-10)
    assert result.pvalue == pytest.approx(max(p_lower, p_upper), rel=1e-10)
    binding_t = t_lower if p_lower >= p_upper else t_upper
    assert result.statistic == pytest.approx(binding_t, rel=1e-12)
    assert result.margin == (low, high)
    assert result.alternative == "equivalence"


def test_equivalent_data_pass_and_shifted_data_fail():
    equivalent = evaluate(_small_change(2, 0.01), test="tost", margin=0.2)
    shifted = evaluate(_small_change(2, 0.3), test="tost", margin=0.2)
    assert equivalent.passed
    assert "equivalent within [-0.2, 0.2]" in equivalent.reason
    assert not shifted.passed
    assert "not shown equivalent" in shifted.reason
    assert "reaches up past 0.2" in shifted.reason
    assert shifted.detail("pvalue_upper") > 0.05 >= shifted.detail("pvalue_lower")


def test_tost_passes_exactly_when_the_1_minus_2alpha_interval_is_inside_the_margin():
    for seed in range(30):
        rng = np.random.default_rng(seed)
        d = rng.normal(rng.uniform(-0.3, 0.3), 0.4, 25)
        result = evaluate(d, test="tost", margin=(-0.2, 0.25), alpha=0.05)
        inside = (result.detail("equivalence_interval_low") > -0.2
                  and result.detail("equivalence_interval_high") < 0.25)
        assert result.passed == inside
        low, high = stats.ttest_1samp(d, 0.0).confidence_interval(0.90)
        assert result.detail("equivalence_interval_low") == pytest.approx(low, rel=1e-10)
        assert result.detail("equivalence_interval_high") == pytest.approx(high, rel=1e-10)


def test_too_few_pairs_cannot_show_equivalence():
    # A wide margin but only 3 noisy pairs: the 90% interval is far wider than the margin.
    result = evaluate(np.array([0.3, -0.4, 0.1]), test="tost", margin=0.5)
    assert not result.passed
    assert tost_paired(np.array([0.3, -0.4, 0.1]), -0.5, 0.5, 0.05).outcome.pvalue > 0.05


def test_all_zero_differences_fail_tost_with_a_reason():
    result = evaluate(np.zeros(12), test="tost", margin=0.1)
    assert not result.passed
    assert "exactly 0" in result.reason and "standard deviation is 0" in result.reason


@pytest.mark.parametrize(("kwargs", "message"), [
    ({}, "needs margin"),
    ({"margin": 0.0}, "finite positive"),
    ({"margin": -1.0}, "finite positive"),
    ({"margin": (0.2, -0.2)}, "low < high"),
    ({"margin": (0.1, float("nan"))}, "low < high"),
    ({"margin": "wide"}, "pair"),
    ({"margin": 0.1, "alternative": "less"}, "takes no direction"),
    ({"margin": 0.1, "min_effect_size": 0.2}, "does not apply"),
    ({"margin": 0.1, "alpha": 0.5}, r"alpha must be a number in \(0, 0.5\)"),
])
def test_tost_argument_errors_name_the_problem(kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluate(np.array([0.1, 0.2, -0.1]), test="tost", **kwargs)


def test_margin_is_refused_for_other_tests():
    with pytest.raises(ValueError, match="margin applies only to test='tost'"):
        evaluate(np.array([0.1, 0.2, -0.1]), test="paired_t", margin=0.1)
