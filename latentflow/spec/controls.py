"""Declared controls: reading and checking a spec's ``controls:`` (file level or per hypothesis).

A control is a second run of a hypothesis whose verdict is known in advance, so that the
hypothesis's own verdict can be trusted: a *negative* control (a counter-model with the
mechanism removed, or an intervention that must not pass the claim's test: a sham or a
contrast) must give ``outcome: fails``; a *positive* control must give ``holds``. A control
is a model (``model:`` a counter-model, a checkpoint, any model name), an intervention list
that replaces the hypothesis's own on the same model (``interventions:``), or both. It runs
with the hypothesis's data, sampler, measure and expectation (latentflow.execution.controls).

Rules checked here (everything that needs neither the model nor the registries):
- keys (CONTROL_KEYS), ``id`` unique per hypothesis, ``outcome`` one of OUTCOMES;
- ``outcome`` is required with ``model:``; an intervention-only control (a sham or a contrast)
  defaults to ``fails``: the opposite of what the claim asserts, whatever the spec records
  about the claim (a claim recorded as failing because its contrast passes keeps that contrast
  a negative control);
- a model control's name must be a model name latentflow knows (counter-model, preset) or an
  existing path (relative to the spec file); ``counter:<name>`` is built from the model the case
  runs on (latentflow.execution.controls.control_model), ``counter:<name>@<model>`` from that model;
- an intervention control needs a hypothesis with interventions (an internal measure without
  any reads the baseline's own value: replacing nothing changes nothing);
- file-level controls apply to every hypothesis recorded ``outcome: holds`` (a claim recorded
  as not holding has nothing for a negative control to guard), before the hypothesis's own.
Intervention sites, operations and arguments are checked with the hypothesis's own, in
latentflow.spec.validate.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.errors import listing
from latentflow.spec.grammar import ID_HELP
from latentflow.spec.interventions import read_interventions
from latentflow.spec.reader import Reader
from latentflow.spec.yaml_loader import LineDict

CONTROL_KEYS = ("id", "title", "notes", "model", "interventions", "outcome")
CONTROL_KINDS = ("model", "interventions")
# an intervention-only control must not pass the claim's test (a sham or a contrast)
INTERVENTION_DEFAULT_OUTCOME = "fails"


@dataclass(frozen=True)
class Control:
    """One declared control. ``model`` None: the hypothesis's model; ``interventions`` None:
    the hypothesis's interventions."""

    id: str
    outcome: str
    model: str | None = None
    interventions: tuple[s.Intervention, ...] | None = None
    title: str | None = None
    notes: str | None = None
    line: int | None = field(default=None, compare=False, repr=False)
    path: str | None = field(default=None, compare=False, repr=False)
    model_line: int | None = field(default=None, compare=False, repr=False)  # the `model:` key's line

    @property
    def kind(self) -> str:
        """``model``, ``interventions`` or ``model+interventions``: what the control replaces."""
        parts = [k for k, v in (("model", self.model), ("interventions", self.interventions)) if v is not None]
        return "+".join(parts)

    @property
    def negative(self) -> bool:
        return self.outcome == "fails"

    def to_yaml(self) -> dict[str, Any]:
        return s.present(
            id=self.id,
            title=self.title,
            notes=self.notes,
            model=self.model,
            interventions=None if self.interventions is None else [i.to_yaml() for i in self.interventions],
            outcome=self.outcome,
        )


def parse_controls(
    node: LineDict,
    field: str,
    r: Reader,
    *,
    steps_count: int | None,
    outcome: str | None,
    has_interventions: bool,
    inherited: tuple[Control, ...] = (),
    parsed: list[Any] | None = None,
) -> tuple[Control, ...] | None:
    """The controls of one hypothesis (``node`` is its YAML): the file's ``inherited`` ones (if
    the hypothesis is recorded to hold) followed by its own; None when one is broken.
    ``outcome`` is the hypothesis's (None: unknown, broken); ``parsed`` receives the parsed
    interventions, so their names are checked even when the hypothesis is broken."""
    start = r.mark()
    own = _read_list(node, field, r, steps_count, outcome, parsed) if "controls" in node else ()
    if own is None:
        return None
    controls = (inherited if outcome == "holds" else ()) + own
    check_unique_ids(controls, field, r)
    if not has_interventions:
        for control in controls:
            if control.interventions is not None:
                r.report(None, None, f"{control.path}.interventions",
                         "an intervention control replaces the hypothesis's interventions, and this "
                         "hypothesis has none (its internal measure reads the baseline's own value)",
                         line=control.line, allowed="a model control (model: counter:<name>, a checkpoint)")
    return None if r.failed_since(start) else controls


