"""Confidence sequences over n: one small panel per sequential case, next to its fixed-n numbers.

A sequential verdict (``verdict["sequential"]``, ``SequentialResult.to_dict()``) carries its
running confidence sequence for n = 1 .. n_used. Each panel shades it over n, marks the looks
(where a decision was checked), the claim's null (0, or the margin for equivalence) and, at
the n used, the fixed-n test's confidence interval on the same examples (black bar): the
number a fixed-n design would have reported. The sequence is wider, the price of being valid
at every look. Reads the verdict dicts directly: ``ReportCase`` has no sequential fields.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from .figures import FAIL_COLOR, PASS_COLOR, PlotSection, new_figure, omitted, png_bytes

KEY = "confidence_sequences"
TITLE = "Confidence sequences over n (sequential cases)"
_COLUMNS = 5
_PANEL = (2.3, 1.55)  # inches per panel


def confidence_sequence_section(verdicts: Sequence[Mapping[str, Any]]) -> PlotSection | None:
    """The panels of every sequential verdict; None when no verdict is sequential (a fixed-n
    run), a note when sequential verdicts used no example (all untestable)."""
    sequential = [v for v in verdicts if isinstance(v, Mapping) and isinstance(v.get("sequential"), Mapping)]
    if not sequential:
        return None
    drawn = [v for v in sequential if v["sequential"].get("n_used")]
    if not drawn:
        return omitted(KEY, TITLE, f"{len(sequential)} sequential verdicts, none used an example")
    rows = math.ceil(len(drawn) / _COLUMNS)
    columns = min(_COLUMNS, len(drawn))
    figure = new_figure(_PANEL[0] * columns, _PANEL[1] * rows + 0.3)
    for index, verdict in enumerate(drawn):
        _panel(figure.add_subplot(rows, columns, index + 1), verdict)
    figure.tight_layout(pad=0.4, h_pad=0.6, w_pad=0.4)
    confidence = {f"{100 * v['sequential'].get('confidence', math.nan):g}%" for v in drawn}
    caption = (f"{len(drawn)} sequential cases: the running {'/'.join(sorted(confidence))} confidence sequence of the "
               "mean difference over n (shaded; green: the claim held, red: it did not), the looks (ticks), "
               "the claim's null (dashed: 0 or the equivalence margin) and, at the n used, the fixed-n "
               "test's confidence interval on the same examples (black bar).")
    return PlotSection(KEY, TITLE, png_bytes(figure), caption, (), tuple(_summary(v) for v in drawn))


def _panel(axes: Any, verdict: Mapping[str, Any]) -> None:
    s = verdict["sequential"]
    n_used = int(s["n_used"])
    ns = list(range(1, n_used + 1))
    # an unbounded end (the first n of a scale-free test) is left out of the shading
    lower = [_finite(x) for x in s.get("cs_lower", ())][:n_used]
    upper = [_finite(x) for x in s.get("cs_upper", ())][:n_used]
    color = PASS_COLOR if verdict.get("holds") else FAIL_COLOR
    axes.fill_between(ns, [math.nan if x is None else x for x in lower], [math.nan if x is None else x for x in upper],
                      color=color, alpha=0.3, linewidth=0)
    finite = [x for x in lower + upper if x is not None]
    for level in _null_levels(s):
        axes.axhline(level, color="#555555", linestyle="--", linewidth=0.8)
    fixed = _fixed_interval(verdict)
    if fixed is not None:
        axes.plot([n_used + 0.4] * 2, fixed, color="black", linewidth=1.6)
        finite += list(fixed)
    if finite:  # the first n's sequence can be infinite; scale to what is drawn
        low, high = min(finite + _null_levels(s)), max(finite + _null_levels(s))
        pad = 0.08 * (high - low or 1.0)
        axes.set_ylim(low - pad, high + pad)
    looks = [n for n in s.get("looks", ()) if n <= n_used]
    axes.set_xticks(looks or [n_used])
    axes.set_xlim(0.5, max(s.get("max_n", n_used), n_used) + 1)
    axes.tick_params(labelsize=6)
    name = verdict.get("case_id", "").split("::", 1)[-1]
    axes.set_title(f"{name[:34]}\n{str(s.get('status')).upper()} at n={n_used}", fontsize=6.5)


def _null_levels(s: Mapping[str, Any]) -> list[float]:
    margin = s.get("margin")
    if s.get("alternative") == "equivalence" and margin:
        return [float(margin[0]), float(margin[1])]
    return [0.0]


def _fixed_interval(verdict: Mapping[str, Any]) -> tuple[float, float] | None:
    interval = (verdict.get("stats") or {}).get("confidence_interval")
    if not interval or any(_finite(x) is None for x in interval):
        return None
    return float(interval[0]), float(interval[1])


def _finite(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value) if math.isfinite(value) else None


def _summary(verdict: Mapping[str, Any]) -> str:
    s, stats = verdict["sequential"], verdict.get("stats") or {}
    n = int(s["n_used"])
    cs = (_finite(s["cs_lower"][n - 1]), _finite(s["cs_upper"][n - 1]))
    fixed = _fixed_interval(verdict)
    return (f"- `{verdict.get('case_id')}`: {str(s.get('status')).upper()} at n = {n} of {s.get('max_n')}, "
            f"{100 * s.get('confidence', math.nan):g}% CS {_interval(cs)}; fixed-n on those {n}: mean "
            f"{_number(stats.get('mean_difference'))}, {100 * stats.get('confidence', math.nan):g}% CI "
            f"{_interval(fixed)}, {stats.get('effect_size_name', 'd')} {_number(stats.get('effect_size'))}, "
            f"p {_number(stats.get('pvalue'))}")


def _number(value: Any) -> str:
    value = _finite(value)
    return "n/a" if value is None else f"{value:.3g}"


def _interval(interval: tuple[float | None, float | None] | None) -> str:
    if interval is None:
        return "n/a"
    return f"[{_number(interval[0])}, {_number(interval[1])}]"
