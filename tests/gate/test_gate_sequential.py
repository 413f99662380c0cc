"""The gate names a sequential case's stop (n used, look, why) when the claim breaks."""

from __future__ import annotations

import numpy as np

from latentflow.gate import compare
from latentflow.stats.sequential import SequentialDesign, sequential_test


def _with_sequential(g, differences, holds):
    design = SequentialDesign(max_n=24, chunk=4, method="t_mixture", alternative="decrease", symmetric=True)
    decided = None
    for k in design.default_looks:  # look by look, as the runner does
        decided = sequential_test(differences[:k], design)
        if decided.status != "continue":
            break
    v = g.verdict("dual_pathway::ca_zero[noisy]", holds=holds)
    v["sequential"] = decided.to_dict()
    return v, decided


def test_a_broken_sequential_claim_names_the_n_used_and_why_it_stopped(g):
    before = g.results(g.verdict("dual_pathway::ca_zero[noisy]"))
    # no effect at all: the test cannot reach its claim and stops before max_n
    noise = np.random.default_rng(3).normal(0.0, 1.0, 24)
    after_verdict, decided = _with_sequential(g, noise, holds=False)
    row = compare(before, g.results(after_verdict)).row("dual_pathway::ca_zero[noisy]")
    assert row.status == "claim broke"
    looks = len(decided.looks)
    expected = (f"sequential t_mixture (less): {decided.status.upper()} at n = {decided.n_used} of at "
                f"most 24 (look {decided.stopped_at_look} of {looks}): {decided.reason}")
    assert row.reasons == (f"held in the baseline, does not hold in the candidate: {expected}",)
    assert (decided.status, decided.n_used, decided.stopped_at_look) == ("futility", 20, 5)


def test_a_fixed_n_case_keeps_the_tests_own_reason(g):
    before = g.results(g.verdict("dual_pathway::ca_zero[noisy]"))
    after = g.verdict("dual_pathway::ca_zero[noisy]", holds=False)
    row = compare(before, g.results(after)).row("dual_pathway::ca_zero[noisy]")
    assert row.reasons == (f"held in the baseline, does not hold in the candidate: {after['stats']['reason']}",)
