"""Layer x step attention-entropy heatmap with the stable / fast split.

Source: the ``extra.baseline_profile`` of verdicts whose measure is an attention-entropy
internal measure (``attention_entropy`` or ``entropy_rate``; both record the normalised
entropy of ``blocks.{i}.attn.hook_pattern`` / ``blocks.{i}.cross_attn.hook_pattern``), which
the runner writes as ``{site: {step: mean entropy over examples and heads}}`` for the
baseline (un-intervened) run. Profiles of several cases are merged: a spec parametrised over
layers gives one layer per case. When two cases measured the same cell (same baseline run)
their values agree and one is kept; if they disagree (different data), the mean is drawn and
the largest disagreement is noted.

Each layer's rate of change and class come from the convergence spec when it measured that
layer: ``extra.baseline_rates`` (the ``entropy_rate`` measure on the baseline run: per example
and head the mean |step-to-step change|, averaged) against the spec's threshold
(``extra.stable_threshold``, its ``null_value``), so the plot agrees with the verdicts. Other
layers fall back to the rate of the averaged trajectory (``entropy_rate`` of the heatmap row,
the measure LSAC tunes with) against ``DEFAULT_STABLE_THRESHOLD``; averaging first gives
lower rates, so the caption says which was used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from latentflow.metrics.attention import DEFAULT_STABLE_THRESHOLD, classify_stable, entropy_rate
from latentflow.site_patterns import attention_pattern_site

from .cases import ReportCase, count_text, format_number
from .figures import FAST_COLOR, STABLE_COLOR, PlotSection, new_figure, omitted, png_bytes

KEY = "attention_entropy"
TITLE = "Attention entropy per layer and sampler step"
ENTROPY_MEASURES = ("attention_entropy", "entropy_rate")
_KIND_NAMES = {"attn": "self-attention", "cross_attn": "cross-attention"}
# Two cells measured by different cases count as the same number below this difference
# (float32 entropies written through float64 JSON).
_SAME = 1e-6


@dataclass(frozen=True)
class EntropyGrid:
    """Entropy of one attention kind: ``values[i, j]`` for ``layers[i]`` at ``steps[j]``
    (NaN where not recorded), each layer's rate and class (None: fewer than 2 steps)."""

    kind: str
    layers: tuple[int, ...]
    steps: tuple[int, ...]
    values: np.ndarray
    rates: tuple[float | None, ...]
    stable: tuple[bool | None, ...]
    threshold: float
    sources: tuple[str, ...]
    disagreement: float  # largest spread between cases that measured the same cell
    spec_rated: tuple[int, ...] = ()  # layers whose rate is the spec's entropy_rate measure

    @property
    def stable_layers(self) -> tuple[int, ...]:
        return tuple(layer for layer, s in zip(self.layers, self.stable, strict=True) if s is True)

    @property
    def fast_layers(self) -> tuple[int, ...]:
        return tuple(layer for layer, s in zip(self.layers, self.stable, strict=True) if s is False)


