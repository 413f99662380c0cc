"""Parametrisation: readable, deterministic case ids and typed placeholder substitution."""

from __future__ import annotations

import pytest

from latentflow.spec import SpecError, compile_plan, load_spec, loads_spec
from latentflow.spec.expand import case_label, fill, placeholders_in, variant_label

GRID = """\
latentflow: 1
claim: {id: dual_pathway, title: Dual pathway, source: paper}
data: {tier: clean, n: 8}
hypotheses:
  - id: text_proj_zero
    title: "Zero block {layer}'s cross-attention on {tier}"
    parametrize:
      tier: [clean, noisy, env]
      layer: {from: 0, to: 6, by: 3}
    data: {tier: "{tier}"}
    interventions:
      - site: "blocks.{layer}.hook_cross_out"
        op: zero
    measure: {metric: sar}
    expect: {direction: decrease}
"""


def test_grid_ids_are_readable_and_in_declaration_order(registries):
    plan = compile_plan(loads_spec(GRID, "grid.yaml", **registries))
    assert [c.case_id for c in plan.cases] == [
        "dual_pathway::text_proj_zero[clean-0]",
        "dual_pathway::text_proj_zero[clean-3]",
        "dual_pathway::text_proj_zero[clean-6]",
        "dual_pathway::text_proj_zero[noisy-0]",
        "dual_pathway::text_proj_zero[noisy-3]",
        "dual_pathway::text_proj_zero[noisy-6]",
        "dual_pathway::text_proj_zero[env-0]",
        "dual_pathway::text_proj_zero[env-3]",
        "dual_pathway::text_proj_zero[env-6]",
    ]
    case = plan.cases[4]
    assert case.data.tier == "noisy"
    assert case.interventions[0].site == "blocks.3.hook_cross_out"
    assert case.title == "Zero block 3's cross-attention on noisy"
    assert dict(case.params) == {"tier": "noisy", "layer": 3}
    assert case.line == 5 and case.source_file == "grid.yaml"


def test_expansion_is_deterministic():
    first = compile_plan(loads_spec(GRID, "grid.yaml"))
    second = compile_plan(loads_spec(GRID, "grid.yaml"))
    assert first == second
    assert [c.case_id for c in first.cases] == [c.case_id for c in second.cases]


def test_rows_with_typed_values():
    text = """\
latentflow: 1
claim: {id: freeze, title: Freezing, source: paper}
data: {tier: noisy, n: 8}
hypotheses:
  - id: freeze
    title: "Freezing layers {layers} from step {step}"
    parametrize:
      - {layers: [1, 6, 9], step: 4, factor: 0.5, flag: true}
      - {layers: [2, 3], step: 8, factor: 2, flag: false}
    interventions:
      - site: blocks.*.attn.hook_pattern
        op: freeze_pattern
        layers: "{layers}"
        args: {from_step: "{step}", factor: "{factor}", flag: "{flag}", label: "L{layers}/s{step}"}
    measure: {metric: si_snr}
    expect: {direction: equivalent, margin: 0.5}
"""
    cases = compile_plan(loads_spec(text)).cases
    assert [c.case_id for c in cases] == [
        "freeze::freeze[1_6_9-4-0.5-true]",
        "freeze::freeze[2_3-8-2-false]",
    ]
    first = cases[0].interventions[0]
    assert first.layers.only == (1, 6, 9)
    assert dict(first.args) == {"from_step": 4, "factor": 0.5, "flag": True, "label": "L1,6,9/s4"}
    assert (
        type(first.args["from_step"]) is int
        and type(cases[1].interventions[0].args["factor"]) is int
    )


def test_placeholder_inside_id_and_literal_braces():
    text = GRID.replace("id: text_proj_zero", "id: ca_zero_L{layer}").replace(
        'title: "Zero block {layer}\'s cross-attention on {tier}"',
        'title: "{{literal}} {tier} {layer}"',
    )
    cases = compile_plan(loads_spec(text)).cases
    assert cases[0].case_id == "dual_pathway::ca_zero_L0[clean-0]"
    assert cases[0].title == "{literal} clean 0"


