"""Reading a spec's `derive:` section and `{derived: NAME.QUANTITY}` values (latentflow.spec.derived).

The provider here is the interface's other side written out: it returns fixed values and keeps
the requests it got, so these tests pin what the reader asks for and where the values land.
Computing them on a real model is tests/derivation/test_derived_values.py.
"""

from __future__ import annotations

import json

import pytest

from latentflow.spec import SpecError, compile_plan, loads_spec
from latentflow.spec.derived import DerivationError
from latentflow.spec.json_schema import spec_json_schema
from latentflow.spec.schema import thaw

SPEC = """\
latentflow: 1
claim: {id: demo, title: Demo, source: docs}
data: {tier: clean, n: 4}
sampler: {steps: 8}
derive:
  convergence: {n: 6, seed: 5}
  plans: {from: lsac_tuning, tier: env}
hypotheses:
  - id: rate
    title: "Layer {layer} is stable"
    parametrize:
      layer: {derived: convergence.stable_layers}
    measure: {metric: entropy_rate, compare: internal, site: "blocks.{layer}.attn.hook_pattern"}
    expect: {direction: decrease, null_value: {derived: convergence.threshold}}
  - id: freeze
    title: Freeze the fast layers
    interventions:
      - {site: blocks.*.attn.hook_pattern, op: freeze_pattern, args: {from_step: 4},
         layers: {derived: convergence.fast_layers}}
    measure: {metric: si_snr}
    expect: {direction: decrease}
  - id: lsac
    title: LSAC
    interventions:
      - {site: blocks.*.attn.hook_pattern, op: lsac, args: {plan: {derived: plans.balanced}}}
    measure: {metric: si_snr}
    expect: {direction: equivalent, margin: 0.2}
"""

VALUES = {"convergence": {"threshold": 0.0123, "stable_layers": [2, 5], "fast_layers": [0, 1, 3, 4],
                          "rates": [0.02] * 6},
          "plans": {"safe": {1: 8}, "balanced": {1: 4, 3: 9}, "aggressive": {1: 2}}}


class Provider:
    def __init__(self, values=VALUES):
        self.values = values
        self.calls = []

    def __call__(self, requests, model, file):
        self.calls.append((requests, model, file))
        return {r.name: self.values[r.name] for r in requests}


@pytest.fixture
def registries(registries):
    """The suite's site names with the real operations and measures (lsac, entropy_rate)."""
    from latentflow.execution.fuzz import INVARIANTS
    from latentflow.execution.session import metric_catalog
    from latentflow.interventions import OPERATIONS

    return {**registries, "operations": OPERATIONS, "metrics": metric_catalog(), "invariants": INVARIANTS}


def _issues(text, **options):
    with pytest.raises(SpecError) as caught:
        loads_spec(text, "demo.yaml", **options)
    return [str(issue) for issue in caught.value.issues]


def test_references_are_replaced_everywhere_a_value_goes(registries):
    provider = Provider()
    plan = compile_plan(loads_spec(SPEC, "demo.yaml", derived=provider, **registries))
    cases = {c.case_id: c for c in plan.cases}
    assert list(cases) == ["demo::rate[2]", "demo::rate[5]", "demo::freeze", "demo::lsac"]
    assert cases["demo::rate[5]"].measure.site == "blocks.5.attn.hook_pattern"
    assert cases["demo::rate[2]"].expect.null_value == 0.0123
    assert cases["demo::freeze"].interventions[0].layers.only == (0, 1, 3, 4)
    assert dict(cases["demo::lsac"].interventions[0].args["plan"]) == {1: 4, 3: 9}
    # one call for the file, each derivation with every setting filled in (file defaults included)
    ((requests, model, file),) = provider.calls
    assert (model, file) == (None, "demo.yaml")
    settings = {r.name: (r.method, dict(r.settings), r.line) for r in requests}
    assert settings == {
        "convergence": ("convergence", {"tier": "clean", "n": 6, "seed": 5, "steps": 8, "sampler": "euler",
                                        "threshold": "median", "digits": 2}, 6),
        "plans": ("lsac_tuning", {"tier": "env", "n": 4, "seed": 0, "steps": 8, "sampler": "euler",
                                       "threshold": 0.01}, 7),
    }


def test_each_case_names_the_derived_values_it_used(registries):
    plan = compile_plan(loads_spec(SPEC, "demo.yaml", derived=Provider(), **registries))
    used = {c.case_id: thaw(c.derived) for c in plan.cases}
    assert used == {
        "demo::rate[2]": {"convergence.stable_layers": [2, 5], "convergence.threshold": 0.0123},
        "demo::rate[5]": {"convergence.stable_layers": [2, 5], "convergence.threshold": 0.0123},
        "demo::freeze": {"convergence.fast_layers": [0, 1, 3, 4]},
        "demo::lsac": {"plans.balanced": {1: 4, 3: 9}},
    }
    # a hypothesis without references used none
    text = SPEC + "  - {id: plain, title: Plain, interventions: [{site: hook_text_proj, op: zero}], " \
                  "measure: {metric: si_snr}, expect: {direction: decrease}}\n"
    plain = compile_plan(loads_spec(text, "demo.yaml", derived=Provider(), **registries)).cases[-1]
    assert (plain.case_id, plain.derived) == ("demo::plain", {})


