"""Declared controls of probe hypotheses: ``controls:`` in a probe spec (file level or per hypothesis).

The same idea and vocabulary as a paired spec's controls (:mod:`latentflow.spec.controls`): a
control is the hypothesis's test run once more with one thing replaced, whose outcome is known
in advance, so that the hypothesis's own verdict can be trusted. A *negative* control must give
``outcome: fails`` (a monaural front end cannot show binaural unmasking; the target's interaural
phase scrambled leaves nothing to unmask); a *positive* control must give ``holds`` (GCC-PHAT,
the EC baseline). In a probe spec what a control replaces is the probe setup:

- ``model`` (with ``params``/``site`` as in a hypothesis' ``probe:``): another registered
  reference model; its parameters are its own defaults unless given (the hypothesis's, when the
  model is the same);
- ``ablation``: another physical ablation (``none``: the intact stimuli).

Everything else is the hypothesis's: stimuli, seed, ladder, folds, bootstrap, expectation. A
``versus`` comparison follows the control where it followed the hypothesis (a ``versus`` that
named no model of its own runs on the control's model; one that named no ablation, on the
control's ablation), so that "ablated minus half of intact" stays a within-model comparison.

Rules (checked at load time, with file:line, field and what is allowed):
- keys (PROBE_CONTROL_KEYS), ``id`` unique per hypothesis (the file's included), ``outcome``
  one of OUTCOMES; ``outcome`` is required with ``model:``; an ablation-only control defaults to
  ``fails`` (like a paired spec's intervention-only control: a sham must not pass the claim's test);
- the model, its parameters and site, and the ablation are checked against the registries as in
  the hypothesis's ``probe:``; a control must change something (else it is the case itself);
- file-level controls apply to every hypothesis recorded ``outcome: holds``, before its own.
Running them is :mod:`latentflow.execution.probe_controls`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.controls import INTERVENTION_DEFAULT_OUTCOME, Control, check_unique_ids, read_control_head
from latentflow.spec.errors import listing
from latentflow.spec.reader import Reader
from latentflow.spec.yaml_loader import LineDict

PROBE_CONTROL_KEYS = ("id", "title", "notes", "model", "params", "site", "ablation", "outcome")
_INHERIT = "<the hypothesis's>"  # an ablation the control does not name


@dataclass(frozen=True)
class ProbeControl(Control):
    """One declared probe control. ``model`` None: the hypothesis's model; ``params`` None: the
    model's defaults (the hypothesis's, for the hypothesis's own model); ``ablation`` _INHERIT:
    the hypothesis's ablation, None: the intact stimuli."""

    params: s.FrozenDict | None = None
    site: str | None = None
    ablation: str | None = _INHERIT

    @property
    def kind(self) -> str:
        """``model``, ``ablation`` or ``model+ablation``: what the control replaces."""
        parts = [k for k, changed in (("model", self.model is not None),
                                      ("ablation", self.ablation != _INHERIT)) if changed]
        return "+".join(parts)

    def to_yaml(self) -> dict[str, Any]:
        return s.present(
            id=self.id, title=self.title, notes=self.notes, model=self.model,
            params=None if self.params is None else {k: list(v) if isinstance(v, tuple) else v
                                                     for k, v in self.params.items()},
            site=self.site, ablation=None if self.ablation == _INHERIT else (self.ablation or "none"),
            outcome=self.outcome,
        )


def control_setups(setup: Any, expect: Any, control: ProbeControl) -> tuple[Any, Any]:
    """The control's (ProbeSetup, versus ProbeSetup or None): the hypothesis's with the model
    and/or ablation replaced (see the module docstring for how ``versus`` follows)."""
    def replaced(base: Any, follows_model: bool, follows_ablation: bool) -> Any:
        changes: dict[str, Any] = {}
        if control.model is not None and follows_model:  # params resolved at load (resolve_probe_controls)
            changes.update(model=control.model, params=control.params or s.FrozenDict(), site=control.site)
        if control.ablation != _INHERIT and follows_ablation:
            changes.update(ablation=control.ablation,
                           ablation_params=setup.ablation_params if control.ablation == setup.ablation
                           else s.FrozenDict())
        return dataclasses.replace(base, **changes) if changes else base

    versus = expect.versus
    if versus is not None:
        versus = replaced(versus, versus.model == setup.model and versus.params == setup.params,
                          versus.ablation == setup.ablation)
    return replaced(setup, True, True), versus


