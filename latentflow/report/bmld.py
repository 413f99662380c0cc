"""The BMLD section of the report: psychometric curves per model and condition, and a BMLD table.

Probe cases (latentflow/execution/probe.py) record in ``extra["probe"]`` each condition's
per-TNR detection (correct counts of the cross-validated detector) and its fitted psychometric
function; a comparison case records its ``versus`` run the same way. Every distinct probe run
(model, target, ablation, parameters) is drawn once, in one panel: the measured accuracy per
rung as points, the fitted logistic (guess rate 0.5) as a line, N0S0 and N0Spi in two colours,
the thresholds (75 % correct) as dotted verticals. The table lists each run's BMLD with its
paired bootstrap interval and both thresholds, and the verdicts of the cases that used it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .cases import ReportCase, verdict_word
from .figures import PlotSection, new_figure, omitted, png_bytes

KEY = "bmld"
TITLE = "BMLD probes: psychometric curves and thresholds"
COLORS = {"curve_n0s0": "#2c7fb8", "curve_n0spi": "#e6750f"}
LABELS = {"curve_n0s0": "N0S0", "curve_n0spi": "N0Spi"}
_COLUMNS = 4
TABLE_HEADER = ("model", "role", "target", "ablation", "BMLD dB", "95% interval", "threshold N0S0",
                "threshold N0Spi", "cases")


def probe_runs(cases: Sequence[ReportCase]) -> list[tuple[dict[str, Any], list[tuple[str, str]]]]:
    """Each distinct probe run with the (case label, verdict word) of every case that used it,
    in the order the cases come (the ``versus`` run of a comparison counts as used by it)."""
    runs: dict[tuple, tuple[dict[str, Any], list[tuple[str, str]]]] = {}
    for case in cases:
        record = case.extra.get("probe") if isinstance(case.extra, Mapping) else None
        if not isinstance(record, Mapping):
            continue
        for run in (record, record.get("versus")):
            if not isinstance(run, Mapping) or "curve_n0s0" not in run:
                continue
            key = _run_key(run)
            runs.setdefault(key, (dict(run), []))[1].append((case.label, verdict_word(case)))
    return list(runs.values())


def _run_key(run: Mapping[str, Any]) -> tuple:
    return (run.get("model"), run.get("target"), run.get("ablation"), repr(sorted((run.get("params") or {}).items())),
            run.get("seed"), repr(sorted((run.get("stimuli") or {}).items())))


def run_title(run: Mapping[str, Any]) -> str:
    params = run.get("params") or {}
    extra = ", ".join(f"{k}={v}" for k, v in params.items() if k not in ("ear",))
    return (f"{run.get('model')} ({run.get('target')}, {run.get('ablation') or 'intact'})"
            + (f" [{extra}]" if extra else ""))


def bmld_table(runs: Sequence[tuple[Mapping[str, Any], list[tuple[str, str]]]]) -> tuple[tuple[str, ...], ...]:
    rows = [TABLE_HEADER]
    for run, users in runs:
        low, high = run.get("interval") or (None, None)
        rows.append((
            str(run.get("model")), str(run.get("role")), str(run.get("target")), str(run.get("ablation") or "-"),
            _db(run.get("bmld_db")), f"[{_db(low)}, {_db(high)}]",
            _threshold(run.get("threshold_n0s0_db"), run.get("curve_n0s0")),
            _threshold(run.get("threshold_n0spi_db"), run.get("curve_n0spi")),
            "; ".join(f"{label}: {word}" for label, word in users),
        ))
    return tuple(rows)


def _db(value: Any) -> str:
    return "n/a" if not isinstance(value, (int, float)) or not math.isfinite(value) else f"{value:.1f}"


def _threshold(value: Any, curve: Any) -> str:
    censored = curve.get("censored") if isinstance(curve, Mapping) else None
    return {"above": ">", "below": "<"}.get(censored or "", "") + _db(value)


def bmld_sections(cases: Sequence[ReportCase]) -> tuple[PlotSection, ...]:
    """The BMLD section when any probe case ran; none otherwise (a report of separation specs only
    keeps its sections as they were)."""
    return (bmld_section(cases),) if probe_runs(cases) else ()


def bmld_section(cases: Sequence[ReportCase]) -> PlotSection:
    runs = probe_runs(cases)
    if not runs:
        return omitted(KEY, TITLE, "no probe verdicts (extra.probe): no BMLD probe cases ran")
    figure = _draw([run for run, _ in runs])
    caption = (f"{len(runs)} probe runs: cross-validated detection accuracy per target-to-noise ratio (points) and "
               "the fitted psychometric function (line, guess rate 0.5), N0S0 blue, N0Spi orange; dotted lines "
               "mark the 75 %-correct thresholds, whose difference is the BMLD. Identical curves (a model reading "
               "one ear) overlap.")
    summary = tuple(
        f"- {run_title(run)}: BMLD {_db(run.get('bmld_db'))} dB [{_db((run.get('interval') or [None])[0])}, "
        f"{_db((run.get('interval') or [None, None])[1])}]" for run, _ in runs)
    notes = tuple(f"{run_title(run)}: fit not converged or threshold censored; its BMLD is not judgeable"
                  for run, _ in runs if not run.get("judgeable", True))
    return PlotSection(KEY, TITLE, png_bytes(figure), caption, notes, summary, bmld_table(runs))


def _draw(runs: Sequence[Mapping[str, Any]]):
    rows = math.ceil(len(runs) / _COLUMNS)
    figure = new_figure(3.2 * min(len(runs), _COLUMNS), 2.5 * rows)
    axes = figure.subplots(rows, min(len(runs), _COLUMNS), squeeze=False)
    for index, run in enumerate(runs):
        ax = axes[index // _COLUMNS][index % _COLUMNS]
        for key in ("curve_n0s0", "curve_n0spi"):
            curve = run.get(key) or {}
            x = np.asarray(curve.get("tnr_db") or [], dtype=float)
            if len(x) == 0:
                continue
            ax.plot(x, curve.get("accuracy"), "o", ms=3, color=COLORS[key], label=LABELS[key])
            threshold, width = curve.get("threshold_db"), curve.get("width_db")
            if threshold is not None and width:
                grid = np.linspace(x.min(), x.max(), 200)
                ax.plot(grid, 0.5 + 0.5 / (1 + np.exp(-(grid - threshold) / width)), "-", color=COLORS[key], lw=1)
                ax.axvline(threshold, color=COLORS[key], ls=":", lw=1)
        ax.set_ylim(0.3, 1.02)
        ax.set_title(f"{run_title(run)}\nBMLD {_db(run.get('bmld_db'))} dB", fontsize=7)
        ax.tick_params(labelsize=6)
        ax.set_xlabel("TNR (dB)", fontsize=6)
        if index % _COLUMNS == 0:
            ax.set_ylabel("accuracy", fontsize=6)
        if index == 0:
            ax.legend(fontsize=6, loc="lower right")
    for index in range(len(runs), rows * min(len(runs), _COLUMNS)):
        axes[index // _COLUMNS][index % _COLUMNS].set_visible(False)
    figure.tight_layout()
    return figure


__all__ = ["bmld_section", "bmld_sections", "bmld_table", "probe_runs", "run_title"]
