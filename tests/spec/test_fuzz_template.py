"""A fuzz check is compiled at load into typed values with typed placeholders: every draw a run
may make is read and checked then, and a run only substitutes drawn values (no YAML read)."""

from __future__ import annotations

import dataclasses
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from latentflow.execution.fuzz import strategy_for
from latentflow.spec import SpecError, compile_plan, load_spec, loads_spec
from latentflow.spec import schema as s
from latentflow.spec.fuzz import parse_fuzz_instance
from latentflow.spec.fuzz_template import (
    MAX_CHECKED_DRAWS,
    LayersOfSite,
    Placeholder,
    SelectionTemplate,
    Text,
    checked_draws,
)
from latentflow.spec.reader import Reader
from latentflow.spec.sections import FileContext
from latentflow.spec.yaml_loader import LineDict, LineList, load_yaml_text

SPEC = """\
latentflow: 1
claim: {id: engine, title: Engine invariants, source: tests}
data: {tier: clean, n: 2}
sampler: {steps: 16}
fuzz:
  - id: freeze_late
    title: "freeze from {k} at layer {layer}"
    invariant: freeze_past_last_step_is_baseline
    given:
      k: {integers: [2, 40]}
      layer: {integers: [0, 7]}
      start: {sampled_from: [0, 4, 15]}
    data: {n: 2}
    interventions:
      - site: "blocks.{layer}.attn.hook_pattern"
        op: freeze_pattern
        args: {from_step: "{k}"}
        steps: {from: "{start}"}
      - site: blocks.*.hook_cross_out
        op: zero
        layers: ["{layer}"]
  - id: noise_grows
    invariant: monotone_in_scale
    args: {over: std}
    given:
      std: {floats: [0.0, 2.0]}
      seed: {integers: [0, 5000]}
      tier: {sampled_from: [clean, noisy]}
      pair: {sampled_from: [[1, 2], [4, 3]]}
    data: {tier: "{tier}"}
    interventions:
      - {site: hook_text_proj, op: add_noise, args: {std: "{std}", seed: "{seed}"}}
      - {site: blocks.*.hook_cross_out, op: zero, layers: "{pair}"}
    measure: {metric: si_snr, compare: baseline}
"""


def _load(text, write, registries, name="claim.yaml"):
    return load_spec(write(text, name), **registries)


def _draws(strategies: s.FrozenDict, count: int, seed: int) -> list[dict]:
    rng = random.Random(seed)
    rows = []
    for _ in range(count):
        row = {}
        for name, strategy in strategies.items():
            if strategy.kind == "integers":
                row[name] = rng.randint(strategy.low, strategy.high)
            elif strategy.kind == "floats":
                row[name] = rng.uniform(strategy.low, strategy.high)
            else:
                row[name] = rng.choice(strategy.values)
        rows.append(row)
    return rows


def test_the_template_holds_typed_placeholders_with_their_strategies(write):
    freeze, noise = loads_spec(SPEC, "claim.yaml").fuzz
    pattern, zero = freeze.template.interventions
    layer = Placeholder("layer", s.Strategy("integers", 0, 7))
    assert pattern.site == Text(("blocks.", layer, ".attn.hook_pattern"))
    assert pattern.args == {"from_step": Placeholder("k", s.Strategy("integers", 2, 40))}
    assert pattern.steps == SelectionTemplate(
        start=Placeholder("start", s.Strategy("sampled_from", values=(0, 4, 15)))
    )
    assert pattern.op == "freeze_pattern" and pattern.layers == LayersOfSite(pattern.site)
    assert zero.layers == SelectionTemplate(only=(layer,)) and zero.site == "blocks.*.hook_cross_out"
    k = Placeholder("k", s.Strategy("integers", 2, 40))
    assert freeze.template.title == Text(("freeze from ", k, " at layer ", layer))
    assert noise.template.data.tier == Placeholder(
        "tier", s.Strategy("sampled_from", values=("clean", "noisy"))
    )
    assert noise.template.data.n == 2 and noise.template.sampler.steps == 16
    item, pairs = noise.template.interventions
    assert item.args["std"] == Placeholder("std", s.Strategy("floats", 0.0, 2.0))
    assert pairs.layers == SelectionTemplate(
        whole=Placeholder("pair", s.Strategy("sampled_from", values=((1, 2), (4, 3))))
    )
    assert noise.template.measure.metric == "si_snr"


def test_a_draw_that_breaks_a_rule_inside_a_range_fails_at_load_with_its_line(write, h):
    # the corners (layer 0 and 7) pass; layer=3 collides with the listed 3
    text = SPEC.replace('layers: ["{layer}"]', 'layers: [3, "{layer}"]')
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path)
    issue = h.assert_reported(
        info.value, path, h.lineno(text, "layers: [3,"), "fuzz[0].interventions[1].layers[1]", "3",
        [],
    )
    assert "duplicate index" in str(issue) and "(in example k=2-layer=3-start=0)" in str(issue)
    assert len(info.value.issues) == 1, "one failing draw is reported, not every one"


