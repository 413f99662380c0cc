"""A spec run through SpecSession (the pytest plugin's path) reports every problem of the file at
once, its hook sites checked against the spec's model even when other fields are broken."""

from __future__ import annotations

import pytest

from latentflow.execution import SpecSession
from latentflow.spec import SpecError

BROKEN = """\
latentflow: 1
claim: {id: demo, title: Demo, source: tests}
model: "random:fixture"
data: {tier: clean, n: 2}
hypotheses:
  - id: h
    title: t
    interventions:
      - {site: hook_text_prj, op: zeroo}
    measure: {metric: stoii}
    expect: {direction: decrease, alpha: 0.9}
  - id: h2
    title: t
    interventions:
      - {site: hook_cross_out, op: zero, layers: [1, 2]}
    measure: {metric: stoi}
    expect: {direction: decrease}
"""


def test_an_out_of_range_alpha_hides_no_unknown_site_op_or_metric(tmp_path):
    path = tmp_path / "broken.yaml"
    path.write_text(BROKEN)
    with pytest.raises(SpecError) as info:
        SpecSession().plan(path)
    found = {(i.line, i.field, i.message) for i in info.value.issues}
    assert found == {
        (9, "hypotheses[0].interventions[0].site", "unknown hook site"),
        (9, "hypotheses[0].interventions[0].op", "unknown operation"),
        (10, "hypotheses[0].measure.metric", "unknown metric"),
        (11, "hypotheses[0].expect.alpha", "out of range"),
        (15, "hypotheses[1].interventions[0].layers",
         "layers selects the blocks of a blocks.* site; this site names no open block index"),
        (15, "hypotheses[1].interventions[0].site", "unknown hook site"),
    }, str(info.value)
    assert "nearest real sites: hook_text_proj" in str(info.value)
    assert str(info.value).count("did you mean 'blocks.*.hook_cross_out'?") == 2


SILENT = """\
latentflow: 1
claim: {id: silent, title: Sites the data never runs, source: tests}
model: "random:fixture"
data: {tier: clean, n: 2, prompt: span}
sampler: {steps: 2}
hypotheses:
  - id: text_proj_without_text
    title: t
    interventions:
      - {site: hook_text_proj, op: zero}
    measure: {metric: si_snr}
    expect: {direction: decrease}
  - id: video_gate_without_video
    title: t
    data: {prompt: text}
    interventions:
      - {site: hook_video_gate, op: override_scalar, args: {value: 3.0}}
    measure: {metric: si_snr}
    expect: {direction: decrease}
    outcome: fails
    reason: recorded
  - id: text_proj_with_text
    title: t
    data: {prompt: text+span}
    interventions:
      - {site: hook_text_proj, op: zero}
    measure: {metric: si_snr}
    expect: {direction: decrease}
"""


def test_an_intervention_at_a_site_the_data_never_runs_is_refused_at_load_time(tmp_path):
    path = tmp_path / "silent.yaml"
    path.write_text(SILENT)
    with pytest.raises(SpecError) as info:
        SpecSession().plan(path)
    found = {(i.line, i.field) for i in info.value.issues}
    assert found == {(10, "hypotheses[0].interventions[0].site"), (17, "hypotheses[1].interventions[0].site")}
    text = str(info.value)
    assert "never runs for the declared data: hook_text_proj runs only with a text prompt, and data.prompt is 'span'" in text
    assert "hook_video_gate runs only with video frames, and the tier examples have no video" in text


def test_a_run_whose_intervention_never_fired_is_an_error_not_a_result(tmp_path):
    # the check after the run, for callers that skip validation (the Runner, notebooks)
    from latentflow.execution.runner import Runner
    from latentflow.interventions import InterventionNeverFired
    from latentflow.spec import Data, Intervention, Sampler

    runner = Runner()
    data, sampler = Data(tier="clean", n=2, prompt="span"), Sampler(steps=2)
    with pytest.raises(InterventionNeverFired) as info:
        runner.run("random:fixture", data, sampler, (Intervention("hook_text_proj", "zero"),))
    assert str(info.value).startswith(
        "intervention 'zero' at 'hook_text_proj' never fired: hook_text_proj never ran during the run: "
        "hook_text_proj runs only with a text prompt, and data.prompt is 'span'")
    # the same intervention with a text prompt fires, and changes the output
    with_text = Data(tier="clean", n=2, prompt="text+span")
    out = runner.run("random:fixture", with_text, sampler, (Intervention("hook_text_proj", "zero"),))
    base = runner.run("random:fixture", with_text, sampler)
    assert not out.final.equal(base.final)
