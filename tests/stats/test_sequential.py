"""Sequential verdicts: the e-process formulas, the decision rules, determinism and errors.

Calibration (false positives under optional stopping, power, equivalence) lives in
test_sequential_calibration.py.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from scipy import integrate, stats

from latentflow.stats import eprocess
from latentflow.stats.sequential import SequentialDesign, SequentialResult, sequential_test, sequential_test_chunks
from latentflow.stats.sequential_corrections import CORRECTION_VALIDITY, check_correction, correct_sequential


@pytest.mark.parametrize("n, r, side", [(2, 0.7, -1), (12, 2.5, +1), (12, -2.5, +1)])
def test_t_mixture_closed_form_equals_its_defining_integral(n, r, side):
    """E = int int (likelihood ratio of the scale invariant) * half-normal prior, computed
    numerically: v^(n-1) exp(-(v^2 - 2 v delta r + n delta^2) / 2) over the same without
    delta, delta on the claim's side with density 2 N(0, g)."""
    scale = eprocess.DEFAULT_PRIOR_SCALE

    def numerator(delta, v):
        return (v ** (n - 1) * math.exp(-(v * v - 2 * v * delta * r + n * delta * delta) / 2)
                * 2 * stats.norm.pdf(delta, scale=scale))

    lo, hi = (0.0, 12 * scale) if side > 0 else (-12 * scale, 0.0)
    top, _ = integrate.dblquad(numerator, 0.0, 40.0, lo, hi, epsabs=1e-12, epsrel=1e-8)
    bottom, _ = integrate.quad(lambda v: v ** (n - 1) * math.exp(-v * v / 2), 0.0, 40.0)
    closed = float(np.exp(eprocess.t_mixture_log_e(n, r, side, scale)))
    assert closed == pytest.approx(top / bottom, rel=1e-6)


@pytest.mark.parametrize("scale", [0.3, 0.7, 2.0])
def test_t_mixture_evidence_falls_monotonically_in_r(scale):
    """The bounds, the futility bound and the composite-null e-values rely on it."""
    for n in (2, 3, 5, 8, 16, 24, 64, 256):
        r = np.linspace(-math.sqrt(n), math.sqrt(n), 4001)[1:-1]
        below = eprocess.t_mixture_log_e(n, r, -1, scale)
        assert np.all(np.isfinite(below[r <= 0])), n
        # Far past the data (E below e^-700) the t cdf underflows to log 0 = -inf, and
        # stays there.
        finite = np.isfinite(below)
        assert finite[: int(np.sum(finite))].all() and np.sum(finite) > 3000, n
        assert np.all(np.diff(below[finite]) < 0), n
        above = eprocess.t_mixture_log_e(n, r, +1, scale)
        np.testing.assert_array_equal(np.isfinite(above), finite[::-1])
        np.testing.assert_allclose(above[finite[::-1]], below[finite][::-1], rtol=1e-12,
                                   atol=1e-14)


def test_betting_capital_matches_the_hedged_capital_recursion_step_by_step():
    """One factor at a time, written out: the truncated plug-in bet on (y - m)."""
    rng = np.random.default_rng(3)
    y = rng.uniform(0, 1, 9)
    m, alpha = 0.4, 0.05
    capital_up, capital_down = 1.0, 1.0
    mean_sum, square_sum, variance = 0.0, 0.0, 0.25
    for i, value in enumerate(y, start=1):
        bet = math.sqrt(2 * math.log(1 / alpha) / (variance * i * math.log(1 + i)))
        capital_up *= 1 + min(bet, 0.5 / m) * (value - m)
        capital_down *= 1 - min(bet, 0.5 / (1 - m)) * (value - m)
        mean_sum += value
        regularised_mean = (0.5 + mean_sum) / (i + 1)
        square_sum += (value - regularised_mean) ** 2
        variance = (0.25 + square_sum) / (i + 1)
    up = eprocess.betting_log_capital(y, np.array([m]), +1, alpha)[0, -1]
    down = eprocess.betting_log_capital(y, np.array([m]), -1, alpha)[0, -1]
    assert math.exp(up) == pytest.approx(capital_up, rel=1e-12)
    assert math.exp(down) == pytest.approx(capital_down, rel=1e-12)


@pytest.mark.parametrize("method, extra", [("t_mixture", {"symmetric": True}),
                                           ("betting", {"bounds": (-2, 2)})])
