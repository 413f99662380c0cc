"""The reference page's examples are real: every spec in it loads, and the shown outputs match."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from latentflow.spec import SpecError, compile_plan, load_spec, loads_spec

DOC = Path(__file__).resolve().parents[2] / "docs" / "spec-language.md"
_FENCE = re.compile(r"^```(\w*)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def _blocks() -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in _FENCE.finditer(DOC.read_text(encoding="utf-8"))]


def _specs() -> list[str]:
    return [
        body
        for info, body in _blocks()
        if info == "yaml" and re.search(r"^latentflow: 1$", body, re.MULTILINE)
    ]


def _claim_id(body: str) -> str:
    return re.search(r"^  id: (\S+)", body, re.MULTILINE).group(1)


def test_the_page_has_an_example_per_feature():
    bodies = "\n".join(_specs())
    for feature in (
        "parametrize:",
        "source: {prompt: alternative}",
        "direction: equivalent",
        "outcome: fails",
        "families:",
        "fuzz:",
        "compare: internal",
        "variant:",
        "sequential:",
        "derive:",
        "controls:",
        "per_model:",
        "versus:",
    ):
        assert feature in bodies, f"no complete example uses {feature!r}"


@pytest.mark.parametrize("body", _specs(), ids=_claim_id)
def test_every_example_spec_loads(body, registries):
    options = {}
    if "\nderive:" in body:  # derived constants need a model: derive them on the bundled one
        from latentflow.derivation import SessionDerivations
        from latentflow.execution.runner import Runner
        from latentflow.interventions import OPERATIONS
        from latentflow.spec import Overrides

        options = {"derived": SessionDerivations(Runner(), Overrides()), "operations": OPERATIONS}
    plan = compile_plan(loads_spec(body, "example.yaml", **{**registries, **options}))
    assert plan.cases or plan.fuzz


def test_documented_ids_are_the_real_ids(registries):
    (body,) = [b for b in _specs() if _claim_id(b) == "dual_pathway_grid"]
    ids = [c.case_id for c in compile_plan(loads_spec(body, **registries)).cases]
    (listing,) = [b for info, b in _blocks() if info == "" and "dual_pathway_grid::ca_zero[" in b]
    shown = [line for line in listing.splitlines() if line and line != "..."]
    assert len(ids) == 15
    assert shown == [i for i in ids if i in shown] and set(shown) <= set(ids)
    assert shown[0] == ids[0] and shown[-1] == ids[-1]


def test_documented_fuzz_snippet_is_what_latentflow_writes(tmp_path, monkeypatch, registries):
    (engine,) = [b for b in _specs() if _claim_id(b) == "engine_invariants" and "given:" in b]
    (shown,) = [b for b in _specs() if b.startswith("# reproduces engine_invariants")]
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "engine.yaml").write_text(engine)
    monkeypatch.chdir(tmp_path)
    plan = compile_plan(load_spec("specs/engine.yaml", **registries))
    assert plan.fuzz[0].example({"layer": 3, "start": 4}).to_snippet() == shown


def test_documented_errors_are_what_latentflow_reports(tmp_path, monkeypatch, registries):
    (bad,) = [b for info, b in _blocks() if info == "" and b.startswith("latentflow: 1")]
    (shown,) = [b for info, b in _blocks() if info == "" and "problems in specs/demo.yaml" in b]
    (tmp_path / "specs").mkdir()
    (tmp_path / "specs" / "demo.yaml").write_text(bad)
    monkeypatch.chdir(tmp_path)
    from latentflow.interventions import OPERATIONS

    # the operations a user has (the docs show the real list), the test registries otherwise
    with pytest.raises(SpecError) as info:
        load_spec("specs/demo.yaml", **{**registries, "operations": OPERATIONS})
    assert str(info.value) == shown.rstrip("\n")
