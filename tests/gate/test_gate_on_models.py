"""The gate on real runs: against a perturbed copy of the bundled model (Gaussian noise added to
one block's weights, saved as a checkpoint) it fails, and says so in its markdown."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
import torch

from latentflow.fixture import load_fixture_model
from latentflow.gate import compare
from latentflow.model import save_model

SPEC = """\
latentflow: 1
claim: {id: gate_demo, title: Text and cross-attention pathways, source: latentflow gate demo}
data: {tier: clean, n: 12, seed: 3}
sampler: {method: euler, steps: 8}
hypotheses:
  - id: text_projection_zero
    title: Zeroing the additive text projection lowers SI-SNR
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: si_snr, compare: target}
    expect: {direction: decrease, test: paired_t, min_effect_size: 0.5}
  - id: cross_attention_zero
    title: Zeroing every cross-attention output lowers SI-SNR
    interventions: [{site: blocks.*.hook_cross_out, op: zero}]
    measure: {metric: si_snr, compare: target}
    expect: {direction: decrease, test: paired_t, min_effect_size: 0.5}
"""


def run_specs(folder, model, results):
    command = [sys.executable, "-m", "pytest", str(folder / "demo.yaml"), "-q", "-p", "no:cacheprovider",
               f"--latentflow-model={model}", f"--latentflow-results={results}"]
    done = subprocess.run(command, capture_output=True, text=True, cwd=folder, check=False)
    assert done.returncode in (0, 1), done.stdout + done.stderr  # 1: a verdict differs from the spec
    return json.loads(results.read_text())


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gate_demo")
    (folder / "demo.yaml").write_text(SPEC)
    model = load_fixture_model()
    with torch.no_grad():
        g = torch.Generator().manual_seed(0)
        for param in model.blocks[0].parameters():
            param.add_(torch.randn(param.shape, generator=g) * param.std() * 3.0)
    save_model(model, folder / "perturbed.safetensors", metadata={"latentflow_text_encoder": "minilm"})
    return folder


def test_gate_passes_against_itself_and_fails_on_a_perturbed_copy(folder):
    # Two runs of one model give identical results files (tests/execution/test_plugin.py), and
    # identical files pass the gate (tests/gate/test_gate.py): only the perturbed copy is run here.
    a = run_specs(folder, "fixture", folder / "a.json")
    b = run_specs(folder, str(folder / "perturbed.safetensors"), folder / "b.json")
    report = compare(a, b)
    assert report.failed, report.to_markdown()
    gate = subprocess.run([sys.executable, "-m", "latentflow.cli", "gate", "--baseline", str(folder / "a.json"),
                           "--candidate", str(folder / "b.json")], capture_output=True, text=True, check=False)
    assert gate.returncode == 1, gate.stdout + gate.stderr
    assert "**FAIL**" in gate.stdout
