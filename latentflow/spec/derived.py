"""Spec constants derived per model: the ``derive:`` section and ``{derived: NAME.QUANTITY}`` values.

Some constants of a claim are facts about one model: which layers are stable, the entropy-rate
threshold between stable and fast, LSAC's freeze steps. A spec declares how to derive them
(``derive:``, one entry per derivation) and uses them where a value goes
(``layers: {derived: convergence.stable_layers}``). Before the file is read, every reference is
replaced by the value derived on the model the spec runs on, so every later check (ranges, sites,
the model's depth) sees the number and reports the reference's line.

This module reads and checks (torch-free, like the rest of :mod:`latentflow.spec`); computing the
values is the caller's: ``loads_spec(..., derived=provider)`` with a :data:`Provider`, which
:class:`latentflow.execution.SpecSession` passes (``latentflow.derivation``). Without a provider
a spec with references is refused with one problem per derivation: nothing is guessed.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from latentflow.spec.errors import listing
from latentflow.spec.reader import Reader
from latentflow.spec.yaml_loader import LineDict, LineList
from latentflow.vocabulary import RENAMED, SAMPLER_METHODS, TIERS

SECTION = "derive"
_BLOCK = re.compile(r"blocks\.(\d+)\.")
_HYPOTHESIS = re.compile(r"hypotheses\[\d+\]")  # the field path of a hypothesis
REFERENCE_KEY = "derived"
# References may stand in hypotheses and fuzz checks (everything else of a file is model-free).
REFERENCE_SECTIONS = ("hypotheses", "fuzz")


@dataclass(frozen=True)
class Setting:
    """One setting of a derivation: ``kind`` is int, number, tier, sampler_method or threshold
    (a number or ``median``); ``default`` None means the file's value (data.tier, sampler.*)."""

    kind: str
    default: Any
    doc: str
    low: float | None = None
    high: float | None = None


@dataclass(frozen=True)
class Method:
    """A way to derive constants: its settings and the quantities it provides (name -> doc)."""

    doc: str
    settings: Mapping[str, Setting]
    quantities: Mapping[str, str]
    # a stand-in of each quantity's type, used only when a file is rejected anyway, so that the
    # rest of it is still checked (as parse.py does for broken sections)
    stand_ins: Mapping[str, Any]


_COMMON = {
    "tier": Setting("tier", None, "tier of the TRAIN-split examples (default: the file's data.tier)"),
    "n": Setting("int", None, "number of TRAIN-split examples", 1, 100_000),
    "seed": Setting("int", 0, "seed of the TRAIN-split example draw", 0, 2**63 - 1),
    "steps": Setting("int", None, "sampler steps (default: the file's sampler.steps, else 16)", 2, 10_000),
    "sampler": Setting("sampler_method", None, "sampler method (default: the file's sampler.method, else euler)"),
}

METHODS: dict[str, Method] = {
    "convergence": Method(
        "the paper's convergence classification: each layer's self-attention entropy rate (per example "
        "and head the mean |step-to-step change| of the normalised entropy, the entropy_rate measure, "
        "averaged) on TRAIN-split examples; stable below the threshold, fast otherwise",
        {**_COMMON, "n": Setting("int", 16, _COMMON["n"].doc, 1, 100_000),
         "threshold": Setting("threshold", "median", "a number, or median: the median layer rate"),
         "digits": Setting("int", 2, "significant digits a median threshold is rounded to", 1, 15)},
        {"threshold": "the entropy-rate threshold (per step)",
         "stable_layers": "layers whose rate is below the threshold",
         "fast_layers": "layers whose rate is at or above the threshold",
         "rates": "every layer's rate, layer 0 first"},
        {"threshold": 0.0, "stable_layers": [0], "fast_layers": [0], "rates": [0.0]},
    ),
    "lsac_tuning": Method(
        "LSAC's tuning as `latentflow bench lsac` makes it (latentflow.acceleration.tuning): "
        "per-layer entropy trajectories on TRAIN-split examples give each preset's freeze steps; "
        "entries at or past the last step (which cache nothing) are left out",
        {**_COMMON, "n": Setting("int", 4, _COMMON["n"].doc, 1, 100_000),
         "threshold": Setting("number", 0.01, "stable-layer entropy-rate threshold of the tuning", 0.0, None)},
        {"safe": "the Safe preset's plan {layer: freeze_step}",
         "balanced": "the Balanced preset's plan {layer: freeze_step}",
         "aggressive": "the Aggressive preset's plan {layer: freeze_step}"},
        {"safe": {0: 0}, "balanced": {0: 0}, "aggressive": {0: 0}},
    ),
    "architecture": Method(
        "the model's own sizes, read from it (nothing is measured)",
        {"every": Setting("int", 1, "the spacing of `layers`: every layer (1), every second one (2), ...",
                          1, 10_000)},
        {"n_layers": "the number of DiT blocks", "last_layer": "the last block's index (n_layers - 1)",
         "layers": "layers 0, every, 2 x every, ... and the last layer, whatever the depth"},
        {"n_layers": 1, "last_layer": 0, "layers": [0]},
    ),
}


