"""Every kind of spec mistake names file:line, the field, the bad value and what is allowed."""

from __future__ import annotations

import pytest

from latentflow.spec import SpecError, load_spec

H = "hypotheses[0]"
I0 = f"{H}.interventions[0]"

# (case id, [(old, new) edits of BASE], line needle, field, shown value or None, allowed fragments)
CASES = [
    (
        "unknown top-level key",
        [("hypotheses:\n", "sampeler: {steps: 8}\nhypotheses:\n")],
        "sampeler",
        "sampeler",
        "'sampeler'",
        ["allowed: latentflow, claim, model, data, sampler", "did you mean 'sampler'?"],
    ),
    (
        "unknown nested key",
        [("  title: Demo claim\n", "  tittle: Demo claim\n")],
        "tittle",
        "claim.tittle",
        "'tittle'",
        ["allowed: id, title, source, paper, notes", "did you mean 'title'?"],
    ),
    (
        "missing required key",
        [("  source: docs\n", "")],
        "id: demo",
        "claim.source",
        None,
        ["missing required key 'source'", "claim needs id, title, source"],
    ),
    (
        "wrong type",
        [("  n: 8\n", "  n: many\n")],
        "n: many",
        "data.n",
        "'many'",
        ["expected an integer", "integers from 1"],
    ),
    (
        "out of range",
        [("  n: 8\n", "  n: 0\n")],
        "n: 0",
        "data.n",
        "0",
        ["integers from 1 to 1000000"],
    ),
    (
        "bad choice",
        [("  tier: clean\n", "  tier: noisey\n")],
        "noisey",
        "data.tier",
        "'noisey'",
        ["allowed: clean, noisy, env", "did you mean 'noisy'?"],
    ),
    (
        "unsupported version",
        [("latentflow: 1\n", "latentflow: 2\n")],
        "latentflow: 2",
        "latentflow",
        "2",
        ["allowed: 1"],
    ),
    (
        "sampler method",
        [("hypotheses:\n", "sampler: {method: heun}\nhypotheses:\n")],
        "heun",
        "sampler.method",
        "'heun'",
        ["allowed: euler, midpoint"],
    ),
    (
        "layers on a single site",
        [("        op: zero\n", "        op: zero\n        layers: [1]\n")],
        "layers: [1]",
        f"{I0}.layers",
        "'hook_text_proj'",
        ["blocks.*"],
    ),
    (
        "step beyond the sampler",
        [("        op: zero\n", "        op: zero\n        steps: {from: 16}\n")],
        "steps:",
        f"{I0}.steps",
        "{from: 16}",
        ["steps 0 to 15", "the sampler has 16 steps"],
    ),
    (
        "backwards range",
        [
            (
                "      - site: hook_text_proj\n",
                "      - site: blocks.*.hook_cross_out\n        layers: {from: 5, to: 2}\n",
            )
        ],
        "layers:",
        f"{I0}.layers.to",
        "2",
        ["an integer >= 5"],
    ),
    (
        "bad selection",
        [("        op: zero\n", "        op: zero\n        steps: early\n")],
        "steps: early",
        f"{I0}.steps",
        "'early'",
        ["all, a step index, a list of indices"],
    ),
    (
        "malformed site",
        [("site: hook_text_proj", "site: blocks..hook_cross_out")],
        "site:",
        f"{I0}.site",
        "'blocks..hook_cross_out'",
        ["dot-separated names"],
    ),
    (
        "bad direction",
        [("      direction: decrease\n", "      direction: down\n")],
        "direction: down",
        f"{H}.expect.direction",
        "'down'",
        ["allowed: decrease, increase, equivalent, two-sided"],
    ),
    (
        "margin on a difference claim",
        [("      direction: decrease\n", "      direction: decrease\n      margin: 0.2\n")],
        "margin",
        f"{H}.expect.margin",
        "0.2",
        ["min_effect_size"],
    ),
    (
        "equivalence without margin",
        [("      direction: decrease\n", "      direction: equivalent\n")],
        "direction: equivalent",
        f"{H}.expect.margin",
        None,
        ["margin: 0.2", "[low, high]"],
    ),
    (
        "test that does not fit",
        [("      direction: decrease\n", "      direction: decrease\n      test: tost\n")],
        "test: tost",
        f"{H}.expect.test",
        "'tost'",
        ["paired_t, wilcoxon, permutation, bootstrap"],
    ),
    (
        "alpha out of range",
        [("      direction: decrease\n", "      direction: decrease\n      alpha: 0.7\n")],
        "alpha",
        f"{H}.expect.alpha",
        "0.7",
        ["(0.0, 0.5)"],
    ),
    (
        "effect size with equivalence",
        [
            (
                "      direction: decrease\n",
                "      direction: equivalent\n      margin: 0.2\n      min_effect_size: 0.5\n",
            )
        ],
        "min_effect_size",
        f"{H}.expect.min_effect_size",
        "0.5",
        ["margin"],
    ),
    (
        "backwards margin",
        [
            (
                "      direction: decrease\n",
                "      direction: equivalent\n      margin: [0.3, -0.1]\n",
            )
        ],
        "margin",
        f"{H}.expect.margin",
        "[0.3, -0.1]",
        ["low < high"],
    ),
    (
        "resamples for a t-test",
        [("      direction: decrease\n", "      direction: decrease\n      resamples: 5000\n")],
        "resamples",
        f"{H}.expect.resamples",
        "5000",
        ["wilcoxon, permutation, bootstrap"],
    ),
    (
        "fails without reason",
        [("      direction: decrease\n", "      direction: decrease\n    outcome: fails\n")],
        "outcome: fails",
        f"{H}.reason",
        None,
        ["reason: <text>"],
    ),
    (
        "reason without fails",
        [("      direction: decrease\n", "      direction: decrease\n    reason: because\n")],
        "reason:",
        f"{H}.reason",
        "'because'",
        ["outcome: fails"],
    ),
    (
        "unknown outcome",
        [("      direction: decrease\n", "      direction: decrease\n    outcome: maybe\n")],
        "outcome:",
        f"{H}.outcome",
        "'maybe'",
        ["allowed: holds, fails"],
    ),
    (
        "unknown family",
        [("      direction: decrease\n", "      direction: decrease\n    family: acoustc\n")],
        "family:",
        f"{H}.family",
        "'acoustc'",
        ["families declared under families: acoustic", "did you mean 'acoustic'?"],
    ),
    (
        "compare target without interventions",
        [("    interventions:\n      - site: hook_text_proj\n        op: zero\n", "")],
        "- id: h",
        f"{H}.interventions",
        None,
        ["measure.compare: internal"],
    ),
    (
        "internal measure without site",
        [("      metric: stoi\n", "      metric: stoi\n      compare: internal\n")],
        "compare: internal",
        f"{H}.measure.site",
        None,
        ["site: blocks.*.attn.hook_pattern"],
    ),
    (
        "site on an output measure",
        [("      metric: stoi\n", "      metric: stoi\n      site: hook_memory\n")],
        "site: hook_memory",
        f"{H}.measure.site",
        "'hook_memory'",
        ["compare: internal"],
    ),
    (
        "reference with compare baseline",
        [
            (
                "      metric: stoi\n",
                "      metric: stoi\n      compare: baseline\n      reference: alternative\n",
            )
        ],
        "reference",
        f"{H}.measure.reference",
        "'alternative'",
        ["compare: baseline or internal"],
    ),
    (
        "source that patches from itself",
        [("    measure:\n", "    source: {prompt: original}\n    measure:\n")],
        "source: {prompt",
        f"{H}.source.prompt",
        "'original'",
        ["prompt: alternative, or a different seed"],
    ),
    (
        "variant and parametrize",
        [
            (
                "    title: Zeroing the text projection lowers STOI\n",
                "    title: 'Zeroing {x}'\n    variant: mine\n    parametrize: {x: [1, 2]}\n",
            )
        ],
        "variant: mine",
        f"{H}.variant",
        "'mine'",
        ["variant or parametrize, not both"],
    ),
    (
        "section that is no mapping",
        [("claim:\n  id: demo\n  title: Demo claim\n  source: docs\n", "claim: demo\n")],
        "claim: demo",
        "claim",
        "'demo'",
        ["expected a mapping", "keys id, title, source, paper, notes"],
    ),
    (
        "empty section",
        [("claim:\n  id: demo\n  title: Demo claim\n  source: docs\n", "claim:\n")],
        "claim:",
        "claim",
        "null",
        ["expected a mapping"],
    ),
    (
        "nested section that is no mapping",
        [("    measure:\n      metric: stoi\n", "    measure: stoi\n")],
        "measure: stoi",
        f"{H}.measure",
        "'stoi'",
        ["keys metric, compare, reference"],
    ),
    (
        "empty hypotheses",
        [("hypotheses:\n", "hypotheses: []\nunused:\n")],
        "hypotheses: []",
        "hypotheses",
        "[]",
        [],
    ),
]


