"""Valid specs load into immutable, fully-defaulted objects."""

from __future__ import annotations

import dataclasses

import pytest

from latentflow.spec import ALL, Data, Expect, IndexSelection, Sampler, load_spec, loads_spec

FULL = """\
latentflow: 1
claim:
  id: dual_pathway
  title: Additive text injection controls semantic identity
  source: "arXiv:2606.10046"
  paper: {stoi_small: -0.219, note: "d=-0.89"}
  notes: orthogonal probing
model: fixture
data: {tier: noisy, n: 16, seed: 3, split: test, prompt: text+span}
sampler: {method: midpoint, steps: 12}
hypotheses:
  - id: ca
    title: CA to zero in deep blocks late
    paper: -9.85
    interventions:
      - site: blocks.*.hook_cross_out
        op: zero
        layers: {from: 6}
        steps: {from: 4, to: 9}
      - site: blocks.*.attn.hook_pattern
        op: freeze_pattern
        args: {from_step: 4}
        layers: 2
        steps: {only: [5, 4]}
    measure: {metric: sar, args: {}}
    expect: {direction: two-sided, test: bootstrap, alpha: 0.01, min_effect_size: 0.3, null_value: -1, resamples: 2000}
  - id: swap
    title: swap
    data: {tier: clean, n: 4}
    sampler: {steps: 16}
    source: {prompt: original, seed: 9}
    interventions: [{site: hook_text_proj, op: patch}]
    measure: {metric: si_snr, compare: baseline}
    expect: {direction: equivalent, margin: [-0.3, 0.1]}
    outcome: fails
    reason: measured otherwise
"""


def test_full_spec_loads_with_every_field(registries):
    spec = loads_spec(FULL, "full.yaml", **registries)
    assert spec.version == 1 and spec.file == "full.yaml" and spec.model == "fixture"
    assert spec.claim.paper == {"stoi_small": -0.219, "note": "d=-0.89"}
    assert spec.data == Data("noisy", 16, 3, "test", "text+span")
    assert spec.sampler == Sampler("midpoint", 12)
    ca, swap = spec.hypotheses
    zero, freeze = ca.interventions
    assert zero.layers == IndexSelection(start=6) and zero.steps == IndexSelection(start=4, stop=9)
    assert zero.steps.resolve(12) == (4, 5, 6, 7, 8, 9) and zero.layers.resolve(8) == (6, 7)
    assert freeze.layers.only == (2,) and freeze.steps.only == (4, 5)
    assert freeze.sites() == ("blocks.2.attn.hook_pattern",)
    assert ca.measure.compare == "target" and ca.measure.reference == "prompted"
    assert ca.expect == Expect("two-sided", "bootstrap", 0.01, 0.3, None, -1.0, 2000)
    assert ca.paper == -9.85 and ca.outcome == "holds" and ca.reason is None
    assert swap.data == Data("clean", 4, 3, "test", "text+span"), (
        "hypothesis data overrides file data field by field"
    )
    assert swap.sampler == Sampler("midpoint", 16)
    assert swap.source.prompt == "original" and swap.source.seed == 9
    assert swap.measure.reference is None
    assert swap.expect.margin == (-0.3, 0.1) and swap.expect.test == "tost"
    assert (swap.outcome, swap.reason) == ("fails", "measured otherwise")


def test_defaults(h):
    spec = loads_spec(h.BASE)
    (hyp,) = spec.hypotheses
    assert spec.model == "fixture"
    assert spec.data == Data("clean", 8, seed=0, split="test", prompt="text")
    assert spec.sampler == Sampler("euler", 16)
    assert spec.family is None and spec.families == () and spec.fuzz == ()
    (item,) = hyp.interventions
    assert item.layers is None, "a single site has no layer selection"
    assert item.steps == ALL and item.args == {}
    assert hyp.expect == Expect("decrease", "paired_t", 0.05, None, None, 0.0, None)
    assert hyp.variant is None and hyp.family is None
    assert (
        loads_spec(
            h.BASE.replace("op: zero", "op: zero\n        layers: all").replace(
                "site: hook_text_proj", "site: blocks.*.hook_mlp_out"
            )
        )
        .hypotheses[0]
        .interventions[0]
        .layers
        == ALL
    )


def test_results_are_immutable(h):
    spec = loads_spec(h.BASE)
    with pytest.raises(dataclasses.FrozenInstanceError):
        spec.model = "other"
    with pytest.raises(TypeError):
        spec.hypotheses[0].interventions[0].args["x"] = 1
    hash(spec.hypotheses[0].interventions[0])


def test_symmetric_margin_and_equivalence_default_test(h):
    spec = loads_spec(
        h.edit("      direction: decrease\n", "      direction: equivalent\n      margin: 0.2\n")
    )
    assert spec.hypotheses[0].expect.margin == (-0.2, 0.2)
    assert spec.hypotheses[0].expect.test == "tost"


def test_internal_measure_without_interventions(registries):
    text = """\
latentflow: 1
claim: {id: entropy, title: Entropy, source: paper}
data: {tier: clean, n: 4}
hypotheses:
  - id: rate
    title: rate
    measure: {metric: entropy_rate, compare: internal, site: blocks.*.attn.hook_pattern, layers: [1], steps: {from: 4}}
    expect: {direction: decrease, test: wilcoxon, null_value: 0.05}
"""
    (hyp,) = loads_spec(text, **registries).hypotheses
    assert hyp.interventions == ()
    assert hyp.measure.site == "blocks.*.attn.hook_pattern" and hyp.measure.layers.only == (1,)
    assert hyp.measure.steps == IndexSelection(start=4) and hyp.measure.reference is None


def test_anchors_and_merge_keys_share_sections(registries):
    text = """\
latentflow: 1
claim: {id: shared, title: Shared, source: s}
data: {tier: clean, n: 4}
hypotheses:
  - id: a
    title: a
    interventions: &zero_text [{site: hook_text_proj, op: zero}]
    measure: {metric: stoi}
    expect: &decrease {direction: decrease, alpha: 0.01}
  - id: b
    title: b
    interventions: *zero_text
    measure: {metric: pesq}
    expect:
      <<: *decrease
      min_effect_size: 0.5
"""
    a, b = loads_spec(text, **registries).hypotheses
    assert a.interventions == b.interventions
    assert b.expect.alpha == 0.01 and b.expect.min_effect_size == 0.5


def test_load_spec_reads_files(write, h):
    path = write(h.BASE, "sub.yml")
    spec = load_spec(path)
    assert spec.file == str(path)
    assert spec.hypotheses[0].line == 10