def test_fill_and_scan_rules():
    assert fill("{x}", {"x": [1, 2]}) == [1, 2]
    assert fill("{ x }", {"x": 3}) == 3
    assert fill("a{x}b", {"x": 0.25}) == "a0.25b"
    assert fill("{{x}}", {"x": 1}) == "{x}"
    assert placeholders_in("blocks.{layer}.{site}") == ["layer", "site"]
    assert placeholders_in("{{not}} one") == []
    for bad in ("{layer", "layer}", "{1x}", "{}"):
        with pytest.raises(ValueError):
            placeholders_in(bad)
    assert (
        variant_label({"tier": "env", "on": False, "ls": (1, 2), "x": 1e-05})
        == "tier=env-on=false-ls=1,2-x=1e-05"
    )
    # in case ids: pytest's parametrize form, only characters `pytest -k` accepts
    assert case_label({"tier": "env", "on": False, "ls": (1, 2), "x": -1e-05, "s": "a b=c::d"}) == (
        "env-false-1_2--1e-05-a_b_c_d"
    )


def test_unquoted_placeholder_is_explained(h, write):
    text = """\
latentflow: 1
claim: {id: c, title: t, source: s}
data: {tier: clean, n: 8}
hypotheses:
  - id: h
    title: t
    parametrize: {group: [[1, 2], [3]]}
    interventions:
      - site: blocks.*.hook_cross_out
        op: zero
        layers: {group}
    measure: {metric: sar}
    expect: {direction: decrease}
"""
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    issue = h.assert_reported(
        info.value,
        path,
        11,
        "hypotheses[0].interventions[0].layers",
        "{group: null}",
        ['write "{group}"'],
    )
    assert "must be quoted" in issue.message
    assert len(info.value.issues) == 1, (
        "the quoted-placeholder hint replaces an 'unused parameter' error"
    )


@pytest.mark.parametrize(
    "parametrize, field, message",
    [
        ("{layer: []}", "hypotheses[0].parametrize.layer", "non-empty list"),
        ("{layer: [0, 0]}", "hypotheses[0].parametrize.layer[1]", "duplicate value"),
        (
            "{layer: {from: 3, to: 1}}",
            "hypotheses[0].parametrize.layer.to",
            "ends before it starts",
        ),
        (
            "{layer: {from: 0, to: 3, step: 1}}",
            "hypotheses[0].parametrize.layer.step",
            "unknown key",
        ),
        ("{layer: [{a: 1}]}", "hypotheses[0].parametrize.layer[0]", "text, a number"),
        ("[{layer: 0}, {lay: 1}]", "hypotheses[0].parametrize[1]", "same parameters"),
        ("[{layer: 0}, {layer: 0}]", "hypotheses[0].parametrize[1]", "duplicate row"),
        ("{2x: [1]}", "hypotheses[0].parametrize.2x", "not a parameter name"),
        ("[]", "hypotheses[0].parametrize", "at least one row"),
        (
            "{layer: {from: 0, to: 200}, tier: {from: 0, to: 200}}",
            "hypotheses[0].parametrize",
            "expands to 40401 cases",
        ),
    ],
)
def test_bad_parametrize(parametrize, field, message, write, h):
    text = (
        GRID.replace(
            "    parametrize:\n      tier: [clean, noisy, env]\n      layer: {from: 0, to: 6, by: 3}\n",
            f"    parametrize: {parametrize}\n",
        )
        .replace(' on {tier}"', '"')
        .replace('    data: {tier: "{tier}"}\n', "")
    )
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    issue = h.find_issue(info.value, 7, field)
    assert message in str(issue)


def test_variant_label_written_by_hand_joins_the_id():
    text = (
        GRID.split("    title:", maxsplit=1)[0].replace("id: text_proj_zero", "id: single")
        + """\
    variant: deep_blocks
    title: t
    interventions: [{site: blocks.9.hook_cross_out, op: zero}]
    measure: {metric: sar}
    expect: {direction: decrease}
"""
    )
    (case,) = compile_plan(loads_spec(text)).cases
    assert case.case_id == "dual_pathway::single[deep_blocks]"
    # a label pytest -k would reject is refused
    with pytest.raises(SpecError, match=r"variant: expected a label of letters, digits and _ \. \+ - .*got 'deep blocks'"):
        loads_spec(text.replace("deep_blocks", "deep blocks"))