@pytest.mark.parametrize(
    "edits, needle, field, value, allowed", [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_structural_error_is_located_and_explained(
    edits, needle, field, value, allowed, h, reject, registries
):
    base = h.BASE
    if field == f"{H}.family":
        base = base.replace(
            "hypotheses:\n", "families:\n  acoustic: {correction: holm}\nhypotheses:\n"
        )
    reject(base, edits, needle, field, value, allowed, **registries)


# Name errors need the registries (sites, operations, metrics).
NAME_CASES = [
    (
        "unknown site",
        [("site: hook_text_proj", "site: hook_text_prj")],
        "hook_text_prj",
        f"{I0}.site",
        "'hook_text_prj'",
        ["nearest real sites: hook_text_proj"],
    ),
    (
        "unknown layer of a pattern",
        [
            (
                "      - site: hook_text_proj\n",
                "      - site: blocks.*.hook_cross_out\n        layers: [1, 30]\n",
            )
        ],
        "site: blocks",
        f"{I0}.site",
        "'blocks.30.hook_cross_out'",
        ["nearest real sites: blocks.3.hook_cross_out"],
    ),
    (
        "unknown wildcard site",
        [("site: hook_text_proj", "site: blocks.*.hook_cros_out")],
        "hook_cros_out",
        f"{I0}.site",
        "'blocks.*.hook_cros_out'",
        ["nearest real sites: blocks.0.hook_cross_out"],
    ),
    (
        "unknown operation",
        [("op: zero", "op: scael")],
        "op: scael",
        f"{I0}.op",
        "'scael'",
        [
            "registered operations: add_noise, freeze_pattern",
            "uniform_attention, zero",
            "did you mean 'scale'?",
        ],
    ),
    (
        "unknown metric",
        [("metric: stoi", "metric: stio")],
        "metric: stio",
        f"{H}.measure.metric",
        "'stio'",
        ["registered metrics: attention_entropy, block_ratio, block_ratio_db", "did you mean 'stoi'?"],
    ),
    (
        "unknown argument",
        [("op: zero", "op: scale\n        args: {factr: 2}")],
        "args:",
        f"{I0}.args.factr",
        "'factr'",
        ["factor (number, required: multiplier)", "did you mean 'factor'?"],
    ),
    (
        "argument of the wrong type",
        [("op: zero", "op: scale\n        args:\n          factor: high")],
        "factor: high",
        f"{I0}.args.factor",
        "'high'",
        ["number, required"],
    ),
    (
        "missing argument",
        [("op: zero", "op: freeze_pattern")],
        "op: freeze_pattern",
        f"{I0}.args.from_step",
        None,
        ["needs argument 'from_step'", "from_step (integer >= 0, required: first frozen step)"],
    ),
    (
        "argument not among the choices",
        [("op: zero", "op: mean_ablate\n        args: {over: space}")],
        "args:",
        f"{I0}.args.over",
        "'space'",
        ["one of examples|time"],
    ),
    (
        "boolean where a number belongs",
        [("op: zero", "op: set\n        args: {value: yes}")],
        "args:",
        f"{I0}.args.value",
        "true",
        ["number, required"],
    ),
    (
        "patch without a source run",
        [("op: zero", "op: patch")],
        "op: patch",
        f"{I0}.op",
        "'patch'",
        ["source: {prompt: alternative}"],
    ),
    (
        "source run nobody reads",
        [("    measure:\n", "    source: {prompt: alternative}\n    measure:\n")],
        "source: {prompt",
        f"{H}.source",
        "{prompt: 'alternative'}",
        ["an operation that uses it: patch"],
    ),
    (
        "metric that cannot compare internal",
        [
            (
                "      metric: stoi\n",
                "      metric: stoi\n      compare: internal\n      site: hook_memory\n",
            )
        ],
        "compare: internal",
        f"{H}.measure.compare",
        "'internal'",
        ["compare: target, baseline"],
    ),
    (
        "internal metric on outputs",
        [("metric: stoi", "metric: attention_entropy")],
        "metric: attention_entropy",
        f"{H}.measure.compare",
        "'target'",
        ["compare: internal"],
    ),
    (
        "internal site unknown",
        [
            (
                "      metric: stoi\n",
                "      metric: entropy_rate\n      compare: internal\n      site: blocks.1.attn.hook_patern\n",
            )
        ],
        "hook_patern",
        f"{H}.measure.site",
        "'blocks.1.attn.hook_patern'",
        ["nearest real sites: blocks.1.attn.hook_pattern"],
    ),
]


@pytest.mark.parametrize(
    "edits, needle, field, value, allowed",
    [c[1:] for c in NAME_CASES],
    ids=[c[0] for c in NAME_CASES],
)
def test_name_error_lists_what_exists(edits, needle, field, value, allowed, h, reject, registries):
    reject(h.BASE, edits, needle, field, value, allowed, **registries)


def test_names_are_not_checked_without_registries(h, write):
    text = h.edit("op: zero", "op: scael", h.edit("site: hook_text_proj", "site: hook_nowhere"))
    spec = load_spec(write(text))
    assert spec.hypotheses[0].interventions[0].op == "scael"


def test_site_predicate_with_names_for_suggestions(h, write):
    def exists(pattern: str) -> bool:
        return pattern == "hook_text_proj"

    exists.names = ("hook_text_proj", "hook_memory")
    path = write(h.edit("site: hook_text_proj", "site: hook_text_proj_x"))
    with pytest.raises(SpecError) as info:
        load_spec(path, sites=exists)
    h.assert_reported(
        info.value,
        path,
        13,
        f"{I0}.site",
        "'hook_text_proj_x'",
        ["nearest real sites: hook_text_proj"],
    )
    load_spec(write(h.BASE), sites=exists)


def test_every_problem_of_a_file_is_reported_together(h, write, registries):
    text = h.BASE
    for old, new in [
        ("  tier: clean\n", "  tier: loud\n"),
        ("op: zero", "op: nope"),
        ("metric: stoi", "metric: nope"),
        (
            "      direction: decrease\n",
            "      direction: decrease\n      alpha: 2\n      margin: 1\n",
        ),
    ]:
        text = h.edit(old, new, text)
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path, **registries)
    fields = [i.field for i in info.value.issues]
    assert fields == [
        "data.tier",
        f"{I0}.op",
        f"{H}.measure.metric",
        f"{H}.expect.alpha",
        f"{H}.expect.margin",
    ]
    assert [i.line for i in info.value.issues] == sorted(i.line for i in info.value.issues)
    message = str(info.value)
    assert message.startswith(f"5 problems in {path}:")
    assert all(str(issue) in message for issue in info.value.issues)


def test_duplicate_ids_name_the_first(h, write):
    text = h.BASE + h.BASE[h.BASE.index("  - id: h") :].replace("Zeroing", "Again zeroing")
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    issue = h.assert_reported(
        info.value, path, 19, "hypotheses[1].id", "'h'", ["ids unique within the file"]
    )
    assert "duplicate id 'h' (first at line 10)" in issue.message


def test_duplicate_keys_in_a_spec_name_both_lines(h, write):
    text = h.edit(
        "    title: Zeroing the text projection lowers STOI\n",
        "    title: Zeroing the text projection lowers STOI\n    title: again\n",
    )
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    issue = h.assert_reported(info.value, path, 12, f"{H}.title", None, [])
    assert "duplicate key 'title' (first at line 11)" in issue.message


def test_yaml_without_marker_is_not_a_spec(write):
    path = write("name: config\nvalues: [1, 2]\n")
    with pytest.raises(SpecError) as info:
        load_spec(path)
    (issue,) = info.value.issues
    assert str(issue).startswith(f"{path}:1: (document): not a latentflow spec")
    assert "latentflow: 1" in str(issue)


def test_families_nobody_joins(h, write):
    text = h.edit(
        "hypotheses:\n",
        "family: {correction: holm}\nfamilies:\n  spare: {correction: bh}\nhypotheses:\n",
    )
    text = h.edit(
        "      direction: decrease\n", "      direction: decrease\n    family: spare\n", text
    )
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)  # the file-level family would be empty: every hypothesis names another
    h.assert_reported(
        info.value,
        path,
        h.lineno(text, "family: {correction"),
        "family",
        None,
        ["remove the file-level family"],
    )
    text = h.edit("hypotheses:\n", "families:\n  spare: {correction: bh}\nhypotheses:\n")
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    h.assert_reported(
        info.value, path, h.lineno(text, "spare"), "families.spare", "'spare'", ["family: NAME"]
    )
    text = h.edit("hypotheses:\n", "family: {correction: fdr}\nhypotheses:\n")
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    h.assert_reported(
        info.value,
        path,
        h.lineno(text, "fdr"),
        "family.correction",
        "'fdr'",
        ["bonferroni, holm, bh, none"],
    )


