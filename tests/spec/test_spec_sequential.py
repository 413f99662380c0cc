"""`sequential:` in the spec language: parsed at file or hypothesis level, checked against the
expectation and the family's correction, and carried into the compiled case."""

from __future__ import annotations

from pathlib import Path

import pytest

from latentflow.spec import Overrides, SpecError, compile_plan, load_spec, loads_spec

SEQ = "      direction: decrease\n"
HYP_SEQ = "      direction: decrease\n    sequential: {max_n: 24, chunk: 4, symmetric: true}\n"


def test_a_hypothesis_level_design_replaces_data_n(h, write):
    spec = load_spec(write(h.edit(SEQ, HYP_SEQ)))
    (hyp,) = spec.hypotheses
    assert (hyp.sequential.max_n, hyp.sequential.chunk, hyp.sequential.method) == (24, 4, "t_mixture")
    assert hyp.data.n == 24 and spec.data.n == 8  # the file's n stays for fixed-n hypotheses
    (case,) = compile_plan(spec).cases
    assert case.sequential == hyp.sequential and case.data.n == 24


def test_a_fixed_n_spec_has_no_design(h, write):
    (case,) = compile_plan(load_spec(write(h.BASE))).cases
    assert case.sequential is None and case.data.n == 8


def test_a_file_level_design_is_inherited_and_overridden(h, write):
    text = h.edit("  n: 8\n", "")
    text = h.edit("hypotheses:\n", "sequential: {max_n: 16, chunk: 4, method: betting, bounds: [-1, 1]}\nhypotheses:\n", text)
    text = h.edit(SEQ, SEQ + "    sequential: {chunk: 8}\n", text)
    spec = load_spec(write(text))
    (hyp,) = spec.hypotheses
    assert (hyp.sequential.max_n, hyp.sequential.chunk, hyp.sequential.bounds) == (16, 8, (-1.0, 1.0))
    assert spec.data.n == 16 and hyp.data.n == 16


def test_an_override_sets_max_n_and_a_smoke_run_cuts_it(h, write):
    spec = load_spec(write(h.edit(SEQ, HYP_SEQ)))
    (case,) = compile_plan(spec, Overrides(n=32)).cases
    assert (case.data.n, case.sequential.max_n, case.sequential.chunk) == (32, 32, 4)
    (case,) = compile_plan(spec, Overrides(max_n=2)).cases
    assert (case.data.n, case.sequential.max_n, case.sequential.chunk) == (2, 2, 2)


def test_the_snippet_reproduces_the_design(h, write):
    (case,) = compile_plan(load_spec(write(h.edit(SEQ, HYP_SEQ)))).cases
    (again,) = compile_plan(loads_spec(case.to_snippet(), "snippet.yaml")).cases
    assert again.sequential == case.sequential and again.data == case.data


@pytest.mark.parametrize(
    "design, field, value, allowed",
    [
        ("{max_n: 24}", "sequential.chunk", None, ["chunk: examples between decisions"]),
        ("{max_n: 4, chunk: 8}", "sequential", None, ["chunk 8 is larger than max_n 4"]),
        ("{max_n: 24, chunk: 4, method: tmix}", "sequential.method", "'tmix'", ["t_mixture, betting", "did you mean 't_mixture'"]),
        ("{max_n: 24, chunk: 4, method: betting}", "sequential", None, ["needs bounds"]),
        ("{max_n: 24, chunk: 4, bounds: [-1, 1]}", "sequential", None, ["bounds are for method 'betting' only"]),
        ("{max_n: 24, chunk: 4, method: betting, bounds: [0, 1]}", "sequential.bounds", "[0, 1]", ["low < 0 < high"]),
        ("{max_n: 24, chunk: 4, prior_scale: 0}", "sequential.prior_scale", "0", ["numbers in (0.0"]),
        ("{max_n: 24, chunk: 4, stop: early}", "sequential.stop", "'stop'", ["max_n, chunk, method, bounds, prior_scale, symmetric"]),
    ],
)
def test_a_broken_design_is_reported_where_it_is(h, reject, design, field, value, allowed):
    needle = "sequential:"
    reject(h.BASE, [(SEQ, f"{SEQ}    sequential: {design}\n")], needle, f"hypotheses[0].{field}", value, allowed)


