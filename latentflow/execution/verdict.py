"""A case's verdict: the statistics of its measure, judged against what the spec expects.

A verdict carries what was done, measured and expected as the spec's own dicts
(``Intervention.to_yaml()``, ``Measure.to_yaml()``, ``Expect.to_yaml()``, JSON-plain), so a
results file, the gate and the report read them as values; the text in `Verdict.explain` is
rendered from them for display only.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ..spec.probe import describe_probe_expectation, describe_probe_setup
from ..stats import TestResult
from ..stats.sequential import SequentialResult


def _num(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _fmt(value: float | None, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}g}"


@dataclass(frozen=True)
class Verdict:
    """One hypothesis, run: what was done, what was measured, the test, and whether the claim held.

    holds: the statistical expectation was met (``result.passed``, after any correction).
    expected: "holds", or "fails" when the spec records that the claim does not hold on the model.
    passed: the spec's expectation about the verdict was right (holds == (expected == "holds")).
    sequential: a sequential case's decision (after any family correction); ``result`` is then
    the fixed-n test on the examples it used, shown next to it but not deciding.
    """

    case_id: str
    claim_id: str
    claim_title: str
    hypothesis_id: str
    title: str
    location: str
    model: str
    interventions: tuple[dict, ...]  # Intervention.to_yaml() of each, in the spec's order
    measure: dict  # Measure.to_yaml()
    expectation: dict  # Expect.to_yaml()
    result: TestResult
    expected: str
    expected_reason: str | None
    x_mean: float | None  # mean of the intervened (or only) condition
    y_mean: float | None  # mean of the baseline condition, when paired
    nan_reasons: tuple[str, ...] = ()
    paper: Any = None
    params: dict = field(default_factory=dict)
    extra: dict = field(default_factory=dict, compare=False)
    # data, sampler, noise seeds and both arms' per-example values (see judgement.examples_record)
    examples: dict = field(default_factory=dict, compare=False)
    claim_paper: Any = None  # the claim's own paper numbers (claim.paper)
    order: int | None = None  # the case's position in its spec file (reports keep spec order)
    sequential: SequentialResult | None = None
    # the case's declared controls, run and judged (latentflow.execution.controls.ControlResult)
    controls: tuple = field(default=(), compare=False)
    controls_skipped: bool = False  # declared but not run (--latentflow-controls off)
    # the constants derived per model that the case used, NAME.QUANTITY -> value (JSON-plain)
    derived: dict = field(default_factory=dict, compare=False)

    @property
    def misbehaved(self) -> tuple:
        """The controls that did not give their declared outcome: the test cannot tell."""
        return tuple(c for c in self.controls if not c.behaved)

    @property
    def decision(self) -> Any:
        """What decides the verdict: the sequential result, else the fixed-n test."""
        return self.result if self.sequential is None else self.sequential

    @property
    def holds(self) -> bool:
        """The claim's test passed and every control behaved (a test that cannot tell shows nothing)."""
        return bool(self.decision.passed) and not self.misbehaved

    @property
    def passed(self) -> bool:
        return self.holds == (self.expected == "holds")

    @property
    def why(self) -> str:
        """Why the verdict passed or failed, in a sentence."""
        claim = "holds" if self.holds else "does not hold"
        reason = self.decision.reason
        if self.decision.passed and self.misbehaved:
            reason = ("the test cannot tell: " + "; ".join(c.reason for c in self.misbehaved)
                      + f" (the claim's own test: {reason})")
            if self.expected == "holds":
                return reason
        elif self.controls_skipped:
            reason += " (controls skipped: --latentflow-controls off)"
        if self.passed:
            if self.expected == "holds":
                return f"the claim holds: {reason}"
            return f"as recorded in the spec, the claim does not hold on this model ({self.expected_reason}): {reason}"
        if self.expected == "holds":
            return f"the claim {claim}: {reason}"
        return (f"the spec records that this claim fails on this model ({self.expected_reason}), "
                f"but it now holds: {reason}")

    def explain(self) -> str:
        """One screen for a failure report."""
        r = self.result
        p_line = f"p={_fmt(r.pvalue)}"
        if r.pvalue_corrected is not None:
            p_line += f"  corrected p={_fmt(r.pvalue_corrected)} ({r.correction}, family of {r.family_size})"
        ci = r.confidence_interval
        es_ci = r.effect_size_interval
        lines = [
            f"{'PASS' if self.passed else 'FAIL'}: {self.why}",
            "",
            f"claim       {self.claim_id}: {self.claim_title}",
            f"hypothesis  {self.hypothesis_id}: {self.title}  ({self.location})",
            f"model       {self.model}",
            "intervention " + ("; ".join(map(describe_intervention, self.interventions))
                               if self.interventions else "(none: baseline only)"),
            f"measure     {describe_measure(self.measure)}",
            f"expect      {describe_expectation(self.expectation)}"
            + (f"  [paper: {self.paper}]" if self.paper is not None else ""),
            f"n           {r.n}" + (f"  (NaN: {'; '.join(sorted(set(self.nan_reasons)))})" if self.nan_reasons else ""),
            f"means       intervened/x={_fmt(self.x_mean)}  "
            f"{'versus' if self.measure.get('versus') else 'baseline'}/y={_fmt(self.y_mean)}",
            f"effect      mean difference {_fmt(r.mean_difference)} "
            f"[{_fmt(ci[0] if ci else None)}, {_fmt(ci[1] if ci else None)}]  "
            f"{r.effect_size_name}={_fmt(r.effect_size)} "
            f"[{_fmt(es_ci[0] if es_ci else None)}, {_fmt(es_ci[1] if es_ci else None)}]",
            f"test        {r.test} ({r.alternative}), {r.statistic_name}={_fmt(r.statistic)}, {p_line}, alpha={r.alpha}"
            + (f", min |effect|={r.min_effect_size}" if r.min_effect_size is not None else "")
            + (f", margin={r.margin}" if r.margin is not None else ""),
        ]
        if self.sequential is not None:
            lines[-1] = "fixed-n     " + lines[-1][len("test        "):] + "  (on the examples used; not the decision)"
            lines.extend(_sequential_lines(self.sequential))
        lines.extend(c.line() for c in self.controls)
        if self.controls_skipped:
            lines.append("controls    declared but skipped (--latentflow-controls off): the verdict is untrusted")
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "case_id": self.case_id,
            "claim": self.claim_id,
            "claim_title": self.claim_title,
            "claim_paper": self.claim_paper,
            "order": self.order,
            "hypothesis": self.hypothesis_id,
            "title": self.title,
            "location": self.location,
            "model": self.model,
            "interventions": [dict(iv) for iv in self.interventions],
            "measure": self.measure,
            "expectation": self.expectation,
            "expected": self.expected,
            "holds": self.holds,
            "passed": self.passed,
            "why": self.why,
            "x_mean": _num(self.x_mean),
            "y_mean": _num(self.y_mean),
            "paper": self.paper,
            "params": self.params,
            "nan_reasons": sorted(set(self.nan_reasons)),
            "stats": self.result.to_dict(),
            **({"sequential": self.sequential.to_dict()} if self.sequential is not None else {}),
            **({"controls": [c.to_dict() for c in self.controls]} if self.controls else {}),
            **({"controls_skipped": True} if self.controls_skipped else {}),
            **({"derived": self.derived} if self.derived else {}),
            **({"extra": self.extra} if self.extra else {}),
            **({"examples": self.examples} if self.examples else {}),
        }


