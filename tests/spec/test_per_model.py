"""``per_model:``: what some cases of a hypothesis do on one model (latentflow.spec.per_model).

The entries of the model the spec runs on set those cases' outcome, reason and sequential design;
on any other model the hypothesis's own keys apply. Every entry is checked whatever the model,
and a case recorded for the running model that is not one of its cases is an error at its line.
"""

from __future__ import annotations

import pytest

from latentflow.spec import Overrides, SpecError, compile_plan, loads_spec

SPEC = """\
latentflow: 1
claim: {id: demo, title: Demo, source: docs}
data: {tier: clean, seed: 0}
sampler: {steps: 8}
sequential: {max_n: 24, chunk: 4, method: t_mixture, symmetric: true}
controls:
  - {id: no_text, model: "counter:no_text_injection", outcome: fails}
hypotheses:
  - id: zero_layer
    title: "Zeroing layer {layer}'s cross-attention lowers SI-SNR"
    parametrize:
      layer: [0, 3, 6]
    interventions:
      - {site: "blocks.{layer}.hook_cross_out", op: zero}
    measure: {metric: si_snr}
    expect: {direction: decrease}
    per_model:
      fixture:
        - cases: [{layer: 6}]
          sequential: {max_n: 48}
        - cases: [{layer: 0}, {layer: 3}]
          outcome: fails
          reason: measured on the bundled model
"""


def _load(text, registries, **options):
    return loads_spec(text, "demo.yaml", **registries, **options)


def _issues(text, registries, **options):
    with pytest.raises(SpecError) as caught:
        _load(text, registries, **options)
    return [str(issue) for issue in caught.value.issues]


def _line(text, needle):
    return 1 + next(i for i, line in enumerate(text.splitlines()) if needle in line)


def test_the_running_model_s_entries_set_the_cases_they_name(registries):
    spec = _load(SPEC, registries)
    cases = {c.case_id: c for c in compile_plan(spec).cases}
    assert list(cases) == ["demo::zero_layer[0]", "demo::zero_layer[3]", "demo::zero_layer[6]"]
    for layer in (0, 3):
        case = cases[f"demo::zero_layer[{layer}]"]
        assert (case.outcome, case.reason, case.sequential.max_n, case.data.n) == (
            "fails", "measured on the bundled model", 24, 24)
        # the file's controls guard claims recorded to hold only, as for outcome: fails
        assert case.controls == ()
    six = cases["demo::zero_layer[6]"]
    assert (six.outcome, six.reason, six.sequential.max_n, six.data.n) == ("holds", None, 48, 48)
    assert six.sequential.chunk == 4 and six.sequential.method == "t_mixture"  # the rest is the file's
    assert [c.id for c in six.controls] == ["no_text"]
    assert dict(spec.hypotheses[0].per_model) == {
        "fixture": {"outcome": "fails", "reason": "measured on the bundled model"}}
    assert spec.hypotheses[2].per_model == {"fixture": {"sequential": {"max_n": 48}}}


def test_on_another_model_the_hypothesis_s_own_keys_apply(registries):
    spec = _load(SPEC, registries, model="random:fixture")
    plan = compile_plan(spec, Overrides(model="random:fixture"))
    assert {(c.outcome, c.sequential.max_n) for c in plan.cases} == {("holds", 24)}
    assert all(h.per_model == {} for h in spec.hypotheses)
    # compiled for a model other than the one its entries were applied for: refused
    with pytest.raises(ValueError, match="per_model: entries were applied for model 'random:fixture'"):
        compile_plan(spec)
    with pytest.raises(ValueError, match="load it for 'random:fixture'"):
        compile_plan(_load(SPEC, registries), Overrides(model="random:fixture"))


def test_cases_recorded_for_another_model_need_not_exist_on_the_running_one(registries):
    text = SPEC.replace("cases: [{layer: 6}]", "cases: [{layer: 9}]")
    assert compile_plan(_load(text, registries, model="random:fixture"), Overrides(model="random:fixture"))
    (issue,) = _issues(text, registries)
    assert issue.startswith(f"demo.yaml:{_line(text, 'layer: 9')}: hypotheses[0].per_model.fixture[0].cases: "
                            "case layer=9 is not a case of this hypothesis on fixture")
    assert "allowed: layer=0, layer=3, layer=6 (its cases on this model)" in issue


def test_an_entry_without_cases_sets_every_case(registries):
    text = (SPEC.split("    per_model:\n", maxsplit=1)[0]
            + "    per_model:\n      fixture:\n        - {outcome: fails, reason: measured}\n")
    plan = compile_plan(_load(text, registries))
    assert {(c.outcome, c.reason) for c in plan.cases} == {("fails", "measured")}
    text += "        - {cases: [{layer: 3}], sequential: {max_n: 48}}\n"
    (issue,) = _issues(text, registries)
    assert issue.startswith(f"demo.yaml:{_line(text, 'layer: 3}]')}: hypotheses[0].per_model.fixture[1].cases: "
                            f"case layer=3 is named again (the entry at line {_line(text, '- {outcome')} names it too)")


