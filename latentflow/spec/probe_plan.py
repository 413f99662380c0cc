"""A probe spec compiled into the cases an executor runs (the probe twin of :mod:`latentflow.spec.plan`).

Command-line overrides apply as they do to separation cases where they mean something here:
``--latentflow-seed`` replaces the stimulus seed (and so the cross-validation folds and the
bootstrap draws), ``--latentflow-n`` limits the trials per class and rung (a smoke run, at least
the number of folds). ``--latentflow-model`` names the SAM Audio model of separation specs; a probe
case runs the reference models it declares, and its verdict records that the override did not
apply to it (``extra.probe.model_override_ignored``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.plan import Overrides, case_id
from latentflow.spec.probe import ProbeExpect, ProbeSetup, ProbeSpec

DEFAULT_TRIALS_PER_CLASS = 20  # StimulusConfig's default (kept torch- and numpy-free here)


@dataclass(frozen=True)
class ProbeCase:
    """One runnable probe hypothesis. ``source_file``/``line``/``params`` are provenance only."""

    case_id: str
    claim: s.Claim
    hypothesis_id: str
    variant: str | None
    title: str
    setup: ProbeSetup
    expect: ProbeExpect
    paper: Any = None
    notes: str | None = None
    outcome: str = "holds"
    reason: str | None = None
    params: s.FrozenDict = field(default_factory=s.FrozenDict, compare=False)
    source_file: str = ""
    line: int | None = field(default=None, compare=False)
    marks: tuple[str, ...] = field(default=(), compare=False)
    index: int = field(default=0, compare=False)
    model_override: str | None = None  # --latentflow-model, which probe cases do not use
    # latentflow.spec.probe_controls.ProbeControl, run with the case (latentflow.execution.probe_controls)
    controls: tuple[Any, ...] = ()

    @property
    def location(self) -> str:
        return f"{self.source_file}:{self.line}"

    @property
    def group(self) -> str:
        """Cases that share stimuli (one target) run together: their comparisons pair trials."""
        return self.setup.target


@dataclass(frozen=True)
class ProbePlan:
    source_file: str
    claim: s.Claim
    cases: tuple[ProbeCase, ...]
    fuzz: tuple = ()  # probe specs have no fuzz checks; kept so callers treat both plans alike


def _overridden(setup: ProbeSetup, overrides: Overrides) -> ProbeSetup:
    changes: dict[str, Any] = {}
    if overrides.seed is not None:
        changes["seed"] = overrides.seed
    limit = overrides.n if overrides.n is not None else overrides.max_n
    trials = setup.stimuli.get("trials_per_class", DEFAULT_TRIALS_PER_CLASS)
    if limit is not None and (overrides.n is not None or limit < trials):
        changes["stimuli"] = s.FrozenDict({**setup.stimuli, "trials_per_class": max(limit, setup.folds)})
    return dataclasses.replace(setup, **changes) if changes else setup


def compile_probe_plan(spec: ProbeSpec, overrides: Overrides | None = None) -> ProbePlan:
    overrides = overrides or Overrides()
    cases = []
    for index, h in enumerate(spec.hypotheses):
        expect = h.expect
        if expect.versus is not None:
            expect = dataclasses.replace(expect, versus=_overridden(expect.versus, overrides))
        cases.append(ProbeCase(
            case_id=case_id(spec.claim.id, h.id, h.variant), claim=spec.claim, hypothesis_id=h.id,
            variant=h.variant, title=h.title, setup=_overridden(h.probe, overrides), expect=expect, paper=h.paper,
            notes=h.notes, outcome=h.outcome, reason=h.reason, params=h.params, source_file=spec.file, line=h.line,
            marks=tuple(dict.fromkeys((*spec.marks, *h.marks))), index=index, model_override=overrides.model,
            controls=h.controls,
        ))
    return ProbePlan(spec.file, spec.claim, tuple(cases))


__all__ = ["ProbeCase", "ProbePlan", "compile_probe_plan"]
