"""The report's controls section, on a real results file written by a small spec run: each
declared control with its kind, the outcome it must give, the outcome it gave and its numbers,
and the cases whose controls misbehaved flagged ("the test cannot tell").

The spec is that of tests/execution/test_controls.py (4 Clean examples, 2 Euler steps, the
bundled model): zeroing the text projection moves the output far from the full run; on
counter:no_text_injection it changes nothing (the negative control behaves); a "contrast" that
scales the projection by 0 is the same intervention, so it holds where it must fail.
"""

from __future__ import annotations

import pytest
import transformers  # noqa: F401

import latentflow.pipeline  # noqa: F401
from latentflow.execution import SpecSession
from latentflow.report import write_report
from latentflow.report.controls import CANNOT_TELL, TABLE_HEADER, control_rows, controls_section
from latentflow.results import read_results

SPEC = """\
latentflow: 1
claim: {id: ctl, title: Controls, source: tests}
model: fixture
data: {tier: clean, n: 4, seed: 0}
sampler: {method: euler, steps: 2}
hypotheses:
  - id: trusted
    title: Zeroing the text projection moves the output
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: si_snr, compare: baseline}
    expect: {direction: decrease, test: paired_t, null_value: 60.0}
    controls:
      - {id: no_text, model: "counter:no_text_injection", outcome: fails}
  - id: cannot_tell
    title: Zeroing the text projection moves the output (with a contrast that is the same)
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: si_snr, compare: baseline}
    expect: {direction: decrease, test: paired_t, null_value: 60.0}
    controls:
      - {id: no_text, model: "counter:no_text_injection", outcome: fails}
      - id: same_again
        interventions: [{site: hook_text_proj, op: scale, args: {factor: 0.0}}]
  - id: no_controls
    title: Zeroing the text projection moves the output (no controls)
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: si_snr, compare: baseline}
    expect: {direction: decrease, test: paired_t, null_value: 60.0}
"""


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    folder = tmp_path_factory.mktemp("controls_report")
    spec = folder / "ctl.yaml"
    spec.write_text(SPEC, encoding="utf-8")
    session = SpecSession()
    path = session.write_results(folder / "results.json", list(session.verify(str(spec))))
    return read_results(path), folder


def test_the_section_lists_every_control_with_its_numbers_from_the_results_file(results):
    data, _ = results
    rows, skipped = control_rows(data)
    assert skipped == []
    assert [(r.case_id, r.id, r.kind, r.must, r.gave, r.behaved) for r in rows] == [
        ("ctl::trusted", "no_text", "model", "fails", "fails", True),
        ("ctl::cannot_tell", "no_text", "model", "fails", "fails", True),
        ("ctl::cannot_tell", "same_again", "intervention", "fails", "holds", False),
    ]
    verdicts = {v["case_id"]: v for v in data["verdicts"]}
    recorded = verdicts["ctl::cannot_tell"]["controls"][1]["stats"]
    row = rows[2]
    assert (row.n, row.mean_difference, row.pvalue) == (4, recorded["mean_difference"], recorded["pvalue"])
    assert row.model == "fixture" and row.interventions[0]["op"] == "scale"
    # the trusted case's control on the counter-model: SI-SNR against an unchanged output is not finite
    assert rows[0].model == "counter:no_text_injection" and rows[0].n == 4

    section = controls_section(data)
    header, *body = section.table
    assert header == TABLE_HEADER and len(body) == 3
    assert body[2][:5] == ("ctl::cannot_tell", "same_again", "intervention, negative", "fails", "holds")
    assert body[2][-1] == f"MISBEHAVED: {CANNOT_TELL}"
    assert body[1][-1] == f"ok (another control: {CANNOT_TELL})"
    assert body[0][-1] == "ok"
    assert body[2][9] == "fixture: scale at hook_text_proj"
    assert "1 of 2 cases: the test cannot tell" in section.caption
    assert section.summary == (f"- `ctl::cannot_tell`: {CANNOT_TELL}: control same_again must fail but holds",)


def test_the_report_shows_the_section(results):
    data, folder = results
    files = write_report(data, folder / "report.html")
    assert "controls" in files.plots
    markdown = files.markdown_path.read_text(encoding="utf-8")
    assert "## Declared controls" in markdown
    assert "| ctl::cannot_tell | same_again | intervention, negative |" in markdown
    html = files.html_path.read_text(encoding="utf-8")
    assert 'id="controls"' in html and "MISBEHAVED: the test cannot tell" in html


def test_skipped_controls_are_listed_and_a_run_without_controls_has_no_section(results):
    data, _ = results
    verdicts = [dict(v) for v in data["verdicts"]]
    for verdict in verdicts:
        if verdict.pop("controls", None) is not None:
            verdict["controls_skipped"] = True
    section = controls_section(verdicts)
    assert [row[:5] for row in section.table[1:]] == [("ctl::trusted", "(declared)", "", "", "skipped"),
                                                    ("ctl::cannot_tell", "(declared)", "", "", "skipped")]
    assert "untrusted" in section.notes[0]
    assert controls_section([v for v in verdicts if v["case_id"] == "ctl::no_controls"]) is None


def test_a_wrong_control_record_is_named():
    verdict = {"case_id": "c::h", "controls": [{"id": "x", "expected": "maybe"}]}
    with pytest.raises(ValueError, match=r"verdicts\[0\] \(c::h\)\.controls\[0\]\.expected: 'maybe' is not allowed"):
        control_rows([verdict])