@dataclass(frozen=True)
class DerivationRequest:
    """One ``derive:`` entry with every setting filled in: what a provider computes."""

    name: str
    method: str
    settings: tuple[tuple[str, Any], ...]  # sorted (setting, value) pairs
    file: str
    line: int | None

    @property
    def key(self) -> str:
        """The same for equal derivations in any file: what a cache keys on."""
        return json.dumps({"method": self.method, **dict(self.settings)}, sort_keys=True)


class DerivationError(Exception):
    """A derivation that cannot be made on the model; reported at the ``derive:`` entry."""


# provider(requests, model as the file writes it or None, file) -> request name -> quantity -> value.
# It may raise DerivationError (reported at the entry) or ModelUnavailable (see below).
Provider = Callable[[Sequence[DerivationRequest], "str | None", str], Mapping[str, Mapping[str, Any]]]


class ModelUnavailable(Exception):
    """Raised by a provider whose model cannot be loaded: stand-ins are used and no problem is
    reported here, since the caller reports the model itself (SpecSession: one ModelLoadError)."""


def resolve_derived(raw: Any, reader: Reader, provider: Provider | None) -> tuple[Any, dict[str, dict[str, Any]]]:
    """``raw`` (the file's YAML tree) with every ``{derived: NAME.QUANTITY}`` replaced by its value,
    and the values each hypothesis used (``hypotheses[i]`` -> NAME.QUANTITY -> value, for
    :func:`with_derived_values`); problems go to ``reader.issues``. A file without ``derive:`` and
    references is returned as is."""
    if not isinstance(raw, LineDict):
        return raw, {}
    requests = _read_section(raw, reader)
    references = [ref for section in REFERENCE_SECTIONS if section in raw
                  for ref in _find(raw[section], raw, section, section)]
    misplaced = [ref for key in raw if key not in (*REFERENCE_SECTIONS, SECTION)
                 for ref in _find(raw[key], raw, key, key)]
    for container, key, field, _ in misplaced:
        reader.report(container, key, field, "a derived value stands only in hypotheses and fuzz checks",
                      value=container[key], allowed="a literal value here")
    if not requests and not references:
        return raw, {}
    used = {ref[3].split(".", 1)[0] for ref in references}
    for request in requests.values():
        if request.name not in used:
            reader.report(raw[SECTION], request.name, f"{SECTION}.{request.name}",
                          "declared but no {derived: ...} value uses it", value=request.name,
                          allowed=f"use it as {{derived: {request.name}.<quantity>}}, or remove it")
    values = _compute(raw, requests, references, reader, provider)
    replacements: dict[int, Any] = {}
    uses: dict[str, dict[str, Any]] = {}
    for container, key, field, name in references:
        if name in values and (owner := _HYPOTHESIS.match(field)) is not None:
            uses.setdefault(owner.group(0), {})[name] = values[name]
        found = requests.get(name.split(".", 1)[0])
        quantity = name.split(".", 1)[1] if "." in name else ""
        if found is None or quantity not in METHODS[found.method].quantities:
            stand_in = None
        else:
            stand_in = METHODS[found.method].stand_ins[quantity]
        value = values.get(name, stand_in)
        if isinstance(value, (list, dict)) and not value and name in values:
            reader.report(container, key, field, f"the derived {name} is empty on this model", value=value,
                          allowed="a derivation that selects something on this model (see its settings)")
            value = stand_in
        replacements[id(container[key])] = _with_line(value, line_of(container, key))
    return _replaced(raw, replacements), uses


def with_derived_values(spec: Any, uses: Mapping[str, Mapping[str, Any]]) -> Any:
    """``spec`` whose hypotheses carry the derived values they used (``Hypothesis.derived``, which
    their cases and verdicts record), from :func:`resolve_derived`'s second result."""
    from dataclasses import replace

    from latentflow.spec.schema import freeze

    if not uses:
        return spec
    hypotheses = tuple(replace(h, derived=freeze(dict(sorted(uses[h.path].items())))) if h.path in uses else h
                       for h in spec.hypotheses)
    return replace(spec, hypotheses=hypotheses)


