"""Sequential verdicts are calibrated: valid under optional stopping, and powerful enough.

Each scenario of `latentflow.stats.sequential_simulation.SCENARIOS` runs seeded Monte
Carlo draws with a decision after every chunk of 4 (docs/sequential.md lists the numbers):

- null scenarios (1000 draws): the false-positive rate is at most alpha within its exact
  binomial 99% interval, while a fixed-n t-test repeated at the same looks on the same
  draws exceeds alpha (its interval lies wholly above alpha): the trap the method avoids;
- power scenarios (500 draws): planted effects d_z = 0.8 and 0.5, and a zero effect for
  equivalence, are shown in at least 80% of the draws within max_n;
- equivalence nulls (500 draws): an effect of 1.5x the margin is shown equivalent in at
  most alpha of the draws.

Plus a family check: Bonferroni, Holm and e-BH on sequential cases keep the family-wise
error at most alpha with every case stopping on its own.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import binomtest

from latentflow.stats.sequential import SequentialDesign, sequential_test
from latentflow.stats.sequential_corrections import correct_sequential
from latentflow.stats.sequential_simulation import SCENARIOS, run_scenario


@pytest.mark.parametrize("index", range(len(SCENARIOS)),
                         ids=[scenario.name for scenario in SCENARIOS])
def test_scenario(index):
    scenario = SCENARIOS[index]
    summary = run_scenario(index)
    alpha = scenario.design.alpha
    where = (f"{scenario.name}: {summary.holds}/{summary.draws} held (99% CI "
             f"[{summary.rate_interval[0]:.3f}, {summary.rate_interval[1]:.3f}]), mean n "
             f"{summary.mean_n:.1f}, trap {summary.trap_holds}")
    if scenario.kind == "power":
        assert summary.rate >= 0.8, where
        assert summary.mean_n < scenario.design.max_n, where
        return
    assert summary.rate_interval[0] <= alpha, where
    if scenario.kind == "null":
        assert summary.trap_interval[0] > alpha, where


def test_family_wise_error_under_optional_stopping():
    """Four null cases per family, each stopping on its own evidence (max_n 32, chunks of
    4): Bonferroni, Holm and e-BH leave at most alpha of 300 families with a false claim."""
    rng = np.random.default_rng(77)
    design = SequentialDesign(32, 4, alternative="two-sided")
    families = 300
    false_claims = {"bonferroni": 0, "holm": 0, "e_bh": 0}
    for _ in range(families):
        results = [sequential_test(rng.normal(0.0, 1.0, 32), design) for _ in range(4)]
        for method in false_claims:
            false_claims[method] += any(r.passed for r in correct_sequential(results, method))
    for method, count in false_claims.items():
        assert binomtest(count, families).proportion_ci(0.99).low <= design.alpha, (method, count)


@pytest.mark.parametrize("method, sample, mean, extra", [
    ("t_mixture", lambda rng: rng.normal(0.7, 2.0, 64), 0.7, {}),
    ("betting", lambda rng: rng.beta(5.0, 2.0, 64) * 2.0 - 1.0, 2.0 * 5.0 / 7.0 - 1.0,
     {"bounds": (-1.0, 1.0)}),
], ids=["t_mixture", "betting"])
def test_the_confidence_sequence_covers_the_true_mean_at_every_n(method, sample, mean, extra):
    """Uniform coverage away from 0 (a true mean of 0.7 with sd 2; a skewed Beta mean 0.43):
    in at most alpha of 500 draws does the running two-sided 95% CS ever exclude it."""
    rng = np.random.default_rng(31)
    design = SequentialDesign(64, 64, method=method, alternative="two-sided", **extra)
    missed = 0
    for _ in range(500):
        result = sequential_test(sample(rng), design)
        missed += not (np.all(np.array(result.cs_lower) <= mean)
                       and np.all(np.array(result.cs_upper) >= mean))
    assert binomtest(missed, 500).proportion_ci(0.99).low <= design.alpha, missed
