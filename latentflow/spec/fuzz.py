"""One ``fuzz:`` check: its ``given`` strategies, its template compiled into typed values
(:mod:`latentflow.spec.fuzz_template`), and every draw a run may make read and checked at load."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.errors import did_you_mean, listing
from latentflow.spec.expand import (
    case_label,
    check_uses,
    is_param_value,
    scan,
    substitute,
    variant_label,
)
from latentflow.spec.fuzz_template import checked_draws, compile_template, fill_example
from latentflow.spec.grammar import FUZZ_KEYS, ID_HELP, NAME, NAME_HELP
from latentflow.spec.interventions import read_interventions
from latentflow.spec.measures import read_measure
from latentflow.spec.reader import Reader
from latentflow.spec.sections import (
    FileContext,
    lines_with_args,
    merged_data_sampler,
    read_args,
    read_marks,
    read_outcome,
    read_variant,
)
from latentflow.spec.yaml_loader import LineDict, LineList


def parse_fuzz_template(
    node: Any, parent: LineList, index: int, r: Reader, ctx: FileContext
) -> s.FuzzSpec | None:
    """Check a fuzz template and the examples at the corners of its strategies."""
    field = f"fuzz[{index}]"
    if not isinstance(node, LineDict):
        r.report(
            parent,
            index,
            field,
            "expected a mapping (a fuzz check)",
            value=node,
            allowed=f"keys {listing(FUZZ_KEYS)}",
        )
        return None
    start = r.mark()
    if not r.check_keys(node, field, FUZZ_KEYS, ("id", "invariant", "interventions")):
        return None
    check_id = r.text(node, "id", field, pattern=s.ID_PATTERN, pattern_help=ID_HELP)
    invariant = r.text(node, "invariant", field, pattern=NAME, pattern_help=NAME_HELP)
    max_examples = r.integer(
        node, "max_examples", field, s.DEFAULT_MAX_EXAMPLES, low=1, high=100_000
    )
    given = _given(node, field, r)
    outcome, reason = read_outcome(node, field, r)
    marks = read_marks(node, field, r)
    if "given" in node and "variant" in node:
        r.report(
            node,
            "variant",
            f"{field}.variant",
            "a check with given values gets its variant labels from them",
            value=node["variant"],
            allowed="variant or given, not both",
        )
    if given is not None:
        uses = scan(node, field, r, skip="given", declared=given)
        check_uses(uses, given, r, node, "given", field)
    if r.failed_since(start) or given is None:
        return None
    spec = s.FuzzSpec(
        id=check_id,
        invariant=invariant,
        given=s.FrozenDict(given),
        max_examples=max_examples,
        title=node.get("title"),
        notes=node.get("notes"),
        outcome=outcome,
        reason=reason,
        line=node.line,
        lines=lines_with_args(node),
        path=field,
        marks=marks,
    )
    corners = corner_values(spec.given)
    examples = [parse_fuzz_instance(node, spec, values, r, ctx) for values in corners]
    if r.failed_since(start) or examples[0] is None:
        return None
    template = compile_template(node, given, examples[0])
    # the check's own title and notes are the template's: text, or typed Text with placeholders
    spec = dataclasses.replace(spec, template=template, title=template.title, notes=template.notes)
    _check_draws(node, spec, list(zip(corners, examples, strict=True)), r, ctx)
    return None if r.failed_since(start) else spec


def _check_draws(
    node: LineDict,
    spec: s.FuzzSpec,
    corners: list[tuple[dict[str, Any], s.FuzzInstance | None]],
    r: Reader,
    ctx: FileContext,
) -> None:
    """Read the draws a run may make (:func:`checked_draws`) besides the corners, reporting the
    first that breaks a rule, and check that the compiled template fills to what was read."""
    for values, example in corners:
        if not _fills_as_read(node, spec, values, example, r):
            return
    done = [values for values, _ in corners]
    for values in checked_draws(spec.given):
        if values in done:
            continue
        example = parse_fuzz_instance(node, spec, values, r, ctx)
        if example is None or not _fills_as_read(node, spec, values, example, r):
            return  # one draw's problems say what to fix; the others would repeat them


def _fills_as_read(
    node: LineDict, spec: s.FuzzSpec, values: dict[str, Any], example: Any, r: Reader
) -> bool:
    assert spec.template is not None
    filled = fill_example(spec.template, values)
    if filled == example:
        return True
    key = next(
        f.name for f in dataclasses.fields(example)
        if f.compare and getattr(filled, f.name) != getattr(example, f.name)
    )
    r.report(
        node,
        key,
        f"{spec.path}.{key}",
        "a drawn value changes how this key is read, so the check cannot be compiled once",
        value=variant_label(values),
        allowed="placeholders where every drawn value is read the same way",
    )
    return False


def _given(node: LineDict, field: str, r: Reader) -> dict[str, s.Strategy] | None:
    if "given" not in node:
        return {}
    section = r.mapping(node, "given", field)
    if section is None:
        return None
    start = r.mark()
    out = {}
    for name in section:
        path = f"{field}.given.{name}"
        if not isinstance(name, str) or not NAME.match(name):
            r.report(section, name, path, "not a parameter name", value=name, allowed=NAME_HELP)
            continue
        strategy = _strategy(section, name, path, r)
        if strategy is not None:
            out[name] = strategy
    return None if r.failed_since(start) else out


def _strategy(section: LineDict, name: str, path: str, r: Reader) -> s.Strategy | None:
    node = section[name]
    allowed = "{integers: [low, high]}, {floats: [low, high]} or {sampled_from: [values]}"
    if not isinstance(node, LineDict) or len(node) != 1:
        r.report(section, name, path, "expected one strategy", value=node, allowed=allowed)
        return None
    ((kind, value),) = node.items()
    if kind not in s.STRATEGIES:
        r.report(
            node,
            kind,
            f"{path}.{kind}",
            "unknown strategy",
            value=kind,
            allowed=listing(s.STRATEGIES),
            hint=did_you_mean(kind, s.STRATEGIES),
        )
        return None
    spath = f"{path}.{kind}"
    if not isinstance(value, LineList) or not value:
        r.report(node, kind, spath, "expected a non-empty list", value=value, allowed=allowed)
        return None
    if kind == "sampled_from":
        start = r.mark()
        values: list[Any] = []
        for i, item in enumerate(value):
            frozen = tuple(item) if isinstance(item, list) else item
            if not is_param_value(item):
                r.report(
                    value,
                    i,
                    f"{spath}[{i}]",
                    "a value must be text, a number, true/false or a list of those",
                    value=item,
                )
            elif frozen in values:
                r.report(value, i, f"{spath}[{i}]", "duplicate value", value=item)
            values.append(frozen)
        return None if r.failed_since(start) else s.Strategy(kind, values=tuple(values))
    if len(value) != 2:
        r.report(node, kind, spath, "expected [low, high]", value=value, allowed=allowed)
        return None
    check = r.check_integer if kind == "integers" else r.check_number
    low = check(value[0], value, 0, f"{spath}[0]")
    high = check(value[1], value, 1, f"{spath}[1]")
    if low is None or high is None:
        return None
    if high < low:
        r.report(
            node,
            kind,
            spath,
            "high is below low",
            value=value,
            allowed="[low, high] with low <= high",
        )
        return None
    return s.Strategy(kind, low, high)


def corner_values(given: Mapping[str, s.Strategy]) -> list[dict[str, Any]]:
    """Examples that touch every end of every range and every listed value at least once."""
    base = {name: strategy.corners()[0] for name, strategy in given.items()}
    rows = [base]
    for name, strategy in given.items():
        for value in strategy.corners()[1:]:
            row = {**base, name: value}
            if row not in rows:
                rows.append(row)
    return rows


def parse_fuzz_instance(
    template: LineDict, spec: s.FuzzSpec, values: Mapping[str, Any], r: Reader, ctx: FileContext
) -> s.FuzzInstance | None:
    """Fill the YAML ``template`` of ``spec`` with ``values`` and read the concrete example
    (at load only: a run fills the compiled template, :func:`fill_example`)."""
    field = spec.path or "fuzz"
    label = variant_label(values) if values else None
    rr = r.within(f"example {label}" if label else None)
    start = rr.mark()
    node = substitute(template, values, skip="given")
    title = rr.text(node, "title", field)
    notes = rr.text(node, "notes", field)
    variant = case_label(values) if values else read_variant(node, field, rr)
    data, sampler = merged_data_sampler(node, field, rr, ctx)
    steps_count = sampler.steps if sampler is not None else None
    interventions = read_interventions(node, field, rr, steps_count, required=True)
    measure = read_measure(node, field, rr, steps_count) if "measure" in node else None
    args = read_args(node, field, rr)
    if rr.failed_since(start) or data is None or sampler is None or interventions is None:
        return None
    return s.FuzzInstance(
        id=spec.id,
        variant=variant,
        invariant=spec.invariant,
        args=args,
        interventions=interventions,
        measure=measure,
        data=data,
        sampler=sampler,
        title=title,
        notes=notes,
        values=s.freeze(dict(values)),
        line=node.line,
        path=field,
    )