def beyond_depth(site: str, site_names: Sequence[str]) -> str | None:
    """For a block site past the model's last block: how deep the model is, and that such layers
    can be derived per model (a hint for the unknown-site error), else None."""
    match = _BLOCK.match(site)
    depth = 1 + max((int(m.group(1)) for m in map(_BLOCK.match, site_names) if m), default=-1)
    if match is None or depth == 0 or int(match.group(1)) < depth:
        return None
    return (f"the model has {depth} blocks (layers 0-{depth - 1}); a layer list that depends on the model "
            f"can be derived per model, e.g. layers: {{derived: convergence.stable_layers}} with a {SECTION}: section")


def line_of(container: Any, key: Any) -> int | None:
    return container.line_of(key) if hasattr(container, "line_of") else None


def _read_section(raw: LineDict, r: Reader) -> dict[str, DerivationRequest]:
    section = raw.get(SECTION)
    if section is None:
        return {}
    if not isinstance(section, LineDict) or not section:
        r.report(raw, SECTION, SECTION, "expected a mapping name -> derivation", value=section,
                 allowed=f"e.g. {SECTION}: {{convergence: {{tier: noisy, n: 16}}}}")
        return {}
    data, sampler = ({} if not isinstance(raw.get(key), LineDict) else raw[key] for key in ("data", "sampler"))
    file_defaults = {"tier": data.get("tier"), "steps": sampler.get("steps", 16),
                     "sampler": sampler.get("method", "euler")}
    requests = {}
    for name, written in section.items():
        field = f"{SECTION}.{name}"
        entry = LineDict(line=section.line_of(name)) if written is None else written
        if not isinstance(entry, LineDict):
            r.report(section, name, field, "expected a mapping of settings", value=entry,
                     allowed="{} (the defaults) or settings such as {tier: noisy, n: 16}")
            continue
        method = entry.get("from", name)
        if method in RENAMED:
            new = RENAMED[method]
            r.report(entry if "from" in entry else section, "from" if "from" in entry else name,
                     f"{field}.from" if "from" in entry else field,
                     f"the derivation method {method!r} was renamed {new!r}", value=method,
                     allowed=listing(tuple(METHODS)),
                     hint=None if "from" in entry else f"rename the entry and its {{derived: {name}.QUANTITY}} "
                                                       f"values to {new}, or keep the name and add from: {new}")
            continue
        if method not in METHODS:
            r.report(entry if "from" in entry else section, "from" if "from" in entry else name,
                     f"{field}.from" if "from" in entry else field, "unknown derivation method", value=method,
                     allowed=f"{listing(tuple(METHODS))} (an entry named after a method needs no from:)")
            continue
        spec = METHODS[method]
        r.check_keys(entry, field, ("from", *spec.settings))
        settings = {key: _setting(entry, key, setting, file_defaults, field, r)
                    for key, setting in spec.settings.items()}
        if "tier" in settings and settings["tier"] is None:
            r.report(entry, None, f"{field}.tier", "no tier: the file has no data.tier either",
                     allowed=listing(TIERS))
            continue
        requests[str(name)] = DerivationRequest(str(name), method, tuple(sorted(settings.items())),
                                                r.file, section.line_of(name))
    return requests


def _setting(entry: LineDict, key: str, setting: Setting, file_defaults: dict, field: str, r: Reader) -> Any:
    default = setting.default if setting.default is not None else file_defaults.get(key)
    if key not in entry:
        return default
    if setting.kind == "int":
        return r.integer(entry, key, field, default, low=setting.low, high=setting.high)
    if setting.kind == "tier":
        return r.choice(entry, key, field, TIERS, default)
    if setting.kind == "sampler_method":
        return r.choice(entry, key, field, SAMPLER_METHODS, default)
    if setting.kind == "threshold" and entry[key] == "median":
        return "median"
    return r.number(entry, key, field, default, low=setting.low if setting.low is not None else 0.0, open_low=True)


def _find(node: Any, container: Any, key: Any, field: str):
    """Every reference under ``node``: (its container, key, field path, NAME.QUANTITY)."""
    if isinstance(node, LineDict):
        if REFERENCE_KEY in node:
            yield container, key, field, node[REFERENCE_KEY]
            return
        for child_key, child in node.items():
            yield from _find(child, node, child_key, f"{field}.{child_key}")
    elif isinstance(node, LineList):
        for index, child in enumerate(node):
            yield from _find(child, node, index, f"{field}[{index}]")


