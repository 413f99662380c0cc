"""Each verdict names the derived constants its case used, and the results file, the gate and the
report read it (format 3, one optional verdict field: older files without it still read).

The case runs for real on ``random:fixture`` (the fixture's 8 blocks, random weights); its layers
come from ``architecture`` (nothing measured), its threshold is literal: cheap, and the numbers
mean nothing, which is not what is tested.
"""

from __future__ import annotations

import json

import pytest

from latentflow import cli
from latentflow.execution import SpecSession
from latentflow.report import write_report
from latentflow.results import ResultsError, read_results, results_verdicts

SPEC = """\
latentflow: 1
claim: {id: spaced, title: Entropy rates through the stack, source: tests}
model: "random:fixture"
data: {tier: clean, n: 2}
sampler: {steps: 4}
derive:
  depth: {from: architecture, every: 4}
hypotheses:
  - id: rate
    title: "Layer {layer}'s entropy rate is below 0.5"
    parametrize:
      layer: {derived: depth.layers}
    measure: {metric: entropy_rate, compare: internal, site: "blocks.{layer}.attn.hook_pattern"}
    expect: {direction: decrease, null_value: 0.5}
  - id: last
    title: The last layer's entropy rate is below 0.5
    measure: {metric: entropy_rate, compare: internal, site: "blocks.{layer}.attn.hook_pattern"}
    expect: {direction: decrease, null_value: 0.5}
    parametrize:
      layer: [{derived: depth.last_layer}]
"""


@pytest.fixture(scope="module")
def results_file(tmp_path_factory):
    folder = tmp_path_factory.mktemp("derived")
    spec = folder / "spaced.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    session = SpecSession()
    verdicts = list(session.verify(spec))
    return session.write_results(folder / "results.json", verdicts)


def test_each_verdict_names_the_derived_values_its_case_used(results_file):
    data = read_results(results_file)
    used = {v["case_id"]: v.get("derived") for v in results_verdicts(data, source=str(results_file))}
    assert used == {"spaced::rate[0]": {"depth.layers": [0, 4, 7]},
                    "spaced::rate[4]": {"depth.layers": [0, 4, 7]},
                    "spaced::rate[7]": {"depth.layers": [0, 4, 7]},
                    "spaced::last[7]": {"depth.last_layer": 7}}
    # how they were derived stays in the file's own record (once, not per verdict)
    (record,) = data["derived"]
    assert (record["method"], record["settings"], record["values"]["layers"]) == ("architecture", {"every": 4},
                                                                                  [0, 4, 7])


def test_the_gate_and_the_report_read_it(results_file, tmp_path, capsys):
    status = cli.main(["gate", "--baseline", str(results_file), "--candidate", str(results_file)])
    out = capsys.readouterr().out
    assert status == 0 and "no regression in 4 cases" in out, out
    verdicts = results_verdicts(read_results(results_file), source="results")
    files = write_report(list(verdicts), tmp_path / "report.html")
    assert "spaced::rate[4]" in files.markdown_path.read_text(encoding="utf-8")


def test_a_malformed_derived_field_is_named(results_file):
    data = json.loads(results_file.read_text(encoding="utf-8"))
    data["verdicts"][0]["derived"] = [0, 4, 7]
    with pytest.raises(ResultsError, match=r"verdicts\[0\] \(spaced::last\[7\]\)\.derived: \[0, 4, 7\] is not "
                                           r"allowed; expected an object NAME.QUANTITY -> value"):
        results_verdicts(data, source="results")
    del data["verdicts"][0]["derived"]  # a format 3 file written before verdicts named them
    assert "derived" not in results_verdicts(data, source="results")[0]
