"""Running a case's declared controls and judging whether the case can be trusted.

Each control (latentflow.spec.controls.Control) is the case run once more with its model
and/or interventions replaced; everything else (data, sampler, measure, expectation, noise
seeds) is the case's. It goes through the same Runner, so what it shares with other runs is
shared: the baseline of a same-model intervention control is the case's own baseline, a
counter-model's baseline is computed once for every case of the file that runs on it, and an
intervention list that another case already ran is not run again (runs are memoised by what
determines them).

A control is judged alone, not with the case's family: a negative control (``outcome:
fails``) uncorrected is the stricter check (a correction would only make it fail more
easily); a positive control (``outcome: holds``) of a corrected family of m cases is tested at
alpha / m (Bonferroni, at least as strict as any correction the family uses).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..counter_models import counter_problem
from ..model_names import COUNTER_BASE, is_fixture, parse_model_name
from ..spec.errors import SpecIssue
from ..spec.plan import resolve_model
from ..stats import TestResult
from .judgement import mean_of
from .verdict import describe_intervention

CONTROL_SEPARATOR = "~control:"  # case ids of controls: <case id>~control:<control id>


@dataclass(frozen=True)
class ControlResult:
    """One control's run, judged: ``holds`` is its test's verdict, ``behaved`` whether that is
    the outcome the spec declares for it."""

    id: str
    kind: str
    title: str | None
    model: str
    interventions: tuple[dict, ...]  # Intervention.to_yaml() of each, as a verdict carries them
    expected: str
    result: TestResult
    x_mean: float | None
    y_mean: float | None
    nan_reasons: tuple[str, ...] = ()

    @property
    def holds(self) -> bool:
        return bool(self.result.passed)

    @property
    def behaved(self) -> bool:
        return self.holds == (self.expected == "holds")

    @property
    def what(self) -> str:
        changed = []
        if "model" in self.kind:
            changed.append(f"model {self.model}")
        if "interventions" in self.kind:
            changed.append("; ".join(map(describe_intervention, self.interventions)) or "no intervention")
        return ", ".join(changed) + (f": {self.title}" if self.title else "")

    @property
    def reason(self) -> str:
        """Why the control behaved or not, with its test's own reason."""
        if self.behaved:
            state = "held" if self.holds else "failed"
            return f"control {self.id} {state} as declared ({self.what}): {self.result.reason}"
        if self.expected == "fails":
            return (f"control {self.id} held although its mechanism is removed ({self.what}): "
                    f"{self.result.reason}")
        return (f"control {self.id} failed although its mechanism is present ({self.what}): "
                f"{self.result.reason}")

    def line(self) -> str:
        """One line for a failure screen."""
        r = self.result
        ci = r.confidence_interval or (None, None)
        return (f"control     {self.id} must {'hold' if self.expected == 'holds' else 'fail'}: "
                f"{'holds' if self.holds else 'fails'} -> {'ok' if self.behaved else 'MISBEHAVED'}; "
                f"n={r.n} mean difference {_fmt(r.mean_difference)} [{_fmt(ci[0])}, {_fmt(ci[1])}] "
                f"{r.effect_size_name}={_fmt(r.effect_size)} p={_fmt(r.pvalue)} ({self.what})")

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "model": self.model,
            "interventions": [dict(iv) for iv in self.interventions],
            "expected": self.expected,
            "holds": self.holds,
            "behaved": self.behaved,
            "why": self.reason,
            "x_mean": _finite(self.x_mean),
            "y_mean": _finite(self.y_mean),
            "nan_reasons": sorted(set(self.nan_reasons)),
            "stats": self.result.to_dict(),
        }


