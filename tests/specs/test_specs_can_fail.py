"""Every claim in specs/ can fail: each hypothesis recorded to hold declares at least one
negative control (``controls:`` with ``outcome: fails``), and every counter-model control of a
holding hypothesis still fails on its counter-model, in which the claimed mechanism is broken.
A hypothesis recorded as "The test cannot tell" records a control that misbehaves: its strict
xfail in the spec run checks that record.

The controls themselves live in the specs and run with their cases under ``pytest specs/``
(latentflow.execution.controls); this file checks that none is missing, and runs the
counter-model ones alone on few examples, so a counter-model that stops breaking its mechanism
is caught by ``make test`` even when the spec run uses ``--latentflow-controls off``.
"""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest

from latentflow.execution import SpecSession
from latentflow.execution.controls import run_controls

SPECS = Path(__file__).resolve().parents[2] / "specs"
ALL_SPEC_FILES = {path.stem: path for path in sorted(SPECS.glob("*.yaml"))}
# Probe specs (a top-level `probe:`, specs/bmld.yaml) declare reference models and ablations as
# controls, not counter-models: checked below by test_probe_controls_run_and_zero_ones_fail.
PROBE_FILES = {stem: path for stem, path in ALL_SPEC_FILES.items()
               if re.search(r"^probe:", path.read_text(), re.MULTILINE)}
SPEC_FILES = {stem: path for stem, path in ALL_SPEC_FILES.items() if stem not in PROBE_FILES}
COUNTER_N = 6  # few examples keep this fast; a negative control judged on fewer is stricter
# Reference models whose features cost seconds per stimulus set (network inference): a small run
# leaves their controls to the spec run itself.
COSTLY_MODELS = ("crepe", "silero_vad", "sam_audio")


def _cases(session: SpecSession, path: Path):
    return session.plan(path).cases


def test_every_holding_hypothesis_declares_a_negative_control():
    session = SpecSession()
    missing = [
        f"{case.case_id} ({case.location})"
        for path in ALL_SPEC_FILES.values()
        for case in _cases(session, path)
        if case.outcome == "holds" and not any(c.outcome == "fails" for c in case.controls)
    ]
    assert SPEC_FILES and PROBE_FILES, "no spec files found"
    assert not missing, "hypotheses that hold without a negative control:\n" + "\n".join(missing)


@pytest.mark.parametrize("claim", sorted(SPEC_FILES))
def test_counter_model_controls_fail_on_their_counter_models(claim):
    session = SpecSession(max_n=COUNTER_N)
    ran, held = 0, []
    for case in _cases(session, SPEC_FILES[claim]):
        # A case recorded as "The test cannot tell" records that one of its controls misbehaves.
        cannot_tell = case.outcome == "fails" and (case.reason or "").startswith("The test cannot tell")
        counters = tuple(c for c in case.controls if c.model is not None and c.model.startswith("counter:"))
        for result in run_controls(session.runner, dataclasses.replace(case, controls=counters)):
            ran += 1
            assert result.expected == "fails", f"{case.case_id}: {result.id} is not a negative control"
            assert result.result.n > 0, f"{case.case_id}: {result.id} measured nothing"
            if not result.behaved and not cannot_tell:
                held.append(f"{case.case_id}: {result.reason}")
    assert ran > 0, f"{claim}: no counter-model control ran"
    assert not held, "\n".join(held)


@pytest.mark.parametrize("claim", sorted(PROBE_FILES))
def test_probe_controls_run_and_zero_ones_fail(claim):
    """Every probe control (but those on costly networks) runs on a small trial set; one whose
    run is zero by construction (identical detection curves in both conditions: a monaural
    model, the target's interaural phase scrambled) fails, as a negative control must."""
    from latentflow.execution.probe_controls import run_probe_controls

    session = SpecSession(max_n=COUNTER_N)
    ran, zero, wrong = 0, 0, []
    for case in _cases(session, PROBE_FILES[claim]):
        cheap = tuple(c for c in case.controls if (c.model or case.setup.model) not in COSTLY_MODELS)
        for result in run_probe_controls(dataclasses.replace(case, controls=cheap)):
            ran += 1
            assert result.result.n > 0 and result.probe["curve_n0s0"]["n_trials"], f"{case.case_id}: {result.id}"
            if result.probe["identical_curves"] and not result.probe.get("versus"):
                zero += 1
                if result.expected == "fails" and result.behaved is False:
                    wrong.append(f"{case.case_id}: {result.reason}")
    assert ran > 0 and zero > 0, f"{claim}: ran {ran} probe controls, {zero} zero by construction"
    assert not wrong, "\n".join(wrong)
