"""A hypothesis's ``measure:``: the metric, what it compares, and for ``compare: internal``
the site it reads."""

from __future__ import annotations

from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.grammar import MEASURE_KEYS, NAME, NAME_HELP
from latentflow.spec.reader import Reader
from latentflow.spec.sections import lines_with_args, read_args
from latentflow.spec.selections import read_layers, read_selection, read_site
from latentflow.spec.versus import read_versus
from latentflow.spec.yaml_loader import LineDict
from latentflow.vocabulary import COMPARES


def read_measure(
    node: LineDict, field: str, r: Reader, steps_count: int | None, partial: list[Any] | None = None,
    *, versus_allowed: bool = False,
) -> s.Measure | None:
    """The measure, or None if broken; then, if its metric and compare still read, a stand-in
    goes to ``partial`` (as for interventions) so an unknown metric is reported too.
    ``versus_allowed``: a hypothesis's measure may compare with a second intervened run
    (latentflow.spec.versus); its interventions go to ``partial`` too."""
    section = node["measure"]
    path = f"{field}.measure"
    start = r.mark()
    if not r.check_keys(section, path, MEASURE_KEYS, ("metric",), parent=node, key="measure"):
        return None
    metric = r.text(section, "metric", path, pattern=NAME, pattern_help=NAME_HELP)
    compare = r.choice(section, "compare", path, COMPARES, "target")
    reference = r.choice(section, "reference", path, s.REFERENCES, "prompted")
    if compare != "target":
        if "reference" in section:
            r.report(
                section,
                "reference",
                f"{path}.reference",
                "reference (which true source) only applies to compare: target",
                value=section["reference"],
                allowed="no reference key with compare: baseline or internal",
            )
        reference = None
    args_start = r.mark()
    args = read_args(section, path, r)
    args_failed = r.failed_since(args_start)
    site = layers = steps = None
    if compare == "internal":
        if "site" not in section:
            r.report(
                section,
                "compare",
                f"{path}.site",
                "compare: internal needs the site whose activations the statistic reads",
                allowed="e.g. site: blocks.*.attn.hook_pattern",
            )
        site = read_site(section, "site", path, r)
        layers = read_layers(section, path, r, site)
        steps = (
            read_selection(section, "steps", path, r, "step", steps_count)
            if "steps" in section
            else s.ALL
        )
    else:
        for key in ("site", "layers", "steps"):
            if key in section:
                r.report(
                    section,
                    key,
                    f"{path}.{key}",
                    f"{key} only applies to compare: internal (an output metric reads the whole output)",
                    value=section[key],
                    allowed=f"compare: internal, or no {key} key",
                )
    versus = read_versus(section, path, r, steps_count, allowed=versus_allowed, parsed=partial)
    if r.failed_since(start):
        if partial is not None and metric is not None and compare is not None and not args_failed:
            partial.append(
                s.Measure(metric, compare, reference, args, site, None, s.ALL, line=section.line,
                          lines=lines_with_args(section), path=path)
            )
        return None
    return s.Measure(
        metric,
        compare,
        reference,
        args,
        site,
        layers,
        steps,
        versus,
        line=section.line,
        lines=lines_with_args(section),
        path=path,
    )
