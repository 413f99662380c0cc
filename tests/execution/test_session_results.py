"""`SpecSession.write_results` writes the file `pytest --latentflow-results` writes, without pytest,
and `latentflow gate` reads it back; the file says what ran (model identity, codec, text encoder,
seeds) and holds every example's values, so a case can be re-analysed without re-running it."""

from __future__ import annotations

import hashlib
import json
import math

import numpy as np

from latentflow import gate
from latentflow.execution import SpecSession
from latentflow.execution.world import model_identity
from latentflow.fixture import fixture_model_path
from latentflow.results import RESULTS_FORMAT
from latentflow.stats import evaluate

from .test_variant_batching import SPEC


def test_a_session_writes_a_results_file_the_gate_reads(tmp_path):
    spec = tmp_path / "batching.yaml"
    spec.write_text(SPEC)
    session = SpecSession(seed=3)
    verdicts = list(session.verify(spec))
    path = session.write_results(tmp_path / "out" / "results.json", verdicts)
    data = json.loads(path.read_text())
    assert data["latentflow_results"] == RESULTS_FORMAT == 3
    assert data["seeds"] == {"override": 3, "data_seeds": [3]}
    assert [v["case_id"] for v in data["verdicts"]] == sorted(v.case_id for v in verdicts)
    assert data["verdicts"] == sorted((json.loads(json.dumps(v.to_dict())) for v in verdicts),
                                      key=lambda v: v["case_id"])
    report = gate.compare(gate.load_results(path), gate.load_results(path))
    assert len(report.rows) == len(verdicts) > 0 and not report.failed
    assert report.baseline_model == "random:fixture"

    # what ran
    assert data["model"] == {"name": "random:fixture", "kind": "random", "preset": "fixture", "weights_seed": 0}
    assert data["codec"] == {"name": "mel", "sample_rate": 16000, "hop": 640, "latent_channels": 64}
    assert data["text_encoder"] == {"name": "minilm", "dim": 384}
    assert data["models"] == {"random:fixture": {"model": data["model"], "codec": data["codec"],
                                                 "text_encoder": data["text_encoder"]}}
    assert data["model_override"] is None and data["smoke_run"] is None
    # every example of both arms: the statistics follow from them without re-running
    for verdict in data["verdicts"]:
        examples = verdict["examples"]
        n = examples["data"]["n"]
        assert len(examples["x"]) == len(examples["noise_seeds"]) == len(examples["x_nan_reasons"]) == n
        x = np.array([math.nan if v is None else v for v in examples["x"]])
        if examples["y"] is None:
            sample = x - examples["null_value"]
        else:
            assert len(examples["y"]) == len(examples["y_nan_reasons"]) == n
            sample = (x, np.array([math.nan if v is None else v for v in examples["y"]]))
        stats = verdict["stats"]
        again = evaluate(sample, test=stats["test"], alpha=stats["alpha"], seed=examples["data"]["seed"],
                         alternative=stats["alternative"], min_effect_size=stats["min_effect_size"])
        assert again.n == stats["n"]
        assert math.isclose(again.mean_difference, stats["mean_difference"], rel_tol=1e-12)
        if stats["pvalue_corrected"] is None:
            assert math.isclose(again.pvalue, stats["pvalue"], rel_tol=1e-9)


def test_model_identity_names_the_weights():
    digest = hashlib.sha256(fixture_model_path().read_bytes()).hexdigest()
    fixture = {"name": "fixture", "kind": "bundled fixture", "file": "fixture.safetensors", "sha256": digest}
    assert model_identity("fixture") == fixture
    assert model_identity("counter:no_text_injection") == {
        "name": "counter:no_text_injection", "kind": "counter-model", "counter": "no_text_injection", "base": fixture}
    assert model_identity("random:small:3") == {"name": "random:small:3", "kind": "random", "preset": "small",
                                                "weights_seed": 3}
    path = str(fixture_model_path())
    assert model_identity(path) == {"name": path, "kind": "checkpoint", "file": path, "sha256": digest}