def test_a_derived_value_out_of_range_is_reported_at_the_reference(registries):
    bad = Provider({**VALUES, "convergence": {**VALUES["convergence"], "threshold": "high"}})
    issues = _issues(SPEC, derived=bad, **registries)
    assert len(issues) == 1 and issues[0].startswith("demo.yaml:14: hypotheses[0].expect.null_value:"), issues


def test_an_empty_derived_list_is_an_error_at_the_reference(registries):
    empty = Provider({**VALUES, "convergence": {**VALUES["convergence"], "fast_layers": []}})
    (issue,) = _issues(SPEC, derived=empty, **registries)
    assert issue.startswith("demo.yaml:19: hypotheses[1].interventions[0].layers: the derived "
                            "convergence.fast_layers is empty on this model"), issue


def test_without_a_provider_nothing_is_guessed(registries):
    issues = _issues(SPEC, **registries)
    assert [i.split(":", 3)[:3] for i in issues] == [["demo.yaml", "6", " derive.convergence"],
                                                     ["demo.yaml", "7", " derive.plans"]]
    assert all("derived values need the model the spec runs on" in i for i in issues)


@pytest.mark.parametrize("edit, expected", [
    (("convergence.threshold}}", "convergenc.threshold}}"),
     "demo.yaml:14: hypotheses[0].expect.null_value: no derivation 'convergenc' in the file's derive: section"),
    (("convergence.threshold}}", "convergence.median}}"),
     "demo.yaml:14: hypotheses[0].expect.null_value: convergence provides no quantity 'median'"),
    (("{from: lsac_tuning, tier: env}", "{from: lsac, tier: env}"),
     "demo.yaml:7: derive.plans.from: unknown derivation method; got 'lsac'; allowed: convergence, lsac_tuning"),
    # names the language had before "calibration" came to mean statistical calibration only
    (("{from: lsac_tuning, tier: env}", "{from: lsac_calibration, tier: env}"),
     "demo.yaml:7: derive.plans.from: the derivation method 'lsac_calibration' was renamed 'lsac_tuning'; "
     "got 'lsac_calibration'; allowed: convergence, lsac_tuning, architecture"),
    (("plans: {from: lsac_tuning, tier: env}", "lsac_calibration: {tier: env}"),
     "demo.yaml:7: derive.lsac_calibration: the derivation method 'lsac_calibration' was renamed 'lsac_tuning'; "
     "got 'lsac_calibration'; allowed: convergence, lsac_tuning, architecture; rename the entry and its "
     "{derived: lsac_calibration.QUANTITY} values to lsac_tuning, or keep the name and add from: lsac_tuning"),
    (("{plan: {derived: plans.balanced}}", "{preset: balanced, tier: noisy, calibrated_on: fixture}"),
     "demo.yaml:25: hypotheses[2].interventions[0].args.calibrated_on: argument 'calibrated_on' of operation "
     "'lsac' was renamed 'tuned_on'"),
    (("{n: 6, seed: 5}", "{n: 6, seeds: 5}"), "demo.yaml:6: derive.convergence.seeds: unknown key"),
    (("{n: 6, seed: 5}", "{n: 0}"), "demo.yaml:6: derive.convergence.n: out of range"),
    (("data: {tier: clean, n: 4}", "data: {tier: clean, n: {derived: convergence.threshold}}"),
     "demo.yaml:3: data.n: a derived value stands only in hypotheses and fuzz checks"),
])
def test_mistakes_name_the_line_and_what_is_allowed(registries, edit, expected):
    issues = _issues(SPEC.replace(*edit), derived=Provider(), **registries)
    assert any(i.startswith(expected) for i in issues), issues


def test_an_unused_derivation_is_an_error(registries):
    text = SPEC.replace("  plans: {from: lsac_tuning, tier: env}\n", "  plans: {from: lsac_tuning}\n"
                        "  spare: {from: convergence}\n")
    issues = _issues(text, derived=Provider({**VALUES, "spare": VALUES["convergence"]}), **registries)
    assert [i for i in issues if "spare" in i] == [
        "demo.yaml:8: derive.spare: declared but no {derived: ...} value uses it; got 'spare'; "
        "allowed: use it as {derived: spare.<quantity>}, or remove it"]


def test_a_derivation_the_provider_cannot_make_is_reported_at_its_entry(registries):
    def failing(requests, model, file):
        raise DerivationError("convergence on model 'x': a rate of change needs at least 2 steps")

    issues = _issues(SPEC, derived=failing, **registries)
    assert "demo.yaml:6: derive.convergence: cannot derive: convergence on model 'x': a rate of change needs " \
           "at least 2 steps" in issues


def test_the_json_schema_knows_the_section_and_the_reference_form():
    jsonschema = pytest.importorskip("jsonschema")
    import yaml

    validator = jsonschema.Draft202012Validator(spec_json_schema())
    assert list(validator.iter_errors(yaml.safe_load(SPEC))) == []
    wrong = yaml.safe_load(SPEC.replace("{n: 6, seed: 5}", "{n: 6, sead: 5}"))
    assert [e.json_path for e in validator.iter_errors(wrong)] == ["$.derive.convergence"]
    assert json.dumps(spec_json_schema()).count('"derived"') >= 2