def entropy_grids(cases: Sequence[ReportCase], threshold: float = DEFAULT_STABLE_THRESHOLD,
                  ) -> tuple[tuple[EntropyGrid, ...], tuple[str, ...]]:
    """The grids found in the verdicts (self-attention first) and notes on what was skipped."""
    cells: dict[str, dict[tuple[int, int], list[float]]] = {}
    spec_rates: dict[str, dict[int, float]] = {}
    spec_thresholds: set[float] = set()
    sources: dict[str, list[str]] = {}
    notes: list[str] = []
    for case in cases:
        if case.metric not in ENTROPY_MEASURES:
            continue
        if _finite(case.extra.get("stable_threshold")):
            spec_thresholds.add(float(case.extra["stable_threshold"]))
        for site, rate in (case.extra.get("baseline_rates") or {}).items():
            parsed = attention_pattern_site(str(site))
            if parsed is not None and _finite(rate):
                spec_rates.setdefault(parsed[1], {})[parsed[0]] = float(rate)
        profile = case.extra.get("baseline_profile")
        if not isinstance(profile, dict) or not profile:
            notes.append(f"{case.case_id}: entropy measure without a baseline_profile")
            continue
        for site, per_step in profile.items():
            parsed = attention_pattern_site(str(site))
            if parsed is None or not isinstance(per_step, dict):
                notes.append(f"{case.case_id}: site {site!r} is not blocks.N.attn/cross_attn.hook_pattern; left out")
                continue
            layer, kind = parsed
            for step, value in per_step.items():
                if not str(step).isdigit() or not _finite(value):
                    continue  # a record made outside the sampler (step None) or a NaN
                cells.setdefault(kind, {}).setdefault((layer, int(step)), []).append(float(value))
            if case.case_id not in sources.setdefault(kind, []):
                sources[kind].append(case.case_id)
    if len(spec_thresholds) > 1:
        notes.append(f"the specs use different stable thresholds {sorted(spec_thresholds)}; "
                     f"their rates are classified with {format_number(threshold)}")
    elif spec_thresholds:
        threshold = spec_thresholds.pop()
    grids = tuple(_grid(kind, cells[kind], sources[kind], threshold, spec_rates.get(kind, {}))
                  for kind in ("attn", "cross_attn") if cells.get(kind))
    return grids, tuple(notes)


def _grid(kind: str, cells: dict[tuple[int, int], list[float]], sources: list[str], threshold: float,
          spec_rates: dict[int, float]) -> EntropyGrid:
    layers = tuple(sorted({layer for layer, _ in cells}))
    steps = tuple(sorted({step for _, step in cells}))
    values = np.full((len(layers), len(steps)), np.nan)
    disagreement = 0.0
    for (layer, step), measured in cells.items():
        values[layers.index(layer), steps.index(step)] = float(np.mean(measured))
        disagreement = max(disagreement, max(measured) - min(measured))
    rates: list[float | None] = []
    for layer, row in zip(layers, values, strict=True):
        recorded = row[np.isfinite(row)]
        if layer in spec_rates:
            rates.append(spec_rates[layer])
        else:
            rates.append(float(entropy_rate(recorded)) if recorded.size >= 2 else None)
    known = [r for r in rates if r is not None]
    classes = iter(classify_stable(np.array(known), threshold).tolist()) if known else iter(())
    stable = tuple(None if r is None else bool(next(classes)) for r in rates)
    values.setflags(write=False)
    return EntropyGrid(kind, layers, steps, values, tuple(rates), stable, float(threshold), tuple(sources),
                       disagreement if disagreement > _SAME else 0.0,
                       tuple(layer for layer in layers if layer in spec_rates))


