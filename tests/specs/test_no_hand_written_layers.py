"""The paper's specs name no layer by hand: every layer list follows the model the spec runs on.

A layer written by hand is a fact about one model: on a shallower one it is a depth error, on a
deeper one it runs where it means nothing. So the paired-hypothesis specs in specs/ take their
layers from ``{derived: ...}`` values; a literal layer index above 0 (layer 0 exists on every
model) under a ``layer``/``layers`` key, or in a ``blocks.N`` site, is refused. Allowed: a
``per_model:`` section, which records one model's cases by their layers on purpose. (The probe
specs, e.g. specs/bmld.yaml, are another kind that names its probe's site on a named model.)
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from latentflow.spec.derived import REFERENCE_KEY
from latentflow.spec.per_model import SECTION as PER_MODEL
from latentflow.spec.probe import is_probe_document
from latentflow.spec.yaml_loader import LineDict, LineList, load_yaml_text, read_text

SPECS = Path(__file__).resolve().parents[2] / "specs"
LAYER_KEYS = ("layer", "layers")
BLOCK = re.compile(r"blocks\.(\d+)\.")


def paper_specs() -> list[Path]:
    return [path for path in sorted(SPECS.glob("*.yaml"))
            if not is_probe_document(load_yaml_text(read_text(path), str(path)))]


def hand_written_layers(node, path: str = "", under_layer_key: bool = False):
    """(field path, line, value) of every literal layer above 0 in a spec's YAML tree."""
    if isinstance(node, LineDict):
        if REFERENCE_KEY in node:
            return
        for key, value in node.items():
            if key == PER_MODEL:
                continue
            inner = under_layer_key or key in LAYER_KEYS
            if inner and _literal_layer(value):
                yield f"{path}.{key}", node.line_of(key), value
            yield from hand_written_layers(value, f"{path}.{key}", inner)
    elif isinstance(node, LineList):
        for index, value in enumerate(node):
            if under_layer_key and _literal_layer(value):
                yield f"{path}[{index}]", node.line_of(index), value
            yield from hand_written_layers(value, f"{path}[{index}]", under_layer_key)
    elif isinstance(node, str) and any(int(n) > 0 for n in BLOCK.findall(node)):
        yield path, None, node


def _literal_layer(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def test_the_walker_finds_hand_written_layers():
    old = load_yaml_text(
        "hypotheses:\n"
        "  - parametrize: {layer: [0, 6, 7]}\n"
        "    interventions: [{site: blocks.*.attn.hook_pattern, layers: [3], op: zero}]\n"
        "    measure: {site: blocks.5.hook_resid_post}\n"
        "    per_model: {fixture: [{cases: [{layer: 4}], outcome: fails, reason: r}]}\n"
        "  - parametrize: {layer: {derived: convergence.stable_layers}}\n"
        "    measure: {site: 'blocks.{layer}.attn.hook_pattern'}\n", "old.yaml")
    found = [(path, value) for path, _, value in hand_written_layers(old)]
    assert found == [(".hypotheses[0].parametrize.layer[1]", 6), (".hypotheses[0].parametrize.layer[2]", 7),
                     (".hypotheses[0].interventions[0].layers[0]", 3),
                     (".hypotheses[0].measure.site", "blocks.5.hook_resid_post")]


@pytest.mark.parametrize("path", paper_specs(), ids=lambda p: p.name)
def test_a_paper_spec_names_no_layer_by_hand(path):
    tree = load_yaml_text(read_text(path), str(path))
    found = [f"{path.name}:{line}: {field}: {value!r}" for field, line, value in hand_written_layers(tree)]
    assert found == [], "layers written by hand (derive them: docs/spec-language.md):\n" + "\n".join(found)


def test_the_per_layer_specs_derive_their_layers():
    """The specs the test above guards do have per-layer cases, and they are derived."""
    for name, reference in (("async_convergence", "convergence.stable_layers"),
                            ("async_convergence", "convergence.fast_layers"),
                            ("segmentation_cues", "probe_layers.layers")):
        text = (SPECS / f"{name}.yaml").read_text(encoding="utf-8")
        assert f"layer: {{derived: {reference}}}" in text, (name, reference)