@pytest.mark.parametrize(
    "expect, key, value, allowed",
    [
        ("direction: decrease, test: wilcoxon", "test", "'wilcoxon'", ["the sequential method decides", "paired_t, tost"]),
        ("direction: decrease, min_effect_size: 0.5", "min_effect_size", "0.5", ["not a minimum effect size"]),
        ("direction: decrease, test: bootstrap, resamples: 1000", "resamples", "1000", ["draw nothing at random"]),
    ],
)
def test_an_expectation_sequential_cannot_express_is_refused_with_why(h, reject, expect, key, value, allowed):
    edits = [("    expect:\n      direction: decrease\n",
              f"    expect: {{{expect}}}\n    sequential: {{max_n: 24, chunk: 4, symmetric: true}}\n")]
    reject(h.BASE, edits, "expect:", f"hypotheses[0].expect.{key}", value, allowed)


def test_an_equivalence_margin_outside_the_betting_bounds_is_refused(h, reject):
    edits = [(SEQ, "      direction: equivalent\n      margin: 2\n"
                   "    sequential: {max_n: 24, chunk: 4, method: betting, bounds: [-1, 1]}\n")]
    reject(h.BASE, edits, "sequential:", "hypotheses[0].sequential", None, ["must lie inside the bounds"])


def test_data_n_beside_a_design_is_refused(h, reject):
    reject(h.BASE, [(SEQ, HYP_SEQ + "    data: {n: 12}\n")], "data: {n: 12}", "hypotheses[0].data.n", "12",
           ["sequential.max_n sets the number of examples"])
    reject(h.BASE, [("hypotheses:\n", "sequential: {max_n: 24, chunk: 4, symmetric: true}\nhypotheses:\n")], "n: 8", "data.n", "8",
           ["leave data.n out"])


def test_corrections_are_checked_against_the_design(h, reject, write):
    seq_family = [("hypotheses:\n", "family: {correction: bh}\nhypotheses:\n"), (SEQ, HYP_SEQ)]
    reject(h.BASE, seq_family, "family:", "family.correction", "'bh'",
           ["not valid with a sequential design", "or e_bh where it is allowed", "bonferroni, holm, e_bh"])
    reject(h.BASE, [("hypotheses:\n", "family: {correction: e_bh}\nhypotheses:\n")], "family:",
           "family.correction", "'e_bh'", ["not valid with a fixed-n design", "needs e-values"])
    # e_bh needs e-values valid at the stopping time: the t mixture gives them for a two-sided
    # (point-null) claim only, so a one-sided t_mixture family is refused and names why
    reject(h.BASE, [("hypotheses:\n", "family: {correction: e_bh}\nhypotheses:\n"), (SEQ, HYP_SEQ)], "family:",
           "family.correction", "'e_bh'", ["not valid with method 't_mixture' and alternative 'decrease'"])
    for correction in ("bonferroni", "holm"):
        text = h.edit("hypotheses:\n", f"family: {{correction: {correction}}}\nhypotheses:\n", h.edit(SEQ, HYP_SEQ))
        (case,) = compile_plan(load_spec(write(text))).cases
        assert case.correction == correction
    two_sided = HYP_SEQ.replace("direction: decrease", "direction: two-sided")
    text = h.edit("hypotheses:\n", "family: {correction: e_bh}\nhypotheses:\n", h.edit(SEQ, two_sided))
    (case,) = compile_plan(load_spec(write(text))).cases
    assert case.correction == "e_bh"


def test_a_family_cannot_mix_sequential_and_fixed_n(h, write):
    text = h.edit("hypotheses:\n", "family: {correction: holm}\nhypotheses:\n", h.edit(SEQ, HYP_SEQ))
    text += ("  - id: g\n    title: fixed\n    interventions: [{site: hook_text_proj, op: zero}]\n"
             "    measure: {metric: stoi}\n    expect: {direction: decrease}\n")
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    h.assert_reported(info.value, path, h.lineno(text, "family:"), "family.correction", "'holm'",
                      ["mixes sequential and fixed-n", "a family of their own"])


def test_the_documented_example_file_compiles_to_a_sequential_family():
    path = Path(__file__).resolve().parents[2] / "docs" / "examples" / "sequential_dual_pathway.yaml"
    cases = compile_plan(load_spec(path)).cases
    assert len(cases) == 8
    assert {(c.sequential.max_n, c.sequential.chunk, c.sequential.method, c.correction, c.family_size)
            for c in cases} == {(24, 4, "t_mixture", "holm", 8)}
