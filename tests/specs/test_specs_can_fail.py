"""Every claim in specs/ can fail: each hypothesis recorded to hold declares at least one
negative control (``controls:`` with ``outcome: fails``), and every counter-model control in
specs/ still fails on its counter-model, in which the claimed mechanism is broken.

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
# Probe specs (a top-level `probe:`, specs/bmld.yaml) have no `controls:` yet: their controls
# are hypotheses of their own (the monaural models' and scrambled-phase rows must give zero).
SPEC_FILES = {path.stem: path for path in sorted(SPECS.glob("*.yaml"))
              if not re.search(r"^probe:", path.read_text(), re.MULTILINE)}
COUNTER_N = 6  # few examples keep this fast; a negative control judged on fewer is stricter


def _cases(session: SpecSession, path: Path):
    return session.plan(path).cases


def test_every_holding_hypothesis_declares_a_negative_control():
    session = SpecSession()
    missing = [
        f"{case.case_id} ({case.location})"
        for path in SPEC_FILES.values()
        for case in _cases(session, path)
        if case.outcome == "holds" and not any(c.outcome == "fails" for c in case.controls)
    ]
    assert SPEC_FILES, "no spec files found"
    assert not missing, "hypotheses that hold without a negative control:\n" + "\n".join(missing)


@pytest.mark.parametrize("claim", sorted(SPEC_FILES))
def test_counter_model_controls_fail_on_their_counter_models(claim):
    session = SpecSession(max_n=COUNTER_N)
    ran, held = 0, []
    for case in _cases(session, SPEC_FILES[claim]):
        counters = tuple(c for c in case.controls if c.model is not None and c.model.startswith("counter:"))
        for result in run_controls(session.runner, dataclasses.replace(case, controls=counters)):
            ran += 1
            assert result.expected == "fails", f"{case.case_id}: {result.id} is not a negative control"
            assert result.result.n > 0, f"{case.case_id}: {result.id} measured nothing"
            if not result.behaved:
                held.append(f"{case.case_id}: {result.reason}")
    assert ran > 0, f"{claim}: no counter-model control ran"
    assert not held, "\n".join(held)
