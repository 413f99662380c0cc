"""A hypothesis's ``interventions:`` list and its ``source:`` run (the second run a patch
reads)."""

from __future__ import annotations

from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.errors import listing
from latentflow.spec.grammar import INTERVENTION_KEYS, MAX_SEED, NAME, NAME_HELP, SOURCE_KEYS
from latentflow.spec.reader import Reader
from latentflow.spec.sections import lines_with_args, read_args
from latentflow.spec.selections import read_layers, read_selection, read_site
from latentflow.spec.yaml_loader import LineDict, LineList


def read_interventions(
    node: LineDict,
    field: str,
    r: Reader,
    steps_count: int | None,
    required: bool,
    parsed: list[Any] | None = None,
) -> tuple[s.Intervention, ...] | None:
    """All interventions, or None if any is broken (the good ones still go to ``parsed``)."""
    if "interventions" not in node:
        if required:
            r.report(node, None, f"{field}.interventions", "missing required key 'interventions'")
            return None
        return ()
    items = r.sequence(node, "interventions", field, non_empty=required)
    if items is None:
        return None
    start = r.mark()
    partial: list[s.Intervention] = []
    out = [
        _intervention(item, items, i, f"{field}.interventions[{i}]", r, steps_count, partial)
        for i, item in enumerate(items)
    ]
    if parsed is not None:
        parsed.extend(item for item in out if item is not None)
        parsed.extend(partial)
    return None if r.failed_since(start) else tuple(item for item in out if item is not None)


def _intervention(
    node: Any,
    parent: LineList,
    index: int,
    field: str,
    r: Reader,
    steps_count: int | None,
    partial: list[s.Intervention] | None = None,
) -> s.Intervention | None:
    """The intervention, or None if broken; then, if its site and op still read, a stand-in
    without the broken fields goes to ``partial``, so that an unknown site or operation is
    reported beside the broken field instead of after it is fixed."""
    if not isinstance(node, LineDict):
        r.report(
            parent,
            index,
            field,
            "expected a mapping (an intervention)",
            value=node,
            allowed=f"keys {listing(INTERVENTION_KEYS)}",
        )
        return None
    start = r.mark()
    r.check_keys(node, field, INTERVENTION_KEYS, ("site", "op"))
    site = read_site(node, "site", field, r)
    op = r.text(node, "op", field, pattern=NAME, pattern_help=NAME_HELP)
    args_start = r.mark()
    args = read_args(node, field, r)
    args_failed = r.failed_since(args_start)
    layers = read_layers(node, field, r, site)
    steps = read_selection(node, "steps", field, r, "step", steps_count) if "steps" in node else s.ALL
    if r.failed_since(start) or site is None or op is None or steps is None:
        if partial is not None and site is not None and op is not None and not args_failed:
            # layers/steps dropped: the site is then checked as written (`hook_cross_out` with
            # layers is reported as an unknown site too, with the blocks.* suggestion)
            partial.append(
                s.Intervention(site, op, args, None, s.ALL, line=node.line, lines=lines_with_args(node), path=field)
            )
        return None
    return s.Intervention(
        site, op, args, layers, steps, line=node.line, lines=lines_with_args(node), path=field
    )


def read_source(node: LineDict, field: str, r: Reader) -> s.PatchSource | None:
    if "source" not in node:
        return None
    section = node["source"]
    path = f"{field}.source"
    start = r.mark()
    if not r.check_keys(section, path, SOURCE_KEYS, parent=node, key="source"):
        return None
    prompt = r.choice(section, "prompt", path, s.SOURCE_PROMPTS, "alternative")
    seed = r.integer(section, "seed", path, low=0, high=MAX_SEED)
    if prompt == "original" and "seed" not in section:
        r.report(
            section,
            "prompt",
            f"{path}.prompt",
            "a source run with the original prompt and seed is the run itself",
            value=prompt,
            allowed="prompt: alternative, or a different seed",
        )
    return None if r.failed_since(start) else s.PatchSource(prompt, seed, line=section.line)