def test_an_entry_s_outcome_holds_replaces_the_hypothesis_s_failure_and_its_reason(registries):
    text = SPEC.replace("    per_model:\n", "    outcome: fails\n    reason: recorded everywhere\n    per_model:\n")
    text = text.replace("          sequential: {max_n: 48}", "          outcome: holds")
    cases = {c.case_id: c for c in compile_plan(_load(text, registries)).cases}
    assert (cases["demo::zero_layer[6]"].outcome, cases["demo::zero_layer[6]"].reason) == ("holds", None)
    assert cases["demo::zero_layer[0]"].reason == "measured on the bundled model"


@pytest.mark.parametrize(("old", "new", "where", "message"), [
    ("      fixture:\n", "      counter:nope:\n", "counter:nope:",
     "hypotheses[0].per_model.counter:nope: unknown model: model 'counter:nope'"),
    ("      fixture:\n", "      no/such/model.safetensors:\n", "no/such/model",
     "hypotheses[0].per_model.no/such/model.safetensors: unknown model: no such model file or folder"),
    ("cases: [{layer: 6}]", "cases: [{tier: 6}]", "tier: 6",
     "hypotheses[0].per_model.fixture[0].cases[0]: a case is named by every parameter of the hypothesis"),
    ("cases: [{layer: 6}]", "cases: [{layer: 3}]", "{layer: 0}, {layer: 3}",
     "hypotheses[0].per_model.fixture[1].cases: case layer=3 is named again (the entry at line"),
    ("          reason: measured on the bundled model\n", "", "          outcome: fails",
     "hypotheses[0].per_model.fixture[1].reason: outcome: fails needs a reason"),
    ("          sequential: {max_n: 48}", "          reason: why", "reason: why",
     "hypotheses[0].per_model.fixture[0].reason: reason is only for outcome: fails"),
    ("          sequential: {max_n: 48}", "          notes: why", "notes: why",
     "hypotheses[0].per_model.fixture[0].notes: unknown key; got 'notes'; allowed: cases, outcome, reason, sequential"),
    ("          sequential: {max_n: 48}", "          sequential: {max_m: 48}", "max_m",
     "hypotheses[0].per_model.fixture[0].sequential.max_m: unknown key; got 'max_m'"),
    ("          sequential: {max_n: 48}\n", "", "cases: [{layer: 6}]",
     "hypotheses[0].per_model.fixture[0]: an entry sets something for its cases; allowed: outcome, reason, sequential"),
    ("          outcome: fails\n", "          outcome: broken\n", "outcome: broken",
     "hypotheses[0].per_model.fixture[1].outcome: "),
])
def test_a_broken_entry_is_reported_at_its_line_on_any_model(registries, old, new, where, message):
    text = SPEC.replace(old, new)
    assert text != SPEC
    for model in (None, "random:fixture"):
        issues = _issues(text, registries, model=model)
        assert any(i.startswith(f"demo.yaml:{_line(text, where)}: {message}") for i in issues), (model, issues)


def test_a_hypothesis_without_parametrize_names_no_cases(registries):
    text = SPEC.replace("    parametrize:\n      layer: [0, 3, 6]\n", "").replace("blocks.{layer}", "blocks.2").replace(
        "layer {layer}'s", "a layer's")
    issues = _issues(text, registries)
    assert any("per_model.fixture[0].cases: the hypothesis has one case (no parametrize): name none" in i
               for i in issues), issues


def test_the_section_is_a_mapping_of_lists(registries):
    text = SPEC.split("    per_model:\n", maxsplit=1)[0] + "    per_model: [fixture]\n"
    (issue,) = _issues(text, registries)
    assert issue.startswith(f"demo.yaml:{_line(text, 'per_model:')}: hypotheses[0].per_model: expected a mapping "
                            "model name -> list of entries")
    text = SPEC.split("    per_model:\n", maxsplit=1)[0] + "    per_model:\n      fixture: {outcome: fails}\n"
    (issue,) = _issues(text, registries)
    assert "hypotheses[0].per_model.fixture: expected a non-empty list of entries" in issue


def test_placeholders_in_a_record_s_text_are_left_as_written(registries):
    text = SPEC.replace("reason: measured on the bundled model", "reason: 'layer {layer} sits at the threshold'")
    case = compile_plan(_load(text, registries)).cases[0]
    assert case.reason == "layer {layer} sits at the threshold"


def test_the_json_schema_knows_the_section():
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    from latentflow.spec.json_schema import spec_json_schema

    validator = jsonschema.Draft202012Validator(spec_json_schema())
    assert list(validator.iter_errors(yaml.safe_load(SPEC))) == []
    wrong = yaml.safe_load(SPEC.replace("          sequential: {max_n: 48}", "          notes: why"))
    assert [e.json_path for e in validator.iter_errors(wrong)] == ["$.hypotheses[0].per_model.fixture[0]"]
