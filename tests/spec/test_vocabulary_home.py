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


def test_no_module_re_exports_a_vocabulary_list_under_another_name_or_in_its_all():
    """Every user imports an allowed-value list from latentflow.vocabulary itself: no alias
    (``METHODS = SAMPLER_METHODS``) and no ``__all__`` that passes one on (read from the source,
    so nothing is imported)."""
    import ast
    from pathlib import Path

    import latentflow
    from latentflow import vocabulary

    package = Path(latentflow.__file__).parent
    words = {name for name, value in vars(vocabulary).items() if name.isupper() and isinstance(value, (tuple, dict))}
    found = []
    for path in sorted(package.rglob("*.py")):
        if path.name == "vocabulary.py":
            continue
        for node in ast.parse(path.read_text()).body:
            if not isinstance(node, ast.Assign):
                continue
            targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
            if isinstance(node.value, ast.Name) and node.value.id in words:
                found.append(f"{path.relative_to(package)}: {', '.join(targets)} = {node.value.id}")
            if "__all__" in targets and isinstance(node.value, (ast.List, ast.Tuple)):
                exported = {e.value for e in node.value.elts if isinstance(e, ast.Constant)} & words
                found += [f"{path.relative_to(package)}: __all__ has {name}" for name in sorted(exported)]
    assert found == []
