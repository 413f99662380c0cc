"""The controls section of the report: per case, each declared control, the outcome it must give,
the outcome it gave and its numbers, with the cases whose controls misbehaved flagged ("the test
cannot tell").

Reads the verdicts' structured control records (``verdict["controls"]``, each
``ControlResult.to_dict()``: id, kind, model, interventions, expected, holds, behaved, stats)
and ``controls_skipped``; never the display text (``why``). ``ReportCase`` has no control fields,
so this section reads the verdict dicts, as the confidence-sequence section does.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from latentflow.results import results_verdicts

from .cases import _interval, _number, _typed, format_interval, format_number
from .figures import PlotSection

KEY = "controls"
TITLE = "Declared controls: would the test have failed without the mechanism?"
TABLE_HEADER = ("case", "control", "kind", "must", "gave", "n", "mean difference [CI]", "effect", "p",
                "runs on", "trusted")
CANNOT_TELL = "the test cannot tell"
KINDS = {"model": "model", "interventions": "intervention", "model+interventions": "model + intervention"}


@dataclass(frozen=True)
class ControlRow:
    """One control of one case, as its verdict recorded it."""

    case_id: str
    id: str
    kind: str  # model / intervention / model + intervention
    negative: bool  # must give "fails" (a negative control); else "holds" (a positive one)
    holds: bool
    behaved: bool
    model: str
    interventions: tuple[Mapping[str, Any], ...]
    n: int | None
    mean_difference: float | None
    interval: tuple[float, float] | None
    effect_size: float | None
    effect_size_name: str
    pvalue: float | None

    @property
    def must(self) -> str:
        return "fails" if self.negative else "holds"

    @property
    def gave(self) -> str:
        return "holds" if self.holds else "fails"


def control_rows(verdicts: Any) -> tuple[list[ControlRow], list[str]]:
    """Every recorded control, in spec order (file, then position in it), and the ids of the
    cases whose declared controls were skipped (``--latentflow-controls off``). ValueError names
    the verdict, the control and the field of a value of the wrong type."""
    if isinstance(verdicts, Mapping) and "latentflow_results" in verdicts:
        verdicts = results_verdicts(verdicts, source="results")
    rows: list[ControlRow] = []
    skipped: list[str] = []
    for index, verdict in sorted(enumerate(verdicts), key=_spec_order):
        if not isinstance(verdict, Mapping):
            continue  # the verdict table reports it
        case_id = str(verdict.get("case_id", f"verdicts[{index}]"))
        where = f"verdicts[{index}] ({case_id})"
        if _typed(verdict, "controls_skipped", bool, where, "true or false"):
            skipped.append(case_id)
        controls = _typed(verdict, "controls", list, where, "a list of control records") or []
        rows += [_row(case_id, control, f"{where}.controls[{i}]") for i, control in enumerate(controls)]
    return rows, skipped


def _spec_order(item: tuple[int, Any]) -> tuple:
    index, verdict = item
    if not isinstance(verdict, Mapping):
        return ("", index, index)
    location, order = verdict.get("location"), verdict.get("order")
    file = location.rsplit(":", 1)[0] if isinstance(location, str) else ""
    return (file, order if isinstance(order, int) and not isinstance(order, bool) else index, index)


def _row(case_id: str, control: Any, where: str) -> ControlRow:
    if not isinstance(control, Mapping):
        raise ValueError(f"{where}: {control!r} is not allowed; expected a control record (ControlResult.to_dict())")
    expected = _typed(control, "expected", str, where, "'holds' or 'fails'")
    if expected not in ("holds", "fails"):
        raise ValueError(f"{where}.expected: {expected!r} is not allowed; expected 'holds' or 'fails'")
    stats = _typed(control, "stats", Mapping, where, "an object (TestResult.to_dict())") or {}
    sw = f"{where}.stats"
    interventions = _typed(control, "interventions", list, where, "a list of objects") or []
    return ControlRow(
        case_id=case_id,
        id=_typed(control, "id", str, where, "a string") or "?",
        kind=KINDS.get(_typed(control, "kind", str, where, "a string") or "", "?"),
        negative=expected == "fails",
        holds=bool(_typed(control, "holds", bool, where, "true or false")),
        behaved=bool(_typed(control, "behaved", bool, where, "true or false")),
        model=_typed(control, "model", str, where, "a string") or "",
        interventions=tuple(iv for iv in interventions if isinstance(iv, Mapping)),
        n=_typed(stats, "n", int, sw, "an integer"),
        mean_difference=_number(stats, "mean_difference", sw),
        interval=_interval(stats, "confidence_interval", sw),
        effect_size=_number(stats, "effect_size", sw),
        effect_size_name=_typed(stats, "effect_size_name", str, sw, "a string") or "d",
        pvalue=_number(stats, "pvalue", sw),
    )


def controls_section(verdicts: Sequence[Mapping[str, Any]] | Mapping[str, Any]) -> PlotSection | None:
    """A table of every case's controls; None when no verdict declares any (nothing to show)."""
    rows, skipped = control_rows(verdicts)
    if not rows and not skipped:
        return None
    untrusted = list(dict.fromkeys(r.case_id for r in rows if not r.behaved))
    cases = list(dict.fromkeys(r.case_id for r in rows))
    table = [TABLE_HEADER] + [_cells(row, row.case_id in untrusted) for row in rows]
    table += [(case_id, "(declared)", "", "", "skipped", "", "", "", "", "", "untrusted: controls off")
              for case_id in skipped]
    caption = (f"{len(rows)} controls of {len(cases)} cases: a negative control (the mechanism removed) must "
               "fail the claim's test, a positive one must pass it; a case is trusted only when every control "
               f"gives its outcome. {len(untrusted)} of {len(cases)} cases: {CANNOT_TELL}.")
    summary = tuple(f"- `{case_id}`: {CANNOT_TELL}: "
                    + "; ".join(f"control {r.id} must {'fail' if r.negative else 'hold'} but {r.gave}"
                                for r in rows if r.case_id == case_id and not r.behaved)
                    for case_id in untrusted)
    notes = ((f"{len(skipped)} cases declared controls that were skipped (--latentflow-controls off): "
              "their verdicts are untrusted",) if skipped else ())
    return PlotSection(KEY, TITLE, None, caption, notes, summary, tuple(table))


def _cells(row: ControlRow, untrusted: bool) -> tuple[str, ...]:
    sign = "negative" if row.negative else "positive"
    effect = "n/a" if row.effect_size is None else f"{row.effect_size_name} {format_number(row.effect_size)}"
    runs_on = row.model
    if row.kind != "model":
        runs_on += ": " + "; ".join(_intervention(iv) for iv in row.interventions)
    trusted = "ok" if row.behaved else f"MISBEHAVED: {CANNOT_TELL}"
    if row.behaved and untrusted:
        trusted = f"ok (another control: {CANNOT_TELL})"
    return (row.case_id, row.id, f"{row.kind}, {sign}", row.must, row.gave, _count(row.n),
            f"{format_number(row.mean_difference)} {format_interval(row.interval)}", effect,
            format_number(row.pvalue), runs_on, trusted)


def _intervention(iv: Mapping[str, Any]) -> str:
    text = f"{iv.get('op')} at {iv.get('site')}"
    return text + (f" layers {iv['layers']}" if iv.get("layers") not in (None, "all") else "")


def _count(n: int | None) -> str:
    return "n/a" if n is None else str(n)