def _sequential_lines(s: SequentialResult) -> list[str]:
    """A sequential decision for the failure screen: the design, where it stopped and why, the
    corrected p-value if any, and the confidence sequence at each look up to the n used."""
    stop = f"look {s.stopped_at_look} of {len(s.looks)}" if s.stopped_at_look else "no look (untestable)"
    lines = [
        f"sequential  {s.method} ({s.alternative}), alpha={s.alpha}: {s.status.upper()} at n={s.n_used} "
        f"of at most {s.max_n} ({stop}); anytime p={_fmt(s.pvalue)}, e={_fmt(s.e_value)}"
        + (f"  corrected p={_fmt(s.pvalue_corrected)} ({s.correction}, family of {s.family_size})"
           if s.pvalue_corrected is not None else ""),
        f"why         {s.reason}",
    ]
    looks = [n for n in s.looks if n <= len(s.cs_lower)]
    if looks:
        band = "  ".join(f"n={n} [{_fmt(s.cs_lower[n - 1])}, {_fmt(s.cs_upper[n - 1])}]" for n in looks)
        lines.append(f"conf. seq.  {100 * s.confidence:g}% at each look: {band}")
    return lines


# -- display text, rendered from the spec's dicts (never parsed back) ------------------------


def describe_intervention(iv: Mapping[str, Any]) -> str:
    """``op(arg=value, ...) at site [layers L] [steps S]``."""
    args = ", ".join(f"{k}={_show(v)}" for k, v in (iv.get("args") or {}).items())
    text = f"{iv['op']}({args}) at {iv['site']}"
    for selection in ("layers", "steps"):
        if iv.get(selection) not in (None, "all"):
            text += f" {selection} {_show(iv[selection])}"
    return text


def describe_measure(m: Mapping[str, Any]) -> str:
    """``metric (compare[, against the alternative source][, at site])``; a probe's
    ``metric (quantity, dB; probe model on target (ablation))``."""
    if m.get("probe") is not None:
        return f"{m['metric']} ({m['quantity']}, {m['unit']}; probe {describe_probe_setup(m['probe'])})"
    compare = m.get("compare", "target")
    text = f"{m['metric']} ({compare}"
    if compare == "target" and m.get("reference") not in (None, "prompted"):
        text += f", against the {m['reference']} source"
    if m.get("site") is not None:
        text += f", at {m['site']}"
    if m.get("versus"):
        versus = m["versus"]
        text += ", versus " + (versus.get("title") or "; ".join(map(describe_intervention, versus["interventions"])))
    return text + ")"


def describe_expectation(e: Mapping[str, Any]) -> str:
    """``direction (test, alpha A[, |d| >= D][, null V])`` or ``equivalent within [lo, hi] (tost, alpha A)``;
    a probe's (``kind: probe``) as :func:`latentflow.spec.probe.describe_probe_expectation` says."""
    if e.get("kind") == "probe":
        return describe_probe_expectation(e)
    if e["test"] == "tost":
        return f"equivalent within {list(e['margin'])} ({e['test']}, alpha {e['alpha']})"
    text = f"{e['direction']} ({e['test']}, alpha {e['alpha']}"
    if e.get("min_effect_size") is not None:
        text += f", |d| >= {e['min_effect_size']}"
    if not math.isclose(e.get("null_value", 0.0), 0.0):
        text += f", null {e['null_value']}"
    return text + ")"


def _show(value: Any) -> str:
    """A spec value as the spec would write it in flow style: ``{0: 4, 1: 13}``, ``[1, 2]``, ``5.0``."""
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k}: {_show(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_show(v) for v in value) + "]"
    return str(value)
