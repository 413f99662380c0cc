"""Sequential verdicts are calibrated: valid under optional stopping, and powerful enough.

Each scenario of `latentflow.stats.sequential_simulation.SCENARIOS` runs seeded Monte
Carlo draws with a decision after every chunk of 4 (docs/sequential.md lists the numbers,
written by scripts/sequential_calibration.py). The runs are seeded, so each asserts its
exact count (`MEASURED`: a change in any count is a change in behaviour, to be explained)
and the property the count must show:

- null scenarios (1000 draws): the upper end of the exact binomial 99% interval of the
  false-positive rate is at most `RATE_BOUND` (alpha 0.05 plus 0.01 of Monte Carlo
  slack), while a fixed-n t-test repeated at the same looks on the same draws exceeds
  alpha (its interval lies wholly above alpha): the trap the method avoids;
- power scenarios (500 draws): planted effects d_z = 0.8 and 0.5, and a zero effect for
  equivalence, are shown in at least 80% of the draws within max_n;
- equivalence nulls (500 draws): a true mean exactly at the margin's edge (the hardest
  point of the null) is shown equivalent with the same bound as the nulls;
- assumption violated (1000 draws): the t mixture on skewed nulls, with symmetry
  declared falsely: a claim of decrease on right-skewed data holds far more often than
  alpha (the interval lies wholly above it), which is why a design must declare symmetry.

Plus families: with alpha split before running (family_size), Bonferroni, Holm and e-BH
keep the family-wise error bounded, and the split keeps far more power than a correction
after stopping would.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from latentflow.stats.sequential import SequentialDesign, sequential_test
from latentflow.stats.sequential_corrections import correct_sequential
from latentflow.stats.sequential_simulation import SCENARIOS, run_scenario

RATE_BOUND = 0.06  # upper end of a 99% interval of a false-positive rate at alpha 0.05
MEASURED = {  # held / draws of each seeded scenario, as scripts/sequential_calibration.py prints
    "t_mixture, normal null, two-sided": 21,
    "t_mixture, normal null, increase": 36,
    "t_mixture, t3 null, two-sided": 11,
    "betting, clipped normal null (sd 0.5), two-sided": 6,
    "betting, skewed Beta(2,6) null, increase": 0,
    "t_mixture, d_z 0.8, decrease": 418,
    "t_mixture, d_z 0.5, decrease": 456,
    "t_mixture, t3 d_z 0.5, decrease": 468,
    "betting, d_z 0.8 (sd 0.5), decrease": 500,
    "betting, d_z 0.5 (sd 0.5), decrease": 458,
    "t_mixture, zero effect, equivalence within 0.6 sd": 479,
    "t_mixture, effect at the margin edge, equivalence within 0.6 sd": 9,
    "betting, zero effect (sd 0.5), equivalence within 0.3": 487,
    "betting, effect at the margin edge (sd 0.5, clipped +-0.7), equivalence within 0.3": 6,
    "t_mixture, skewed exponential null, decrease (not symmetric)": 163,
    "t_mixture, skewed exponential null, increase (not symmetric)": 2,
    "t_mixture, skewed exponential null, two-sided (not symmetric)": 108,
    "t_mixture, skewed lognormal null, decrease (not symmetric)": 264,
    "t_mixture, skewed lognormal null, increase (not symmetric)": 0,
    "t_mixture, skewed lognormal null, two-sided (not symmetric)": 232,
    "betting, clipped exponential null (cap 5, / cap), decrease": 0,
    "betting, clipped exponential null (cap 5, / cap), increase": 0,
    "betting, clipped lognormal null (cap 10, / cap), decrease": 0,
    "betting, clipped lognormal null (cap 10, / cap), increase": 0,
}


def _upper(count: int, trials: int) -> float:
    return binomtest(count, trials).proportion_ci(0.99).high


@pytest.mark.parametrize("index", range(len(SCENARIOS)),
                         ids=[scenario.name for scenario in SCENARIOS])
def test_scenario(index):
    scenario = SCENARIOS[index]
    summary = run_scenario(index)
    alpha = scenario.design.alpha
    where = (f"{scenario.name}: {summary.holds}/{summary.draws} held (99% CI "
             f"[{summary.rate_interval[0]:.3f}, {summary.rate_interval[1]:.3f}]), mean n "
             f"{summary.mean_n:.1f}, trap {summary.trap_holds}")
    assert summary.holds == MEASURED[scenario.name], where
    if scenario.kind == "power":
        assert summary.rate >= 0.8, where
        assert summary.mean_n < scenario.design.max_n, where
    elif scenario.kind == "assumption_violated":
        if scenario.design.alternative in ("less", "two-sided"):
            assert summary.rate_interval[0] > alpha, where
    else:
        assert summary.rate_interval[1] <= RATE_BOUND, where
    if scenario.kind == "null":
        assert summary.trap_interval[0] > alpha, where


def test_family_wise_error_under_optional_stopping():
    """Four two-sided null cases per family, alpha split before running (each at 0.05 / 4),
    each stopping on its own evidence (max_n 32, chunks of 4): of 300 families, Bonferroni
    and Holm leave a false claim in 6, e-BH in 2."""
    rng = np.random.default_rng(77)
    design = SequentialDesign(32, 4, alternative="two-sided", symmetric=True, family_size=4)
    families = 300
    false_claims = {"bonferroni": 0, "holm": 0, "e_bh": 0}
    for _ in range(families):
        results = [sequential_test(rng.normal(0.0, 1.0, 32), design) for _ in range(4)]
        for method in false_claims:
            false_claims[method] += any(r.passed for r in correct_sequential(results, method))
    assert false_claims == {"bonferroni": 6, "holm": 6, "e_bh": 2}
    assert max(_upper(count, families) for count in false_claims.values()) <= RATE_BOUND


def test_splitting_alpha_before_running_keeps_the_power_a_correction_after_stopping_loses():
    """150 families of 4 true decreases (d_z 0.8, max n 24, chunks of 4). Each case run
    at alpha 0.05 alone holds in 525/600; run at 0.05 / 4 (family_size 4) in 392/600; run
    at 0.05 and then Bonferroni-corrected (4 p <= 0.05, what correct_sequential refuses)
    in only 74/600, since every case stopped with its p just under 0.05."""
    rng = np.random.default_rng(78)
    planned = SequentialDesign(24, 4, alternative="decrease", symmetric=True, family_size=4)
    alone = SequentialDesign(24, 4, alternative="decrease", symmetric=True)
    held = {"alone": 0, "planned": 0, "corrected_after": 0}
    for _ in range(150):
        data = rng.normal(-0.8, 1.0, (4, 24))
        family = correct_sequential([sequential_test(d, planned) for d in data], "bonferroni")
        held["planned"] += sum(r.passed for r in family)
        unplanned = [sequential_test(d, alone) for d in data]
        held["alone"] += sum(r.passed for r in unplanned)
        held["corrected_after"] += sum(r.passed and 4 * r.pvalue <= 0.05 for r in unplanned)
    assert held == {"alone": 525, "planned": 392, "corrected_after": 74}


@pytest.mark.parametrize("method, sample, mean, extra", [
    ("t_mixture", lambda rng: rng.normal(0.7, 2.0, 64), 0.7, {"symmetric": True}),
    ("betting", lambda rng: rng.beta(5.0, 2.0, 64) * 2.0 - 1.0, 2.0 * 5.0 / 7.0 - 1.0,
     {"bounds": (-1.0, 1.0)}),
], ids=["t_mixture", "betting"])
def test_the_confidence_sequence_covers_the_true_mean_at_every_n(method, sample, mean, extra):
    """Uniform coverage away from 0 (a true mean of 0.7 with sd 2; a skewed Beta mean 0.43):
    the running two-sided 95% CS ever excludes it in 7 (t mixture) and 2 (betting) of 500
    draws; the 99% interval of that rate stays under RATE_BOUND."""
    rng = np.random.default_rng(31)
    design = SequentialDesign(64, 64, method=method, alternative="two-sided", **extra)
    missed = 0
    for _ in range(500):
        result = sequential_test(sample(rng), design)
        missed += not (np.all(np.array(result.cs_lower) <= mean)
                       and np.all(np.array(result.cs_upper) >= mean))
    assert missed == {"t_mixture": 7, "betting": 2}[method]
    assert _upper(missed, 500) <= RATE_BOUND