@pytest.mark.parametrize("alternative", ["less", "greater", "two-sided"])
def test_the_decision_agrees_with_the_confidence_sequence(method, extra, alternative):
    """Holds exactly when the running CS excludes the null side of 0 (betting: up to its
    grid step), and the anytime p-value is <= alpha exactly then."""
    rng = np.random.default_rng(11)
    step = 4 / eprocess.BETTING_GRID_POINTS
    for draw in range(60):
        d = np.clip(rng.normal(rng.choice([-0.5, 0.0, 0.5]), 0.8, 32), -2, 2)
        result = sequential_test(d, SequentialDesign(32, 4, method=method,
                                                     alternative=alternative, **extra))
        low, high = result.cs_lower[-1], result.cs_upper[-1]
        slack = step if method == "betting" else 1e-9
        excludes = {"less": high < -slack, "greater": low > slack,
                    "two-sided": high < -slack or low > slack}[alternative]
        includes = {"less": high > slack, "greater": low < -slack,
                    "two-sided": low < -slack and high > slack}[alternative]
        if excludes:
            assert result.status == "holds", (draw, result)
        if includes:
            assert result.status != "holds", (draw, result)
        assert result.passed == (result.pvalue <= result.alpha) == (result.status == "holds")


def test_the_confidence_sequence_only_narrows_and_covers_the_mean():
    rng = np.random.default_rng(5)
    d = rng.normal(0.3, 1.0, 40)
    result = sequential_test(d, SequentialDesign(40, 40, alternative="two-sided", symmetric=True))
    lower, upper = np.array(result.cs_lower), np.array(result.cs_upper)
    np.testing.assert_array_equal(lower, np.maximum.accumulate(lower))
    np.testing.assert_array_equal(upper, np.minimum.accumulate(upper))
    assert np.isfinite(upper[-1]) and upper[-1] - lower[-1] < upper[10] - lower[10]
    assert lower[-1] < 0.3 < upper[-1]
    assert math.isinf(upper[0])  # one observation cannot bound a mean of unknown spread
    assert result.confidence_sequence[-1] == (40, lower[-1], upper[-1])


def test_the_earliest_possible_decision():
    """Even n identical differences carry bounded evidence under a scale-free method: with
    prior scale 0.7 a one-sided claim at alpha 0.05 can first hold at n = 5 (6 at 0.025)."""
    first = [min(n for n in range(1, 30) if math.isfinite(
        eprocess.t_mixture_threshold(n, alpha, eprocess.DEFAULT_PRIOR_SCALE)))
        for alpha in (0.05, 0.025)]
    assert first == [5, 6]


def test_a_large_effect_stops_at_the_first_look_that_can_decide():
    d = np.random.default_rng(1).normal(-3.1, 1.0, 24)  # the text-projection ablation
    result = sequential_test(d, SequentialDesign(24, 4, alternative="decrease", symmetric=True))
    assert result.status == "holds" and result.passed
    assert result.n_used == 8 and result.stopped_at_look == 2
    assert result.looks == (4, 8, 12, 16, 20, 24)
    assert len(result.cs_lower) == 8 and result.cs_upper[-1] < 0
    assert "holds after 8 of at most 24 pairs" in result.reason


def test_undecided_data_ask_for_more_and_max_n_gives_not_shown():
    d = np.random.default_rng(2).normal(0.0, 1.0, 24)
    design = SequentialDesign(24, 4, alternative="two-sided", symmetric=True)
    partial = sequential_test(d[:10], design)
    assert partial.status == "continue" and not partial.passed and partial.n_used == 10
    final = sequential_test(d, design)
    assert final.status in ("not_shown", "futility") and not final.passed
    assert "not shown within max_n 24" in final.reason or "futility" in final.reason


@pytest.mark.parametrize("method, extra", [("t_mixture", {"symmetric": True}),
                                           ("betting", {"bounds": (-1, 1)})])
def test_futility_is_only_declared_when_the_best_continuation_cannot_reach(method, extra):
    """Feed the most favourable continuation the bound allows for (betting: the far bound
    every time; t mixture: one huge value repeated) and check it indeed never holds."""
    rng = np.random.default_rng(8)
    design = SequentialDesign(48, 4, method=method, alternative="decrease", **extra)
    futile = 0
    for _ in range(40):
        d = np.clip(rng.normal(0.3, 0.4, 48), -1, 1)
        result = sequential_test(d, design)
        if result.status != "futility":
            continue
        futile += 1
        favourable = -1.0 if method == "betting" else -1e6
        rest = np.full(design.max_n - result.n_used, favourable)
        continued = sequential_test(np.concatenate([d[:result.n_used], rest]),
                                    SequentialDesign(48, 48, method=method,
                                                     alternative="decrease", **extra))
        assert not continued.passed, result
    assert futile >= 10  # a positive effect tested for a decrease: futility must occur


