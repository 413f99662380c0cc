"""Compiling a spec into ordered cases; families, overrides, snippets that load back."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from latentflow.spec import Overrides, SpecError, compile_plan, load_spec, loads_spec

FAMILIES = """\
latentflow: 1
claim: {id: dp, title: Dual pathway, source: paper}
model: ../models/model.safetensors
data: {tier: clean, n: 32, seed: 1}
family: {correction: bonferroni}
families:
  acoustic: {correction: holm}
hypotheses:
  - id: stoi
    title: stoi drops
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: stoi}
    expect: {direction: decrease}
  - id: sar
    title: "sar drops on {tier}"
    family: acoustic
    parametrize: {tier: [clean, noisy]}
    data: {tier: "{tier}", seed: 5}
    interventions: [{site: blocks.*.hook_cross_out, op: zero, layers: [1, 2]}]
    measure: {metric: sar}
    expect: {direction: decrease, test: wilcoxon}
  - id: pesq
    title: pesq drops
    interventions: [{site: hook_text_proj, op: zero}]
    measure: {metric: pesq}
    expect: {direction: decrease}
    outcome: fails
    reason: not on this model
  - id: swap
    title: swap follows B
    source: {prompt: alternative}
    interventions: [{site: hook_text_proj, op: patch, steps: {from: 2}}]
    measure: {metric: si_snr, reference: alternative}
    expect: {direction: increase, min_effect_size: 0.8}
fuzz:
  - id: identity
    invariant: identity_at_scale_1
    given:
      layer: {integers: [0, 7]}
      start: {sampled_from: [0, 8]}
    data: {n: 2}
    interventions:
      - {site: "blocks.{layer}.hook_cross_out", op: scale, args: {factor: 1.0}, steps: {from: "{start}"}}
  - id: monotone
    invariant: monotone_in_scale
    args: {over: std}
    given:
      std: {floats: [0.0, 2.0]}
    interventions:
      - {site: hook_text_proj, op: add_noise, args: {std: "{std}", seed: 3}}
    measure: {metric: si_snr, compare: baseline}
