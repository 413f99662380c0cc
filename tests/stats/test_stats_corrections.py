"""Bonferroni, Holm and Benjamini-Hochberg on known vectors, against scipy, and applied to
families of results."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from latentflow.stats import adjust_pvalues, correct, evaluate

pytestmark = pytest.mark.filterwarnings("error")

# Worked by hand. Sorted: 0.005 (index 3), 0.01 (0), 0.03 (2), 0.04 (1); m = 4.
RAW = [0.01, 0.04, 0.03, 0.005]
# Bonferroni: 4p.
BONFERRONI = [0.04, 0.16, 0.12, 0.02]
# Holm: 4*0.005=0.02, 3*0.01=0.03, 2*0.03=0.06, 1*0.04=0.04 -> running max 0.06.
HOLM = [0.03, 0.06, 0.06, 0.02]
# BH: 4p/rank = 0.02, 0.02, 0.04, 0.04 -> running min from the top leaves them.
BH = [0.02, 0.04, 0.04, 0.02]


@pytest.mark.parametrize(("method", "expected"), [
    ("bonferroni", BONFERRONI), ("holm", HOLM), ("bh", BH), ("benjamini-hochberg", BH),
])
def test_known_vectors(method, expected):
    np.testing.assert_allclose(adjust_pvalues(RAW, method), expected, rtol=1e-12)


def test_holm_and_bh_step_rules_on_a_longer_vector():
    raw = [0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205]
    # Holm: (8,7,...,1) * p = .008 .056 .234 .205 .168 .18 .148 .205 -> running max.
    np.testing.assert_allclose(adjust_pvalues(raw, "holm"),
                               [0.008, 0.056, 0.234, 0.234, 0.234, 0.234, 0.234, 0.234],
                               rtol=1e-12)
    # BH: 8p/i = .008 .032 .104 .082 .0672 .08 .0846 .205 -> running min from the top.
    np.testing.assert_allclose(adjust_pvalues(raw, "bh"),
                               [0.008, 0.032, 0.0672, 0.0672, 0.0672, 0.08, 8 * 0.074 / 7,
                                0.205], rtol=1e-12)


@pytest.mark.parametrize("seed", range(5))
def test_bh_equals_scipy_false_discovery_control(seed):
    rng = np.random.default_rng(seed)
    raw = np.concatenate([rng.uniform(0, 1, 30), rng.uniform(0, 0.01, 10), [0.5, 0.5]])
    rng.shuffle(raw)
    np.testing.assert_allclose(adjust_pvalues(raw, "bh"),
                               stats.false_discovery_control(raw, method="bh"), rtol=1e-12)


def test_nan_pvalues_count_in_the_family_and_stay_nan():
    adjusted = adjust_pvalues([0.01, math.nan, 0.02], "holm")
    assert math.isnan(adjusted[1])
    # m = 3 even though one hypothesis could not be tested.
    np.testing.assert_allclose(adjusted[[0, 2]], [0.03, 0.04], rtol=1e-12)
    np.testing.assert_allclose(adjust_pvalues([0.01, math.nan], "bonferroni")[0], 0.02)


def test_bad_inputs_are_refused():
    with pytest.raises(ValueError, match="allowed: bonferroni, holm, bh"):
        adjust_pvalues([0.1], "sidak")
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        adjust_pvalues([0.1, 1.5], "holm")
    with pytest.raises(ValueError, match="not a TestResult"):
        correct([0.01], "holm")
    assert adjust_pvalues([], "bh").shape == (0,)
    assert correct([], "bh") == []


def _family() -> list:
    rng = np.random.default_rng(0)
    base = rng.normal(0.0, 1.0, 30)
    # Raw p: about 1e-12, 2e-5, 0.02, 0.2.
    shifts = (-0.8, -0.3, -0.1, 0.0)
    return [evaluate(base * 0.5 + shift, alternative="decrease", min_effect_size=0.3)
            for shift in shifts]


def test_correct_returns_new_results_and_rejudges_them():
    family = _family()
    raw_passed = [result.passed for result in family]
    corrected = correct(family, "bonferroni")
    assert [result.passed for result in family] == raw_passed  # inputs untouched
    assert all(result.pvalue_corrected is None for result in family)
    for before, after in zip(family, corrected, strict=True):
        assert after.pvalue == before.pvalue
        assert after.pvalue_corrected == pytest.approx(min(1.0, 4 * before.pvalue))
        assert after.correction == "bonferroni" and after.family_size == 4
        assert after.passed == (after.pvalue_corrected <= 0.05
                                and after.effect_size <= -0.3)
        assert "Bonferroni-corrected p" in after.reason
    # At least one hypothesis significant on its own loses significance once corrected.
    assert any(before.pvalue <= 0.05 < after.pvalue_corrected
               for before, after in zip(family, corrected, strict=True))
    assert any(after.passed for after in corrected)


def test_effect_size_requirement_survives_correction():
    d = np.random.default_rng(1).normal(-0.2, 1.0, 400)  # significant but small: d_z ~ -0.2
    result = evaluate(d, alternative="less", min_effect_size=0.5)
    assert result.pvalue < 0.001 and not result.passed
    (corrected,) = correct([result], "holm")
    assert not corrected.passed
    assert "d_z" in corrected.reason and "> -0.5" in corrected.reason


def test_degenerate_results_stay_failed_under_correction():
    good = evaluate(np.random.default_rng(2).normal(-1.0, 1.0, 30), alternative="less")
    broken = evaluate([0.1, math.nan, 0.3], alternative="less")
    corrected = correct([good, broken], "bh")
    assert corrected[0].passed and corrected[0].family_size == 2
    assert not corrected[1].passed
    assert math.isnan(corrected[1].pvalue_corrected)
    assert corrected[1].reason == broken.reason


def test_recorrecting_starts_from_the_raw_pvalue():
    family = _family()
    once = correct(family, "holm")
    twice = correct(once, "holm")
    assert [r.pvalue_corrected for r in twice] == [r.pvalue_corrected for r in once]
    switched = correct(once, "bonferroni")
    assert [r.pvalue_corrected for r in switched] == pytest.approx(
        [min(1.0, 4 * r.pvalue) for r in family])
