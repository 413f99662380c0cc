"""The allowed-value lists and the site grammar have one home that needs neither torch nor
numpy, so a spec is checked without loading the model or the statistics."""

from __future__ import annotations

import subprocess
import sys


def test_the_spec_layer_loads_and_checks_a_spec_without_torch_or_numpy(tmp_path):
    spec = tmp_path / "tiny.yaml"
    spec.write_text(
        "latentflow: 1\n"
        "claim: {id: tiny, title: t, source: s}\n"
        "data: {tier: noisy, n: 4}\n"
        "sampler: {method: midpoint, steps: 4}\n"
        "hypotheses:\n"
        "  - id: h\n"
        "    title: t\n"
        "    interventions: [{site: blocks.*.hook_cross_out, op: zero, layers: [1]}]\n"
        "    measure: {metric: si_snr}\n"
        "    expect: {direction: decrease, test: wilcoxon}\n"
    )
    code = (
        "import sys\n"
        "from latentflow.spec import load_spec\n"
        f"spec = load_spec({str(spec)!r})\n"
        "print(spec.hypotheses[0].interventions[0].sites(), spec.sampler.method)\n"
        "print(sorted(m for m in ('torch', 'numpy', 'scipy') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.splitlines() == ["('blocks.1.hook_cross_out',) midpoint", "[]"]
