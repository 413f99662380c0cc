"""``measure.versus``: a paired test between two intervened runs, read, rendered back and
refused with file:line."""

from __future__ import annotations

import pytest

from latentflow.spec import SpecError, compile_plan, load_spec, loads_spec

# the hypothesis of conftest.BASE zeroes the text projection; versus: scaling it by a half
VERSUS = """\
    measure:
      metric: stoi
      versus:
        title: the text projection halved
        interventions:
          - {site: hook_text_proj, op: scale, args: {factor: 0.5}}
"""


def _with(h, measure: str = VERSUS, extra: str = "") -> str:
    return h.edit("    measure:\n      metric: stoi\n", measure) + extra


def _refused(h, write, registries, text: str, needle: str, field: str, value, allowed: list[str]) -> None:
    path = write(text)
    with pytest.raises(SpecError) as error:
        load_spec(path, **registries)
    h.assert_reported(error.value, path, h.lineno(text, needle), field, value, allowed)


def test_versus_is_read_into_the_measure_and_the_case(h, write, registries):
    spec = load_spec(write(_with(h)), **registries)
    versus = spec.hypotheses[0].measure.versus
    assert versus.title == "the text projection halved"
    ((iv),) = versus.interventions
    assert (iv.site, iv.op, dict(iv.args)) == ("hook_text_proj", "scale", {"factor": 0.5})
    case = compile_plan(spec).cases[0]
    assert case.measure.versus == versus
    assert case.measure.to_yaml()["versus"] == {
        "title": "the text projection halved",
        "interventions": [{"site": "hook_text_proj", "op": "scale", "args": {"factor": 0.5}, "steps": "all"}]}


def test_a_snippet_carries_the_versus_run_and_reloads(h, write, registries):
    spec = load_spec(write(_with(h)), **registries)
    snippet = compile_plan(spec).cases[0].to_snippet()
    again = loads_spec(snippet, "snippet.yaml", **registries)
    assert again.hypotheses[0].measure == spec.hypotheses[0].measure


def test_placeholders_and_parametrisation_fill_the_versus_run(h, write, registries):
    text = h.edit("  - id: h\n", "  - id: h\n    parametrize: {factor: [0.25, 0.5]}\n", _with(h))
    text = text.replace("args: {factor: 0.5}", 'args: {factor: "{factor}"}')
    spec = load_spec(write(text), **registries)
    assert [hyp.measure.versus.interventions[0].args["factor"] for hyp in spec.hypotheses] == [0.25, 0.5]


REFUSED = [
    ("unknown key", VERSUS.replace("title:", "titel:"), "titel:", "hypotheses[0].measure.versus.titel", "'titel'",
     ["unknown key", "allowed: title, interventions", "did you mean 'title'"]),
    ("no interventions", "    measure:\n      metric: stoi\n      versus: {title: nothing}\n", "versus:",
     "hypotheses[0].measure.versus.interventions", None, ["missing required key 'interventions'"]),
    ("not a mapping", "    measure:\n      metric: stoi\n      versus: [1]\n", "versus:",
     "hypotheses[0].measure.versus", None, ["expected a mapping", "title, interventions"]),
    ("unknown operation", VERSUS.replace("op: scale, args: {factor: 0.5}", "op: scael"), "op: scael",
     "hypotheses[0].measure.versus.interventions[0].op", "'scael'", ["unknown operation", "did you mean 'scale'"]),
    ("unknown site", VERSUS.replace("hook_text_proj", "hook_text_prj"), "hook_text_prj",
     "hypotheses[0].measure.versus.interventions[0].site", "'hook_text_prj'",
     ["unknown hook site", "hook_text_proj"]),
    ("layer past the model", VERSUS.replace("{site: hook_text_proj, op: scale, args: {factor: 0.5}}",
                                            "{site: blocks.*.hook_cross_out, op: zero, layers: [9]}"),
     "layers: [9]", "hypotheses[0].measure.versus.interventions[0].site", "'blocks.9.hook_cross_out'",
     ["unknown hook site", "the model has 8 blocks"]),
    ("same as the hypothesis's", VERSUS.replace("{site: hook_text_proj, op: scale, args: {factor: 0.5}}",
                                                "{site: hook_text_proj, op: zero}"),
     "versus:", "hypotheses[0].measure.versus.interventions", None,
     ["the versus run is the hypothesis's own run", "interventions that differ"]),
]


@pytest.mark.parametrize("label, measure, needle, field, value, allowed", REFUSED, ids=[c[0] for c in REFUSED])
def test_bad_versus_runs_are_refused_with_their_line(h, write, registries, label, measure, needle, field, value,
                                                     allowed):
    text = _with(h, measure)
    _refused(h, write, registries, text, needle, field, value, allowed)


def test_versus_needs_the_hypothesis_to_intervene(h, write, registries):
    text = h.BASE.replace("    interventions:\n      - site: hook_text_proj\n        op: zero\n", "")
    text = text.replace("    measure:\n      metric: stoi\n",
                        "    measure:\n      metric: attention_entropy\n      compare: internal\n"
                        "      site: blocks.0.attn.hook_pattern\n      versus:\n        interventions:\n"
                        "          - {site: blocks.0.attn.hook_pattern, op: uniform_attention}\n")
    _refused(h, write, registries, text, "versus:", "hypotheses[0].measure.versus", None,
             ["has no interventions (its run is the baseline)", "interventions: [...] beside the measure"])


def test_a_control_that_runs_the_versus_run_again_is_refused(h, write, registries):
    control = ("    controls:\n      - id: same_as_versus\n        interventions:\n"
               "          - {site: hook_text_proj, op: scale, args: {factor: 0.5}}\n")
    text = _with(h, extra=control)
    _refused(h, write, registries, text, "- id: same_as_versus", "hypotheses[0].controls[0].interventions", None,
             ["both of its arms are one run", "controls nothing"])


def test_a_versus_patch_needs_the_hypothesis_source(h, write, registries):
    text = _with(h, VERSUS.replace("op: scale, args: {factor: 0.5}", "op: patch"))
    _refused(h, write, registries, text, "op: patch", "hypotheses[0].measure.versus.interventions[0].op", "'patch'",
             ["add source"])
    # with a source, the versus run may patch, and the source counts as read
    ok = text.replace("    measure:\n", "    source: {prompt: alternative}\n    measure:\n")
    assert load_spec(write(ok, "ok.yaml"), **registries).hypotheses[0].source is not None


def test_fuzz_checks_take_no_versus(h, write, registries):
    text = h.BASE + ("fuzz:\n  - id: f\n    invariant: monotone_in_scale\n    args: {over: s}\n"
                     "    given: {s: {floats: [0.0, 1.0]}}\n"
                     "    interventions: [{site: hook_text_proj, op: scale, args: {factor: '{s}'}}]\n"
                     "    measure:\n      metric: si_snr\n      compare: baseline\n"
                     "      versus: {interventions: [{site: hook_text_proj, op: zero}]}\n")
    _refused(h, write, registries, text, "versus:", "fuzz[0].measure.versus", None,
             ["only applies to a hypothesis's measure", "no versus key in a fuzz check"])
