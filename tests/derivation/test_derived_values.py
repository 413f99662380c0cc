"""Spec constants derived per model (latentflow.derivation) on real models.

On the bundled model the derivations give exactly the constants its specs recorded by hand
(so its verdicts stay as they were); on a model of another depth they differ and stay inside it;
a hand-written layer past a model's depth is an error that names the spec line.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from latentflow import derivation
from latentflow.execution import SpecSession
from latentflow.random_folder import make_test_model
from latentflow.spec import SpecError

SPECS = Path(__file__).resolve().parents[2] / "specs"

# what specs/async_convergence.yaml and specs/lsac.yaml wrote by hand before they derived them
RECORDED = {"threshold": 0.0076, "stable_layers": [0, 3, 6, 7], "fast_layers": [1, 2, 4, 5],
            "balanced": {0: 4, 1: 4, 2: 13}}


@pytest.fixture(scope="module")
def fixture_session():
    session = SpecSession()
    plans = {name: session.plan(SPECS / f"{name}.yaml") for name in ("async_convergence", "lsac")}
    return session, plans


def test_the_bundled_model_derives_the_constants_its_specs_recorded(fixture_session):
    _session, plans = fixture_session
    cases = {c.case_id: c for plan in plans.values() for c in plan.cases}
    rates = [c for c in cases.values() if c.measure.metric == "entropy_rate"]
    assert len(rates) == 8 and {c.expect.null_value for c in rates} == {RECORDED["threshold"]}
    assert cases["async_convergence::freeze_stable_layers"].interventions[0].layers.only == (0, 3, 6, 7)
    assert cases["async_convergence::freeze_fast_layers"].interventions[0].layers.only == (1, 2, 4, 5)
    for case_id in ("lsac::balanced_quality", "lsac::balanced_output_close_to_full_run"):
        assert dict(cases[case_id].interventions[0].args["plan"]) == RECORDED["balanced"]
    fuzz = {c.check_id: c for c in plans["lsac"].fuzz}
    saving = fuzz["balanced_saves_a_quarter"].example({})
    assert dict(saving.interventions[0].args["plan"]) == RECORDED["balanced"]
    layer = fuzz["freeze_at_or_past_the_end_is_the_full_run"].given["layer"]
    assert (layer.low, layer.high) == (0, 7)  # {derived: architecture.last_layer}


def test_the_derived_lsac_plans_are_the_stored_tuning_s(fixture_session):
    from latentflow.acceleration.presets import stored_tuning

    session, _ = fixture_session
    (record,) = [r for r in session.runner.world("fixture").describe()["derived"] if r["method"] == "lsac_tuning"]
    stored = stored_tuning("fixture", "noisy")
    for preset, plan in record["values"].items():
        caching = {str(layer): step for layer, step in stored.plan(preset).freeze_steps.items() if step < 15}
        assert plan == caching, preset


def test_the_results_record_how_each_constant_was_derived(fixture_session):
    session, _ = fixture_session
    derived = session.runner.describe_models()["fixture"]["derived"]
    by_method = {r["method"]: r for r in derived}
    convergence = by_method["convergence"]
    assert convergence["split"] == "train"
    assert convergence["settings"] == {"tier": "noisy", "n": 16, "seed": 123, "steps": 16, "sampler": "euler",
                                       "threshold": "median", "digits": 2}
    assert {k: convergence["values"][k] for k in ("threshold", "stable_layers", "fast_layers")} == {
        k: RECORDED[k] for k in ("threshold", "stable_layers", "fast_layers")}
    # the median of the measured rates, before rounding to 2 significant digits
    assert convergence["measured"]["median_rate"] == pytest.approx(0.0076, abs=5e-5)
    assert len(convergence["values"]["rates"]) == 8
    assert convergence["declared_in"] == [f"{_shown(SPECS / 'async_convergence.yaml')}:29"]
    # a one-model results file shows them at the top too
    from latentflow.results import results_payload

    assert results_payload([], setups=session.runner.describe_models())["derived"] == derived
    lsac = by_method["lsac_tuning"]
    assert (lsac["split"], lsac["settings"]["n"], lsac["settings"]["threshold"]) == ("train", 4, 0.01)
    assert lsac["values"]["balanced"] == {str(k): v for k, v in RECORDED["balanced"].items()}  # JSON keys


def test_a_case_recorded_for_the_model_that_it_lacks_is_the_documented_error(fixture_session, tmp_path):
    spec = tmp_path / "async_convergence.yaml"
    spec.write_text((SPECS / spec.name).read_text().replace("cases: [{layer: 6}]", "cases: [{layer: 9}]"))
    with pytest.raises(SpecError) as caught:
        SpecSession().plan(spec)  # derived in this process already: the values are reused
    (issue,) = [str(i) for i in caught.value.issues]
    docs = (SPECS.parent / "docs" / "spec-language.md").read_text(encoding="utf-8").splitlines()
    (shown,) = [line for line in docs if line.startswith("specs/async_convergence.yaml:") and "layer=9" in line]
    assert issue == f"{spec}{shown.removeprefix('specs/async_convergence.yaml')}"


def _shown(path: Path) -> str:
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def test_a_derivation_runs_once_per_model_identity(fixture_session, monkeypatch):
    from latentflow.fixture import fixture_model_path

    calls = []
    real = derivation.COMPUTE["convergence"]
    monkeypatch.setitem(derivation.COMPUTE, "convergence",
                        lambda *args: calls.append(args) or real(*args))
    # another session, the same weights under another name (the bundled checkpoint's path)
    again = SpecSession(model=str(fixture_model_path()))
    plan = again.plan(SPECS / "async_convergence.yaml")
    assert calls == []
    assert {c.expect.null_value for c in plan.cases if c.measure.metric == "entropy_rate"} == {0.0076}


# -- a model of another depth ----------------------------------------------------------------

SMALL_SPEC = """\
latentflow: 1
claim: {{id: small, title: Derived on a small model, source: tests}}
model: {model}
data: {{tier: noisy, n: 2}}
sampler: {{steps: 8}}
derive:
  convergence: {{n: 3}}
