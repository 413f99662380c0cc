"""Statistics for paired claims: tests, effect sizes, intervals, equivalence, corrections.

Everything here works on paired samples, x (treatment: the intervened run) and y
(baseline), through their differences d = x - y as float64 numpy arrays. It knows
nothing of torch or of specs: the spec engine hands over numbers and gets values back.

    from latentflow.stats import evaluate, correct

    result = evaluate((stoi_ablated, stoi_baseline), test="paired_t",
                      alternative="decrease", alpha=0.05, min_effect_size=0.5)
    result.passed, result.pvalue, result.effect_size, result.reason
    family = correct([r1, r2, r3], method="bonferroni")  # new results, re-judged

`evaluate` runs one of `TESTS` and returns a `TestResult` (a frozen dataclass; see its
docstring for every field). `correct` applies one of `CORRECTIONS` to a family. Data
that cannot be tested (NaN or inf, fewer than 2 pairs, all differences equal) give a
result with ``passed=False`` and a reason; they never raise and never pass. Misuse
(unknown test name, bad alpha, x and y of different lengths) raises ValueError.

The building blocks are public too: `bca_bootstrap`, `cohens_dz`, `cohens_d_pooled`,
`dz_interval`, `adjust_pvalues`, `paired_t`, `wilcoxon_signed_rank`,
`sign_flip_permutation`, `tost_paired`.

Sequential, anytime-valid verdicts (decided chunk by chunk, docs/sequential.md):
`sequential_test(differences, SequentialDesign(max_n, chunk, ...))` returns a
`SequentialResult`; `correct_sequential` corrects a family of them with a correction that
`check_correction` allows (`CORRECTION_VALIDITY`).
"""

from __future__ import annotations

from latentflow.stats.bootstrap import BcaBootstrap, bca_bootstrap
from latentflow.stats.corrections import adjust_pvalues, correct
from latentflow.stats.data import ALTERNATIVES, mirror_alternative, normalize_alternative
from latentflow.stats.effect_size import EFFECT_SIZES, cohens_d_pooled, cohens_dz, dz_interval
from latentflow.stats.equivalence import tost_paired
from latentflow.stats.evaluate import DEFAULT_N_RESAMPLES, DEFAULT_SEED, evaluate
from latentflow.stats.paired import EXACT_PERMUTATION_MAX_N, paired_t, sign_flip_permutation, wilcoxon_signed_rank
from latentflow.stats.result import TestResult
from latentflow.stats.sequential import (
    SequentialDesign,
    SequentialResult,
    sequential_test,
    sequential_test_chunks,
)
from latentflow.stats.sequential_corrections import CORRECTION_VALIDITY, check_correction, correct_sequential

__all__ = [
                                          "ALTERNATIVES",
                                          "CORRECTION_VALIDITY",
                                          "DEFAULT_N_RESAMPLES",
                                          "DEFAULT_SEED",
                                          "EFFECT_SIZES",
                                          "EXACT_PERMUTATION_MAX_N",
                                          "BcaBootstrap",
                                          "SequentialDesign",
                                          "SequentialResult",
                                          "TestResult",
                                          "adjust_pvalues",
                                          "bca_bootstrap",
                                          "check_correction",
                                          "cohens_d_pooled",
                                          "cohens_dz",
                                          "correct",
                                          "correct_sequential",
                                          "dz_interval",
                                          "evaluate",
                                          "mirror_alternative",
                                          "normalize_alternative",
                                          "paired_t",
                                          "sequential_test",
                                          "sequential_test_chunks",
                                          "sign_flip_permutation",
                                          "tost_paired",
                                          "wilcoxon_signed_rank",
]