def test_results_do_not_depend_on_how_the_chunks_are_split():
    d = np.random.default_rng(4).normal(-0.6, 1.0, 24)
    design = SequentialDesign(24, 4, alternative="less", symmetric=True)
    whole = sequential_test(d, design)
    as_chunks = sequential_test_chunks([d[i:i + 4] for i in range(0, 24, 4)], design)
    assert whole == as_chunks and whole.to_dict() == as_chunks.to_dict()
    # Appending data the run never needed changes nothing.
    assert sequential_test(d[:whole.n_used], design) == whole
    # Other look times may stop elsewhere, but the CS over n is the same path.
    fine = sequential_test_chunks([d[i:i + 2] for i in range(0, 24, 2)], design)
    k = min(fine.n_used, whole.n_used)
    assert fine.cs_upper[:k] == whole.cs_upper[:k] and fine.cs_lower[:k] == whole.cs_lower[:k]


def test_results_are_deterministic_and_round_trip():
    d = np.random.default_rng(6).uniform(-0.5, 0.3, 20)
    design = SequentialDesign(20, 5, method="betting", bounds=(-1, 1), alternative="equivalence",
                              margin=0.3)
    first, second = sequential_test(d, design), sequential_test(d.copy(), design)
    assert first == second and first.to_dict() == second.to_dict()
    assert SequentialResult.from_dict(first.to_dict()) == first
    assert hash(first) == hash(second)
    assert str(first).startswith("sequential betting (equivalence)")


def test_nan_never_shrinks_n():
    d = np.array([-1.0, -2.0, np.nan, -1.5, -1.2, -0.8, -1.1, -1.4])
    result = sequential_test(d, SequentialDesign(8, 4, alternative="less", symmetric=True))
    assert result.status == "untestable" and not result.passed
    assert "index 2" in result.reason and math.isnan(result.pvalue)


def test_identical_differences_carry_no_t_mixture_evidence():
    """A measure that did not change (all differences 0) must not look equivalent, nor a
    constant shift look like a decrease, under the normal model's reading of zero spread."""
    equivalence = SequentialDesign(24, 4, alternative="equivalence", margin=0.5, symmetric=True)
    partial = sequential_test(np.zeros(12), equivalence)
    assert partial.status == "continue" and math.isinf(partial.cs_upper[-1])
    final = sequential_test(np.zeros(24), equivalence)
    assert final.status == "untestable" and not final.passed
    assert "all 24 differences equal 0" in final.reason and "betting" in final.reason
    shifted = sequential_test(np.full(24, -0.3), SequentialDesign(24, 4, alternative="less", symmetric=True))
    assert shifted.status == "untestable"
    # One differing value restores the evidence from then on.
    d = np.concatenate([np.full(8, -0.3), [-0.31], np.full(3, -0.3)])
    assert sequential_test(d, SequentialDesign(12, 4, alternative="less", symmetric=True)).status == "holds"
    # Betting has no such model: ties are ordinary bounded data.
    betting = SequentialDesign(24, 4, method="betting", bounds=(-1, 1), alternative="less")
    assert sequential_test(np.full(24, -0.3), betting).status == "holds"


