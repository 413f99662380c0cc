"""The latentflow spec language: claims as YAML, checked with line numbers, compiled to cases.

    spec = load_spec("specs/dual_pathway.yaml", sites=model.hook_dict, operations=OPS, metrics=METRICS)
    plan = compile_plan(spec, Overrides(seed=3))
    for case in plan.cases: ...

The language is documented in docs/spec-language.md.
"""

from __future__ import annotations

from latentflow.spec.errors import SpecError, SpecIssue
from latentflow.spec.load import load_spec, loads_spec
from latentflow.spec.plan import Case, Family, FuzzCheck, FuzzExample, Overrides, Plan, compile_plan
from latentflow.spec.schema import (
    ALL,
    Claim,
    Data,
    Expect,
    FamilySpec,
    FrozenDict,
    FuzzInstance,
    FuzzSpec,
    Hypothesis,
    IndexSelection,
    Intervention,
    Measure,
    PatchSource,
    Sampler,
    Spec,
    Strategy,
)
from latentflow.spec.validate import SiteCatalog, find_issues, validate
from latentflow.spec.yaml_loader import (
    LineDict,
    LineList,
    is_spec_file,
    load_yaml,
    load_yaml_text,
    looks_like_spec,
)

__all__ = [
    "ALL",
    "Case",
    "Claim",
    "Data",
    "Expect",
    "Family",
    "FamilySpec",
    "FrozenDict",
    "FuzzCheck",
    "FuzzExample",
    "FuzzInstance",
    "FuzzSpec",
    "Hypothesis",
    "IndexSelection",
    "Intervention",
    "LineDict",
    "LineList",
    "Measure",
    "Overrides",
    "PatchSource",
    "Plan",
    "Sampler",
    "SiteCatalog",
    "Spec",
    "SpecError",
    "SpecIssue",
    "Strategy",
    "compile_plan",
    "find_issues",
    "is_spec_file",
    "load_spec",
    "load_yaml",
    "load_yaml_text",
    "loads_spec",
    "looks_like_spec",
    "validate",
]
