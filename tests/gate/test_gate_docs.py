"""docs/ci-gating.md: the example workflow is valid YAML whose commands use real options, and the
numbers the page states are the code's."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from latentflow import gate

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "ci-gating.md"


def doc() -> str:
    return DOCS.read_text(encoding="utf-8")


def workflow() -> dict:
    (block,) = re.findall(r"```yaml\n(.*?)```", doc(), flags=re.S)
    return yaml.safe_load(block)


def step(name: str) -> dict:
    steps = workflow()["jobs"]["gate"]["steps"]
    matches = [s for s in steps if s.get("name") == name]
    assert len(matches) == 1, [s.get("name") for s in steps]
    return matches[0]


def command_args(script: str, program: str) -> list[str]:
    """Arguments of ``program`` in a shell script (backslash continuations joined)."""
    words = shlex.split(script.replace("\\\n", " "), comments=True)
    return words[words.index(program) + 1:]


def test_workflow_is_valid_and_gates_after_running_the_specs():
    flow = workflow()
    assert flow["name"] == "latentflow gate"
    names = [s.get("name") for s in flow["jobs"]["gate"]["steps"]]
    assert names.index("Run the specs on the candidate") < names.index("Gate against the committed baseline")
    upload = step("Upload the report")
    assert upload["if"] == "always()" and upload["uses"].startswith("actions/upload-artifact@")
    assert "out/report.html" in upload["with"]["path"]


def test_workflow_spec_run_uses_the_plugin_options():
    args = command_args(step("Run the specs on the candidate")["run"], "pytest")
    plugin = (ROOT / "latentflow" / "pytest_plugin.py").read_text(encoding="utf-8")
    options = [a for a in args if a.startswith("--latentflow-")]
    assert options == ["--latentflow-model", "--latentflow-seed", "--latentflow-results", "--latentflow-report"]
    for option in options:
        assert f'"{option}"' in plugin, f"{option} is not an option of the pytest plugin"
    assert args[args.index("--latentflow-results") + 1].endswith(".json")
    assert args[args.index("--latentflow-report") + 1].endswith(".html")


def test_workflow_gate_command_parses_and_reads_the_results_just_written():
    args = command_args(step("Gate against the committed baseline")["run"], "gate")
    parsed = gate.build_parser().parse_args(args)
    spec_args = command_args(step("Run the specs on the candidate")["run"], "pytest")
    assert parsed.candidate == spec_args[spec_args.index("--latentflow-results") + 1]
    assert parsed.baseline == "ci/baseline-results.json"
    assert parsed.tolerance == gate.DEFAULT_TOLERANCE
    assert parsed.tolerance_mean == [("si_snr", 1.0)]


def test_stated_default_tolerance_and_statuses_are_the_codes():
    text = doc()
    assert f"(default **{gate.DEFAULT_TOLERANCE:g}**)" in text
    failing = set(re.findall(r"^\| `([a-z ]+)` \| ", text, flags=re.M))
    assert failing == set(gate.FAILING_STATUSES)
    for status in (gate.NEW, gate.NOW_HOLDS, gate.OK):
        assert f"`{status}`" in text


def test_documented_errors_are_what_the_gate_says(tmp_path, g):
    flat = " ".join(doc().split())  # the page wraps long lines
    path = tmp_path / "results.json"
    path.write_text('{\n  "latentflow_results": 1,\n  "verdicts": ]\n}')
    with pytest.raises(gate.ResultsError) as error:
        gate.load_results(path)
    assert f"`latentflow gate: {error.value}`".replace(str(path), "results.json") in flat

    data = g.results(*[g.verdict(f"c::h{i}") for i in range(4)], g.verdict("dual_pathway::ca_zero"))
    del data["verdicts"][4]["stats"]["effect_size"]
    with pytest.raises(gate.ResultsError) as error:
        gate.compare(data, data, baseline_name="results.json")
    assert f"`latentflow gate: {error.value}`" in flat