@pytest.mark.parametrize("kwargs, message", [
    ({"max_n": 0, "chunk": 1}, "max_n must be a positive integer"),
    ({"max_n": 8, "chunk": 12}, "chunk 12 is larger than max_n 8"),
    ({"max_n": 8, "chunk": 4, "method": "sprt"}, "allowed: t_mixture, betting"),
    ({"max_n": 8, "chunk": 4, "alpha": 0.7}, "alpha must lie in (0, 0.5)"),
    ({"max_n": 8, "chunk": 4, "alternative": "up"}, "alternative 'up' is not known"),
    ({"max_n": 8, "chunk": 4, "alternative": "equivalence"}, "needs margin"),
    ({"max_n": 8, "chunk": 4, "margin": 0.2}, "margin is for alternative 'equivalence' only"),
    ({"max_n": 8, "chunk": 4, "method": "betting"}, "needs bounds=(low, high)"),
    ({"max_n": 8, "chunk": 4, "method": "betting", "bounds": (0, 1)}, "low < 0 < high"),
    ({"max_n": 8, "chunk": 4, "bounds": (-1, 1)}, "bounds are for method 'betting' only"),
    ({"max_n": 8, "chunk": 4, "method": "betting", "bounds": (-1, 1),
      "alternative": "equivalence", "margin": 2.0}, "must lie inside the bounds"),
    ({"max_n": 8, "chunk": 4, "prior_scale": -1.0}, "prior_scale must be a finite positive"),
    ({"max_n": 8, "chunk": 4, "alternative": "decrease"},
     "method 't_mixture' (alternative 'less') assumes differences symmetric about their "
     "mean, and is not valid on skewed ones: .* use method 'betting' with bounds"),
    ({"max_n": 8, "chunk": 4, "alternative": "two-sided", "symmetric": "yes"},
     "symmetric must be true or false; got 'yes'"),
    ({"max_n": 8, "chunk": 4, "method": "betting", "bounds": (-1, 1), "symmetric": True},
     "symmetric is for method 't_mixture' only"),
    ({"max_n": 8, "chunk": 4, "symmetric": True, "family_size": 0},
     "family_size must be a positive integer; got 0"),
])
def test_bad_designs_are_refused_with_what_is_allowed(kwargs, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        SequentialDesign(**kwargs)


def test_misuse_of_the_data_is_refused():
    design = SequentialDesign(8, 4, method="betting", bounds=(-1, 1), alternative="less")
    with pytest.raises(ValueError, match=r"outside the declared betting bounds \(-1.0, 1.0\): "
                                         r"1.5 at index 3"):
        sequential_test([0.1, 0.2, -0.3, 1.5], design)
    with pytest.raises(ValueError, match="9 differences exceed max_n 8"):
        sequential_test(np.zeros(9), design)
    with pytest.raises(ValueError, match="the last look must be at max_n 8"):
        sequential_test(np.zeros(4), design, looks=(2, 4))
    with pytest.raises(ValueError, match="looks must be increasing"):
        sequential_test(np.zeros(4), design, looks=(4, 4, 8))


# ----- family corrections ---------------------------------------------------------------


def _finished(effects, design=SequentialDesign(24, 4, alternative="decrease", symmetric=True,
                                               family_size=4)):
    rng = np.random.default_rng(21)
    return [sequential_test(rng.normal(effect, 1.0, 24), design) for effect in effects]


def test_which_corrections_each_design_allows_is_data_and_refusals_say_why():
    assert CORRECTION_VALIDITY["bh"]["sequential"] is False
    assert CORRECTION_VALIDITY["e_bh"]["fixed_n"] is False
    assert CORRECTION_VALIDITY["e_bh"]["sequential_designs"]["t_mixture"] == ("two-sided",)
    assert check_correction("Bonferroni", sequential=True) == "bonferroni"
    assert check_correction("holm", sequential=False) == "holm"
    assert check_correction("e_bh", sequential=True, method="t_mixture",
                            alternative="two-sided") == "e_bh"
    assert check_correction("e_bh", sequential=True, method="betting",
                            alternative="equivalence") == "e_bh"
    with pytest.raises(ValueError, match=r"correction 'bh' is not valid with a sequential "
                                         r"design: needs independent or PRDS .* Allowed with "
                                         r"a sequential design: bonferroni, holm, e_bh"):
        check_correction("bh", sequential=True)
    with pytest.raises(ValueError, match="'e_bh' is not valid with a fixed-n design"):
        check_correction("e_bh", sequential=False)
    with pytest.raises(ValueError, match="correction 'fdr' is not known; allowed: bonferroni"):
        check_correction("fdr", sequential=True)
    for alternative in ("less", "greater", "equivalence"):
        with pytest.raises(ValueError, match=rf"'e_bh' is not valid with method 't_mixture' and "
                                             rf"alternative '{alternative}': needs E\[E_tau\] "
                                             rf"<= 1 .* composite null"):
            check_correction("e_bh", sequential=True, method="t_mixture",
                             alternative=alternative)


def test_a_planned_family_splits_alpha_and_bonferroni_and_holm_use_the_anytime_p_values():
    results = _finished([-2.0, -1.0, -0.7, 0.0])
    assert all(r.alpha == 0.0125 and r.family_alpha == 0.05 and r.family_size == 4
               for r in results)
    assert [r.status for r in results] == ["holds", "holds", "holds", "futility"]
    assert "alpha 0.0125 = 0.05 / 4 (family of 4) (t_mixture)" in results[0].reason
    raw = np.array([r.pvalue for r in results])
    bonferroni = correct_sequential(results, "bonferroni")
    np.testing.assert_allclose([r.pvalue_corrected for r in bonferroni], np.minimum(1, 4 * raw))
    # Each case already decided at 0.05 / 4: Bonferroni keeps exactly those decisions.
    assert [r.passed for r in bonferroni] == [r.passed for r in results] == [True, True, True,
                                                                             False]
    assert all(r.family_size == 4 and r.correction == "bonferroni" for r in bonferroni)
    holm = correct_sequential(results, "holm")
    assert all(h.pvalue_corrected <= b.pvalue_corrected + 1e-15
               for h, b in zip(holm, bonferroni, strict=True))
    assert results == _finished([-2.0, -1.0, -0.7, 0.0])  # inputs unchanged


def test_a_correction_after_stopping_is_refused_with_what_to_do():
    unplanned = _finished([-1.0, -0.8], SequentialDesign(24, 4, alternative="less",
                                                          symmetric=True))
    with pytest.raises(ValueError, match=r"results\[0\] was run at alpha 0.05 for a family of "
                                         r"1, but is corrected in a family of 2: .* a "
                                         r"correction after stopping \(p x 2\) rejects almost "
                                         r"nothing\. Set the family before running: .*"
                                         r"family_size=2\)"):
        correct_sequential(unplanned, "bonferroni")
    planned_for_four = _finished([-1.0, -0.8])
    with pytest.raises(ValueError, match="for a family of 4, but is corrected in a family of 2"):
        correct_sequential(planned_for_four, "holm")


def test_e_bh_on_a_worked_example():
    """m = 4 planned betting cases at family alpha 0.05, given e-values 28, 1, 100, 30.
    By hand: sorted e = 100, 30, 28, 1 against m / (alpha k) = 80, 40, 26.67, 20:
    k = 1: 100 >= 80 yes; k = 2: 30 >= 40 no; k = 3: 28 >= 26.67 yes; k = 4: 1 >= 20 no.
    The largest k is 3, so e-BH rejects 100, 30 and 28 (30 too, although it fails its own
    rank's threshold). The smallest level at which each is rejected, min over k >= its
    rank of m / (k e_(k)) with m / (k e_(k)) = 0.04, 0.0667, 0.0476, 1: 100 -> 0.04;
    30 and 28 -> 4 / 84 = 0.0476; 1 -> 1."""
    design = SequentialDesign(24, 4, method="betting", bounds=(-1, 1), alternative="less",
                              family_size=4)
    base = sequential_test(np.full(24, -0.5), design)
    assert base.status == "holds" and base.alpha == 0.0125
    family = [dataclasses.replace(base, e_value=e) for e in (28.0, 1.0, 100.0, 30.0)]
    corrected = correct_sequential(family, "e_bh")
    assert [r.passed for r in corrected] == [True, False, True, True]
    np.testing.assert_allclose([r.pvalue_corrected for r in corrected],
                               [4 / 84, 1.0, 0.04, 4 / 84], rtol=1e-12)
    assert "e-BH over a family of 4 at alpha 0.05 (e = 28" in corrected[0].reason
    # A case that did not hold never starts to hold, whatever its e-value.
    stopped = dataclasses.replace(family[2], status="not_shown", passed=False)
    assert not correct_sequential([family[0], family[1], stopped, family[3]], "e_bh")[2].passed


def test_e_bh_is_refused_where_the_stopped_t_mixture_is_no_e_value():
    with pytest.raises(ValueError, match="'e_bh' is not valid with method 't_mixture' and "
                                         "alternative 'less'"):
        correct_sequential(_finished([-1.0, -0.5, 0.0, 0.2]), "e_bh")
    two_sided = _finished([-1.0, -0.5, 0.0, 0.2],
                          SequentialDesign(24, 4, alternative="two-sided", symmetric=True,
                                           family_size=4))
    assert [r.correction for r in correct_sequential(two_sided, "e_bh")] == ["e_bh"] * 4


def test_a_family_still_running_or_mixed_is_refused():
    design = SequentialDesign(24, 4, alternative="less", symmetric=True)
    running = sequential_test(np.zeros(6) + np.arange(6), design)
    with pytest.raises(ValueError, match=r"results\[0\] is still running"):
        correct_sequential([running], "bonferroni")
    with pytest.raises(ValueError, match="not valid with a sequential design"):
        correct_sequential(_finished([-1.0]), "bh")
    other = sequential_test(np.random.default_rng(0).normal(-1, 1, 24),
                            SequentialDesign(24, 4, alternative="less", alpha=0.01,
                                             symmetric=True, family_size=4))
    with pytest.raises(ValueError, match="a family must share one alpha"):
        correct_sequential([*_finished([-1.0, -1.0, -1.0]), other], "holm")
