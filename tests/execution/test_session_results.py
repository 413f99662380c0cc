"""`SpecSession.write_results` writes the file `pytest --latentflow-results` writes, without pytest,
and `latentflow gate` reads it back."""

from __future__ import annotations

import json

from latentflow import gate
from latentflow.execution import SpecSession
from latentflow.results import RESULTS_FORMAT

from .test_variant_batching import SPEC


def test_a_session_writes_a_results_file_the_gate_reads(tmp_path):
    spec = tmp_path / "batching.yaml"
    spec.write_text(SPEC)
    session = SpecSession(seed=3)
    verdicts = list(session.verify(spec))
    path = session.write_results(tmp_path / "out" / "results.json", verdicts)
    data = json.loads(path.read_text())
    assert data["latentflow_results"] == RESULTS_FORMAT and data["seed"] == 3
    assert [v["case_id"] for v in data["verdicts"]] == sorted(v.case_id for v in verdicts)
    assert data["verdicts"] == sorted((json.loads(json.dumps(v.to_dict())) for v in verdicts),
                                      key=lambda v: v["case_id"])
    report = gate.compare(gate.load_results(path), gate.load_results(path))
    assert len(report.rows) == len(verdicts) > 0 and not report.failed
