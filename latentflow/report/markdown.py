"""The markdown summary written next to the HTML report: the verdict table and each plot's numbers."""

from __future__ import annotations

from collections.abc import Sequence

from .cases import (
    ReportCase,
    claim_heading,
    claims_of,
    count_text,
    effect_text,
    format_paper,
    held_word,
    measured_text,
    pvalue_text,
    verdict_word,
)
from .figures import PlotSection


def render_markdown(cases: Sequence[ReportCase], sections: Sequence[PlotSection], title: str,
                    html_name: str) -> str:
    passed = sum(c.passed is True for c in cases)
    failed = sum(c.passed is False for c in cases)
    lines = [
        f"# {title}",
        "",
        f"{count_text(len(cases), 'case')}: {passed} as expected, {failed} not as expected. "
        f"Plots: [{html_name}]({html_name}).",
        "",
        "## Claim verdicts next to the paper",
        "",
    ]
    if cases:
        lines += [f"- {_cell(claim_heading(claim, members))}" for claim, members in claims_of(cases)] + [""]
        lines += [
            "| case | paper | measured (x vs y; Δ [CI]) | effect [CI] | p | claim | expected | verdict |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        lines += [
            f"| `{_cell(c.case_id)}` | {_cell(format_paper(c.paper))} | {_cell(c.metric)}: {_cell(measured_text(c))} "
            f"| {_cell(effect_text(c))} | {_cell(pvalue_text(c))} | {held_word(c)} | {c.expected or 'n/a'} "
            f"| **{verdict_word(c)}** |"
            for c in cases
        ]
    else:
        lines.append("No verdicts: the run produced no claim results.")
    for section in sections:
        lines += ["", f"## {section.title}", ""]
        if section.omitted:
            lines.append(f"Plot omitted: {section.caption}.")
        else:
            lines.append(section.caption)
            if section.table:
                header, *body = section.table
                lines += ["", "| " + " | ".join(map(_cell, header)) + " |", "|" + " --- |" * len(header)]
                lines += ["| " + " | ".join(map(_cell, row)) + " |" for row in body]
            if section.summary:
                lines += ["", *section.summary]
        if section.notes:
            lines += ["", "Notes:"] + [f"- {_cell(n)}" for n in section.notes]
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")
