"""Declared controls run with their case: a verdict holds only when every control gives its
declared outcome, results record each control's numbers, runs are shared, and
``--latentflow-controls off`` skips them (saying so).

The claim here is strong on the bundled model even at 4 examples and 2 Euler steps: zeroing
the text projection moves the output far from the full run (SI-SNR against it below 60 dB).
On counter:no_text_injection the projection is already zero, so the same intervention changes
nothing and the claim must fail there.
"""

from __future__ import annotations

import json

import pytest
import transformers  # noqa: F401

# pytester's in-process runs forget modules first imported during a run; torch and the
# tokenizers' compiled extensions cannot be imported twice, so import them up front.
import latentflow.execution
import latentflow.pipeline  # noqa: F401
from latentflow.execution import SpecSession

SPEC = """\
latentflow: 1
claim: {id: ctl, title: Controls, source: tests}
model: fixture
data: {tier: clean, n: 4, seed: 0}
sampler: {method: euler, steps: 2}
hypotheses:
  - id: text_zero_moves_output
    title: Zeroing the text projection moves the output
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: si_snr, compare: baseline}
    expect: {direction: decrease, test: paired_t, null_value: 60.0}
CONTROLS"""

NEGATIVE = """\
    controls:
      - {id: no_text, model: "counter:no_text_injection", outcome: fails}
      - id: sham
        title: scaling by one changes nothing
        interventions: [{site: hook_text_proj, op: scale, args: {factor: 1.0}}]
"""


def _write(tmp_path, controls: str, extra: str = "") -> str:
    path = tmp_path / "ctl.yaml"
    path.write_text(SPEC.replace("CONTROLS", controls + extra), encoding="utf-8")
    return str(path)


def _verdict(path: str, **options):
    session = SpecSession(**options)
    (verdict,) = list(session.verify(path))
    return session, verdict


def test_controls_that_behave_leave_the_verdict_and_record_their_numbers(tmp_path):
    session, verdict = _verdict(_write(tmp_path, NEGATIVE))
    assert verdict.result.passed and verdict.holds and verdict.passed
    assert [(c.id, c.kind, c.expected, c.holds, c.behaved) for c in verdict.controls] == [
        ("no_text", "model", "fails", False, True), ("sham", "interventions", "fails", False, True)]
    record = verdict.to_dict()["controls"]
    assert [c["model"] for c in record] == ["counter:no_text_injection", "fixture"]
    assert record[1]["interventions"] == [{"site": "hook_text_proj", "op": "scale", "args": {"factor": 1.0}, "steps": "all"}]
    for entry in record:
        assert entry["stats"]["n"] == 4 and entry["behaved"] and entry["why"].startswith(f"control {entry['id']} failed as declared")
    assert "control     no_text must fail: fails -> ok" in verdict.explain()
    # shared: the sham reuses the case's baseline; the counter-model gets one baseline of its own
    runs = [(key[0], key[3]) for key in session.runner.runs.run_keys]
    assert sorted(runs, key=str) == sorted([("fixture", ()), ("fixture", verdict_ivs(session, "zero")),
                                            ("fixture", verdict_ivs(session, "scale")),
                                            ("counter:no_text_injection", ()),
                                            ("counter:no_text_injection", verdict_ivs(session, "zero"))], key=str)


def verdict_ivs(session, op: str) -> tuple:
    return next(key[3] for key in session.runner.runs.run_keys if key[3] and key[3][0].op == op)


def test_a_negative_control_that_holds_means_the_test_cannot_tell(tmp_path):
    same = "    controls:\n      - id: same_again\n        interventions: [{site: hook_text_proj, op: scale, args: {factor: 0.0}}]\n"
    _, verdict = _verdict(_write(tmp_path, same))
    assert verdict.result.passed and not verdict.holds and not verdict.passed
    assert verdict.why.startswith("the test cannot tell: control same_again held although its mechanism is removed "
                                  "(scale(factor=0.0) at hook_text_proj)")
    assert "(the claim's own test: decrease" in verdict.why
    assert verdict.to_dict()["controls"][0]["behaved"] is False
    assert "MISBEHAVED" in verdict.explain()


def test_a_positive_control_that_fails_means_the_test_cannot_tell(tmp_path):
    positive = '    controls:\n      - {id: should_hold, model: "counter:no_text_injection", outcome: holds}\n'
    _, verdict = _verdict(_write(tmp_path, positive))
    assert not verdict.holds
    assert verdict.why.startswith("the test cannot tell: control should_hold failed although its mechanism is present")


def test_a_recorded_failure_may_be_a_controls(tmp_path):
    same = "    controls:\n      - id: same_again\n        interventions: [{site: hook_text_proj, op: scale, args: {factor: 0.0}}]\n"
    _, verdict = _verdict(_write(tmp_path, same, "    outcome: fails\n    reason: its contrast passes too\n"))
    assert verdict.passed and not verdict.holds
    assert verdict.why.startswith("as recorded in the spec, the claim does not hold on this model (its contrast "
                                  "passes too): the test cannot tell: control same_again held")


def test_controls_off_skips_them_and_says_so(tmp_path):
    session, verdict = _verdict(_write(tmp_path, NEGATIVE), controls=False)
    assert verdict.controls == () and verdict.controls_skipped and verdict.holds
    assert verdict.to_dict()["controls_skipped"] is True
    assert verdict.why.endswith("(controls skipped: --latentflow-controls off)")
    assert list(session.runner.describe_models()) == ["fixture"]  # no counter-model was even loaded


def test_plugin_fails_a_case_whose_control_misbehaves_and_can_skip_them(pytester):
    same = "    controls:\n      - id: same_again\n        interventions: [{site: hook_text_proj, op: scale, args: {factor: 0.0}}]\n"
    recorded = SPEC.replace("CONTROLS", same).replace("text_zero_moves_output", "recorded") + (
        "    outcome: fails\n    reason: its contrast passes too\n")
    pytester.makefile(".yaml", holds=SPEC.replace("CONTROLS", same), recorded=recorded)
    result = pytester.runpytest("-p", "no:cacheprovider", "--latentflow-results=r.json")
    result.assert_outcomes(failed=1, xfailed=1)
    result.stdout.fnmatch_lines(["FAIL: the test cannot tell: control same_again held although its mechanism is removed*"])
    (entry,) = [v for v in json.loads((pytester.path / "r.json").read_text())["verdicts"]
                if v["case_id"] == "ctl::text_zero_moves_output"]
    assert entry["holds"] is False and entry["controls"][0]["stats"]["n"] == 4

    off = pytester.runpytest("-p", "no:cacheprovider", "-rs", "--latentflow-controls=off")
    # the claim's own test holds; the recorded failure cannot be judged without its controls
    off.assert_outcomes(passed=1, skipped=1)
    off.stdout.fnmatch_lines(["latentflow: declared controls skipped (--latentflow-controls off)*",
                              "*the recorded failure may come from its skipped controls*"])


@pytest.mark.parametrize("value", ["maybe", "ON"])
def test_plugin_refuses_other_control_settings(pytester, value):
    result = pytester.runpytest("--latentflow-controls", value)
    result.stderr.fnmatch_lines([f"*--latentflow-controls: invalid choice: '{value}' (choose from *on*off*)"])
