"""The JSON Schema of a probe spec (a top-level ``probe:`` section; latentflow/spec/probe.py).

Generated from the probe reader's own key and value lists, like the separation spec's schema
(:mod:`latentflow.spec.json_schema`), which takes it as the branch for documents with ``probe``.
Model and ablation names come from registries that load torch; the schema keeps to their form
(a name) and the reader checks them against the registries.
"""

from __future__ import annotations

import dataclasses

from latentflow.bmld.stimuli import StimulusConfig
from latentflow.spec import parse as p
from latentflow.spec import probe as pr
from latentflow.spec import probe_controls as pc
from latentflow.spec import schema as s
from latentflow.spec.json_schema import (
    PLACEHOLDER,
    _enum,
    _integer,
    _marks,
    _paper,
    _parametrize,
    _pattern,
    _section,
    _text,
)


def _name(description: str) -> dict:
    return {"anyOf": [{"type": "string", "pattern": _pattern(p.NAME)}, PLACEHOLDER], "description": description}


def _probe(required: tuple[str, ...]) -> dict:
    fields = [f.name for f in dataclasses.fields(StimulusConfig)]
    return _section(pr.PROBE_KEYS, {
        "model": _name("a registered reference model: ec, gcc_phat, logmel, sam_audio, silero_vad, crepe, "
                       "binaural_phase, binaural_magnitude, ..."),
        "site": {"anyOf": [{"type": "string", "pattern": _pattern(pr.HOOK_SITE)}, PLACEHOLDER],
                 "description": "a hook site of a model with hook sites (sam_audio), e.g. blocks.4.hook_resid_post"},
        "params": {"type": "object", "description": "the reference model's parameters"},
        "stimuli": {"type": "object", "propertyNames": {"enum": fields},
                    "description": "StimulusConfig fields (latentflow.bmld.stimuli)"},
        "ablation": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": _pattern(p.NAME)}, PLACEHOLDER],
                     "description": "a registered ablation, or none"},
        "ablation_params": {"type": "object", "description": "the ablation's parameters"},
        "seed": {"anyOf": [_integer(0, p.MAX_SEED), PLACEHOLDER]},
        "resamples": {"anyOf": [_integer(10, pr.MAX_RESAMPLES), PLACEHOLDER]},
        "confidence": {"anyOf": [{"type": "number", "minimum": 0.5, "exclusiveMaximum": 1}, PLACEHOLDER]},
        "folds": {"anyOf": [_integer(2, pr.MAX_FOLDS), PLACEHOLDER]},
        "regularisation": {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, PLACEHOLDER]},
    }, required, "a reference model's features on one (N0S0, N0Spi) stimulus pair")


def _expect() -> dict:
    number = {"anyOf": [{"type": "number"}, PLACEHOLDER]}
    return _section(pr.PROBE_EXPECT_KEYS, {
        "direction": _enum(pr.PROBE_DIRECTIONS),
        "null_value": number,
        "margin": {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, PLACEHOLDER]},
        "quantity": _enum(pr.QUANTITIES),
        "versus": _section(pr.VERSUS_KEYS, {
            "model": _name("another reference model (default: the same)"),
            "ablation": {"type": ["string", "null"], "description": "another ablation, or none (default: the same)"},
            "params": {"type": "object"},
            "scale": {"type": "number", "exclusiveMinimum": 0},
        }, (), "the paired comparison run: same stimuli, seed and bootstrap"),
    }, ("direction",), "judged on the paired bootstrap interval of the quantity (minus scale x versus's)")


def _controls() -> dict:
    control = _section(pc.PROBE_CONTROL_KEYS, {
        "id": {"type": "string", "pattern": _pattern(s.ID_PATTERN)},
        "title": _text(),
        "notes": _text(),
        "model": _name("the control's reference model (default: the hypothesis's)"),
        "params": {"type": "object", "description": "the control model's parameters (default: its own)"},
        "site": {"type": "string", "pattern": _pattern(pr.HOOK_SITE)},
        "ablation": {"anyOf": [{"type": "null"}, {"type": "string", "pattern": _pattern(p.NAME)}],
                     "description": "another ablation, or none (default: the hypothesis's)"},
        "outcome": _enum(s.OUTCOMES, "the outcome the control must give (fails: a negative control)"),
    }, ("id",))
    control["anyOf"] = [{"required": ["model", "outcome"]}, {"required": ["ablation"], "not": {"required": ["model"]}}]
    return {"type": "array", "items": control, "minItems": 1,
            "description": "controls run with the case; it is trusted only when each gives its outcome"}


def probe_spec_schema() -> dict:
    """The schema of a probe spec document (without ``$schema``/``$id``)."""
    hypothesis = _section(pr.PROBE_HYPOTHESIS_KEYS, {
        "id": {"type": "string", "pattern": _pattern(s.ID_PATTERN)},
        "title": _text(),
        "variant": {"type": ["string", "number"], "pattern": _pattern(p.VARIANT)},
        "parametrize": _parametrize(),
        "paper": _paper(),
        "notes": _text(),
        "probe": _probe(()),
        "expect": _expect(),
        "controls": _controls(),
        "outcome": {"enum": list(s.OUTCOMES)},
        "reason": _text("why the claim fails (with outcome: fails)"),
        "marks": _marks(),
    }, ("id", "title", "probe", "expect"))
    return _section(pr.PROBE_TOP_KEYS, {
        p.VERSION_KEY: {"enum": list(s.SPEC_VERSIONS)},
        "claim": _section(p.CLAIM_KEYS, {
            "id": {"type": "string", "pattern": _pattern(s.ID_PATTERN)},
            "title": _text(), "source": _text(), "paper": _paper(), "notes": _text(),
        }, ("id", "title", "source")),
        "probe": _probe(()),
        "controls": _controls(),
        "hypotheses": {"type": "array", "items": hypothesis, "minItems": 1},
        "marks": _marks(),
    }, (p.VERSION_KEY, "claim", "probe", "hypotheses"), "A latentflow probe spec: BMLD claims about frozen models")


__all__ = ["probe_spec_schema"]