"""


@pytest.fixture
def plan(write, registries):
    spec = load_spec(write(FAMILIES), **registries)
    return compile_plan(spec)


def test_cases_keep_file_order_and_resolve_everything(plan, tmp_path):
    assert [c.case_id for c in plan.cases] == [
        "dp::stoi",
        "dp::sar[clean]",
        "dp::sar[noisy]",
        "dp::pesq",
        "dp::swap",
    ]
    stoi, _, sar_noisy, pesq, swap = plan.cases
    assert stoi.model == str((tmp_path / ".." / "models" / "model.safetensors").resolve()), (
        "a spec's relative model path is relative to the spec file"
    )
    assert stoi.data.seed == 1 and sar_noisy.data.seed == 5 and sar_noisy.data.tier == "noisy"
    assert stoi.line == 9 and sar_noisy.line == 14 and stoi.source_file == plan.source_file
    assert (pesq.outcome, pesq.reason) == ("fails", "not on this model")
    assert swap.source.prompt == "alternative" and swap.measure.reference == "alternative"
    assert plan.case("dp::pesq") is pesq
    with pytest.raises(KeyError, match="did you mean dp::pesq"):
        plan.case("dp::pesk")


def test_families(plan):
    by_id = {f.id: f for f in plan.families}
    assert by_id["dp"].correction == "bonferroni"
    assert by_id["dp"].case_ids == ("dp::stoi", "dp::pesq", "dp::swap")
    assert by_id["dp:acoustic"].correction == "holm"
    assert by_id["dp:acoustic"].case_ids == ("dp::sar[clean]", "dp::sar[noisy]")
    stoi, sar_clean = plan.cases[:2]
    assert (stoi.family, stoi.correction, stoi.family_size) == ("dp", "bonferroni", 3)
    assert (sar_clean.family, sar_clean.correction, sar_clean.family_size) == (
        "dp:acoustic",
        "holm",
        2,
    )


def test_no_family_means_no_correction(h):
    (case,) = compile_plan(loads_spec(h.BASE)).cases
    assert (case.family, case.correction, case.family_size) == (None, "none", 1)
    assert compile_plan(loads_spec(h.BASE)).families == ()


def test_overrides(write, registries, tmp_path, monkeypatch):
    spec = load_spec(write(FAMILIES), **registries)
    monkeypatch.chdir(tmp_path)
    plan = compile_plan(spec, Overrides(model="ckpt/other.safetensors", seed=11, n=3))
    assert {c.model for c in plan.cases} == {str(tmp_path / "ckpt" / "other.safetensors")}
    assert {(c.data.seed, c.data.n) for c in plan.cases} == {(11, 3)}, (
        "overrides win over hypothesis data"
    )
    assert compile_plan(spec, Overrides(model="small")).cases[0].model == "small"
    example = plan.fuzz[0].example({"layer": 1, "start": 0})
    assert (example.data.n, example.data.seed, example.model) == (
        3,
        11,
        str(tmp_path / "ckpt" / "other.safetensors"),
    )
    for bad in (dict(seed=-1), dict(n=0), dict(n=True), dict(model="")):
        with pytest.raises(ValueError, match="override"):
            Overrides(**bad)


def _without_family(case):
    return dataclasses.replace(case, family=None, correction="none", family_size=1)


def test_case_snippet_loads_back_to_the_same_case(plan, write, registries):
    for case in plan.cases:
        snippet = case.to_snippet()
        assert snippet.startswith(
            f"# reproduces {case.case_id} (from {case.source_file}:{case.line})\n"
        )
        reloaded = compile_plan(load_spec(write(snippet, "snippet.yaml"), **registries))
        (again,) = reloaded.cases
        assert again.case_id == case.case_id
        assert again == _without_family(case)
        assert again.line is not None and again.source_file.endswith("snippet.yaml")


def test_snippet_of_a_parametrised_case_is_concrete(plan):
    snippet = plan.case("dp::sar[noisy]").to_snippet()
    assert "variant: noisy\n" in snippet
    assert "data: {tier: noisy, n: 32, seed: 5, split: test, prompt: text}" in snippet
    assert "{tier}" not in snippet and "parametrize" not in snippet
    assert "corrected with holm over family dp:acoustic (2 cases)" in snippet


def test_fuzz_examples_and_their_snippets(plan, write, registries):
    identity, monotone = plan.fuzz
    assert identity.given["layer"].to_yaml() == {"integers": [0, 7]}
    assert identity.max_examples == 20 and identity.invariant == "identity_at_scale_1"
    example = identity.example({"start": 8, "layer": 7})
    assert example.example_id == "dp::identity[7-8]"
    (item,) = example.interventions
    assert item.site == "blocks.7.hook_cross_out" and item.steps.start == 8
    assert example.data.n == 2 and example.args == {}
    noisy = monotone.example({"std": 0.75})
    assert noisy.interventions[0].args == {"std": 0.75, "seed": 3}
    assert noisy.measure.metric == "si_snr" and noisy.args == {"over": "std"}
    for original in (example, noisy):
        snippet = original.to_snippet()
        reloaded = compile_plan(load_spec(write(snippet, "fuzz_snippet.yaml"), **registries))
        (check,) = reloaded.fuzz
        assert check.given == {} and check.max_examples == 1
        again = check.example({})
        assert again.example_id == original.example_id
        assert again == original


def test_fuzz_values_must_come_from_the_strategies(plan):
    identity, monotone = plan.fuzz
    with pytest.raises(ValueError, match="draws layer, start; got values for layer"):
        identity.example({"layer": 1})
    with pytest.raises(ValueError, match="outside its strategy"):
        identity.example({"layer": 8, "start": 0})
    with pytest.raises(ValueError, match="outside its strategy"):
        identity.example({"layer": 1, "start": 4})
    with pytest.raises(ValueError, match="outside its strategy"):
        monotone.example({"std": "big"})
    with pytest.raises(ValueError, match="outside its strategy"):
        identity.example({"layer": True, "start": 0})


def test_fuzz_example_that_breaks_a_rule_is_a_spec_error(write, registries):
    text = FAMILIES.replace('steps: {from: "{start}"}', 'steps: {from: "{start}"}').replace(
        "start: {sampled_from: [0, 8]}", "start: {integers: [0, 15]}"
    )
    plan = compile_plan(load_spec(write(text), **registries))
    example = plan.fuzz[0].example({"layer": 0, "start": 15})
    assert example.interventions[0].steps.start == 15
    short = compile_plan(
        load_spec(
            write(text.replace("data: {n: 2}", "data: {n: 2}\n    sampler: {steps: 20}")),
            **registries,
        )
    )
    assert short.fuzz[0].example({"layer": 0, "start": 15}).sampler.steps == 20
    with pytest.raises(SpecError, match="steps 0 to 15"):
        load_spec(
            write(text.replace("start: {integers: [0, 15]}", "start: {integers: [0, 16]}")),
            **registries,
        )


def test_model_names_and_absolute_paths_stay(write, h, tmp_path):
    named = compile_plan(loads_spec(h.BASE.replace("data:", "model: small\ndata:", 1)))
    assert named.cases[0].model == "small"
    absolute = tmp_path / "m.safetensors"
    text = h.BASE.replace("data:", f"model: {absolute}\ndata:", 1)
    assert compile_plan(load_spec(write(text))).cases[0].model == str(absolute)
    assert Path(compile_plan(loads_spec(text)).cases[0].model).is_absolute()


def test_a_bare_word_model_is_a_path_beside_the_spec(tmp_path):
    # a SAM Audio model folder has no suffix: a bare word that exists beside the spec is a path
    from latentflow.spec.plan import resolve_model

    assert resolve_model("my_model", tmp_path) == "my_model"  # nothing there: reported as typed
    (tmp_path / "my_model").mkdir()
    assert resolve_model("my_model", tmp_path) == str(tmp_path.resolve() / "my_model")
    assert resolve_model("fixture", tmp_path) == "fixture"
    assert resolve_model("random:fixture:3", tmp_path) == "random:fixture:3"
    assert resolve_model("counter:no_text_injection", tmp_path) == "counter:no_text_injection"