def test_a_name_problem_of_an_inner_draw_fails_at_load(write, registries, h):
    # Two pattern operations on one attention site when layer is drawn as 5: the corners
    # (layer 0 and 7) pass, so before compiling a check this surfaced only while it ran.
    text = SPEC.replace(
        "      - site: blocks.*.hook_cross_out\n        op: zero\n        layers: [\"{layer}\"]\n",
        "      - {site: blocks.5.attn.hook_pattern, op: uniform_attention}\n",
    )
    path = write(text)
    with pytest.raises(SpecError) as info:
        load_spec(path, **registries)
    issue = h.assert_reported(
        info.value, path, h.lineno(text, "blocks.5.attn"), "fuzz[0].interventions[1].site",
        "'blocks.5.attn.hook_pattern'", ["one pattern operation per attention site"],
    )
    assert "two pattern operations on blocks.5.attn.hook_pattern" in str(issue)
    assert "(in example k=2-layer=5-start=0)" in str(issue)
    ok = text.replace("layer: {integers: [0, 7]}", "layer: {integers: [0, 4]}")
    assert _load(ok, write, registries, "ok.yaml").fuzz[0].id == "freeze_late"


DRAWN_KEYS = """\
latentflow: 1
claim: {id: engine, title: Engine invariants, source: tests}
data: {tier: clean, n: 2}
fuzz:
  - id: grows
    invariant: monotone_in_scale
    args: {over: std}
    given:
      std: {floats: [0.0, 2.0]}
      site: {sampled_from: [blocks.*.hook_cross_out, hook_text_proj, blocks.3.hook_cross_out]}
      mode: {sampled_from: [baseline, target]}
    interventions:
      - {site: "{site}", op: add_noise, args: {std: "{std}"}}
    measure: {metric: si_snr, compare: "{mode}"}
"""


def test_a_drawn_key_that_decides_another_is_filled_as_the_reader_reads_it(write, registries):
    """A drawn site decides whether the intervention has layers, a drawn compare whether the
    measure has a reference: the compiled template decides both as reading the YAML does."""
    (check,) = compile_plan(_load(DRAWN_KEYS, write, registries)).fuzz
    raw = load_yaml_text(DRAWN_KEYS, "claim.yaml")["fuzz"][0]
    ctx = FileContext("claim.yaml", {"tier": "clean", "n": 2}, {})
    seen = set()
    for values in checked_draws(check.given):
        example = check.example(values)
        read = parse_fuzz_instance(raw, check.spec, values, Reader("claim.yaml"), ctx)
        assert (example.interventions, example.measure) == (read.interventions, read.measure)
        seen.add((example.interventions[0].layers, example.measure.reference))
    assert seen == {(s.ALL, None), (s.ALL, "prompted"), (None, None), (None, "prompted")}


def test_a_template_that_would_fill_otherwise_than_it_reads_is_refused_at_load(write):
    """The guard of compiling once: a compiled template is checked against the reader on every
    draw load reads; one that disagrees (here made to) is reported with the key and its line."""
    from latentflow.spec import fuzz

    (check,) = loads_spec(SPEC.split("  - id: noise_grows", maxsplit=1)[0], "claim.yaml").fuzz
    node = load_yaml_text(SPEC, "claim.yaml")["fuzz"][0]
    ctx = FileContext("claim.yaml", {"tier": "clean", "n": 2}, {"steps": 16})
    values = {"k": 5, "layer": 2, "start": 4}
    read = parse_fuzz_instance(node, check, values, Reader("claim.yaml"), ctx)
    reader = Reader("claim.yaml")
    assert fuzz._fills_as_read(node, check, values, read, reader) and not reader.issues
    wrong = dataclasses.replace(check.template, sampler=s.Sampler(steps=8))
    broken = dataclasses.replace(check, template=wrong)
    assert not fuzz._fills_as_read(node, broken, values, read, reader)
    (issue,) = reader.issues
    assert (issue.line, issue.field) == (node.line, "fuzz[0].sampler")
    assert "a drawn value changes how this key is read" in issue.message
    assert issue.value == "'k=5-layer=2-start=4'"


