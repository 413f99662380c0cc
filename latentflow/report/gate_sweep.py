"""Block ratio (and any other measure taken under an anchor-gate override) against the gate value.

A case's gate value is its ``params["gate"]`` when the spec is parametrised over it, else the
``value`` argument of an intervention at ``hook_anchor_gate`` (``override_scalar`` with
``args: {value: 5.0}``). Its intervened mean (``x_mean``) is drawn
at that value with the interval of the change placed on the baseline (``y_mean`` + the
confidence interval of the mean difference); the baseline, run with the learned gate (whose
value the verdict does not record), is a dashed horizontal line. One series per hypothesis
(its parametrised cases joined by a line), one panel per metric, block ratio first. A series
with a single gate value is no sweep: it goes into a table below the plot (and with no series
of two values or more there is only the table).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TypeGuard

from .cases import ReportCase, count_text, format_number
from .figures import PlotSection, new_figure, omitted, png_bytes

KEY = "gate_sweep"
TITLE = "Block ratio vs anchor gate"
BLOCK_RATIOS = ("block_ratio", "block_ratio_db")  # the ratio, and the ratio in dB
GATE_SITE = "hook_anchor_gate"
_SERIES_COLORS = ("#2c7fb8", "#d95f02", "#7570b3", "#1b9e77", "#e7298a", "#66a61e")


@dataclass(frozen=True)
class GatePoint:
    case_id: str
    series: str  # claim::hypothesis, the parametrised cases of one hypothesis
    metric: str
    gate: float
    value: float  # x_mean: the measure with the gate overridden
    baseline: float | None  # y_mean: the measure with the learned gate
    low: float | None
    high: float | None


def gate_value(case: ReportCase) -> float | None:
    """The overridden gate of a case: params['gate'], else an override at hook_anchor_gate."""
    gate = case.params.get("gate")
    if _is_number(gate):
        return float(gate)
    for iv in case.interventions:
        value = (iv.get("args") or {}).get("value")
        if iv.get("site") == GATE_SITE and _is_number(value):
            return float(value)
    return None


def _is_number(value: object) -> TypeGuard[float]:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def gate_points(cases: Sequence[ReportCase]) -> tuple[tuple[GatePoint, ...], tuple[str, ...]]:
    points, notes = [], []
    for case in cases:
        gate = gate_value(case)
        if gate is None:
            if case.metric in BLOCK_RATIOS:
                notes.append(f"{case.case_id}: block ratio without a gate value (no params 'gate', no "
                             f"override at hook_anchor_gate); left out")
            continue
        if case.x_mean is None:
            notes.append(f"{case.case_id}: no finite mean of the measure; left out")
            continue
        low = high = None
        if case.y_mean is not None and case.mean_interval is not None:
            low, high = case.y_mean + case.mean_interval[0], case.y_mean + case.mean_interval[1]
        points.append(GatePoint(case.case_id, f"{case.claim}::{case.hypothesis}", case.metric, gate,
                                case.x_mean, case.y_mean, low, high))
    return tuple(points), tuple(notes)


def gate_sweep_section(cases: Sequence[ReportCase]) -> PlotSection:
    points, notes = gate_points(cases)
    if not any(p.metric in BLOCK_RATIOS for p in points):
        measured = sum(c.metric in BLOCK_RATIOS for c in cases)
        why = ("no verdict measures block_ratio" if not measured else
               f"{count_text(measured, 'block_ratio verdict')}, but none has a gate value and a finite mean")
        return omitted(KEY, TITLE, why, notes)
    gates: dict[tuple[str, str], set[float]] = {}
    for p in points:
        gates.setdefault((p.series, p.metric), set()).add(p.gate)
    swept = [p for p in points if len(gates[(p.series, p.metric)]) > 1]
    single = [p for p in points if len(gates[(p.series, p.metric)]) == 1]
    summary = tuple(f"- `{p.case_id}`: gate {format_number(p.gate)} -> {p.metric} {format_number(p.value)} "
                    f"(learned gate: {format_number(p.baseline)})" for p in points)
    table = (("case", "gate", "measure", "overridden gate", "learned gate", "interval"), *(
        (p.case_id, format_number(p.gate), p.metric, format_number(p.value), format_number(p.baseline),
         "n/a" if p.low is None else f"[{format_number(p.low)}, {format_number(p.high)}]") for p in single
    )) if single else ()
    what = ("Block ratio: output power per second inside the anchored span over that outside, or that ratio "
            "in dB (latentflow.metrics.segmentation).")
    if not swept:
        caption = (f"Each measure was taken at a single overridden gate value, so there is no sweep to draw: "
                   f"the table gives the mean with the gate overridden and with the learned gate, and the "
                   f"baseline plus the interval of the mean difference. {what}")
        return PlotSection(KEY, TITLE, None, caption, notes, summary, table)
    present = {p.metric for p in swept}
    metrics = [m for m in BLOCK_RATIOS if m in present] + sorted(present - set(BLOCK_RATIOS))
    figure = new_figure(4.6 * len(metrics) + 0.6, 4.0)
    for index, metric in enumerate(metrics):
        ax = figure.add_subplot(1, len(metrics), index + 1)
        _draw_metric(ax, metric, [p for p in swept if p.metric == metric])
    figure.tight_layout()
    caption = ("Mean of each measure with the anchor gate overridden to the value on the x axis (points; bars: "
               "the baseline plus the confidence interval of the mean difference) and with the learned gate "
               f"(dashed line, same colour). {what}"
               + (" Measures taken at a single gate value are in the table." if single else ""))
    return PlotSection(KEY, TITLE, png_bytes(figure), caption, notes, summary, table)


def _draw_metric(ax, metric: str, points: list[GatePoint]) -> None:
    series = sorted({p.series for p in points})
    for index, name in enumerate(series):
        color = _SERIES_COLORS[index % len(_SERIES_COLORS)]
        mine = sorted((p for p in points if p.series == name), key=lambda p: p.gate)
        ax.plot([p.gate for p in mine], [p.value for p in mine], marker="o", color=color,
                label=name.split("::", 1)[-1])
        for p in mine:
            if p.low is not None:
                ax.plot([p.gate, p.gate], [p.low, p.high], color=color, linewidth=1.4)
        baselines = [p.baseline for p in mine if p.baseline is not None]
        if baselines:
            ax.axhline(sum(baselines) / len(baselines), color=color, linestyle="--", linewidth=1.0)
    ax.set_xlabel("anchor gate value (override)")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} vs gate (dashed: learned gate)", fontsize=10)
    ax.grid(color="#dddddd", linewidth=0.6)
    ax.legend(fontsize=7)
