"""The words a spec may use and the runtime accepts: one home for every allowed-value list.

The spec layer (``latentflow.spec``: parsing, the JSON schema) and the code that runs a spec
(the tiers, the sampler, the pipeline, the statistics, the metrics) import these tuples instead
of spelling them again, so a value the spec accepts is always one the runtime runs. This module
imports nothing (no torch, no numpy): the spec layer loads it without the model.

Order matters where a list is shown to users (``allowed: ...`` in error messages, the JSON
schema's enums, command-line choices).
"""

from __future__ import annotations

# -- the data a case runs on (latentflow.audio.tiers, latentflow.pipeline) ----------------------
TIERS = ("clean", "noisy", "env")
SPLITS = ("train", "test")
# any: examples 0..n-1; partial: the first n whose target is active in only part of the clip
SPAN_SELECTIONS = ("any", "partial")
PROMPT_KINDS = ("text", "span", "text+span")

# -- the sampler (latentflow.model.sampler) -------------------------------------------------------
SAMPLER_METHODS = ("euler", "midpoint")

# -- measures (latentflow.metrics) ------------------------------------------------------------
# what a metric compares: an output with the true target, with the baseline output, or
# statistics of cached activations (a spec measure's ``compare:``)
COMPARES = ("target", "baseline", "internal")
# the separation report's metrics, in the order tables show them
REPORT_METRICS = ("si_snr", "si_snr_improvement", "sar", "stoi", "pesq")

# -- statistics (latentflow.stats) ------------------------------------------------------------
DIFFERENCE_TESTS = ("paired_t", "wilcoxon", "permutation", "bootstrap")
EQUIVALENCE_TESTS = ("tost",)
TESTS = DIFFERENCE_TESTS + EQUIVALENCE_TESTS
# Tests whose p-value or interval comes from resampling (latentflow.stats uses BCa intervals
# for all three), so `resamples` means something for them.
RESAMPLING_TESTS = ("wilcoxon", "permutation", "bootstrap")
# corrections of a family of fixed-n p-values (latentflow.stats.corrections)
FIXED_N_CORRECTIONS = ("bonferroni", "holm", "bh")
# what a spec's family may declare: "none", and e_bh for sequential families only (it needs
# e-values; latentflow.correction_rules.CORRECTION_VALIDITY says which design
# allows which correction)
CORRECTIONS = (*FIXED_N_CORRECTIONS, "none", "e_bh")
SEQUENTIAL_METHODS = ("t_mixture", "betting")
# the fixed-n test whose numbers a sequential case shows next to its own (expect.test)
SEQUENTIAL_FIXED_N_TESTS = ("paired_t", "tost")

# -- words the spec language renamed ------------------------------------------------------------
# old word -> the word now. A file that still writes an old word is refused with an error that
# names the new one at the old word's line (never accepted silently, never a bare "unknown").
# "calibration" means statistical calibration only; LSAC's per-model freeze steps are tuning.
RENAMED = {
    "lsac_calibration": "lsac_tuning",  # the derive: method (and so the default entry name)
    "calibrated_on": "tuned_on",  # the lsac operation's argument
}
