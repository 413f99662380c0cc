"""A counter-model control breaks its mechanism in the model the case runs on (``--latentflow-model``
or the spec's ``model:``), never silently in the bundled fixture; a counter-model that cannot be
built from that model is refused when the spec is collected, naming the control and the model.

The other model is a random-weight SAM Audio folder from ``latentflow make-test-model`` (2 blocks,
DAC-VAE codec, a tiny T5): its verdicts mean nothing, the test checks which model each run used.
"""

from __future__ import annotations

import pytest
import torch
import transformers  # noqa: F401

import latentflow
import latentflow.pipeline
from latentflow.counter_models import CounterModelError, apply_counter, counter_problem
from latentflow.execution import SpecSession
from latentflow.model_names import parse_model_name
from latentflow.random_folder import make_test_model
from latentflow.spec import SpecError

SPEC = """\
latentflow: 1
claim: {id: ctl_other, title: Controls on another model, source: tests}
data: {tier: clean, n: 2, seed: 0}
sampler: {method: euler, steps: 2}
hypotheses:
  - id: text_zero_changes_the_output
    title: Zeroing the text projection changes SI-SNR
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: si_snr}
    expect: {direction: two-sided}
    controls:
      - id: no_text
        title: the text projection carries nothing, so zeroing it changes nothing
        model: "counter:no_text_injection"
        outcome: fails
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_test_model(tmp_path_factory.mktemp("other") / "model", seed=5, n_layers=2)


def _spec(tmp_path) -> str:
    path = tmp_path / "ctl.yaml"
    path.write_text(SPEC, encoding="utf-8")
    return str(path)


def test_a_counter_model_name_may_name_the_model_it_is_built_from(folder):
    parsed = parse_model_name(f"counter:no_text_injection@{folder}")
    assert (parsed.counter, parsed.base) == ("no_text_injection", str(folder))
    broken = latentflow.load(f"counter:no_text_injection@{folder}")
    assert broken.cfg.n_layers == 2 and broken.counter_model == "no_text_injection"
    assert broken.memory_proj.weight.abs().max() == 0
    assert latentflow.load(folder).memory_proj.weight.abs().max() > 0  # the folder's weights are untouched
    with pytest.raises(ValueError, match="write counter:<name>@<model>"):
        parse_model_name("counter:no_text_injection@")
    with pytest.raises(ValueError, match="unknown preset 'tiny'"):
        parse_model_name("counter:no_text_injection@random:tiny")


def test_the_control_runs_on_the_model_in_use(folder, tmp_path):
    session = SpecSession(model=str(folder))
    plan = session.plan(_spec(tmp_path))
    verdict = session.verdict(plan, plan.cases[0])
    (control,) = verdict.controls
    assert control.model == f"counter:no_text_injection@{folder}"
    world = session.runner.world(control.model)
    assert world.model.cfg.n_layers == 2 and world.model.memory_proj.weight.abs().max() == 0
    # with the projection at zero, zeroing it changes nothing: both arms are one output
    assert control.behaved and not control.holds and control.result.mean_difference == 0.0
    models = session.runner.describe_models()
    assert "counter:no_text_injection" not in models  # the fixture's counter-model was never built
    identity = models[control.model]["model"]
    assert identity["kind"] == "counter-model" and identity["base"]["folder"] == str(folder)


def test_on_the_fixture_the_control_keeps_its_plain_name(tmp_path):
    session = SpecSession(controls=True)
    plan = session.plan(_spec(tmp_path))
    from latentflow.execution.controls import control_case

    assert control_case(plan.cases[0], plan.cases[0].controls[0]).model == "counter:no_text_injection"


def test_a_counter_model_the_model_cannot_give_is_refused_naming_both(folder, tmp_path):
    model = latentflow.load(folder)
    model.memory_proj.register_parameter("bias", None)  # a projection without a bias
    assert "memory_proj.bias" in counter_problem(model, "no_text_injection", "m")
    with pytest.raises(CounterModelError, match=r"counter-model 'no_text_injection' cannot be built from model "
                                                r"'m': it edits memory_proj.bias, which that model lacks"):
        apply_counter(model, "no_text_injection", "m")
    # at collection: the control's line, its id and the model the spec runs on
    session = SpecSession(model=str(folder))
    session.runner.world(str(folder)).model.memory_proj.register_parameter("bias", None)
    path = _spec(tmp_path)
    with pytest.raises(SpecError) as error:
        session.plan(path)
    (issue,) = error.value.issues
    assert (issue.file, issue.line, issue.field) == (path, 14, "hypotheses[0].controls[0].model")
    assert issue.message == (f"control no_text cannot run: counter-model 'no_text_injection' cannot be built from "
                             f"model '{folder}': it edits memory_proj.bias, which that model lacks")
    # with controls off nothing is built, so nothing is refused
    off = SpecSession(model=str(folder), controls=False)
    off.runner.world(str(folder)).model.memory_proj.register_parameter("bias", None)
    assert off.plan(path).cases[0].controls


def test_every_counter_model_names_what_it_edits():
    model = latentflow.load("random:parity")
    for name in ("no_text_injection", "no_cross_attention", "no_anchor_path", "uniform_self_attention",
                 "oscillating_attention", "drifting_attention"):
        assert counter_problem(model, name) is None
    del model.blocks[1].cross_attention.wo.weight
    assert "blocks.*.cross_attention.wo.weight" in counter_problem(model, "no_cross_attention")
    assert torch.is_tensor(model.blocks[0].cross_attention.wo.weight)
