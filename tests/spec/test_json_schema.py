"""The JSON Schema of the spec language (latentflow/spec/json_schema.py): generated from the
validator's own key and value lists, shipped in the package, and every spec in specs/ and every
example of docs/spec-language.md validates against it, while typical mistakes do not."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
import tomllib

from latentflow.spec import load_yaml_text
from latentflow.spec.json_schema import SCHEMA_PATH, schema_text, spec_json_schema

from .test_spec_docs import _claim_id, _specs

ROOT = Path(__file__).resolve().parents[2]
VALIDATOR = jsonschema.Draft202012Validator(spec_json_schema())


def problems(text: str) -> list[str]:
    instance = load_yaml_text(text, "spec.yaml")  # read as latentflow reads it (dates stay text, ...)
    return ["/".join(map(str, e.absolute_path)) for e in VALIDATOR.iter_errors(instance)]


def test_the_shipped_schema_is_the_generated_one_and_a_valid_schema():
    jsonschema.Draft202012Validator.check_schema(spec_json_schema())
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "regenerate it: python -m latentflow.spec.json_schema > latentflow/spec/spec.schema.json")
    assert SCHEMA_PATH.parent == ROOT / "latentflow" / "spec"  # inside the package: shipped as package data
    package_data = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["setuptools"][
        "package-data"]["latentflow"]
    assert "**/*.json" in package_data


@pytest.mark.parametrize("path", sorted((ROOT / "specs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_spec_in_specs_validates(path):
    assert problems(path.read_text(encoding="utf-8")) == []


@pytest.mark.parametrize("body", _specs(), ids=_claim_id)
def test_every_docs_example_validates(body):
    assert problems(body) == []


BASE = """\
latentflow: 1
claim: {id: demo, title: Demo, source: docs}
data: {tier: clean, n: 8}
hypotheses:
  - id: h
    title: t
    parametrize: {layer: [0, 3]}
    interventions: [{site: "blocks.{layer}.hook_cross_out", op: zero, steps: {from: 2}}]
    measure: {metric: stoi}
    expect: {direction: decrease, alpha: 0.01}
"""


@pytest.mark.parametrize(("old", "new", "where"), [
    ("latentflow: 1", "latentflow: 2", "latentflow"),
    ("tier: clean", "tier: noisey", "data/tier"),
    ("n: 8", "n: 0", "data/n"),
    ("alpha: 0.01", "alpha: 0.9", "hypotheses/0/expect/alpha"),
    ("direction: decrease", "direction: down", "hypotheses/0/expect/direction"),
    ("measure: {metric: stoi}", "measure: {metric: stoi, comapre: target}", "hypotheses/0/measure"),
    ("steps: {from: 2}", "steps: {from: -1}", "hypotheses/0/interventions/0/steps"),
    ("    title: t\n", "    title: t\n    marks: [xfail]\n", "hypotheses/0/marks/0"),
    ("claim: {id: demo, title: Demo, source: docs}", "claim: {id: demo, title: Demo}", "claim"),
])
def test_typical_mistakes_do_not_validate(old, new, where):
    assert problems(BASE) == []
    assert where in problems(BASE.replace(old, new))


def test_the_schema_describes_exactly_the_validators_keys(monkeypatch):
    from latentflow.spec import parse

    assert json.loads(schema_text())["else"]["properties"]["hypotheses"]["items"]["required"] == [
        "id", "title", "measure", "expect"]
    # a key the validator starts to accept cannot be forgotten in the schema
    monkeypatch.setattr(parse, "EXPECT_KEYS", (*parse.EXPECT_KEYS, "confidence"))
    with pytest.raises(AssertionError, match=r"disagree on keys \['confidence'\]"):
        spec_json_schema()