FUZZ = """\
latentflow: 1
claim: {id: engine, title: Engine invariants, source: tests}
data: {tier: clean, n: 2}
fuzz:
  - id: scale_one
    invariant: identity_at_scale_1
    given:
      layer: {integers: [0, 7]}
    interventions:
      - site: "blocks.{layer}.hook_cross_out"
        op: scale
        args: {factor: 1.0}
"""

FUZZ_CASES = [
    (
        "unknown invariant",
        [("identity_at_scale_1", "identity_at_scale_one")],
        "invariant:",
        "fuzz[0].invariant",
        "'identity_at_scale_one'",
        [
            "registered invariants: freeze_past_last_step_is_baseline",
            "did you mean 'identity_at_scale_1'?",
        ],
    ),
    (
        "unknown strategy",
        [("{integers: [0, 7]}", "{ints: [0, 7]}")],
        "ints",
        "fuzz[0].given.layer.ints",
        "'ints'",
        ["integers, floats, sampled_from", "did you mean 'integers'?"],
    ),
    (
        "backwards strategy",
        [("[0, 7]", "[7, 0]")],
        "integers",
        "fuzz[0].given.layer.integers",
        "[7, 0]",
        ["low <= high"],
    ),
    (
        "range end that is no site",
        [("[0, 7]", "[0, 8]")],
        "site:",
        "fuzz[0].interventions[0].site",
        "'blocks.8.hook_cross_out'",
        ["nearest real sites"],
    ),
    (
        "invariant that needs a measure",
        [("identity_at_scale_1", "monotone_in_scale\n    args: {over: layer}")],
        "- id: scale_one",
        "fuzz[0].measure",
        None,
        ["measure: {metric: ..., compare: baseline}"],
    ),
    (
        "measure an invariant ignores",
        [
            (
                "        args: {factor: 1.0}\n",
                "        args: {factor: 1.0}\n    measure: {metric: si_snr, compare: baseline}\n",
            )
        ],
        "measure:",
        "fuzz[0].measure",
        "'si_snr'",
        ["no measure key for this invariant"],
    ),
    (
        "unused given",
        [
            (
                "      layer: {integers: [0, 7]}\n",
                "      layer: {integers: [0, 7]}\n      seed: {integers: [0, 9]}\n",
            )
        ],
        "given:",
        "fuzz[0].given.seed",
        "'seed'",
        ["placeholders used in this check: layer"],
    ),
    (
        "typed value out of place",
        [("args: {factor: 1.0}", 'args: {factor: "{layer}x"}')],
        "args:",
        "fuzz[0].interventions[0].args.factor",
        "'0x'",
        ["number, required"],
    ),
]


