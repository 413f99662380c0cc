"""Properties that must hold for any data, checked with hypothesis."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from latentflow.stats import adjust_pvalues, correct, evaluate, mirror_alternative
from latentflow.vocabulary import TESTS

pytestmark = pytest.mark.filterwarnings("error")

# Multiples of 1/8 are exact in binary, so negating or scaling the data introduces no
# rounding and symmetric properties can be asserted tightly; small integers give ties
# and zeros, which the rank and permutation tests must handle.
eighths = st.integers(-80, 80).map(lambda k: k / 8)
samples = st.lists(eighths, min_size=2, max_size=25)
pvalues = st.lists(st.floats(0.0, 1.0), min_size=1, max_size=30)
alternatives = st.sampled_from(["two-sided", "less", "greater"])
location_tests = st.sampled_from(["paired_t", "wilcoxon", "permutation", "bootstrap"])
QUICK = {"n_resamples": 200}
PROPERTY = settings(max_examples=40, deadline=None)


@PROPERTY
@given(samples, st.sampled_from(TESTS), alternatives)
def test_pvalues_lie_in_unit_interval_and_untestable_data_never_pass(d, test, alternative):
    kwargs = {"margin": 1.0} if test == "tost" else {"alternative": alternative}
    result = evaluate(np.array(d), test=test, **kwargs, **QUICK)
    if math.isnan(result.pvalue):
        assert not result.passed and result.reason.startswith("cannot be tested")
    else:
        assert 0.0 <= result.pvalue <= 1.0
        if result.passed and test != "bootstrap":
            assert result.pvalue <= result.alpha


@PROPERTY
@given(samples, st.integers(0, 24), st.sampled_from(TESTS))
def test_one_nan_anywhere_fails_every_test(d, position, test):
    data = np.array([*d, 1.0])
    data[position % data.size] = math.nan
    result = evaluate(data, test=test, **({"margin": 1.0} if test == "tost" else {}), **QUICK)
    assert not result.passed and "NaN at index" in result.reason


@PROPERTY
@given(samples, samples, location_tests, alternatives)
def test_swapping_x_and_y_mirrors_the_test(x, y, test, alternative):
    n = min(len(x), len(y))
    x, y = np.array(x[:n]), np.array(y[:n])
    forward = evaluate((x, y), test=test, alternative=alternative, **QUICK)
    backward = evaluate((y, x), test=test, alternative=mirror_alternative(alternative), **QUICK)
    if math.isnan(forward.pvalue):
        assert math.isnan(backward.pvalue) and not backward.passed
        return
    assert backward.pvalue == pytest.approx(forward.pvalue, rel=1e-9, abs=1e-12)
    assert backward.passed == forward.passed
    assert backward.effect_size == pytest.approx(-forward.effect_size)
    if test == "wilcoxon":
        ranked = forward.detail("n_nonzero")
        assert forward.statistic + backward.statistic == ranked * (ranked + 1) / 2  # W+ + W-
    else:
        assert backward.statistic == pytest.approx(-forward.statistic)


@PROPERTY
@given(samples, st.sampled_from(["paired_t", "wilcoxon", "permutation"]), alternatives,
       st.sampled_from([0.25, 2.0, 1024.0]))
def test_rescaling_the_measure_changes_nothing_but_the_mean(d, test, alternative, scale):
    base = evaluate(np.array(d), test=test, alternative=alternative, **QUICK)
    scaled = evaluate(np.array(d) * scale, test=test, alternative=alternative, **QUICK)
    if math.isnan(base.pvalue):
        assert math.isnan(scaled.pvalue)
        return
    assert scaled.pvalue == pytest.approx(base.pvalue, rel=1e-9, abs=1e-12)
    assert scaled.effect_size == pytest.approx(base.effect_size, rel=1e-9)
    assert scaled.mean_difference == pytest.approx(base.mean_difference * scale)


@PROPERTY
@given(pvalues, st.sampled_from(["bonferroni", "holm", "bh"]))
def test_corrected_pvalues_are_valid_larger_and_order_preserving(raw, method):
    raw = np.array(raw)
    adjusted = adjust_pvalues(raw, method)
    assert np.all((adjusted >= raw - 1e-15) & (adjusted <= 1.0))
    order = np.argsort(raw, kind="stable")
    assert np.all(np.diff(adjusted[order]) >= -1e-15)


@PROPERTY
@given(pvalues)
def test_the_three_corrections_relate_as_theory_says(raw):
    raw = np.array(raw)
    bonferroni = adjust_pvalues(raw, "bonferroni")
    holm = adjust_pvalues(raw, "holm")
    bh = adjust_pvalues(raw, "bh")
    np.testing.assert_allclose(bonferroni, np.minimum(1.0, raw.size * raw), rtol=1e-12)
    assert np.all(holm <= bonferroni + 1e-15)  # Holm is uniformly more powerful
    assert np.all(bh <= holm + 1e-15)  # and BH more liberal still
    np.testing.assert_allclose(bh, stats.false_discovery_control(raw, method="bh"),
                               rtol=1e-12, atol=1e-15)


@PROPERTY
@given(st.lists(samples, min_size=1, max_size=6), st.sampled_from(["bonferroni", "holm", "bh"]))
def test_correct_never_turns_a_failure_into_a_pass(family, method):
    results = [evaluate(np.array(d), alternative="less") for d in family]
    for before, after in zip(results, correct(results, method), strict=True):
        assert not (after.passed and not before.passed)
        if not math.isnan(before.pvalue):
            assert after.pvalue_corrected >= before.pvalue
            assert after.passed == (after.pvalue_corrected <= after.alpha
                                    and after.mean_difference < 0)