def control_model(case: Any, control: Any) -> str:
    """The model a control runs on. A counter-model (``counter:<name>``) breaks its mechanism in
    the model the case runs on (``--latentflow-model`` or the spec's ``model:``), never silently
    in the bundled fixture: on another model it is ``counter:<name>@<the case's model>``. A
    counter-model that names its base (``counter:<name>@<model>``), a checkpoint or another name
    runs as written (a relative path relative to the spec file)."""
    if control.model is None:
        return case.model
    model = resolve_model(control.model, Path(case.source_file).parent if case.source_file else Path.cwd())
    parsed = parse_model_name(model)
    if parsed.counter is not None and parsed.base is None and not is_fixture(case.model):
        return f"counter:{parsed.counter}{COUNTER_BASE}{case.model}"
    return model


def control_model_issues(cases: Iterable[Any], world: Any) -> list[SpecIssue]:
    """A counter-model control that cannot be built from the model its cases run on (``world``,
    already loaded), as a spec problem at the control's line naming the control and the model
    (found when the spec is collected, not when the control would run)."""
    issues = []
    seen = set()
    for case in cases:
        for control in case.controls:
            parsed = parse_model_name(control_model(case, control))
            if parsed.counter is None or parsed.base != case.model or (case.source_file, control.line) in seen:
                continue
            problem = counter_problem(world.model, parsed.counter, case.model)
            if problem is not None:
                seen.add((case.source_file, control.line))
                issues.append(SpecIssue(case.source_file or "<spec>", control.model_line or control.line,
                                        f"{control.path}.model",
                                        f"control {control.id} cannot run: {problem}", value=repr(control.model),
                                        allowed="a counter-model whose parts the model has, or a checkpoint "
                                                "with the mechanism removed"))
    return issues


def control_case(case: Any, control: Any) -> Any:
    """The case as the control runs it: its own id, model and/or interventions, judged alone."""
    model = control_model(case, control)
    expect = case.expect
    if control.outcome == "holds" and case.correction != "none" and case.family_size > 1:
        expect = dataclasses.replace(expect, alpha=expect.alpha / case.family_size)
    return dataclasses.replace(
        case,
        case_id=f"{case.case_id}{CONTROL_SEPARATOR}{control.id}",
        model=model,
        interventions=case.interventions if control.interventions is None else control.interventions,
        expect=expect,
        outcome=control.outcome,
        reason=None,
        family=None,
        correction="none",
        family_size=1,
        controls=(),
    )


def control_cases(cases: Iterable[Any]) -> list[Any]:
    """Every control of ``cases`` as a case (for Runner.prepare: shared recordings)."""
    return [control_case(case, control) for case in cases for control in case.controls]


def run_controls(runner: Any, case: Any) -> tuple[ControlResult, ...]:
    """Run and judge each of the case's controls (memoised by the runner like any case)."""
    out = []
    for control in case.controls:
        twin = control_case(case, control)
        raw = runner.case_result(twin)
        # a sequential control decides sequentially, as its case does
        result = raw.result if raw.sequential is None else _as_test(raw)
        out.append(ControlResult(
            id=control.id, kind=control.kind, title=control.title, model=twin.model,
            interventions=tuple(iv.to_yaml() for iv in twin.interventions), expected=control.outcome,
            result=result, x_mean=mean_of(raw.x), y_mean=None if raw.y is None else mean_of(raw.y),
            nan_reasons=raw.nan_reasons,
        ))
    return tuple(out)


def judge(verdict: Any, runner: Any, case: Any, *, enabled: bool = True) -> Any:
    """The verdict with the case's controls run and recorded (or recorded as skipped)."""
    if not case.controls:
        return verdict
    if not enabled:
        return dataclasses.replace(verdict, controls_skipped=True)
    return dataclasses.replace(verdict, controls=run_controls(runner, case))


def _as_test(raw: Any) -> TestResult:
    """A sequential control's decision in the fixed-n result's clothes: its passed and reason."""
    return dataclasses.replace(raw.result, passed=bool(raw.sequential.passed), reason=raw.sequential.reason)


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def _fmt(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.3g}"