def _compute(raw: LineDict, requests: dict[str, DerivationRequest], references: list, r: Reader,
             provider: Provider | None) -> dict[str, Any]:
    """``NAME.QUANTITY`` -> value for the references that name a declared derivation and quantity."""
    wanted: dict[str, DerivationRequest] = {}
    for container, key, field, name in references:
        node = container[key]
        if len(node) != 1 or not isinstance(name, str) or "." not in name:
            r.report(container, key, field, "a derived value is written {derived: NAME.QUANTITY}", value=node,
                     allowed=_quantities(requests))
            continue
        derivation, quantity = name.split(".", 1)
        request = requests.get(derivation)
        if request is None:
            r.report(container, key, field, f"no derivation {derivation!r} in the file's {SECTION}: section",
                     value=name, allowed=_quantities(requests))
        elif quantity not in METHODS[request.method].quantities:
            r.report(container, key, field, f"{request.method} provides no quantity {quantity!r}", value=name,
                     allowed=_quantities({derivation: request}))
        else:
            wanted[derivation] = request
    if not wanted:
        return {}
    if provider is None:
        for request in wanted.values():
            r.report(raw[SECTION], request.name, f"{SECTION}.{request.name}",
                     "derived values need the model the spec runs on", value=request.name,
                     allowed="run it through pytest or SpecSession, or pass loads_spec(..., derived=provider)")
        return {}
    model = raw.get("model") if isinstance(raw.get("model"), str) else None
    try:
        computed = provider(tuple(wanted.values()), model, r.file)
    except ModelUnavailable:
        return {}
    except DerivationError as error:
        first = next(iter(wanted.values()))
        r.report(raw[SECTION], first.name, f"{SECTION}.{first.name}", f"cannot derive: {error}")
        return {}
    return {f"{name}.{quantity}": value
            for name, quantities in computed.items() for quantity, value in quantities.items()}


def _quantities(requests: Mapping[str, DerivationRequest]) -> str:
    names = [f"{name}.{q}" for name, request in requests.items() for q in METHODS[request.method].quantities]
    return listing(names) if names else f"declare a derivation in {SECTION}: first ({listing(tuple(METHODS))})"


def _with_line(value: Any, line: int | None) -> Any:
    """A plain value as the YAML loader would have built it at ``line`` (errors name that line)."""
    if isinstance(value, Mapping):
        return LineDict({k: _with_line(v, line) for k, v in value.items()}, line=line, lines=dict.fromkeys(value, line))
    if isinstance(value, (list, tuple)):
        return LineList([_with_line(v, line) for v in value], line=line, lines=[line] * len(value))
    return value


def _replaced(node: Any, replacements: dict[int, Any]) -> Any:
    """A copy of the tree with the reference nodes (by identity) replaced, lines kept."""
    if id(node) in replacements:
        return replacements[id(node)]
    if isinstance(node, LineDict):
        return LineDict({k: _replaced(v, replacements) for k, v in node.items()}, line=node.line, lines=node.lines)
    if isinstance(node, LineList):
        return LineList([_replaced(v, replacements) for v in node], line=node.line, lines=node.lines)
    return node


def json_schema() -> dict:
    """The ``derive:`` section and the reference form, for latentflow.spec.json_schema."""
    kinds: dict[str, dict[str, Any]]  # a setting's kind -> its JSON schema
    kinds = {"int": {"type": "integer"}, "number": {"type": "number"}, "tier": {"enum": list(TIERS)},
             "sampler_method": {"enum": list(SAMPLER_METHODS)},
             "threshold": {"anyOf": [{"type": "number", "exclusiveMinimum": 0}, {"const": "median"}]}}
    entries = []
    for name, method in METHODS.items():
        properties = {key: {**kinds[s.kind], "description": s.doc} for key, s in method.settings.items()}
        entries.append({"type": ["object", "null"], "description": method.doc,
                        "properties": {"from": {"const": name}, **properties}, "additionalProperties": False})
    return {"type": "object", "additionalProperties": {"anyOf": entries},
            "description": "constants derived per model, used as {derived: NAME.QUANTITY} (docs/spec-language.md)"}


REFERENCE_SCHEMA = {"type": "object", "properties": {REFERENCE_KEY: {"type": "string", "pattern": r"^\w+\.\w+$"}},
                    "required": [REFERENCE_KEY], "additionalProperties": False,
                    "description": "a constant derived per model: {derived: NAME.QUANTITY} (NAME in derive:)"}