def read_probe_controls(node: LineDict, field: str, r: Reader) -> tuple[ProbeControl, ...] | None:
    """The ``controls:`` list of ``node`` (a hypothesis or the file), unresolved; None if broken."""
    if "controls" not in node:
        return ()
    items = r.sequence(node, "controls", field, non_empty=True)
    if items is None:
        return None
    start = r.mark()
    where = f"{field}.controls" if field else "controls"
    out = [_control(item, items, i, f"{where}[{i}]", r) for i, item in enumerate(items)]
    return None if r.failed_since(start) else tuple(c for c in out if c is not None)


def _control(node: Any, parent: Any, index: int, field: str, r: Reader) -> ProbeControl | None:
    from latentflow.spec.probe import NO_ABLATION, _ablation, _model

    start = r.mark()
    head = read_control_head(node, parent, index, field, r, PROBE_CONTROL_KEYS)
    if head is None:
        return None
    control_id, title, notes = head
    model = _model(node, field, r) if "model" in node else None
    site = r.text(node, "site", field)
    params = r.mapping(node, "params", field)
    ablation: str | None = _INHERIT
    if "ablation" in node:
        ablation = None if node["ablation"] in (None, NO_ABLATION) else _ablation(node, field, r)
    declared = r.choice(node, "outcome", field, s.OUTCOMES)
    if "model" not in node and "ablation" not in node:
        r.report(node, None, field, "a control names what it changes: a model, an ablation, or both",
                 allowed="model: <a registered reference model>; ablation: <an ablation> | none")
    if (params is not None or site is not None) and "model" not in node:
        r.report(node, "params" if params is not None else "site", field,
                 "params and site belong to a control's model", allowed="model: <name> with them")
    if declared is None and "outcome" not in node and "model" in node:
        r.report(node, None, f"{field}.outcome", "a model control must say which outcome it gives on that model",
                 allowed=listing(s.OUTCOMES) + " (fails: a negative control, its mechanism removed)")
    if r.failed_since(start):
        return None
    frozen = None if params is None else s.freeze(dict(params))
    return ProbeControl(control_id, declared or INTERVENTION_DEFAULT_OUTCOME, model, None, title, notes,
                        line=node.line, path=field, params=frozen, site=site, ablation=ablation)


def resolve_probe_controls(own: tuple[ProbeControl, ...], inherited: tuple[ProbeControl, ...], setup: Any,
                           expect: Any, outcome: str | None, field: str, r: Reader) -> tuple[ProbeControl, ...]:
    """A hypothesis's controls: the file's (if it is recorded to hold), then its own, each
    checked against this hypothesis's setup (model parameters and site as the run uses them;
    it must change something)."""
    from latentflow.spec.probe import _model_params

    controls = (inherited if outcome == "holds" else ()) + own
    check_unique_ids(controls, field, r)
    if setup is None or expect is None:
        return controls
    resolved = []
    for declared in controls:
        control = declared
        if control.model is not None:
            if control.params is not None:
                params = dict(control.params)
            elif control.model == setup.model:  # the hypothesis's parameters; a site of its own replaces its hook
                params = {k: v for k, v in setup.params.items() if not (k == "hook" and control.site is not None)}
            else:
                params = {}
            checked = _model_params(control.model, params, control.site, LineDict(line=control.line),
                                    control.path or field, r)
            if checked is None:
                continue
            control = dataclasses.replace(control, params=checked)
        twin, _ = control_setups(setup, expect, control)
        if twin == setup:
            r.report(None, None, control.path or field, "the control runs the hypothesis's own setup "
                     "(it changes nothing)", value=control.id, line=control.line,
                     allowed="another model, params or ablation")
        resolved.append(control)
    return tuple(resolved)


__all__ = ["PROBE_CONTROL_KEYS", "ProbeControl", "control_setups", "read_probe_controls",
           "resolve_probe_controls"]
