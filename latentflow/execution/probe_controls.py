"""Running a probe case's declared controls (latentflow.spec.probe_controls) and judging trust.

Each control is the case's expectation judged once more on the control's setup (another
reference model and/or ablation; same stimuli, seed, ladder, folds and bootstrap). It goes
through the same per-process caches as every probe run (:func:`latentflow.execution.probe.result`,
and the features' disk cache), so a control on a model another case of the file also probes
(the monaural front ends, GCC-PHAT, the EC baseline) reuses its stimuli, features, detection
curves and bootstrap: nothing is computed twice.

What the verdict makes of the results is the paired specs' rule (Verdict.holds, Verdict.why):
the case holds only when its test passes and every control gave its declared outcome, else
"the test cannot tell: control X held although its mechanism is removed ..." (or the positive
twin); the results file lists each control with its numbers (``controls``: the test's stats,
both thresholds, and ``probe``, the run's BMLD record as ``extra.probe`` keeps the case's).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from latentflow.spec.probe_controls import control_setups

from .controls import ControlResult


@dataclass(frozen=True)
class ProbeControlResult(ControlResult):
    """A control's probe run, judged: ``described`` is its setup in words, ``probe`` its record."""

    described: str = ""
    probe: dict = field(default_factory=dict)

    @property
    def what(self) -> str:
        return self.described + (f": {self.title}" if self.title else "")

    def to_dict(self) -> dict[str, Any]:
        return {**super().to_dict(), "probe": self.probe}


def run_probe_controls(case: Any) -> tuple[ProbeControlResult, ...]:
    """Run and judge each of the case's controls."""
    from .probe import judge_probe

    out = []
    for control in case.controls:
        setup, versus = control_setups(case.setup, case.expect, control)
        stats, record, _ = judge_probe(setup, dataclasses.replace(case.expect, versus=versus))
        described = setup.describe() + ("" if versus is None else f" versus {versus.describe()}")
        out.append(ProbeControlResult(
            id=control.id, kind=control.kind, title=control.title, model=f"bmld:{setup.model}", interventions=(),
            expected=control.outcome, result=stats, x_mean=record["threshold_n0s0_db"],
            y_mean=record["threshold_n0spi_db"], described=described, probe=record,
        ))
    return tuple(out)


def judge_probe_controls(verdict: Any, case: Any, *, enabled: bool = True) -> Any:
    """The verdict with the case's controls run and recorded (or recorded as skipped)."""
    if not case.controls:
        return verdict
    if not enabled:
        return dataclasses.replace(verdict, controls_skipped=True)
    return dataclasses.replace(verdict, controls=run_probe_controls(case))


__all__ = ["ProbeControlResult", "judge_probe_controls", "run_probe_controls"]
