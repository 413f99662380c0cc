"""The HTML document: one file, no external resources (inline CSS, plots as PNG data URIs)."""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

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

_CSS = """
body { font-family: "DejaVu Sans", Arial, sans-serif; margin: 24px auto; max-width: 1150px; color: #222;
       line-height: 1.4; padding: 0 16px; }
h1 { font-size: 24px; margin-bottom: 4px; }
h2 { font-size: 19px; margin-top: 32px; border-bottom: 1px solid #ccc; padding-bottom: 4px; }
.summary { color: #444; }
.counts span { display: inline-block; padding: 2px 10px; margin-right: 6px; border-radius: 10px; }
.pass { background: #e3f4ea; } .fail { background: #fbe3e0; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border: 1px solid #d5d5d5; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
tr.claim th { background: #e8eef6; font-weight: normal; }
tr.fail td.verdict { color: #a52a1c; font-weight: bold; }
tr.pass td.verdict { color: #1f6f3f; font-weight: bold; }
td.why { color: #555; font-size: 12px; }
figure { margin: 12px 0; } figure img { max-width: 100%; border: 1px solid #e2e2e2; }
figcaption { font-size: 13px; color: #444; margin-top: 4px; }
.omitted { background: #fff8e1; border: 1px solid #f0d98c; padding: 8px 12px; font-size: 14px; }
ul.notes { font-size: 12px; color: #666; }
code { font-size: 12px; }
"""


def render_html(cases: Sequence[ReportCase], sections: Sequence[PlotSection], title: str) -> str:
    passed = sum(c.passed is True for c in cases)
    failed = sum(c.passed is False for c in cases)
    models = sorted({c.model for c in cases if c.model})
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{escape(title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>{escape(title)}</h1>",
        f'<p class="summary">{count_text(len(cases), "case")}'
        + (f" on model {escape(', '.join(models))}" if models else "") + ".</p>",
        f'<p class="counts"><span class="pass">{passed} as expected</span>'
        f'<span class="fail">{failed} not as expected</span></p>',
        "<h2>Claim verdicts next to the paper</h2>",
        _verdict_table(cases),
    ]
    for section in sections:
        parts.append(_section(section))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def _verdict_table(cases: Sequence[ReportCase]) -> str:
    if not cases:
        return '<p class="omitted">No verdicts: the run produced no claim results.</p>'
    rows = ["<table>", "<thead><tr><th>claim / case</th><th>paper</th><th>measured (x vs y; Δ [CI])</th>"
            "<th>effect [CI]</th><th>p</th><th>claim</th><th>expected</th><th>verdict</th></tr></thead><tbody>"]
    for claim, members in claims_of(cases):
        rows.append(f'<tr class="claim"><th colspan="8">{escape(claim_heading(claim, members))}</th></tr>')
        rows += _case_rows(members)
    rows.append("</tbody></table>")
    return "\n".join(rows)


def _case_rows(cases: Sequence[ReportCase]) -> list[str]:
    rows = []
    for case in cases:
        css = "pass" if case.passed else "fail" if case.passed is False else ""
        rows.append(
            f'<tr class="{css}"><td><b>{escape(case.claim)}</b><br><code>{escape(case.label)}</code>'
            f"<br>{escape(case.title)}</td>"
            f"<td>{escape(format_paper(case.paper))}</td>"
            f"<td>{escape(case.metric)}: {escape(measured_text(case))}</td>"
            f"<td>{escape(effect_text(case))}</td>"
            f"<td>{escape(pvalue_text(case))}</td>"
            f"<td>{escape(held_word(case))}</td>"
            f"<td>{escape(case.expected or 'n/a')}</td>"
            f'<td class="verdict">{verdict_word(case)}</td></tr>'
        )
        if case.why:
            rows.append(f'<tr class="{css}"><td class="why" colspan="8">{escape(case.why)}</td></tr>')
    return rows


def _section(section: PlotSection) -> str:
    parts = [f'<h2 id="{escape(section.key)}">{escape(section.title)}</h2>']
    if section.omitted:
        parts.append(f'<p class="omitted">Plot omitted: {escape(section.caption)}.</p>')
    elif section.png is not None:
        parts.append(f'<figure><img alt="{escape(section.title)}" src="{section.data_uri}">'
                     f"<figcaption>{escape(section.caption)}</figcaption></figure>")
    else:
        parts.append(f"<p>{escape(section.caption)}</p>")
    if section.table:
        header, *body = section.table
        parts.append('<table class="values"><thead><tr>' + "".join(f"<th>{escape(h)}</th>" for h in header)
                     + "</tr></thead><tbody>" + "".join(
                         "<tr>" + "".join(f"<td>{escape(cell)}</td>" for cell in row) + "</tr>" for row in body)
                     + "</tbody></table>")
    if section.notes:
        parts.append('<ul class="notes">' + "".join(f"<li>{escape(n)}</li>" for n in section.notes) + "</ul>")
    return "\n".join(parts)
