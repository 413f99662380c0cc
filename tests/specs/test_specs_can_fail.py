"""Every claim in specs/ can fail: on a counter-model in which the claimed mechanism is broken,
each of its hypotheses must give a failing verdict (the claim does not hold).

Counter-models are in latentflow.counter_models. Every hypothesis in specs/ must appear in
BREAKS below, so a new claim cannot be added without showing how it fails. Hypotheses recorded
as `outcome: fails` on the bundled model map to None: their case fails when the claim starts to
hold, not when a mechanism breaks (tests/execution/test_plugin.py shows that it does).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from latentflow.execution import SpecSession

SPECS = Path(__file__).resolve().parents[2] / "specs"

# hypothesis id -> the counter-model that breaks the mechanism it relies on (None: outcome: fails)
BREAKS = {
    "dual_pathway": {  # SAR and SI-SNR, sequential
        "text_projection_zero": "no_text_injection",
        "cross_attention_zero": "no_cross_attention",
        "uniform_attention": None,
        "prompt_swap_patch": "no_text_injection",
        "cross_attention_residual_removed": "no_cross_attention",
    },
    "dual_pathway_perceptual": {  # STOI and PESQ, fixed n
        "text_projection_zero": "no_text_injection",
        "text_projection_zero_pesq": None,
        "cross_attention_zero": "no_cross_attention",
        "cross_attention_zero_pesq": None,
        "uniform_attention": None,
        "uniform_attention_pesq": None,
        "cross_attention_temporal_mean_removed": None,
    },
    "async_convergence": {
        "stable_layer_entropy_rate": "oscillating_attention",
        "stable_layer_entropy_rate_near_threshold": None,
        "fast_layer_entropy_rate": "uniform_self_attention",
        "fast_layer_entropy_rate_near_threshold": None,
        "freeze_stable_layers": "drifting_attention",
        "freeze_fast_layers": None,
    },
    "segmentation_cues": {
        "gate_hijack_block_ratio": None,
        "gate_hijack_si_snr": "no_anchor_path",
        "span_boundary_probe": "no_anchor_path",
    },
    "lsac": {
        "balanced_quality": "drifting_attention",
        "balanced_output_close_to_full_run": "drifting_attention",
    },
}

COUNTER_N = 6
SPEC_FILES = {path.stem: path for path in sorted(SPECS.glob("*.yaml"))}


def _cases():
    session = SpecSession()
    for claim, path in SPEC_FILES.items():
        for case in session.plan(path).cases:
            yield claim, path, case


def test_every_hypothesis_has_a_counter_model():
    found = {}
    for claim, _, case in _cases():
        found.setdefault(claim, set()).add(case.hypothesis_id)
    assert set(found) == set(BREAKS), "a spec file without counter-models, or a stale entry"
    recorded_failing = {}
    for claim, _, case in _cases():
        recorded_failing.setdefault(claim, set())
        if case.outcome == "fails":
            recorded_failing[claim].add(case.hypothesis_id)
    for claim, hypotheses in found.items():
        assert hypotheses == set(BREAKS[claim]), f"{claim}: hypotheses and counter-models differ"
        assert {h for h, c in BREAKS[claim].items() if c is None} == recorded_failing[claim], claim


@pytest.mark.parametrize("claim", sorted(BREAKS))
def test_claims_fail_on_their_counter_models(claim):
    path = SPEC_FILES[claim]
    held = []
    for counter in sorted({c for c in BREAKS[claim].values() if c is not None}):
        # Few examples keep this fast; the counter-models break their mechanism structurally
        # (the intervention becomes a no-op, or the mechanism's signature is destroyed).
        session = SpecSession(model=f"counter:{counter}", n=COUNTER_N)
        plan = session.plan(path)
        for case in plan.cases:
            if BREAKS[claim][case.hypothesis_id] != counter:
                continue
            # Uncorrected: a family correction would only make holding harder, so this is the
            # stricter check (and it does not run the rest of the family on this counter-model).
            result = session.runner.case_result(case).result
            if result.passed:
                held.append(f"{case.case_id} still holds on counter:{counter}: {result.reason}")
    assert not held, "\n".join(held)