def parse_file_controls(raw: LineDict, r: Reader, *, steps_count: int | None) -> tuple[Control, ...]:
    """The top-level ``controls:`` (applied to every hypothesis recorded to hold)."""
    if "controls" not in raw:
        return ()
    if "hypotheses" not in raw:
        r.report(raw, "controls", "controls", "controls run with hypotheses; this spec has none "
                 "(a fuzz check has no test to judge a control by)", allowed="hypotheses: [...]")
        return ()
    return _read_list(raw, "", r, steps_count, "holds", None) or ()


def _read_list(node: LineDict, field: str, r: Reader, steps_count: int | None, outcome: str | None,
               parsed: list[Any] | None) -> tuple[Control, ...] | None:
    items = r.sequence(node, "controls", field, non_empty=True)
    if items is None:
        return None
    start = r.mark()
    where = f"{field}.controls" if field else "controls"
    out = [_control(item, items, i, f"{where}[{i}]", r, steps_count, outcome, parsed) for i, item in enumerate(items)]
    return None if r.failed_since(start) else tuple(c for c in out if c is not None)


def _control(node: Any, parent: Any, index: int, field: str, r: Reader, steps_count: int | None,
             outcome: str | None, parsed: list[Any] | None) -> Control | None:
    start = r.mark()
    head = read_control_head(node, parent, index, field, r, CONTROL_KEYS)
    if head is None:
        return None
    control_id, title, notes = head
    model = r.text(node, "model", field)
    if model is not None:
        _check_model(model, node, field, r)
    interventions = (read_interventions(node, field, r, steps_count, required=True, parsed=parsed)
                     if "interventions" in node else None)
    declared = r.choice(node, "outcome", field, s.OUTCOMES)
    if "model" not in node and "interventions" not in node:
        r.report(node, None, field, "a control names what it changes: a model, interventions, or both",
                 allowed="model: counter:<name> | a checkpoint path | a model name; interventions: [...]")
    if declared is None and "outcome" not in node and "model" in node:
        r.report(node, None, f"{field}.outcome",
                 "a model control must say which outcome it gives on that model",
                 allowed=listing(s.OUTCOMES) + " (fails: a negative control, its mechanism removed)")
    if r.failed_since(start):
        return None
    if declared is None:  # an intervention control: a sham or a contrast
        declared = INTERVENTION_DEFAULT_OUTCOME
    return Control(control_id, declared, model, interventions, title, notes, line=node.line, path=field,
                   model_line=node.lines.get("model"))


def check_unique_ids(controls: tuple[Control, ...], field: str, r: Reader) -> None:
    """One hypothesis's controls (the file's included) have distinct ids."""
    seen: dict[str, Control] = {}
    for control in controls:
        if control.id in seen:
            r.report(None, None, f"{field}.controls", "two controls of one hypothesis share an id",
                     value=control.id, line=control.line,
                     allowed=f"a unique id (the other is at line {seen[control.id].line})")
        seen[control.id] = control


def read_control_head(node: Any, parent: Any, index: int, field: str, r: Reader,
                      keys: tuple[str, ...]) -> tuple[str, str | None, str | None] | None:
    """A control's mapping checked against ``keys``, and its id, title and notes (also for probe
    specs' controls, latentflow.spec.probe_controls); None when it is no mapping."""
    if not isinstance(node, LineDict):
        r.report(parent, index, field, "expected a mapping (a control)", value=node, allowed=f"keys {listing(keys)}")
        return None
    if not r.check_keys(node, field, keys, ("id",)):
        return None
    control_id = r.text(node, "id", field, pattern=s.ID_PATTERN, pattern_help=ID_HELP)
    return control_id, r.text(node, "title", field), r.text(node, "notes", field)


def _check_model(model: str, node: LineDict, field: str, r: Reader) -> None:
    """The model's name must be a form latentflow loads and, for a path, exist (relative to the
    spec file); loading it is left to the run (a checkpoint may be large)."""
    from latentflow.model_names import MODEL_NAME_FORMS, parse_model_name
    from latentflow.spec.plan import is_model_name, resolve_model

    try:
        parsed = parse_model_name(model)
    except ValueError as error:
        r.report(node, "model", f"{field}.model", f"unknown model: {error}", value=model, allowed=MODEL_NAME_FORMS)
        return
    if parsed.base is not None:  # counter:<name>@<model>: the model it is built from must exist
        _check_model(parsed.base, node, field, r)
        return
    if model.strip().lower() == s.FIXTURE_MODEL or ":" in model:
        return
    resolved = resolve_model(model, Path(r.file).parent)
    if not Path(resolved).exists():
        kind = "model name" if is_model_name(model) else "path"
        r.report(node, "model", f"{field}.model", f"unknown model: no such {kind} (looked for {resolved})",
                 value=model, allowed=MODEL_NAME_FORMS)
