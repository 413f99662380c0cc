"""The probe hypothesis kind: claims about what a frozen model's features let a linear detector find.

A *probe spec* is a spec file with a top-level ``probe:`` section instead of ``data:``. Each of
its hypotheses names a registered reference model (:data:`latentflow.bmld.references.
REFERENCE_MODELS`, looked up like counter-models) and, for a model with hook sites, the site its
features are read at; the stimuli of the binaural masking benchmark (:mod:`latentflow.bmld.
stimuli`), a physical ablation, and what the BMLD (threshold(N0S0) - threshold(N0Spi), with its
paired bootstrap interval) must show::

    latentflow: 1
    claim: {id: bmld, title: ..., source: ...}
    probe: {stimuli: {target: tone}, seed: 0, resamples: 200}
    hypotheses:
      - id: ec_is_the_analytical_baseline
        title: ...
        probe: {model: ec}
        expect: {direction: equivalent, null_value: 10.7, margin: 3}
      - id: dedicated_model_near_ec
        title: ...
        probe: {model: binaural_phase}
        expect: {direction: equivalent, margin: 3, versus: {model: ec}}

Everything is checked here, at load time, with file:line, field and the allowed values: keys,
types, ranges, the model and ablation names against their registries, model parameters, every
stimulus field (by building the :class:`~latentflow.bmld.stimuli.StimulusConfig`), hook sites.
Running is :mod:`latentflow.execution.probe`; docs/spec-language.md ("Probe hypotheses") is the
reference.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.errors import SpecError, did_you_mean, listing
from latentflow.spec.expand import expand, variant_label
from latentflow.spec.fields import yaml_value
from latentflow.spec.grammar import MAX_SEED
from latentflow.spec.hypotheses import read_hypothesis_head
from latentflow.spec.parse import read_claim
from latentflow.spec.probe_controls import read_probe_controls, resolve_probe_controls
from latentflow.spec.reader import Reader
from latentflow.spec.sections import read_marks, read_outcome
from latentflow.spec.yaml_loader import VERSION_KEY, LineDict, LineList

PROBE_TOP_KEYS = (VERSION_KEY, "claim", "probe", "controls", "hypotheses", "marks")
PROBE_KEYS = ("model", "site", "params", "stimuli", "ablation", "ablation_params", "seed", "resamples",
              "confidence", "folds", "regularisation")
PROBE_HYPOTHESIS_KEYS = ("id", "title", "variant", "parametrize", "paper", "notes", "probe", "expect", "controls",
                         "outcome", "reason", "marks")
PROBE_EXPECT_KEYS = ("direction", "null_value", "margin", "quantity", "versus")
VERSUS_KEYS = ("model", "ablation", "params", "scale")
PROBE_DIRECTIONS = ("increase", "decrease", "equivalent")
# What the expectation is about: the BMLD, or one condition's 75 %-correct threshold (dB TNR).
QUANTITIES = ("bmld", "threshold_n0s0", "threshold_n0spi")
NO_ABLATION = "none"  # `ablation: none` (or null): the intact stimuli
HOOK_SITE = re.compile(r"blocks\.[0-9]+\.hook_[a-z_]+\Z")
MAX_RESAMPLES = 100_000
MAX_FOLDS = 20

# The protocol's defaults (docs/bmld.md): 200 paired bootstrap resamples as in the BMLD table,
# 95 % percentile intervals, 5-fold cross-validation, liblinear's C = 1.
DEFAULT_RESAMPLES = 200
DEFAULT_CONFIDENCE = 0.95
DEFAULT_FOLDS = 5
DEFAULT_REGULARISATION = 1.0


@dataclass(frozen=True)
class ProbeSetup:
    """One probe run: a reference model's features on one (N0S0, N0Spi) stimulus pair.

    ``params`` are the model's parameters (a hook site is the ``hook`` parameter);
    ``stimuli`` the :class:`~latentflow.bmld.stimuli.StimulusConfig` fields that differ from
    its defaults. Two setups that differ only in ``model``/``params``/``ablation`` share trials
    index by index (same seed and ladder), so their bootstrap replicates pair.
    """

    model: str
    params: s.FrozenDict = field(default_factory=s.FrozenDict)
    site: str | None = None
    stimuli: s.FrozenDict = field(default_factory=s.FrozenDict)
    ablation: str | None = None
    ablation_params: s.FrozenDict = field(default_factory=s.FrozenDict)
    seed: int = 0
    resamples: int = DEFAULT_RESAMPLES
    confidence: float = DEFAULT_CONFIDENCE
    folds: int = DEFAULT_FOLDS
    regularisation: float = DEFAULT_REGULARISATION

    @property
    def target(self) -> str:
        return str(self.stimuli.get("target", "tone"))

    def to_yaml(self) -> dict[str, Any]:
        """The setup as plain data (a verdict's ``measure.probe``; ``target`` spelled out)."""
        plain = {f.name: yaml_value(getattr(self, f.name)) for f in dataclasses.fields(self)}
        return {**plain, "target": self.target}

    def describe(self) -> str:
        return describe_probe_setup(self.to_yaml())


@dataclass(frozen=True)
class ProbeExpect:
    """``quantity`` of the setup (minus ``scale`` x the same of ``versus``, paired) must lie above
    (increase) / below (decrease) ``null_value``, or within ``null_value`` +- ``margin``
    (equivalent), judged on its paired bootstrap interval."""

    direction: str
    null_value: float = 0.0
    margin: float | None = None
    quantity: str = "bmld"
    versus: ProbeSetup | None = None
    scale: float = 1.0

    def to_yaml(self) -> dict[str, Any]:
        """The expectation as plain data (a verdict's ``expectation``; ``kind: probe`` tells it
        from a paired test's)."""
        return {"kind": "probe", "direction": self.direction, "null_value": self.null_value, "margin": self.margin,
                "quantity": self.quantity, "versus": None if self.versus is None else self.versus.to_yaml(),
                "scale": self.scale}

    def describe(self) -> str:
        return describe_probe_expectation(self.to_yaml())


# -- display text, rendered from the plain data a verdict carries (never parsed back) ----------


def describe_probe_setup(setup: Mapping[str, Any]) -> str:
    """``model [at site] on target (ablation | intact)``."""
    where = f" at {setup['site']}" if setup.get("site") else ""
    return f"{setup['model']}{where} on {setup['target']} ({setup.get('ablation') or 'intact'})"


def describe_probe_expectation(e: Mapping[str, Any]) -> str:
    """``quantity [- scale x quantity(versus)] > / < null dB`` or ``... within null +- margin dB``."""
    what = e["quantity"]
    if e.get("versus") is not None:
        factor = "" if e.get("scale", 1) == 1 else f"{e['scale']:g} x "
        what = f"{what} - {factor}{what}({describe_probe_setup(e['versus'])})"
    if e["direction"] == "equivalent":
        return f"{what} within {e['null_value']:g} +- {e['margin']:g} dB (interval inside)"
    side = ">" if e["direction"] == "increase" else "<"
    return f"{what} {side} {e['null_value']:g} dB (whole interval)"


@dataclass(frozen=True)
class ProbeHypothesis:
    id: str
    title: str
    variant: str | None
    probe: ProbeSetup
    expect: ProbeExpect
    paper: Any = None
    notes: str | None = None
    outcome: str = "holds"
    reason: str | None = None
    params: s.FrozenDict = field(default_factory=s.FrozenDict, compare=False)
    marks: tuple[str, ...] = ()
    # latentflow.spec.probe_controls.ProbeControl: the file's `controls:` first, then its own
    controls: tuple[Any, ...] = ()
    line: int | None = field(default=None, compare=False, repr=False)
    path: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class ProbeSpec:
    """A loaded, validated probe spec file."""

    file: str
    version: int
    claim: s.Claim
    hypotheses: tuple[ProbeHypothesis, ...]
    marks: tuple[str, ...] = ()


def is_probe_document(raw: Any) -> bool:
    """A spec document whose top level has ``probe:`` (and so no separation ``data:``)."""
    return isinstance(raw, LineDict) and VERSION_KEY in raw and "probe" in raw


def load_probe_spec(raw: LineDict, file: str) -> ProbeSpec:
    """Parse and check a probe document; SpecError lists every problem found."""
    r = Reader(file)
    spec = parse_probe_spec(raw, file, r)
    if r.issues:
        raise SpecError(r.issues)
    return spec


def parse_probe_spec(raw: LineDict, file: str, r: Reader) -> ProbeSpec:
    r.check_keys(raw, "", PROBE_TOP_KEYS, (VERSION_KEY, "claim", "probe", "hypotheses"))
    version = r.integer(raw, VERSION_KEY, "")
    if version is not None and version not in s.SPEC_VERSIONS:
        r.report(raw, VERSION_KEY, VERSION_KEY, "unsupported spec version", value=version,
                 allowed=listing(s.SPEC_VERSIONS))
    claim = read_claim(raw.get("claim"), raw, r) or s.Claim("claim", "", "")
    defaults = raw.get("probe")
    if not r.check_keys(defaults, "probe", PROBE_KEYS, parent=raw, key="probe") or not isinstance(defaults, LineDict):
        defaults = LineDict(line=raw.line)
    marks = read_marks(raw, "", r)
    file_controls = read_probe_controls(raw, "", r) or ()
    hypotheses: list[ProbeHypothesis] = []
    node = r.sequence(raw, "hypotheses", "", non_empty=True) or LineList()
    for index, item in enumerate(node):
        hypotheses.extend(_template(item, node, index, defaults, file_controls, r))
    _check_unique(hypotheses, raw, r)
    return ProbeSpec(file, version or s.SPEC_VERSIONS[-1], claim, tuple(hypotheses), marks)


def _template(node: Any, parent: LineList, index: int, defaults: LineDict, file_controls: tuple,
              r: Reader) -> list[ProbeHypothesis]:
    field = f"hypotheses[{index}]"
    if not isinstance(node, LineDict):
        r.report(parent, index, field, "expected a mapping (a probe hypothesis)", value=node,
                 allowed=f"keys {listing(PROBE_HYPOTHESIS_KEYS)}")
        return []
    if not r.check_keys(node, field, PROBE_HYPOTHESIS_KEYS, ("id", "title", "probe", "expect")):
        return []
    if "parametrize" in node and "variant" in node:
        r.report(node, "variant", f"{field}.variant",
                 "a parametrised hypothesis gets its variant labels from parametrize",
                 value=node["variant"], allowed="variant or parametrize, not both")
        return []
    variants = expand(node, field, r, "parametrize")
    out = []
    for params, body in variants or ():
        label = variant_label(params) if params else None
        hypothesis = _hypothesis(body, field, r.within(f"variant {label}" if label else None), defaults,
                                 file_controls, params)
        if hypothesis is not None:
            out.append(hypothesis)
    return out


def _hypothesis(node: LineDict, field: str, r: Reader, defaults: LineDict, file_controls: tuple,
                params: dict) -> ProbeHypothesis | None:
    start = r.mark()
    hyp_id, title, variant, notes, paper = read_hypothesis_head(node, field, r, params)
    setup = _setup(node.get("probe"), node, f"{field}.probe", defaults, r)
    expect = _expect(node.get("expect"), node, f"{field}.expect", setup, r)
    outcome, reason = read_outcome(node, field, r)
    marks = read_marks(node, field, r)
    own = read_probe_controls(node, field, r)
    controls = resolve_probe_controls(own or (), file_controls, setup, expect, outcome, field, r)
    if r.failed_since(start) or setup is None or expect is None:
        return None
    return ProbeHypothesis(hyp_id, title, variant, setup, expect, paper, notes, outcome, reason,
                           s.freeze(params), marks, controls, node.line, field)


# -- the probe section ------------------------------------------------------------------------


def _setup(node: Any, parent: LineDict, field: str, defaults: LineDict, r: Reader) -> ProbeSetup | None:
    """The file's ``probe:`` defaults overlaid by the hypothesis' own (``params``, ``stimuli``
    and ``ablation_params`` merged key by key), then checked against the registries."""
    if not r.check_keys(node, field, PROBE_KEYS, parent=parent, key="probe"):
        return None
    start = r.mark()
    merged = LineDict(line=node.line)
    for source in (defaults, node):
        for key, value in source.items():
            merged[key] = value
            merged.lines[key] = source.lines.get(key, source.line)
    if "model" not in merged:
        r.report(node, None, f"{field}.model", "missing required key 'model' (here or in the file's probe section)",
                 allowed=_model_names())
        return None
    model = _model(merged, field, r)
    params = _params(merged, defaults, node, "params", field, r)
    stimuli = _params(merged, defaults, node, "stimuli", field, r)
    ablation_params = _params(merged, defaults, node, "ablation_params", field, r)
    ablation = _ablation(merged, field, r)
    seed = r.integer(merged, "seed", field, 0, low=0, high=MAX_SEED)
    resamples = r.integer(merged, "resamples", field, DEFAULT_RESAMPLES, low=10, high=MAX_RESAMPLES)
    confidence = r.number(merged, "confidence", field, DEFAULT_CONFIDENCE, low=0.5, high=1.0, open_high=True)
    folds = r.integer(merged, "folds", field, DEFAULT_FOLDS, low=2, high=MAX_FOLDS)
    regularisation = r.number(merged, "regularisation", field, DEFAULT_REGULARISATION, low=0.0, open_low=True)
    site = r.text(merged, "site", field)
    if r.failed_since(start) or model is None or params is None or stimuli is None or ablation_params is None:
        return None
    model_params = _model_params(model, params, site, merged, field, r)
    stimulus_fields = _stimuli(stimuli, merged, field, r)
    if ablation is not None:
        _check_ablation_params(ablation, ablation_params, merged, field, r)
    elif ablation_params:
        r.report(merged, "ablation_params", f"{field}.ablation_params", "ablation_params without an ablation",
                 value=dict(ablation_params), allowed="ablation: <name> with its parameters")
    if r.failed_since(start) or model_params is None or stimulus_fields is None:
        return None
    if stimulus_fields.get("trials_per_class", 20) < folds:
        r.report(merged, "folds", f"{field}.folds", f"{folds}-fold cross-validation needs at least {folds} trials "
                 "per class on every rung", value=folds,
                 allowed=f"folds <= stimuli.trials_per_class ({stimulus_fields.get('trials_per_class', 20)})")
        return None
    return ProbeSetup(model, model_params, site, stimulus_fields, ablation, s.freeze(ablation_params), seed, resamples,
                      confidence, folds, regularisation)


def _model_names() -> str:
    from latentflow.bmld.references import REFERENCE_MODELS

    return listing(REFERENCE_MODELS.names())


def _model(node: LineDict, field: str, r: Reader) -> str | None:
    from latentflow.bmld.references import REFERENCE_MODELS

    value = node["model"]
    names = REFERENCE_MODELS.names()
    if not isinstance(value, str) or value not in names:
        r.report(node, "model", f"{field}.model", "not a registered reference model", value=value,
                 allowed=listing(names), hint=did_you_mean(value, names) if isinstance(value, str) else None)
        return None
    return value


def _params(merged: LineDict, defaults: LineDict, node: LineDict, key: str, field: str, r: Reader) -> dict | None:
    """A mapping section merged key by key: the file's defaults, then the hypothesis' own."""
    out: dict[str, Any] = {}
    for source in (defaults, node):
        if key in source:
            value = source[key]
            if not isinstance(value, LineDict):
                r.report(source, key, f"{field}.{key}", "expected a mapping", value=value)
                return None
            out.update(value)
    return out


def _tupled(value: Any) -> Any:
    return tuple(_tupled(v) for v in value) if isinstance(value, (list, tuple)) else value


def _model_params(model: str, params: dict, site: str | None, merged: LineDict, field: str,
                  r: Reader) -> s.FrozenDict | None:
    from latentflow.bmld.references import REFERENCE_MODELS

    entry = REFERENCE_MODELS.get(model)
    allowed = sorted(entry.params)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        r.report(merged, "params", f"{field}.params", f"reference model {model!r} has no parameter(s) {unknown}",
                 value=unknown, allowed=listing(allowed) if allowed else "none",
                 hint=did_you_mean(unknown[0], allowed))
        return None
    if site is not None:
        # A named site is a hook of the model's network (as everywhere in latentflow); models
        # without hook sites have one fixed feature read-out and take no site.
        if "hook" not in entry.params:
            hooked = [name for name in REFERENCE_MODELS.names() if "hook" in REFERENCE_MODELS.get(name).params]
            r.report(merged, "site", f"{field}.site", f"reference model {model!r} has one fixed read-out "
                     f"({entry.site}) and no hook sites", value=site,
                     allowed=f"site only for {listing(hooked)}")
            return None
        if not HOOK_SITE.match(site):
            r.report(merged, "site", f"{field}.site", "not a hook site", value=site,
                     allowed="blocks.<layer>.hook_<name>, e.g. blocks.4.hook_resid_post")
            return None
        if "hook" in params and params["hook"] != site:
            r.report(merged, "site", f"{field}.site", "site and params.hook name different sites", value=site,
                     allowed=f"one of them (params.hook is {params['hook']!r})")
            return None
        params = {**params, "hook": site}
    return s.freeze({key: _tupled(value) for key, value in params.items()})


def _stimuli(stimuli: dict, merged: LineDict, field: str, r: Reader) -> s.FrozenDict | None:
    from latentflow.bmld.stimuli import StimulusConfig

    known = [f.name for f in dataclasses.fields(StimulusConfig)]
    unknown = sorted(set(stimuli) - set(known))
    if unknown:
        r.report(merged, "stimuli", f"{field}.stimuli", f"unknown stimulus field(s) {unknown}", value=unknown,
                 allowed=listing(known), hint=did_you_mean(unknown[0], known))
        return None
    values = {key: _tupled(value) for key, value in stimuli.items()}
    try:
        StimulusConfig(**values)  # its own checks: ranges, the ladder, choices
    except (TypeError, ValueError) as error:
        r.report(merged, "stimuli", f"{field}.stimuli", str(error), value=dict(stimuli))
        return None
    return s.freeze(values)


def _ablation(merged: LineDict, field: str, r: Reader) -> str | None:
    from latentflow.bmld.stimuli import ABLATIONS

    value = merged.get("ablation")
    if value is None or value == NO_ABLATION:
        return None
    names = ABLATIONS.names()
    if not isinstance(value, str) or value not in names:
        r.report(merged, "ablation", f"{field}.ablation", "not a registered ablation", value=value,
                 allowed=listing((NO_ABLATION, *names)),
                 hint=did_you_mean(value, names) if isinstance(value, str) else None)
        return None
    return value


def _check_ablation_params(ablation: str, params: dict, merged: LineDict, field: str, r: Reader) -> None:
    from latentflow.bmld.stimuli import ABLATIONS

    allowed = sorted(ABLATIONS.get(ablation).params)
    unknown = sorted(set(params) - set(allowed))
    if unknown:
        r.report(merged, "ablation_params", f"{field}.ablation_params",
                 f"ablation {ablation!r} has no parameter(s) {unknown}", value=unknown,
                 allowed=listing(allowed) if allowed else "none")


# -- the expectation --------------------------------------------------------------------------


def _expect(node: Any, parent: LineDict, field: str, setup: ProbeSetup | None, r: Reader) -> ProbeExpect | None:
    if not r.check_keys(node, field, PROBE_EXPECT_KEYS, ("direction",), parent=parent, key="expect"):
        return None
    start = r.mark()
    direction = r.choice(node, "direction", field, PROBE_DIRECTIONS)
    null_value = r.number(node, "null_value", field, 0.0)
    margin = r.number(node, "margin", field, None, low=0.0, open_low=True)
    quantity = r.choice(node, "quantity", field, QUANTITIES, "bmld")
    if direction == "equivalent" and margin is None and "margin" not in node:
        r.report(node, "direction", f"{field}.margin", "direction: equivalent needs a margin (dB)",
                 allowed="margin: <positive number of dB>")
    if direction in ("increase", "decrease") and "margin" in node:
        r.report(node, "margin", f"{field}.margin", "a margin is only for direction: equivalent",
                 value=node["margin"], allowed="direction: equivalent, or no margin")
    versus, scale = None, 1.0
    if "versus" in node:
        versus, scale = _versus(node, field, setup, r)
    if r.failed_since(start) or direction is None:
        return None
    return ProbeExpect(direction, null_value, margin, quantity, versus, scale)


def _versus(node: LineDict, field: str, setup: ProbeSetup | None, r: Reader) -> tuple[ProbeSetup | None, float]:
    """The paired comparison run: the same stimuli, seed, ladder and bootstrap as the setup,
    with another model (and its params) and/or another ablation."""
    versus = node["versus"]
    path = f"{field}.versus"
    if not r.check_keys(versus, path, VERSUS_KEYS, parent=node, key="versus"):
        return None, 1.0
    scale = r.number(versus, "scale", path, 1.0, low=0.0, open_low=True)
    if setup is None:
        return None, scale
    start = r.mark()
    model = _model(versus, path, r) if "model" in versus else setup.model
    ablation = _ablation(versus, path, r) if "ablation" in versus else setup.ablation
    params: Any = setup.params if model == setup.model else {}
    if "params" in versus:
        if not isinstance(versus["params"], LineDict):
            r.report(versus, "params", f"{path}.params", "expected a mapping", value=versus["params"])
            return None, scale
        params = dict(versus["params"])
    if r.failed_since(start) or model is None:
        return None, scale
    frozen = _model_params(model, dict(params), None, versus, path, r)
    if frozen is None:
        return None, scale
    other = dataclasses.replace(setup, model=model, params=frozen, site=None, ablation=ablation,
                                ablation_params=setup.ablation_params if ablation == setup.ablation else s.FrozenDict())
    if other == setup:
        r.report(node, "versus", path, "versus names the hypothesis' own setup (the difference is 0 by construction)",
                 allowed="another model, ablation or params")
        return None, scale
    return other, scale


def _check_unique(hypotheses: list[ProbeHypothesis], raw: LineDict, r: Reader) -> None:
    seen: dict[tuple[str, str | None], int | None] = {}
    for item in hypotheses:
        key = (item.id, item.variant)
        if key in seen:
            r.report(raw, None, item.path or "hypotheses", "duplicate hypothesis id", value=item.id,
                     allowed=f"ids unique within the file (first at line {seen[key]})", line=item.line)
        else:
            seen[key] = item.line


__all__ = ["NO_ABLATION", "PROBE_DIRECTIONS", "PROBE_EXPECT_KEYS", "PROBE_HYPOTHESIS_KEYS", "PROBE_KEYS",
           "PROBE_TOP_KEYS", "QUANTITIES", "VERSUS_KEYS", "ProbeExpect", "ProbeHypothesis", "ProbeSetup",
           "ProbeSpec", "is_probe_document", "load_probe_spec", "parse_probe_spec"]
