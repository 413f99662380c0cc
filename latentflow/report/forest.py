"""Forest plot: every hypothesis' effect size with its confidence interval, grouped by claim.

One panel per metric, each with its own effect-size axis: internal statistics reach effect sizes
of a hundred (d_z = -107 for an attention entropy) and would squash the audio metrics' effects
(|d_z| about 1) to dots on a shared axis. A point is filled when the statistical claim held and
hollow when it did not; green when the verdict is what the spec expects, red otherwise. Grey
diamonds mark the |effect| a hypothesis requires (``min_effect_size``), on the side its
direction claims.
"""

from __future__ import annotations

from collections.abc import Sequence

from .cases import ReportCase, count_text, format_interval, format_number, verdict_word
from .figures import FAIL_COLOR, PASS_COLOR, PlotSection, new_figure, omitted, png_bytes

KEY = "effect_sizes"
TITLE = "Effect sizes per hypothesis"
_ROW_INCHES = 0.32


def effect_size_section(cases: Sequence[ReportCase]) -> PlotSection:
    drawn = [c for c in cases if c.effect_size is not None]
    skipped = tuple(f"{c.case_id}: no effect size ({c.reason or 'not computed'})" for c in cases
                    if c.effect_size is None)
    if not drawn:
        why = ("no verdicts" if not cases else
               f"no verdict has a computed effect size (stats.effect_size) among {count_text(len(cases), 'verdict')}")
        return omitted(KEY, TITLE, why, skipped)
    figure, names = _draw(drawn)
    caption = (f"Cohen's {'/'.join(names)} of x − y (intervened − baseline) with its "
               f"confidence interval, {len(drawn)} cases, one panel (and axis) per metric. "
               "Filled: the claim held; hollow: it did not. "
               f"Green: verdict as the spec expects; red: not. Grey diamonds: the required |effect|.")
    summary = tuple(
        f"- `{c.case_id}`: {c.effect_size_name} = {format_number(c.effect_size)} "
        f"{format_interval(c.effect_interval)} ({verdict_word(c)})" for c in drawn
    )
    return PlotSection(KEY, TITLE, png_bytes(figure), caption, skipped, summary)


def forest_panels(cases: Sequence[ReportCase]) -> list[tuple[str, list[tuple[str, bool]]]]:
    """(metric, its rows top to bottom as (label, is_claim_header)) per panel, metrics in the order
    they first appear; cases without an effect are left out."""
    return [(metric, _layout(members)[0]) for metric, members in _by_metric(
        [c for c in cases if c.effect_size is not None])]


def forest_rows(cases: Sequence[ReportCase]) -> list[tuple[str, bool]]:
    """Every panel's rows, top to bottom, as (label, is_claim_header)."""
    return [row for _, rows in forest_panels(cases) for row in rows]


def _by_metric(cases: Sequence[ReportCase]) -> list[tuple[str, list[ReportCase]]]:
    groups: dict[str, list[ReportCase]] = {}
    for case in cases:
        groups.setdefault(case.metric or "(no metric)", []).append(case)
    return list(groups.items())


def _layout(cases: Sequence[ReportCase]) -> tuple[list[tuple[str, bool]], list[tuple[int, ReportCase]]]:
    # A bold header per claim (in order of first appearance), then its cases in the order given.
    first_seen: dict[str, int] = {}
    for case in cases:
        first_seen.setdefault(case.claim, len(first_seen))
    labels: list[tuple[str, bool]] = []
    points: list[tuple[int, ReportCase]] = []
    claim = None
    for case in sorted(cases, key=lambda c: first_seen[c.claim]):
        if case.claim != claim:
            claim = case.claim
            labels.append((claim or "(no claim)", True))
        points.append((len(labels), case))
        labels.append((case.label, False))
    return labels, points


def _draw(cases: Sequence[ReportCase]):
    panels = _by_metric(cases)
    heights = [len(_layout(members)[0]) + 1.6 for _, members in panels]  # rows plus the axis label
    figure = new_figure(9.0, 0.5 + _ROW_INCHES * sum(heights))
    grid = figure.add_gridspec(len(panels), 1, height_ratios=heights)
    names: set[str] = set()
    for index, (metric, members) in enumerate(panels):
        names |= _draw_panel(figure.add_subplot(grid[index, 0]), metric, members)
    figure.tight_layout()
    return figure, sorted(names)


def _draw_panel(ax, metric: str, cases: Sequence[ReportCase]) -> set[str]:
    labels, points = _layout(cases)
    n_rows = len(labels)

    def y_of(row: int) -> int:  # the first row at the top
        return n_rows - 1 - row

    for row, case in points:
        y = y_of(row)
        color = PASS_COLOR if case.passed is not False else FAIL_COLOR
        if case.effect_interval is not None:
            low, high = case.effect_interval
            ax.plot([low, high], [y, y], color=color, linewidth=1.8, solid_capstyle="butt")
        ax.plot([case.effect_size], [y], marker="o", markersize=7, color=color,
                markerfacecolor=color if case.holds else "white", markeredgewidth=1.6, linestyle="none")
        for bound in _required(case):
            ax.plot([bound], [y], marker="D", markersize=4, color="#888888", linestyle="none")
    ax.axvline(0.0, color="#444444", linewidth=0.8)
    ax.set_yticks([y_of(row) for row in range(n_rows)])
    ax.set_yticklabels([text for text, _ in labels])
    for tick, (_, header) in zip(ax.get_yticklabels(), labels, strict=True):
        if header:
            tick.set_fontweight("bold")
    ax.set_ylim(-0.7, n_rows - 0.3)
    names = {c.effect_size_name for c in cases}
    ax.set_xlabel(f"{metric}: effect size (Cohen's {'/'.join(sorted(names))}) with confidence interval")
    ax.grid(axis="x", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)
    return names


def _required(case: ReportCase) -> tuple[float, ...]:
    m = case.min_effect_size
    if m is None:
        return ()
    if case.alternative == "less":
        return (-m,)
    if case.alternative == "greater":
        return (m,)
    return (-m, m)
