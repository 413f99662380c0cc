"""`evaluate`: the verdict rules, degenerate data, argument errors and the result value."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from scipy import stats

from latentflow.stats import TestResult, evaluate
from latentflow.vocabulary import TESTS

pytestmark = pytest.mark.filterwarnings("error")

FAST = {"n_resamples": 999}  # enough for these checks; keeps the module quick


def _kwargs(test: str) -> dict:
    return {"margin": 0.5} if test == "tost" else {}


def _decrease(n: int = 30, shift: float = -0.5, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.normal(1.0, 0.5, n)
    return y + shift + rng.normal(0, 0.5, n), y


# --- verdicts ---------------------------------------------------------------------------

@pytest.mark.parametrize("test", ["paired_t", "wilcoxon", "permutation", "bootstrap"])
def test_a_clear_decrease_passes_in_its_direction_only(test):
    data = _decrease()
    decrease = evaluate(data, test=test, alternative="decrease", **FAST)
    increase = evaluate(data, test=test, alternative="increase", **FAST)
    two_sided = evaluate(data, test=test, **FAST)
    assert decrease.passed and decrease.alternative == "less"
    assert decrease.reason.startswith("decrease (x - y < 0) supported")
    assert not increase.passed and increase.alternative == "greater"
    assert "increase (x - y > 0) not supported" in increase.reason
    assert two_sided.passed


@pytest.mark.parametrize("test", ["paired_t", "wilcoxon", "permutation", "bootstrap"])
def test_the_effect_size_requirement_can_fail_a_significant_result(test):
    data = _decrease(n=300, shift=-0.15)  # clearly significant, d_z about -0.15 / 0.5
    result = evaluate(data, test=test, alternative="less", min_effect_size=0.5, **FAST)
    assert result.effect_size == pytest.approx(-0.3, abs=0.1)
    assert not result.passed
    assert "d_z = " in result.reason and "> -0.5" in result.reason
    assert result.pvalue <= 0.05  # significant: only the effect size failed it
    assert ", but d_z = " in result.reason
    relaxed = evaluate(data, test=test, alternative="less", min_effect_size=0.1, **FAST)
    assert relaxed.passed and "<= -0.1" in relaxed.reason


def test_passed_means_p_at_most_alpha_for_the_classic_tests():
    data = _decrease(n=20, shift=-0.25, seed=3)
    for test in ("paired_t", "wilcoxon", "permutation"):
        strict = evaluate(data, test=test, alternative="less", alpha=1e-4, **FAST)
        loose = evaluate(data, test=test, alternative="less", alpha=0.2, **FAST)
        assert strict.passed == (strict.pvalue <= 1e-4)
        assert loose.passed == (loose.pvalue <= 0.2)
        assert strict.pvalue == loose.pvalue


def test_a_rank_test_significant_against_the_mean_direction_does_not_pass():
    # Most pairs drop a little, one rises a lot: Wilcoxon says "decrease", the mean rises.
    d = np.concatenate([np.full(15, -0.1) + np.linspace(0, 0.01, 15), [5.0]])
    result = evaluate(d, test="wilcoxon", alternative="less")
    assert result.pvalue < 0.05 and result.mean_difference > 0
    assert not result.passed
    assert "is not negative" in result.reason


# --- degenerate data ---------------------------------------------------------------------

DEGENERATE = {
    "nan": ([0.1, math.nan, 0.3, 0.2], "NaN at index 1"),
    "inf": ([0.1, 0.2, math.inf, 0.4], "inf at index 2"),
    "one pair": ([0.4], "only 1 pair"),
    "empty": ([], "only 0 pairs"),
    "constant": ([0.2] * 10, "all 10 differences equal 0.2"),
    "all zero": ([0.0] * 10, "all 10 differences are exactly 0"),
    "underflow": ([0.0, 5e-324, 0.0], "underflows"),
    "overflow": ([1e308, -1e308, 1e308], "too large"),
}


@pytest.mark.parametrize("test", TESTS)
@pytest.mark.parametrize("case", sorted(DEGENERATE))
def test_degenerate_data_fail_with_a_reason_and_never_raise(test, case):
    data, explanation = DEGENERATE[case]
    result = evaluate(np.array(data, dtype=float), test=test, **_kwargs(test), **FAST)
    assert result.passed is False
    assert explanation in result.reason
    assert result.reason.startswith("cannot be tested:")
    assert math.isnan(result.pvalue) and math.isnan(result.statistic)
    assert json.dumps(result.to_dict(), allow_nan=False)


def test_nonfinite_values_are_reported_per_condition():
    result = evaluate(([1.0, 2.0, 3.0], [1.0, math.nan, math.inf]))
    assert "2 of 3 values of y are not finite (NaN at index 1; inf at index 2)" in result.reason
    overflow = evaluate(([1e308, 0.0], [-1e308, 1.0]))
    assert "values of x - y are not finite" in overflow.reason


def test_a_bootstrap_too_small_to_place_the_estimate_fails_with_a_reason():
    d = np.array([1.0, 2.0, 3.0, 4.0])
    result = evaluate(d, test="bootstrap", n_resamples=1)  # one replicate: z0 = +-inf
    assert not result.passed and "BCa corrections are undefined" in result.reason
    # The rank test needs the bootstrap only for its descriptive interval.
    wilcoxon = evaluate(d, test="wilcoxon", n_resamples=1)
    assert wilcoxon.pvalue == pytest.approx(0.125)
    assert all(math.isnan(end) for end in wilcoxon.confidence_interval)


def test_long_lists_of_bad_indices_are_shortened():
    d = np.full(50, math.nan)
    assert "... (50 in all)" in evaluate(d).reason


# --- argument errors ---------------------------------------------------------------------

@pytest.mark.parametrize(("kwargs", "message"), [
    ({"test": "mann_whitney"}, "allowed: paired_t, wilcoxon, permutation, bootstrap, tost"),
    ({"alternative": "up"}, "allowed: two-sided, less, greater, decrease, increase"),
    ({"alpha": 0.0}, r"alpha must be a number in \(0, 1\)"),
    ({"alpha": 1.5}, "alpha"),
    ({"alpha": True}, "alpha"),
    ({"confidence": 1.0}, "confidence"),
    ({"min_effect_size": -0.1}, "min_effect_size must be a finite number >= 0"),
    ({"min_effect_size": math.inf}, "min_effect_size"),
    ({"n_resamples": 0}, "n_resamples must be a positive integer"),
    ({"n_resamples": 10.5}, "n_resamples"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"zero_method": "drop", "test": "wilcoxon"}, "allowed: wilcox, pratt, zsplit"),
    ({"permutation_method": "fast"}, "allowed: auto, exact, monte_carlo"),
])
def test_bad_arguments_raise_naming_the_allowed_values(kwargs, message):
    with pytest.raises(ValueError, match=message):
        evaluate(np.array([0.1, 0.2, -0.1, 0.4]), **kwargs)


@pytest.mark.parametrize(("args", "message"), [
    ((([1.0, 2.0], [1.0, 2.0, 3.0]),), "len\\(x\\) = 2 and len\\(y\\) = 3"),
    ((np.ones((3, 2)),), "one-dimensional"),
    ((["a", "b"],), "must be numbers"),
])
def test_malformed_data_raise(args, message):
    with pytest.raises(ValueError, match=message):
        evaluate(*args)


def test_data_forms_agree():
    x, y = _decrease()
    by_tuple = evaluate((x, y))
    by_keyword = evaluate(x, y)
    by_differences = evaluate(x - y)
    assert by_tuple == by_keyword == by_differences
    assert evaluate((0.5, -0.1, 0.3)).n == 3  # a tuple of numbers is differences


# --- the result value ----------------------------------------------------------------------

def test_result_is_frozen_and_fields_are_named():
    result = evaluate(_decrease(), alternative="less", min_effect_size=0.5)
    with pytest.raises(dataclasses.FrozenInstanceError):
        result.passed = False  # type: ignore[misc]
    reference = stats.ttest_rel(*_decrease(), alternative="less")
    assert result.test == "paired_t" and result.statistic_name == "t"
    assert result.statistic == pytest.approx(reference.statistic)
    assert result.n == 30 and result.alpha == 0.05 and result.min_effect_size == 0.5
    assert result.pvalue_corrected is None and result.correction is None
    assert result.interval_method == "Student t"


@pytest.mark.parametrize("test", TESTS)
def test_to_dict_is_json_safe_and_round_trips(test):
    result = evaluate(_decrease(), test=test, **_kwargs(test), **FAST)
    assert isinstance(result.passed, bool) and isinstance(result.n, int)
    encoded = json.dumps(result.to_dict(), allow_nan=False)
    assert TestResult.from_dict(json.loads(encoded)) == result
    assert hash(TestResult.from_dict(json.loads(encoded))) == hash(result)


def test_degenerate_results_compare_equal_despite_nan():
    first = evaluate([1.0, math.nan])
    second = evaluate([1.0, math.nan])
    assert first is not second and first == second
    decoded = TestResult.from_dict(json.loads(json.dumps(first.to_dict(), allow_nan=False)))
    assert decoded == first and math.isnan(decoded.pvalue)
    assert decoded.to_dict()["pvalue"] is None


def test_from_dict_refuses_unknown_fields():
    data = evaluate(_decrease()).to_dict()
    data["p"] = 0.1
    with pytest.raises(ValueError, match=r"unknown TestResult fields \['p'\]"):
        TestResult.from_dict(data)


def test_str_shows_the_numbers_and_the_reason():
    result = evaluate(_decrease(), alternative="less", min_effect_size=0.5)
    text = str(result)
    assert text.splitlines()[0] == "paired_t (less): PASSED"
    assert f"t = {result.statistic:.3g}, p = {result.pvalue:.3g}" in text
    assert "Cohen's d_z" in text and "required |d_z| >= 0.5" in text
    assert f"why: {result.reason}" in text
    failed = str(evaluate([1.0, math.nan]))
    assert "FAILED" in failed and "p = NaN" in failed


def test_detail_lookup_names_what_is_there():
    result = evaluate(_decrease(), test="tost", margin=1.0)
    assert result.detail("df") == 29
    with pytest.raises(KeyError, match="present: t_lower"):
        result.detail("nope")


def test_same_seed_same_numbers_for_every_test():
    data = _decrease(n=45)  # 45 > 30: the permutation test draws Monte Carlo patterns
    for test in TESTS:
        first = evaluate(data, test=test, seed=11, **_kwargs(test), **FAST)
        again = evaluate(data, test=test, seed=11, **_kwargs(test), **FAST)
        assert first == again
        assert first.to_dict() == again.to_dict()
