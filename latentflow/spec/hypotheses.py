"""One ``hypotheses:`` entry: its parametrised variants, each read into a
:class:`~latentflow.spec.schema.Hypothesis`."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.controls import parse_controls
from latentflow.spec.errors import listing
from latentflow.spec.expand import case_label, expand, placeholder_lines, variant_label, without
from latentflow.spec.expectations import read_expect
from latentflow.spec.grammar import HYPOTHESIS_KEYS, ID_HELP, NAME, NAME_HELP
from latentflow.spec.interventions import read_interventions, read_source
from latentflow.spec.measures import read_measure
from latentflow.spec.per_model import SECTION, apply, check_matches, read_per_model
from latentflow.spec.reader import Reader
from latentflow.spec.sections import (
    FileContext,
    merged_data_sampler,
    read_marks,
    read_outcome,
    read_paper,
    read_variant,
)
from latentflow.spec.sequential import read_sequential
from latentflow.spec.versus import check_versus
from latentflow.spec.yaml_loader import LineDict, LineList


def parse_hypothesis_template(
    node: Any, parent: LineList, index: int, r: Reader, ctx: FileContext
) -> list[s.Hypothesis]:
    """Expand one hypothesis template into its variants, each parsed and checked."""
    field = f"hypotheses[{index}]"
    if not isinstance(node, LineDict):
        r.report(
            parent,
            index,
            field,
            "expected a mapping (a hypothesis)",
            value=node,
            allowed=f"keys {listing(HYPOTHESIS_KEYS)}",
        )
        return []
    if not r.check_keys(node, field, HYPOTHESIS_KEYS, ("id", "title", "measure", "expect")):
        return []
    if "parametrize" in node and "variant" in node:
        r.report(
            node,
            "variant",
            f"{field}.variant",
            "a parametrised hypothesis gets its variant labels from parametrize",
            value=node["variant"],
            allowed="variant or parametrize, not both",
        )
        return []
    entries = read_per_model(node, field, r, ctx.model) if SECTION in node else []
    if SECTION in node:
        ctx.per_model = True
        node = without(node, SECTION)  # its text is no template: never a placeholder
    variants = expand(node, field, r, "parametrize")
    if variants is None:
        _check_unexpanded(node, field, r, ctx)
        return []
    check_matches(entries, [params for params, _ in variants], ctx.model, r)
    out = []
    for params, template_body in variants or ():
        label = variant_label(params) if params else None
        body, recorded = apply(template_body, params, entries)
        hypothesis = _hypothesis(
            body, field, r.within(f"variant {label}" if label else None), ctx, params
        )
        if hypothesis is not None:
            out.append(replace(hypothesis, per_model=recorded))
    return out


def _check_unexpanded(node: LineDict, field: str, r: Reader, ctx: FileContext) -> None:
    """When expansion failed, still check the template's other fields, skipping placeholder lines."""
    scratch = Reader(r.file)
    scratch_ctx = replace(ctx, orphans=[])
    _hypothesis(without(node, "parametrize"), field, scratch, scratch_ctx, {})
    skip = placeholder_lines(node, "parametrize")
    r.issues.extend(issue for issue in scratch.issues if issue.line not in skip)
    for piece, context in scratch_ctx.orphans:
        if not skip.intersection([piece.line, *(piece.lines or {}).values()]):
            ctx.orphans.append((piece, context))


def read_hypothesis_head(node: LineDict, field: str, r: Reader, params: dict[str, Any]) -> tuple:
    """What every kind of hypothesis (paired and probe) names first: ``(id, title, variant,
    notes, paper)``; a parametrised variant is labelled by its parameters."""
    hyp_id = r.text(node, "id", field, pattern=s.ID_PATTERN, pattern_help=ID_HELP)
    title = r.text(node, "title", field)
    variant = case_label(params) if params else read_variant(node, field, r)
    return hyp_id, title, variant, r.text(node, "notes", field), read_paper(node, field, r)


def _hypothesis(
    node: LineDict, field: str, r: Reader, ctx: FileContext, params: dict[str, Any]
) -> s.Hypothesis | None:
    start = r.mark()
    hyp_id, title, variant, notes, paper = read_hypothesis_head(node, field, r, params)
    family = r.text(node, "family", field, pattern=NAME, pattern_help=NAME_HELP)
    data, sampler = merged_data_sampler(node, field, r, ctx)
    steps_count = sampler.steps if sampler is not None else None
    pieces: list[Any] = []
    interventions = read_interventions(node, field, r, steps_count, required=False, parsed=pieces)
    source = read_source(node, field, r)
    measure = read_measure(node, field, r, steps_count, pieces, versus_allowed=True) if "measure" in node else None
    if measure is not None:
        pieces.append(measure)
    expect = read_expect(node, field, r) if "expect" in node else None
    outcome, reason = read_outcome(node, field, r)
    marks = read_marks(node, field, r)
    controls = parse_controls(node, field, r, steps_count=steps_count, outcome=outcome,
                              has_interventions=interventions != (), inherited=ctx.controls, parsed=pieces)
    check_versus(node, field, r, interventions, measure, controls)
    sequential = read_sequential(node, field, r, ctx, expect)
    if sequential is not None and data is not None:
        data = replace(data, n=sequential.max_n)
    if measure is not None and interventions == () and measure.compare != "internal":
        r.report(
            node,
            "interventions" if "interventions" in node else None,
            f"{field}.interventions",
            f"compare: {measure.compare} needs at least one intervention "
            "(without one the run is the baseline)",
            allowed="interventions: [...], or measure.compare: internal",
        )
    if source is not None and interventions is not None and not interventions:
        r.report(
            node,
            "source",
            f"{field}.source",
            "a source run only feeds interventions (patching); there are none",
            value=node["source"],
        )
    if (r.failed_since(start) or data is None or sampler is None or interventions is None or measure is None
            or expect is None or controls is None):
        ctx.orphans.extend((piece, r.context) for piece in pieces)
        return None
    return s.Hypothesis(
        id=hyp_id,
        title=title,
        variant=variant,
        interventions=interventions,
        measure=measure,
        expect=expect,
        data=data,
        sampler=sampler,
        source=source,
        paper=paper,
        notes=notes,
        outcome=outcome,
        reason=reason,
        family=family,
        params=s.freeze(params),
        line=node.line,
        lines=s.FrozenDict(node.lines),
        path=field,
        marks=marks,
        sequential=sequential,
        controls=controls,
    )
