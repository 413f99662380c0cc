"""`write_report`: verdict dicts in, an HTML report and its markdown summary out."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentflow.metrics.attention import DEFAULT_STABLE_THRESHOLD
from latentflow.results import results_verdicts

from .bmld import bmld_sections
from .cases import ReportCase, read_cases, report_order
from .controls import controls_section
from .entropy import entropy_section
from .figures import PlotSection
from .forest import effect_size_section
from .gate_sweep import gate_sweep_section
from .html import render_html
from .markdown import render_markdown
from .sequential import confidence_sequence_section

DEFAULT_TITLE = "latentflow report"


@dataclass(frozen=True)
class ReportFiles:
    """What `write_report` wrote: the two paths, and which plots were drawn or omitted (and why)."""

    html_path: Path
    markdown_path: Path
    sections: tuple[PlotSection, ...]

    @property
    def plots(self) -> tuple[str, ...]:
        return tuple(s.key for s in self.sections if not s.omitted)

    @property
    def omitted(self) -> dict[str, str]:
        return {s.key: s.caption for s in self.sections if s.omitted}


Verdicts = Sequence[Mapping[str, Any]] | Mapping[str, Any]  # verdict dicts, or a results object


def build_sections(verdicts: Verdicts, *,
                   stable_threshold: float = DEFAULT_STABLE_THRESHOLD) -> tuple[PlotSection, ...]:
    """The plot sections of a report (drawn or omitted), without writing anything."""
    return _sections(report_order(read_cases(verdicts)), stable_threshold, _verdict_dicts(verdicts))


def _verdict_dicts(verdicts: Verdicts) -> Sequence[Mapping[str, Any]]:
    """The verdict dicts: a results object's verdicts (``read_cases`` refused any other mapping), so
    that the sections reading verdicts directly (confidence sequences) see them too."""
    return results_verdicts(verdicts, source="results") if isinstance(verdicts, Mapping) else verdicts


def _sections(cases: Sequence[ReportCase], stable_threshold: float,
              verdicts: Sequence[Mapping[str, Any]]) -> tuple[PlotSection, ...]:
    sequences = confidence_sequence_section(verdicts)  # None for a fixed-n run: nothing to show
    controls = controls_section(verdicts)  # None when no case declares controls
    return (effect_size_section(cases), entropy_section(cases, stable_threshold), gate_sweep_section(cases),
            *((sequences,) if sequences is not None else ()), *bmld_sections(cases),
            *((controls,) if controls is not None else ()))


def write_report(verdicts: Verdicts, html_path: str | Path, *,
                 title: str = DEFAULT_TITLE, stable_threshold: float = DEFAULT_STABLE_THRESHOLD) -> ReportFiles:
    """Write ``html_path`` (self-contained) and the markdown summary beside it (same stem, ``.md``).

    verdicts: ``Verdict.to_dict()`` dicts, or a whole results object (``latentflow.results.read_results``
    of a ``--latentflow-results`` file, any format it reads).
    stable_threshold: the entropy rate at or below which a layer counts as stable.
    Plots whose data the verdicts lack are replaced by a note saying what is missing.
    """
    html_path = Path(html_path)
    if html_path.suffix.lower() not in (".html", ".htm"):
        raise ValueError(f"report path {str(html_path)!r} must end in .html or .htm")
    cases = report_order(read_cases(verdicts))  # spec order, failures first
    sections = _sections(cases, stable_threshold, _verdict_dicts(verdicts))
    markdown_path = html_path.with_suffix(".md")
    html_path.parent.mkdir(parents=True, exist_ok=True)
    html_path.write_text(render_html(cases, sections, title), encoding="utf-8")
    markdown_path.write_text(render_markdown(cases, sections, title, html_path.name), encoding="utf-8")
    return ReportFiles(html_path, markdown_path, sections)
