"""``controls:``: read, merged (file, then hypothesis), defaulted and refused with file:line."""

from __future__ import annotations

import pytest

from latentflow.spec import SpecError, compile_plan, load_spec, loads_spec

CONTRAST = """\
    controls:
      - id: cross_zero
        title: zeroing cross-attention instead must not pass
        interventions:
          - {site: blocks.*.hook_cross_out, op: zero}
"""


def _spec(h, body: str = CONTRAST, top: str = "") -> str:
    return h.edit("hypotheses:\n", top + "hypotheses:\n") + body


def test_an_intervention_control_is_negative_by_default(h, write, registries):
    spec = load_spec(write(_spec(h)), **registries)
    (control,) = spec.hypotheses[0].controls
    assert (control.id, control.kind, control.outcome, control.model) == ("cross_zero", "interventions", "fails", None)
    assert control.interventions[0].site == "blocks.*.hook_cross_out"
    assert control.negative


def test_file_controls_come_first_and_skip_claims_recorded_as_failing(h, write, registries):
    top = "controls:\n  - {id: no_text, model: 'counter:no_text_injection', outcome: fails}\n"
    second = ("  - id: h2\n    title: recorded\n    interventions: [{site: hook_text_proj, op: zero}]\n"
              "    measure: {metric: stoi}\n    expect: {direction: decrease}\n"
              "    outcome: fails\n    reason: measured\n")
    spec = load_spec(write(_spec(h, CONTRAST + second, top)), **registries)
    assert [c.id for c in spec.hypotheses[0].controls] == ["no_text", "cross_zero"]
    assert spec.hypotheses[1].controls == ()
    plan = compile_plan(spec)
    assert [c.id for c in plan.cases[0].controls] == ["no_text", "cross_zero"]


def test_a_case_snippet_carries_its_controls_and_reloads(h, write, registries):
    spec = load_spec(write(_spec(h)), **registries)
    snippet = compile_plan(spec).cases[0].to_snippet()
    assert "controls:" in snippet and "cross_zero" in snippet
    again = loads_spec(snippet, "snippet.yaml", **registries)
    assert again.hypotheses[0].controls == spec.hypotheses[0].controls


def test_placeholders_fill_control_interventions(h, write, registries):
    body = h.edit("  - id: h\n", "  - id: h\n    parametrize: {layer: [1, 2]}\n", h.BASE).split("hypotheses:\n")[1]
    body += ("    controls:\n      - id: other_layer\n        interventions:\n"
             "          - {site: 'blocks.{layer}.hook_cross_out', op: zero}\n")
    spec = load_spec(write(h.BASE.split("hypotheses:\n")[0] + "hypotheses:\n" + body), **registries)
    assert [c.controls[0].interventions[0].site for c in spec.hypotheses] == [
        "blocks.1.hook_cross_out", "blocks.2.hook_cross_out"]


# (case id, control YAML, line needle, field suffix, shown value or None, allowed fragments)
REFUSED = [
    ("unknown counter-model", "      - {id: c, model: 'counter:no_text', outcome: fails}\n", "counter:no_text",
     "controls[0].model", "'counter:no_text'", ["unknown model", "registered counter-models: drifting_attention", "counter:<name>"]),
    ("missing checkpoint", "      - {id: c, model: missing.safetensors, outcome: fails}\n", "missing.safetensors",
     "controls[0].model", "'missing.safetensors'", ["unknown model: no such path", "a checkpoint path"]),
    ("unknown outcome", "      - {id: c, model: 'counter:no_text_injection', outcome: broken}\n", "outcome: broken",
     "controls[0].outcome", "'broken'", ["allowed: holds, fails"]),
    ("model without outcome", "      - {id: c, model: 'counter:no_text_injection'}\n", "id: c",
     "controls[0].outcome", None, ["must say which outcome", "holds, fails"]),
    ("nothing changed", "      - {id: c, outcome: fails}\n", "id: c",
     "controls[0]", None, ["a model, interventions, or both"]),
    ("unknown key", "      - {id: c, modle: 'counter:no_text_injection', outcome: fails}\n", "modle",
     "controls[0].modle", "'modle'", ["allowed: id, title, notes, model, interventions, outcome", "did you mean 'model'"]),
    ("unknown operation", "      - id: c\n        interventions: [{site: hook_text_proj, op: zeroo}]\n", "op: zeroo",
     "controls[0].interventions[0].op", "'zeroo'", ["registered operations", "did you mean 'zero'"]),
]


@pytest.mark.parametrize("label, control, needle, field, value, allowed", REFUSED, ids=[c[0] for c in REFUSED])
def test_bad_controls_are_refused_with_their_line(h, write, registries, label, control, needle, field, value, allowed):
    text = _spec(h, "    controls:\n" + control)
    path = write(text)
    with pytest.raises(SpecError) as error:
        load_spec(path, **registries)
    h.assert_reported(error.value, path, h.lineno(text, needle), f"hypotheses[0].{field}", value, allowed)


def test_duplicate_ids_are_refused(h, write, registries):
    text = _spec(h, CONTRAST + "      - {id: cross_zero, model: fixture, outcome: holds}\n")
    path = write(text)
    with pytest.raises(SpecError, match=r"two controls of one hypothesis share an id; got 'cross_zero'"):
        load_spec(path, **registries)


def test_an_intervention_control_needs_interventions_to_replace(h, write, registries):
    body = ("    measure: {metric: attention_entropy, compare: internal, site: blocks.0.attn.hook_pattern}\n")
    text = h.BASE.replace("    interventions:\n      - site: hook_text_proj\n        op: zero\n", "")
    text = text.replace("    measure:\n      metric: stoi\n", body) + CONTRAST
    path = write(text)
    with pytest.raises(SpecError) as error:
        load_spec(path, **registries)
    h.assert_reported(error.value, path, h.lineno(text, "- id: cross_zero"),
                      "hypotheses[0].controls[0].interventions", None,
                      ["this hypothesis has none", "a model control"])


def test_controls_need_hypotheses(h, write, registries):
    text = h.BASE.split("hypotheses:\n")[0] + (
        "controls: [{id: c, model: fixture, outcome: holds}]\n"
        "fuzz:\n  - id: f\n    invariant: identity_at_scale_1\n"
        "    interventions: [{site: hook_text_proj, op: scale, args: {factor: 1.0}}]\n")
    path = write(text)
    with pytest.raises(SpecError) as error:
        load_spec(path, **registries)
    h.assert_reported(error.value, path, h.lineno(text, "controls:"), "controls", None, ["hypotheses: [...]"])


def test_fuzz_checks_take_no_controls(h, write, registries):
    text = h.BASE + ("fuzz:\n  - id: f\n    invariant: identity_at_scale_1\n"
                     "    interventions: [{site: hook_text_proj, op: scale, args: {factor: 1.0}}]\n"
                     "    controls: [{id: c, model: fixture, outcome: holds}]\n")
    path = write(text)
    with pytest.raises(SpecError) as error:
        load_spec(path, **registries)
    h.assert_reported(error.value, path, h.lineno(text, "    controls:"), "fuzz[0].controls", "'controls'",
                      ["unknown key", "allowed: id, title"])