hypotheses:
  - id: rate
    title: "Layer {{layer}} is stable"
    parametrize:
      layer: {{derived: convergence.stable_layers}}
    measure: {{metric: entropy_rate, compare: internal, site: "blocks.{{layer}}.attn.hook_pattern"}}
    expect: {{direction: decrease, null_value: {{derived: convergence.threshold}}}}
  - id: freeze_fast
    title: Freezing the fast layers
    interventions:
      - {{site: blocks.*.attn.hook_pattern, op: freeze_pattern, args: {{from_step: 4}}, layers: {layers}}}
    measure: {{metric: si_snr}}
    expect: {{direction: decrease}}
"""


@pytest.fixture(scope="module")
def small_model(tmp_path_factory):
    return make_test_model(tmp_path_factory.mktemp("derive") / "model", seed=3, n_layers=5)


def test_on_a_model_of_another_depth_the_derived_constants_differ_and_stay_inside_it(small_model, tmp_path):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC.format(model=small_model, layers="{derived: convergence.fast_layers}"))
    session = SpecSession()
    plan = session.plan(spec)
    (record,) = [r for r in session.runner.describe_models()[str(small_model)]["derived"]
                 if r["method"] == "convergence"]
    values = record["values"]
    assert record["measured"]["n_layers"] == 5 and len(values["rates"]) == 5
    assert sorted(values["stable_layers"] + values["fast_layers"]) == [0, 1, 2, 3, 4]
    assert values["stable_layers"] and values["fast_layers"]
    assert (values["threshold"], values["stable_layers"]) != (RECORDED["threshold"], RECORDED["stable_layers"])
    cases = {c.case_id: c for c in plan.cases}
    assert [c for c in cases if c.startswith("small::rate")] == [
        f"small::rate[{layer}]" for layer in values["stable_layers"]]
    assert cases["small::freeze_fast"].interventions[0].layers.only == tuple(values["fast_layers"])
    assert {c.expect.null_value for c in cases.values() if c.measure.metric == "entropy_rate"} == {
        values["threshold"]}


def test_the_lsac_spec_on_a_model_of_another_depth_tunes_on_it(small_model):
    session = SpecSession(model=str(small_model))
    plan = session.plan(SPECS / "lsac.yaml")
    records = {r["method"]: r for r in session.runner.describe_models()[str(small_model)]["derived"]}
    assert records["architecture"]["values"] == {"n_layers": 5, "last_layer": 4, "layers": [0, 1, 2, 3, 4]}
    lsac = records["lsac_tuning"]
    assert len(lsac["measured"]["layer_rates"]) == 5
    for plan_steps in lsac["values"].values():  # inside its depth, before its last step (16 steps)
        assert {int(layer) for layer in plan_steps} <= set(range(5))
        assert all(0 <= step < 15 for step in plan_steps.values())
    cases = {c.case_id: c for c in plan.cases}
    used = {int(k): v for k, v in lsac["values"]["balanced"].items()}
    assert dict(cases["lsac::balanced_quality"].interventions[0].args["plan"]) == used
    fuzz = {c.check_id: c for c in plan.fuzz}
    layer = fuzz["freeze_at_or_past_the_end_is_the_full_run"].given["layer"]
    assert (layer.low, layer.high) == (0, 4)


def test_the_per_layer_hypotheses_follow_a_model_of_another_depth_and_run(small_model):
    # what the bundled model records under per_model: fixture (its layers 0, 3, 4 do not hold,
    # layer 6 gets 48 examples) does not apply to another model: every case expects the claim
    session = SpecSession(model=str(small_model), max_n=2, controls=False)
    plan = session.plan(SPECS / "async_convergence.yaml")
    (record,) = [r for r in session.runner.describe_models()[str(small_model)]["derived"]
                 if r["method"] == "convergence"]
    stable, fast = record["values"]["stable_layers"], record["values"]["fast_layers"]
    per_layer = [c for c in plan.cases if c.measure.metric == "entropy_rate"]
    assert [c.case_id for c in per_layer] == (
        [f"async_convergence::stable_layer_entropy_rate[{layer}]" for layer in stable]
        + [f"async_convergence::fast_layer_entropy_rate[{layer}]" for layer in fast])
    assert sorted(stable + fast) == [0, 1, 2, 3, 4]
    assert {(c.outcome, c.data.n) for c in per_layer} == {("holds", 2)}
    for case in per_layer:
        verdict = session.verdict(plan, case)
        assert verdict.result.n == 2 and verdict.measure["site"] == f"blocks.{case.params['layer']}.attn.hook_pattern"
        assert verdict.to_dict()["derived"]["convergence.threshold"] == record["values"]["threshold"]
    segmentation = SpecSession(model=str(small_model), max_n=2, controls=False).plan(SPECS / "segmentation_cues.yaml")
    assert [c.case_id for c in segmentation.cases if c.hypothesis_id == "span_boundary_probe"] == [
        f"segmentation_cues::span_boundary_probe[{layer}]" for layer in (0, 2, 4)]


def test_a_hand_written_layer_past_the_model_s_depth_names_the_spec_line(small_model, tmp_path):
    spec = tmp_path / "small.yaml"
    spec.write_text(SMALL_SPEC.format(model=small_model, layers="[0, 3, 6, 7]"))
    with pytest.raises(SpecError) as caught:
        SpecSession().plan(spec)
    (issue,) = [str(i) for i in caught.value.issues]
    assert issue.startswith(f"{spec}:18: hypotheses[1].interventions[0].site: unknown hook site "
                            "(with layer filled in from hypotheses[1].interventions[0].layers); got 'blocks.")
    assert "the model has 5 blocks (layers 0-4)" in issue and "{derived: convergence.stable_layers}" in issue