def test_filling_a_draw_gives_what_reading_the_yaml_gave(write, registries):
    """The old path (substitute the values into the YAML and read it) and the compiled one
    agree on the corners and on random draws, provenance (lines, paths) included."""
    spec = _load(SPEC, write, registries)
    raw = load_yaml_text(SPEC, "claim.yaml")
    ctx = FileContext("claim.yaml", {"tier": "clean", "n": 2}, {"steps": 16})
    plan = compile_plan(spec)
    compared = 0
    for index, check in enumerate(plan.fuzz):
        for values in _draws(check.given, 60, seed=index):
            reader = Reader("claim.yaml")
            read = parse_fuzz_instance(raw["fuzz"][index], check.spec, values, reader, ctx)
            assert read is not None, reader.issues
            example = check.example(values)
            assert example.interventions == read.interventions
            assert [(i.line, i.lines, i.path) for i in example.interventions] == [
                (i.line, i.lines, i.path) for i in read.interventions
            ]
            assert (example.measure, example.data, example.sampler) == (read.measure, read.data, read.sampler)
            assert (example.args, example.title, example.variant) == (read.args, read.title, read.variant)
            assert example.values == read.values == s.freeze(values)
            compared += 1
    assert compared == 120
    drawn = plan.fuzz[1].example({"std": 0.75, "seed": 9, "tier": "noisy", "pair": (4, 3)})
    assert drawn.interventions[0].args == {"std": 0.75, "seed": 9}
    assert drawn.interventions[1].layers == s.IndexSelection(only=(3, 4))
    assert drawn.data == s.Data(tier="noisy", n=2) and drawn.variant == "0.75-9-noisy-4_3"
    first = plan.fuzz[0].example({"k": 40, "layer": 2, "start": 15})
    assert first.interventions[0].site == "blocks.2.attn.hook_pattern"
    assert first.interventions[0].steps == s.IndexSelection(start=15)
    assert first.interventions[1].layers == s.IndexSelection(only=(2,))
    assert first.title == "freeze from 40 at layer 2"


def _yaml_nodes(value, seen=None) -> list:
    """Every LineDict/LineList or unfilled placeholder text reachable from ``value``."""
    seen = set() if seen is None else seen
    if id(value) in seen:
        return []
    seen.add(id(value))
    if isinstance(value, (LineDict, LineList)):
        return [value]
    if isinstance(value, str):
        return [value] if "{" in value else []
    if isinstance(value, dict) or hasattr(value, "items"):
        return [n for k, v in value.items() for n in _yaml_nodes(k, seen) + _yaml_nodes(v, seen)]
    if isinstance(value, (list, tuple, set, frozenset)):
        return [n for v in value for n in _yaml_nodes(v, seen)]
    if hasattr(value, "__dataclass_fields__"):
        return [n for name in value.__dataclass_fields__ for n in _yaml_nodes(getattr(value, name), seen)]
    return []


def test_a_compiled_check_holds_no_yaml(write, registries):
    plan = compile_plan(_load(SPEC, write, registries))
    for check in plan.fuzz:
        assert _yaml_nodes(check) == []
        assert _yaml_nodes(check.example(_draws(check.given, 1, seed=3)[0])) == []


def test_a_fuzz_run_reads_no_yaml(write, registries, monkeypatch):
    """Draws made by hypothesis, as a run makes them: no reader and no YAML mapping is made."""
    plan = compile_plan(_load(SPEC, write, registries))
    made = {"Reader": 0, "LineDict": 0, "LineList": 0}
    for cls in (Reader, LineDict, LineList):
        original = cls.__init__

        def counting(self, *args, _original=original, _name=cls.__name__, **kwargs):
            made[_name] += 1
            _original(self, *args, **kwargs)

        monkeypatch.setattr(cls, "__init__", counting)
    assert LineDict({}, line=1).line == 1 and made["LineDict"] == 1, "the wrapper counts"
    made["LineDict"] = 0
    examples = []

    def drawing(check):
        @settings(max_examples=30, deadline=None, database=None)
        @given(st.fixed_dictionaries({k: strategy_for(v) for k, v in check.given.items()}))
        def draw(values):
            examples.append(check.example(values))

        return draw

    for check in plan.fuzz:
        drawing(check)()
    assert len(examples) >= 40
    assert made == {"Reader": 0, "LineDict": 0, "LineList": 0}


def test_load_reads_every_draw_of_a_small_check_and_sweeps_a_large_one():
    small = {"a": s.Strategy("integers", 0, 3), "b": s.Strategy("sampled_from", values=("x", "y"))}
    assert len(checked_draws(small)) == 8
    assert {"a": 2, "b": "y"} in checked_draws(small)
    floats = checked_draws({"f": s.Strategy("floats", 0.0, 2.0)})
    assert floats == [{"f": 0.0}, {"f": 1.0}, {"f": 2.0}], "both ends and the middle"
    large = {"a": s.Strategy("integers", 0, 99), "b": s.Strategy("integers", 0, 99)}
    rows = checked_draws(large)
    assert MAX_CHECKED_DRAWS < 100 * 100 and len(rows) == 99 + 99
    assert {"a": 57, "b": 0} in rows and {"a": 0, "b": 99} in rows
    huge = checked_draws({"a": s.Strategy("integers", 0, 10**9)})
    assert huge == [{"a": 0}, {"a": 10**9}]
