"""A JSON Schema of the spec language, for editors (completion, hover, red squiggles).

It is generated from what the validator itself reads: the key lists of every section
(``latentflow.spec.parse``: TOP_KEYS, HYPOTHESIS_KEYS, ...), the allowed values
(``latentflow.spec.schema``: TIERS, TESTS, ...) and the numeric limits (MAX_N, MAX_STEPS, ...),
so the two cannot drift apart: a key the validator accepts but the schema lacks (or the other
way round) fails :func:`spec_json_schema` itself. The schema checks structure and values only;
names that depend on the model or the registries (hook sites, operations, metrics) and the
cross-field rules (``margin`` only with ``equivalent``, ...) stay with the validator.

The package ships the generated file as ``latentflow/spec/spec.schema.json``
(:data:`SCHEMA_PATH`); ``python -m latentflow.spec.json_schema`` prints it. Point an editor at it
with a first line ``# yaml-language-server: $schema=<path to spec.schema.json>``
(docs/spec-language.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from latentflow.model_names import MODEL_NAME_FORMS
from latentflow.spec import derived as d
from latentflow.spec import parse as p
from latentflow.spec import per_model
from latentflow.spec import schema as s
from latentflow.spec.controls import CONTROL_KEYS
from latentflow.spec.versus import VERSUS_KEYS
from latentflow.vocabulary import (
    COMPARES,
    CORRECTIONS,
    PROMPT_KINDS,
    SAMPLER_METHODS,
    SEQUENTIAL_METHODS,
    SPAN_SELECTIONS,
    SPLITS,
    TESTS,
    TIERS,
)

SCHEMA_PATH = Path(__file__).with_name("spec.schema.json")
SCHEMA_ID = "https://latentflow.invalid/spec-language/v1/spec.schema.json"

# A text value of a parametrised hypothesis may be a `{name}` placeholder (docs: Parametrisation).
PLACEHOLDER = {"type": "string", "pattern": r"\{[^{}]+\}", "description": "a {name} placeholder"}


def _pattern(regex: Any) -> str:
    """A validator regex (anchored with \\Z, used with match) as a JSON Schema pattern."""
    return "^" + regex.pattern.removesuffix(r"\Z") + "$"


def _text(description: str = "") -> dict:
    return {"type": "string", **({"description": description} if description else {})}


def _enum(values: tuple, description: str = "") -> dict:
    return {"enum": list(values), **({"description": description} if description else {})}


def _integer(low: int | None = None, high: int | None = None) -> dict:
    out: dict[str, Any] = {"type": "integer"}
    if low is not None:
        out["minimum"] = low
    if high is not None:
        out["maximum"] = high
    return out


def _section(keys: tuple[str, ...], properties: dict[str, Any], required: tuple[str, ...] = (),
             description: str = "") -> dict:
    missing = set(keys) ^ set(properties)
    if missing:  # the validator's key list is the source: the schema must describe exactly it
        raise AssertionError(f"JSON Schema and validator disagree on keys {sorted(missing)} of {keys}")
    out: dict[str, Any] = {"type": "object", "properties": {k: properties[k] for k in keys},
                           "additionalProperties": False}
    if required:
        out["required"] = list(required)
    if description:
        out["description"] = description
    return out


class _Builder:
    """One builder per context: ``templated`` (inside hypotheses and fuzz checks) lets every
    value also be a placeholder, as parametrisation and fuzz draws fill them in later."""

    def __init__(self, templated: bool):
        self.templated = templated

    def value(self, schema: dict) -> dict:
        return {"anyOf": [schema, PLACEHOLDER, d.REFERENCE_SCHEMA]} if self.templated else schema

    def data(self, required: tuple[str, ...]) -> dict:
        v = self.value
        return _section(p.DATA_KEYS, {
            "tier": v(_enum(TIERS, "the tier")),
            "n": v(_integer(1, p.MAX_N)),
            "seed": v(_integer(0, p.MAX_SEED)),
            "split": v(_enum(SPLITS)),
            "prompt": v(_enum(PROMPT_KINDS)),
            "spans": v(_enum(SPAN_SELECTIONS)),
        }, required, "which examples")

    def sampler(self) -> dict:
        return _section(p.SAMPLER_KEYS, {
            "method": self.value(_enum(SAMPLER_METHODS)),
            "steps": self.value(_integer(1, p.MAX_STEPS)),
        }, (), "the flow-matching sampler")

    def selection(self, what: str) -> dict:
        index = _integer(0)
        indices = {"type": "array", "items": self.value(index), "minItems": 1, "uniqueItems": True}
        return self.value({"anyOf": [
            {"const": "all"},
            index,
            indices,
            {"type": "object", "properties": {"only": indices}, "required": ["only"], "additionalProperties": False},
            {"type": "object", "properties": {"from": self.value(index), "to": self.value(index)},
             "required": ["from"], "additionalProperties": False},
        ], "description": f"which {what}s: all, an index, a list, {{only: [...]}} or {{from: a, to: b}}"})

    def intervention(self) -> dict:
        return _section(p.INTERVENTION_KEYS, {
            "site": _text("a hook site or pattern, e.g. blocks.*.hook_cross_out"),
            "op": self.value({"type": "string", "pattern": _pattern(p.NAME)}),
            "args": {"type": "object", "description": "the operation's arguments"},
            "layers": self.selection("layer"),
            "steps": self.selection("sampler step"),
        }, ("site", "op"))

    def interventions(self) -> dict:
        return {"type": "array", "items": self.intervention()}

    def measure(self, versus: bool = True) -> dict:
        """``versus``: a hypothesis's measure may compare with a second intervened run (a fuzz
        check's may not)."""
        properties = {
            "metric": self.value({"type": "string", "pattern": _pattern(p.NAME)}),
            "compare": self.value(_enum(COMPARES)),
            "reference": self.value(_enum(s.REFERENCES)),
            "args": {"type": "object", "description": "the metric's arguments"},
            "site": _text("where an internal statistic reads activations"),
            "layers": self.selection("layer"),
            "steps": self.selection("sampler step"),
            "versus": _section(VERSUS_KEYS, {"title": _text(), "interventions": self.interventions()},
                               ("interventions",),
                               "a second intervened run of the same examples, compared in the baseline's place"),
        }
        keys = p.MEASURE_KEYS if versus else tuple(k for k in p.MEASURE_KEYS if k != "versus")
        return _section(keys, {k: properties[k] for k in keys}, ("metric",))

    def expect(self) -> dict:
        v = self.value
        number = {"type": "number"}
        return _section(p.EXPECT_KEYS, {
            "direction": v(_enum(s.DIRECTIONS)),
            "test": v(_enum(TESTS)),
            "alpha": v({"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 0.5}),
            "min_effect_size": v({"type": "number", "minimum": 0}),
            "margin": v({"anyOf": [{"type": "number", "exclusiveMinimum": 0},
                                   {"type": "array", "items": v(number), "minItems": 2, "maxItems": 2}]}),
            "null_value": v(number),
            "resamples": v(_integer(100, 10_000_000)),
        }, ("direction",))


def _sequential(templated: bool) -> dict:
    v = _Builder(templated).value
    return _section(p.SEQUENTIAL_KEYS, {
        "max_n": v(_integer(1, p.MAX_N)),
        "chunk": v(_integer(1, p.MAX_N)),
        "method": v(_enum(SEQUENTIAL_METHODS)),
        "bounds": {"type": "array", "items": v({"type": "number"}), "minItems": 2, "maxItems": 2,
                   "description": "betting only: [low, high] with low < 0 < high"},
        "prior_scale": v({"type": "number", "exclusiveMinimum": 0}),
        "symmetric": {"type": "boolean",
                      "description": "t_mixture only, required true: the differences are symmetric about their mean"},
    }, (), "anytime-valid sequential design: examples chunk by chunk up to max_n (docs/sequential.md)")


def _paper() -> dict:
    scalar = {"type": ["string", "number"]}
    return {"anyOf": [scalar, {"type": "object", "additionalProperties": scalar}],
            "description": "the paper's number(s): text, a number, or label -> text/number"}


def _marks() -> dict:
    return {"type": "array", "items": {"type": "string", "pattern": _pattern(p.NAME),
                                       "not": {"enum": list(s.RESERVED_MARKS)}},
            "description": "pytest marks (-m)"}


def _family() -> dict:
    return _section(p.FAMILY_KEYS, {"correction": _enum(CORRECTIONS)}, p.FAMILY_KEYS)


def _parametrize() -> dict:
    scalar = {"type": ["string", "number", "boolean"]}
    value = {"anyOf": [scalar, {"type": "array", "items": scalar}]}
    grid_values = {"anyOf": [
        {"type": "array", "items": value, "minItems": 1},
        d.REFERENCE_SCHEMA,
        {"type": "object", "properties": {"from": {"type": "integer"}, "to": {"type": "integer"},
                                          "by": _integer(1)},
         "required": ["from", "to"], "additionalProperties": False},
    ]}
    name = {"pattern": _pattern(p.NAME)}
    return {"anyOf": [
        {"type": "object", "propertyNames": name, "additionalProperties": grid_values, "minProperties": 1},
        {"type": "array", "items": {"type": "object", "propertyNames": name, "additionalProperties": value},
         "minItems": 1},
    ], "description": "name -> values (a grid), or a list of rows"}


def _hypothesis() -> dict:
    b = _Builder(templated=True)
    return _section(p.HYPOTHESIS_KEYS, {
        "id": b.value({"type": "string", "pattern": _pattern(s.ID_PATTERN)}),
        "title": _text(),
        "variant": {"type": ["string", "number"], "pattern": _pattern(p.VARIANT)},
        "parametrize": _parametrize(),
        "paper": _paper(),
        "notes": _text(),
        "family": b.value({"type": "string", "pattern": _pattern(p.NAME)}),
        "data": b.data(()),
        "sampler": b.sampler(),
        "interventions": b.interventions(),
        "source": _section(p.SOURCE_KEYS, {"prompt": b.value(_enum(s.SOURCE_PROMPTS)),
                                           "seed": b.value(_integer(0, p.MAX_SEED))}),
        "measure": b.measure(),
        "expect": b.expect(),
        "outcome": _enum(s.OUTCOMES),
        "reason": _text("why the claim fails (with outcome: fails)"),
        "marks": _marks(),
        "sequential": _sequential(templated=True),
        "controls": _controls(templated=True),
        "per_model": per_model.json_schema(),
    }, ("id", "title", "measure", "expect"))


def _controls(templated: bool) -> dict:
    b = _Builder(templated)
    control = _section(CONTROL_KEYS, {
        "id": b.value({"type": "string", "pattern": _pattern(s.ID_PATTERN)}),
        "title": _text(),
        "notes": _text(),
        "model": _text("the control's model: counter:<name> (built from the case's model), counter:<name>@<model>, "
                       "a checkpoint path, a model name"),
        "interventions": b.interventions(),
        "outcome": _enum(s.OUTCOMES, "the outcome the control must give (fails: a negative control)"),
    }, ("id",))
    control["anyOf"] = [{"required": ["model", "outcome"]}, {"required": ["interventions"]}]
    return {"type": "array", "items": control, "minItems": 1,
            "description": "controls run with the case; it is trusted only when each gives its outcome"}


def _strategy() -> dict:
    pair = {"type": "array", "minItems": 2, "maxItems": 2}
    strategies = {
        "integers": {**pair, "items": {"anyOf": [{"type": "integer"}, d.REFERENCE_SCHEMA]}},
        "floats": {**pair, "items": {"anyOf": [{"type": "number"}, d.REFERENCE_SCHEMA]}},
        "sampled_from": {"type": "array", "minItems": 1},
    }
    return {"oneOf": [{"type": "object", "properties": {name: schema}, "required": [name],
                       "additionalProperties": False} for name, schema in _in_order(strategies, s.STRATEGIES)]}


def _in_order(schemas: dict, names: tuple[str, ...]) -> list[tuple[str, dict]]:
    if set(schemas) != set(names):
        raise AssertionError(f"JSON Schema and validator disagree on {sorted(set(schemas) ^ set(names))}")
    return [(name, schemas[name]) for name in names]


def _fuzz() -> dict:
    b = _Builder(templated=True)
    return _section(p.FUZZ_KEYS, {
        "id": {"type": "string", "pattern": _pattern(s.ID_PATTERN)},
        "title": _text(),
        "notes": _text(),
        "variant": {"type": ["string", "number"], "pattern": _pattern(p.VARIANT)},
        "invariant": {"type": "string", "pattern": _pattern(p.NAME)},
        "args": {"type": "object", "description": "the invariant's arguments"},
        "given": {"type": "object", "propertyNames": {"pattern": _pattern(p.NAME)},
                  "additionalProperties": _strategy()},
        "interventions": b.interventions(),
        "measure": b.measure(versus=False),
        "data": b.data(()),
        "sampler": b.sampler(),
        "max_examples": _integer(1, 100_000),
        "outcome": _enum(s.OUTCOMES),
        "reason": _text(),
        "marks": _marks(),
    }, ("id", "invariant", "interventions"))


def spec_json_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a spec file."""
    top = _Builder(templated=False)
    schema = _section(p.TOP_KEYS, {
        p.VERSION_KEY: {"enum": list(s.SPEC_VERSIONS), "description": "the spec language version"},
        "claim": _section(p.CLAIM_KEYS, {
            "id": {"type": "string", "pattern": _pattern(s.ID_PATTERN)},
            "title": _text(), "source": _text(), "paper": _paper(), "notes": _text(),
        }, ("id", "title", "source")),
        "model": _text(f"the model the claims run on: {MODEL_NAME_FORMS}"),
        "data": top.data(("tier",)),
        "sampler": top.sampler(),
        "family": _family(),
        "families": {"type": "object", "propertyNames": {"pattern": _pattern(p.NAME)},
                     "additionalProperties": _family()},
        "sequential": _sequential(templated=False),
        "hypotheses": {"type": "array", "items": _hypothesis(), "minItems": 1},
        "fuzz": {"type": "array", "items": _fuzz(), "minItems": 1},
        "marks": _marks(),
        "derive": d.json_schema(),
        "controls": _controls(templated=False),
    }, (p.VERSION_KEY, "claim", "data"), "A latentflow spec: claims about the model as testable hypotheses")
    schema["allOf"] = [
        {"anyOf": [{"required": ["hypotheses"]}, {"required": ["fuzz"]}]},
        # data.n, except in a sequential file (sequential.max_n sets the examples)
        {"anyOf": [{"required": ["sequential"]}, {"properties": {"data": {"required": ["n"]}}}]},
    ]
    from latentflow.spec.json_schema_probe import probe_spec_schema

    # A document with a top-level `probe:` is a probe spec (latentflow/spec/probe.py): its own branch.
    return {"$schema": "https://json-schema.org/draft/2020-12/schema", "$id": SCHEMA_ID,
            "title": "latentflow spec", "if": {"type": "object", "required": ["probe"]}, "then": probe_spec_schema(),
            "else": schema}


def schema_text() -> str:
    return json.dumps(spec_json_schema(), indent=2) + "\n"


if __name__ == "__main__":
    sys.stdout.write(schema_text())