@pytest.mark.parametrize(
    "edits, needle, field, value, allowed",
    [c[1:] for c in FUZZ_CASES],
    ids=[c[0] for c in FUZZ_CASES],
)
def test_fuzz_errors(edits, needle, field, value, allowed, reject, registries):
    reject(FUZZ, edits, needle, field, value, allowed, **registries)


def test_a_broken_intervention_field_does_not_hide_its_unknown_site_or_operation(h, write, registries):
    # layers on a site without its blocks. prefix: the layers error, and the site error with the
    # suggestion; steps out of range beside an unknown operation: both
    text = h.edit("      - site: hook_text_proj\n        op: zero\n",
                  "      - site: hook_cross_out\n        op: zero\n        layers: [1, 2]\n"
                  "      - site: hook_text_proj\n        op: zeroo\n        steps: [99]\n")
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path, **registries)
    issue = h.assert_reported(info.value, path, h.lineno(text, "site: hook_cross_out"), f"{I0}.site",
                              "'hook_cross_out'", ["nearest real sites: blocks.", "did you mean 'blocks.*.hook_cross_out'?"])
    assert issue.message == "unknown hook site"
    h.assert_reported(info.value, path, h.lineno(text, "layers: [1, 2]"), f"{I0}.layers", "'hook_cross_out'",
                      ["this site names no open block index", "did you mean 'blocks.*.hook_cross_out'?"])
    h.assert_reported(info.value, path, h.lineno(text, "op: zeroo"), f"{H}.interventions[1].op", "'zeroo'",
                      ["did you mean 'zero'?"])
    h.find_issue(info.value, h.lineno(text, "steps: [99]"), f"{H}.interventions[1].steps")
    assert len(info.value.issues) == 4, str(info.value)


def test_a_broken_measure_field_does_not_hide_its_unknown_metric(h, write, registries):
    text = h.edit("      metric: stoi\n", "      metric: stoii\n      site: blocks.0.hook_cross_out\n")
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path, **registries)
    h.assert_reported(info.value, path, h.lineno(text, "metric: stoii"), f"{H}.measure.metric", "'stoii'",
                      ["did you mean 'stoi'?"])
    h.find_issue(info.value, h.lineno(text, "site: blocks.0"), f"{H}.measure.site")
    assert len(info.value.issues) == 2, str(info.value)


def test_an_unknown_site_without_the_block_prefix_suggests_it(h, write, registries):
    text = h.edit("site: hook_text_proj", "site: hook_resid_pre")
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path, **registries)
    h.assert_reported(info.value, path, h.lineno(text, "hook_resid_pre"), f"{I0}.site", "'hook_resid_pre'",
                      ["did you mean 'blocks.*.hook_resid_pre'?"])