def _finite(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def entropy_section(cases: Sequence[ReportCase], threshold: float = DEFAULT_STABLE_THRESHOLD) -> PlotSection:
    grids, notes = entropy_grids(cases, threshold)
    if not grids:
        measured = [c for c in cases if c.metric in ENTROPY_MEASURES]
        why = (f"no verdict measures attention entropy ({' or '.join(ENTROPY_MEASURES)}) with a per-step "
               f"baseline profile of blocks.N.attn.hook_pattern" if not measured else
               f"{count_text(len(measured), 'attention-entropy verdict')}, but none carries a usable "
               f"extra.baseline_profile")
        return omitted(KEY, TITLE, why, notes)
    figure = new_figure(10.0, sum(1.4 + 0.32 * len(g.layers) for g in grids) + 0.3)
    figure.set_layout_engine("constrained")  # makes room for the colour bars' and axes' labels
    heights = [max(len(g.layers), 2) for g in grids]
    # Columns: heatmap, its colour bar, the rates.
    spec = figure.add_gridspec(len(grids), 3, width_ratios=[len(grids[0].steps) + 4, 0.35, 6],
                               height_ratios=heights)
    for index, grid in enumerate(grids):
        _draw_grid(figure, spec, index, grid)
    for grid in grids:
        if grid.disagreement:
            notes += (f"{_KIND_NAMES[grid.kind]}: cases measured some cells on different data; the mean is "
                      f"drawn (largest disagreement {format_number(grid.disagreement)})",)
        unclassified = [layer for layer, s in zip(grid.layers, grid.stable, strict=True) if s is None]
        if unclassified:
            notes += (f"{_KIND_NAMES[grid.kind]}: layers {unclassified} have fewer than 2 recorded steps and "
                      f"are not classified",)
    threshold = grids[0].threshold
    rated = [f"{_KIND_NAMES[g.kind]} layers {list(g.spec_rated)}" for g in grids if g.spec_rated]
    rate_text = (f"the convergence spec's entropy_rate (per example and head, then averaged) for "
                 f"{', '.join(rated)}, else the rate of the averaged row" if rated else
                 "the rate of the averaged row (mean |step-to-step change|)")
    caption = (f"Normalised attention entropy (0: one key, 1: uniform) of the baseline run, per layer and "
               f"sampler step; right: each layer's rate of change: {rate_text}. Layers with rate ≤ "
               f"{format_number(threshold)} are stable, the others fast (the spec's threshold where a spec "
               f"gives one, else DEFAULT_STABLE_THRESHOLD = {format_number(DEFAULT_STABLE_THRESHOLD)}). From "
               + "; ".join(f"{_KIND_NAMES[g.kind]}: {', '.join(g.sources)}" for g in grids) + ".")
    return PlotSection(KEY, TITLE, png_bytes(figure), caption, notes, _summary(grids))


def _draw_grid(figure, spec, index: int, grid: EntropyGrid) -> None:
    heat = figure.add_subplot(spec[index, 0])
    masked = np.ma.masked_invalid(grid.values)
    image = heat.imshow(masked, aspect="auto", cmap="viridis", interpolation="nearest", origin="upper")
    heat.set_xticks(range(len(grid.steps)))
    heat.set_xticklabels([str(s) for s in grid.steps], fontsize=8)
    heat.set_yticks(range(len(grid.layers)))
    heat.set_yticklabels([f"{layer} · {_class_word(s)}" for layer, s in zip(grid.layers, grid.stable, strict=True)],
                         fontsize=8)
    for tick, s in zip(heat.get_yticklabels(), grid.stable, strict=True):
        tick.set_color(STABLE_COLOR if s else FAST_COLOR if s is False else "#555555")
    heat.set_xlabel("sampler step")
    heat.set_ylabel("layer")
    heat.set_title(f"{_KIND_NAMES[grid.kind]} entropy", fontsize=10)
    bar = figure.add_subplot(spec[index, 1])
    figure.colorbar(image, cax=bar)
    bar.tick_params(labelsize=7)
    rates = figure.add_subplot(spec[index, 2], sharey=heat)
    shown = [0.0 if r is None else r for r in grid.rates]
    colors = [STABLE_COLOR if s else FAST_COLOR if s is False else "#bbbbbb" for s in grid.stable]
    rates.barh(range(len(grid.layers)), shown, color=colors, height=0.7)
    rates.axvline(grid.threshold, color="#333333", linestyle="--", linewidth=1.0)
    rates.set_xlabel(f"per step; dashed: {format_number(grid.threshold)}", fontsize=8)
    rates.tick_params(axis="y", labelleft=False)
    rates.tick_params(axis="x", labelsize=8)
    rates.set_title("rate: stable / fast", fontsize=10)


def _class_word(stable: bool | None) -> str:
    return "stable" if stable else "fast" if stable is False else "n/a"


def _summary(grids: Sequence[EntropyGrid]) -> tuple[str, ...]:
    lines = []
    for g in grids:
        rates = ", ".join(f"{layer}: {format_number(r)}" for layer, r in zip(g.layers, g.rates, strict=True))
        lines.append(f"- {_KIND_NAMES[g.kind]}: {len(g.layers)} layers x {len(g.steps)} steps; threshold "
                     f"{format_number(g.threshold)}; stable layers {list(g.stable_layers)}, fast layers "
                     f"{list(g.fast_layers)}; rates {{{rates}}}")
    return tuple(lines)
