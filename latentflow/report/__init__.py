"""The visual report of a spec run: ``pytest specs/ --latentflow-report PATH.html``.

`write_report(verdicts, html_path)` writes one self-contained HTML file (inline CSS, PNG
plots made with matplotlib's Agg renderer and embedded as base64 data URIs, nothing fetched
when it is opened) and a markdown summary beside it (same stem, ``.md``). It shows:

* the claim verdicts next to the paper's numbers (a table);
* every hypothesis' effect size with its confidence interval (a forest plot);
* the layer x step attention-entropy heatmap with the stable / fast split
  (`latentflow.report.entropy`);
* block ratio against the anchor-gate value (`latentflow.report.gate_sweep`).

A plot whose data the verdicts lack is replaced by a note saying what is missing; the
returned `ReportFiles` lists what was drawn and what was omitted.
"""

from __future__ import annotations

from .figures import PlotSection
from .write import DEFAULT_TITLE, ReportFiles, build_sections, write_report

__all__ = ["DEFAULT_TITLE", "PlotSection", "ReportFiles", "build_sections", "write_report"]
