"""From line-numbered YAML to the typed :class:`Spec`, checking structure on the way.

Everything that can be checked without the model or the registries is checked here:
keys, types, ranges, allowed values, combinations (a margin only with equivalence, a
reason only with ``outcome: fails``), placeholders, step selections against the sampler,
unique case ids and family references. Names of sites, operations, metrics and
invariants are checked in :mod:`latentflow.spec.validate`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.controls import parse_controls, parse_file_controls
from latentflow.spec.errors import did_you_mean, listing
from latentflow.spec.expand import (
    case_label,
    check_uses,
    expand,
    is_param_value,
    placeholder_lines,
    scan,
    substitute,
    variant_label,
    without,
)
from latentflow.spec.reader import Reader
from latentflow.spec.yaml_loader import VERSION_KEY, LineDict, LineList

TOP_KEYS = (
    VERSION_KEY,
    "claim",
    "model",
    "data",
    "sampler",
    "family",
    "families",
    "sequential",
    "hypotheses",
    "fuzz",
    "marks",
    "controls",
)
CLAIM_KEYS = ("id", "title", "source", "paper", "notes")
DATA_KEYS = ("tier", "n", "seed", "split", "prompt", "spans")
SAMPLER_KEYS = ("method", "steps")
FAMILY_KEYS = ("correction",)
SEQUENTIAL_KEYS = ("max_n", "chunk", "method", "bounds", "prior_scale", "symmetric")
HYPOTHESIS_KEYS = (
    "id",
    "title",
    "variant",
    "parametrize",
    "paper",
    "notes",
    "family",
    "data",
    "sampler",
    "interventions",
    "source",
    "measure",
    "expect",
    "outcome",
    "reason",
    "marks",
    "sequential",
    "controls",
)
INTERVENTION_KEYS = ("site", "op", "args", "layers", "steps")
SOURCE_KEYS = ("prompt", "seed")
MEASURE_KEYS = ("metric", "compare", "reference", "args", "site", "layers", "steps")
EXPECT_KEYS = ("direction", "test", "alpha", "min_effect_size", "margin", "null_value", "resamples")
FUZZ_KEYS = (
    "id",
    "title",
    "notes",
    "variant",
    "invariant",
    "args",
    "given",
    "interventions",
    "measure",
    "data",
    "sampler",
    "max_examples",
    "outcome",
    "reason",
    "marks",
)

NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
NAME_HELP = "a name of letters, digits and _"
ID_HELP = "letters, digits, '_', '.', '-' (not starting with '.' or '-')"
VARIANT = re.compile(r"[\w.+-]+\Z")  # what `pytest -k` accepts in a name (expand.ID_UNSAFE)
MAX_N = 1_000_000
MAX_STEPS = 10_000
MAX_SEED = 2**63 - 1


@dataclass
class FileContext:
    """What every hypothesis of a file inherits: the file's data and sampler fields."""

    file: str
    data: dict[str, Any]
    sampler: dict[str, Any]
    # the file's `sequential:` fields (every hypothesis inherits them) and that key's line
    sequential: dict[str, Any] = field(default_factory=dict)
    sequential_line: int | None = None
    controls: tuple[Any, ...] = ()  # the file's `controls:` (latentflow.spec.controls)
    # Interventions and measures that parsed inside hypotheses that did not, with the
    # variant they came from: their names are still checked, so one run reports everything.
    orphans: list[tuple[Any, str | None]] = field(default_factory=list)


def parse_spec(
    raw: Any, file: str, reader: Reader | None = None, orphans: list[Any] | None = None
) -> s.Spec | None:
    """The typed spec; problems go to ``reader.issues``.

    Returns None only when ``raw`` is not a spec document at all. Otherwise a Spec is
    returned even if problems were reported (broken sections replaced by stand-ins, broken
    hypotheses left out), so that the name checks can run on the rest and every problem of
    a file is reported at once: a Spec is only valid if no problem was reported.
    ``orphans`` receives the interventions and measures of hypotheses that failed (see
    :class:`FileContext`).
    """
    r = reader or Reader(file)
    if not isinstance(raw, LineDict) or VERSION_KEY not in raw:
        r.report(
            raw,
            None,
            "(document)",
            "not a latentflow spec: the top level needs the key 'latentflow'",
            value=_summary(raw),
            allowed="a mapping starting with `latentflow: 1`",
            line=getattr(raw, "line", 1) or 1,
        )
        return None
    r.check_keys(raw, "", TOP_KEYS, (VERSION_KEY, "claim", "data"))
    version = r.integer(raw, VERSION_KEY, "")
    if version is not None and version not in s.SPEC_VERSIONS:
        r.report(
            raw,
            VERSION_KEY,
            VERSION_KEY,
            "unsupported spec version",
            value=version,
            allowed=listing(s.SPEC_VERSIONS),
        )
    if "hypotheses" not in raw and "fuzz" not in raw:
        r.report(raw, None, "hypotheses", "a spec needs hypotheses, a fuzz section, or both")
    claim = _claim(raw.get("claim"), raw, r)
    model = r.text(raw, "model", "", s.FIXTURE_MODEL)
    data_fields = _section_fields(raw, "data", "data", DATA_KEYS, _data_field, r)
    sampler_fields = _section_fields(raw, "sampler", "sampler", SAMPLER_KEYS, _sampler_field, r)
    sequential_fields = _section_fields(
        raw, "sequential", "sequential", SEQUENTIAL_KEYS, _sequential_field, r
    )
    if "data" in raw and data_fields is not None:
        _complete_data(raw, "data", r, sequential="sequential" in raw)
    # Stand-ins for broken sections let the hypotheses be checked too; the file is
    # rejected anyway because the broken section was reported. A sequential file's
    # examples are its max_n (fuzz checks run on them too).
    data_fields = {
        "tier": s.TIERS[0],
        "n": (sequential_fields or {}).get("max_n", 1),
        **(data_fields or {}),
    }
    sampler_fields = sampler_fields or {}
    family = _family(raw, "family", "family", r) if "family" in raw else None
    families = _families(raw, r)
    marks = _marks(raw, "", r)
    ctx = FileContext(
        file,
        data_fields,
        sampler_fields,
        orphans=orphans if orphans is not None else [],
        sequential=sequential_fields or {},
        sequential_line=raw.lines.get("sequential"),
        controls=parse_file_controls(raw, r, steps_count=sampler_fields.get("steps", s.Sampler.steps)),
    )

    hypotheses: list[s.Hypothesis] = []
    node = r.sequence(raw, "hypotheses", "", non_empty=True)
    for index, item in enumerate(node or ()):
        hypotheses.extend(parse_hypothesis_template(item, node, index, r, ctx))
    fuzz: list[s.FuzzSpec] = []
    node = r.sequence(raw, "fuzz", "", non_empty=True)
    for index, item in enumerate(node or ()):
        check = parse_fuzz_template(item, node, index, r, ctx)
        if check is not None:
            fuzz.append(check)

    _check_unique_ids(hypotheses, fuzz, r)
    _check_families(hypotheses, family, families, raw, r)
    _check_family_designs(hypotheses, family, families, r)
    claim = claim or s.Claim("claim", "", "")
    return s.Spec(
        file,
        version or s.SPEC_VERSIONS[-1],
        claim,
        model or s.FIXTURE_MODEL,
        s.Data(**data_fields),
        s.Sampler(**sampler_fields),
        tuple(hypotheses),
        family,
        families,
        tuple(fuzz),
        model_line=raw.lines.get("model"),
        marks=marks,
    )


def _summary(raw: Any) -> Any:
    if isinstance(raw, Mapping):
        return f"a mapping with keys {listing(list(raw)[:6])}" if raw else "an empty mapping"
    return raw


# -- file-level sections ---------------------------------------------------------------------


def _claim(node: Any, raw: LineDict, r: Reader) -> s.Claim | None:
    if "claim" not in raw:
        return None  # reported as a missing required key
    start = r.mark()
    if not r.check_keys(
        node, "claim", CLAIM_KEYS, ("id", "title", "source"), parent=raw, key="claim"
    ):
        return None
    claim_id = r.text(node, "id", "claim", pattern=s.ID_PATTERN, pattern_help=ID_HELP)
    title = r.text(node, "title", "claim")
    source = r.text(node, "source", "claim")
    paper = _paper(node, "claim", r)
    notes = r.text(node, "notes", "claim")
    if r.failed_since(start):
        return None
    return s.Claim(claim_id, title, source, paper, notes)


def _paper(node: LineDict, field: str, r: Reader) -> Any:
    """The paper's reported number(s): text, a number, or a mapping label -> text/number."""
    if "paper" not in node:
        return None
    value = node["paper"]
    allowed = "text, a number, or a mapping label -> text/number"
    if isinstance(value, LineDict):
        for key, item in value.items():
            if not isinstance(item, (str, int, float)) or isinstance(item, bool):
                r.report(
                    value,
                    key,
                    f"{field}.paper.{key}",
                    "expected text or a number",
                    value=item,
                    allowed=allowed,
                )
        return s.freeze(value)
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        r.report(
            node,
            "paper",
            f"{field}.paper",
            "expected the paper's number",
            value=value,
            allowed=allowed,
        )
        return None
    return value


def _section_fields(
    node: LineDict, key: str, field: str, keys: tuple[str, ...], read: Any, r: Reader
) -> dict[str, Any] | None:
    """The valid fields of a data/sampler section (a partial override); None if broken."""
    if key not in node:
        return {}
    section = node[key]
    start = r.mark()
    if not r.check_keys(section, field, keys, parent=node, key=key):
        return None
    out = {}
    for name in keys:
        if name in section:
            value = read(section, name, field, r)
            if value is not None:
                out[name] = value
    return None if r.failed_since(start) else out


def _data_field(node: LineDict, name: str, field: str, r: Reader) -> Any:
    if name == "tier":
        return r.choice(node, name, field, s.TIERS)
    if name == "n":
        return r.integer(node, name, field, low=1, high=MAX_N)
    if name == "seed":
        return r.integer(node, name, field, low=0, high=MAX_SEED)
    if name == "split":
        return r.choice(node, name, field, s.SPLITS)
    if name == "spans":
        return r.choice(node, name, field, s.SPAN_SELECTIONS)
    return r.choice(node, name, field, s.PROMPT_KINDS)


def _sampler_field(node: LineDict, name: str, field: str, r: Reader) -> Any:
    if name == "method":
        return r.choice(node, name, field, s.SAMPLER_METHODS)
    return r.integer(node, name, field, low=1, high=MAX_STEPS)


def _complete_data(node: LineDict, field: str, r: Reader, sequential: bool = False) -> None:
    """The file's data must name the tier and the number of examples (the rest has defaults);
    in a sequential file ``sequential.max_n`` is the number of examples, and data.n is refused."""
    if sequential and "n" in node[field]:
        r.report(
            node[field],
            "n",
            f"{field}.n",
            "data.n conflicts with sequential: a sequential spec runs up to sequential.max_n "
            "examples, chunk by chunk",
            value=node[field]["n"],
            allowed="leave data.n out (sequential.max_n sets the number of examples)",
        )
    for key in ("tier",) if sequential else ("tier", "n"):
        if key not in node[field]:  # present but invalid is reported where it is read
            r.report(
                node[field],
                None,
                f"{field}.{key}",
                f"data needs {key!r}",
                allowed="tier: " + "|".join(s.TIERS)
                if key == "tier"
                else "n: the number of examples",
            )


def _family(
    node: LineDict, key: str, field: str, r: Reader, name: str | None = None
) -> s.FamilySpec | None:
    section = node[key]
    if not r.check_keys(section, field, FAMILY_KEYS, FAMILY_KEYS, parent=node, key=key):
        return None
    correction = r.choice(section, "correction", field, s.CORRECTIONS)
    return None if correction is None else s.FamilySpec(name, correction, section.line)


def _families(raw: LineDict, r: Reader) -> tuple[s.FamilySpec, ...]:
    node = r.mapping(raw, "families", "")
    out = []
    for name in node or ():
        if not isinstance(name, str) or not NAME.match(name):
            r.report(
                node, name, f"families.{name}", "not a family name", value=name, allowed=NAME_HELP
            )
            continue
        family = _family(node, name, f"families.{name}", r, name)
        if family is not None:
            out.append(family)
    return tuple(out)


# -- hypotheses -------------------------------------------------------------------------------


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
    variants = expand(node, field, r, "parametrize")
    if variants is None:
        _check_unexpanded(node, field, r, ctx)
        return []
    out = []
    for params, body in variants or ():
        label = variant_label(params) if params else None
        hypothesis = _hypothesis(
            body, field, r.within(f"variant {label}" if label else None), ctx, params
        )
        if hypothesis is not None:
            out.append(hypothesis)
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


def _hypothesis(
    node: LineDict, field: str, r: Reader, ctx: FileContext, params: dict[str, Any]
) -> s.Hypothesis | None:
    start = r.mark()
    hyp_id = r.text(node, "id", field, pattern=s.ID_PATTERN, pattern_help=ID_HELP)
    title = r.text(node, "title", field)
    variant = case_label(params) if params else _variant(node, field, r)
    notes = r.text(node, "notes", field)
    paper = _paper(node, field, r)
    family = r.text(node, "family", field, pattern=NAME, pattern_help=NAME_HELP)
    data, sampler = _merged_data_sampler(node, field, r, ctx)
    steps_count = sampler.steps if sampler is not None else None
    pieces: list[Any] = []
    interventions = _interventions(node, field, r, steps_count, required=False, parsed=pieces)
    source = _source(node, field, r)
    measure = _measure(node, field, r, steps_count, pieces) if "measure" in node else None
    if measure is not None:
        pieces.append(measure)
    expect = _expect(node, field, r) if "expect" in node else None
    outcome, reason = _outcome(node, field, r)
    marks = _marks(node, field, r)
    controls = parse_controls(node, field, r, steps_count=steps_count, outcome=outcome,
                              has_interventions=interventions != (), inherited=ctx.controls, parsed=pieces)
    sequential = _sequential(node, field, r, ctx, expect)
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
    if r.failed_since(start) or None in (data, sampler, interventions, measure, expect, controls):
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


def _marks(node: LineDict, field: str, r: Reader) -> tuple[str, ...]:
    """``marks: [slow, gpu]``: pytest marks for ``-m`` (names; the plugin registers them)."""
    items = r.sequence(node, "marks", field)
    names: list[str] = []
    for index, item in enumerate(items or ()):
        path = f"{field + '.' if field else ''}marks[{index}]"
        if not isinstance(item, str) or not NAME.match(item):
            r.report(items, index, path, "expected a mark name", value=item, allowed=NAME_HELP)
        elif item in s.RESERVED_MARKS:
            r.report(
                items,
                index,
                path,
                f"{item!r} is pytest's own mark and takes arguments",
                value=item,
                allowed="a mark of your own (e.g. slow); outcome: fails for an expected failure",
            )
        elif item not in names:
            names.append(item)
    return tuple(names)


def _variant(node: LineDict, field: str, r: Reader) -> str | None:
    if "variant" not in node:
        return None
    value = node["variant"]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not VARIANT.match(value):
        r.report(
            node,
            "variant",
            f"{field}.variant",
            "expected a label of letters, digits and _ . + - (as pytest -k accepts in a test id)",
            value=value,
        )
        return None
    return value


def _merged_data_sampler(
    node: LineDict, field: str, r: Reader, ctx: FileContext
) -> tuple[s.Data | None, s.Sampler | None]:
    """The file's data and sampler with this hypothesis's overrides applied."""
    data_override = _section_fields(node, "data", f"{field}.data", DATA_KEYS, _data_field, r)
    sampler_override = _section_fields(
        node, "sampler", f"{field}.sampler", SAMPLER_KEYS, _sampler_field, r
    )
    data = s.Data(**{**ctx.data, **data_override}) if data_override is not None else None
    sampler = (
        s.Sampler(**{**ctx.sampler, **sampler_override}) if sampler_override is not None else None
    )
    return data, sampler


def _interventions(
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
    return None if r.failed_since(start) else tuple(out)


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
    site = _site(node, "site", field, r)
    op = r.text(node, "op", field, pattern=NAME, pattern_help=NAME_HELP)
    args_start = r.mark()
    args = _args(node, field, r)
    args_failed = r.failed_since(args_start)
    layers = _layers(node, field, r, site)
    steps = _selection(node, "steps", field, r, "step", steps_count) if "steps" in node else s.ALL
    if r.failed_since(start):
        if partial is not None and site is not None and op is not None and not args_failed:
            # layers/steps dropped: the site is then checked as written (`hook_cross_out` with
            # layers is reported as an unknown site too, with the blocks.* suggestion)
            partial.append(
                s.Intervention(site, op, args, None, s.ALL, line=node.line, lines=_lines_with_args(node), path=field)
            )
        return None
    return s.Intervention(
        site, op, args, layers, steps, line=node.line, lines=_lines_with_args(node), path=field
    )


def _lines_with_args(node: LineDict) -> s.FrozenDict:
    """Key lines of a section plus ``args.NAME`` lines, so argument errors point at the argument."""
    lines = dict(node.lines)
    args = node.get("args")
    if isinstance(args, LineDict):
        lines.update({f"args.{k}": line for k, line in args.lines.items()})
    return s.FrozenDict(lines)


def _site(node: LineDict, key: str, field: str, r: Reader) -> str | None:
    site = r.text(node, key, field)
    if site is None:
        return None
    segments = site.split(".")
    if not all(s.SITE_SEGMENT.match(seg) for seg in segments):
        r.report(
            node,
            key,
            f"{field}.{key}",
            "malformed hook site",
            value=site,
            allowed="dot-separated names, indices or * (e.g. blocks.*.hook_cross_out, hook_text_proj)",
        )
        return None
    return site


def _layers(node: LineDict, field: str, r: Reader, site: str | None) -> s.IndexSelection | None:
    wildcard = site is not None and s.has_layer_wildcard(site)
    if "layers" not in node:
        return s.ALL if wildcard else None
    if site is not None and not wildcard:
        r.report(
            node,
            "layers",
            f"{field}.layers",
            "layers selects the blocks of a blocks.* site; this site names no open block index",
            value=site,
            allowed="a site like blocks.*.hook_cross_out, or no layers key",
            # `hook_cross_out` + layers usually means the block prefix was forgotten.
            hint=None if site.startswith("blocks.") else f"did you mean 'blocks.*.{site}'?",
        )
        return None
    return _selection(node, "layers", field, r, "layer", None)


def _selection(
    node: LineDict, key: str, field: str, r: Reader, what: str, count: int | None
) -> s.IndexSelection | None:
    """Parse all | N | [..] | {only: [..]} | {from: a, to: b}; check it against ``count``."""
    value = node[key]
    path = f"{field}.{key}"
    allowed = f"all, a {what} index, a list of indices, {{only: [...]}} or {{from: a, to: b}}"
    start = r.mark()
    selection = None
    if value == "all":
        selection = s.ALL
    elif isinstance(value, int) and not isinstance(value, bool):
        if r.check_integer(value, node, key, path, low=0) is not None:
            selection = s.IndexSelection(only=(value,))
    elif isinstance(value, LineList):
        selection = _only(value, node, key, path, r)
    elif isinstance(value, LineDict):
        if r.check_keys(
            value, path, ("only", "from", "to"), what=f"a {what} selection", parent=node, key=key
        ):
            if "only" in value and ("from" in value or "to" in value):
                r.report(
                    value, "only", path, "use either only or from/to", value=value, allowed=allowed
                )
            elif "only" in value:
                only = value["only"]
                selection = (
                    _only(only, value, "only", f"{path}.only", r)
                    if isinstance(only, LineList)
                    else None
                )
                if not isinstance(only, LineList):
                    r.report(
                        value, "only", f"{path}.only", "expected a list of indices", value=only
                    )
            elif "from" not in value:
                r.report(
                    value,
                    None,
                    f"{path}.from",
                    "a range needs from (to is optional and inclusive)",
                    value=value,
                    allowed=allowed,
                )
            else:
                low = r.integer(value, "from", path, low=0)
                high = r.integer(value, "to", path, low=0)
                if low is not None and high is not None and high < low:
                    r.report(
                        value,
                        "to",
                        f"{path}.to",
                        f"range ends before it starts (from {low})",
                        value=high,
                        allowed=f"an integer >= {low}",
                    )
                elif low is not None and ("to" not in value or high is not None):
                    selection = s.IndexSelection(start=low, stop=high)
    else:
        r.report(node, key, path, f"not a {what} selection", value=value, allowed=allowed)
    if r.failed_since(start) or selection is None:
        return None
    if count is not None:
        beyond = [i for i in selection.endpoints() if i >= count]
        if beyond:
            r.report(
                node,
                key,
                path,
                f"{what} {beyond[0]} does not exist: the sampler has {count} steps",
                value=value,
                allowed=f"{what}s 0 to {count - 1}",
            )
            return None
    return selection


def _only(
    items: LineList, container: Any, key: Any, path: str, r: Reader
) -> s.IndexSelection | None:
    if not items:
        r.report(
            container,
            key,
            path,
            "an empty selection selects nothing",
            value=items,
            allowed="at least one index",
        )
        return None
    start = r.mark()
    values = []
    for i, item in enumerate(items):
        value = r.check_integer(item, items, i, f"{path}[{i}]", low=0)
        if value is not None and value in values:
            r.report(items, i, f"{path}[{i}]", "duplicate index", value=value)
        values.append(value)
    return None if r.failed_since(start) else s.IndexSelection(only=tuple(sorted(values)))


def _args(node: LineDict, field: str, r: Reader) -> s.FrozenDict:
    if "args" not in node or node["args"] is None:
        return s.FrozenDict()
    args = r.mapping(node, "args", field)
    if args is None:
        return s.FrozenDict()
    for key in args:
        if not isinstance(key, str) or not NAME.match(key):
            r.report(
                args,
                key,
                f"{field}.args.{key}",
                "not an argument name",
                value=key,
                allowed=NAME_HELP,
            )
    return s.freeze(args)


def _source(node: LineDict, field: str, r: Reader) -> s.PatchSource | None:
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


def _measure(
    node: LineDict, field: str, r: Reader, steps_count: int | None, partial: list[Any] | None = None
) -> s.Measure | None:
    """The measure, or None if broken; then, if its metric and compare still read, a stand-in
    goes to ``partial`` (as for interventions) so an unknown metric is reported too."""
    section = node["measure"]
    path = f"{field}.measure"
    start = r.mark()
    if not r.check_keys(section, path, MEASURE_KEYS, ("metric",), parent=node, key="measure"):
        return None
    metric = r.text(section, "metric", path, pattern=NAME, pattern_help=NAME_HELP)
    compare = r.choice(section, "compare", path, s.COMPARES, "target")
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
    args = _args(section, path, r)
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
        site = _site(section, "site", path, r)
        layers = _layers(section, path, r, site)
        steps = (
            _selection(section, "steps", path, r, "step", steps_count)
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
    if r.failed_since(start):
        if partial is not None and metric is not None and compare is not None and not args_failed:
            partial.append(
                s.Measure(metric, compare, reference, args, site, None, s.ALL, line=section.line,
                          lines=_lines_with_args(section), path=path)
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
        line=section.line,
        lines=_lines_with_args(section),
        path=path,
    )


def _expect(node: LineDict, field: str, r: Reader) -> s.Expect | None:
    section = node["expect"]
    path = f"{field}.expect"
    start = r.mark()
    if not r.check_keys(section, path, EXPECT_KEYS, ("direction",), parent=node, key="expect"):
        return None
    direction = r.choice(section, "direction", path, s.DIRECTIONS)
    equivalence = direction == "equivalent"
    default_test = "tost" if equivalence else "paired_t"
    test = r.choice(section, "test", path, s.TESTS, default_test)
    if direction is not None and test is not None:
        fitting = s.EQUIVALENCE_TESTS if equivalence else s.DIFFERENCE_TESTS
        if test not in fitting:
            r.report(
                section,
                "test",
                f"{path}.test",
                f"test {test} does not test direction {direction}",
                value=test,
                allowed=f"with direction {direction}: {listing(fitting)}",
            )
    alpha = r.number(
        section, "alpha", path, s.DEFAULT_ALPHA, low=0.0, high=0.5, open_low=True, open_high=True
    )
    min_effect = r.number(section, "min_effect_size", path, low=0.0)
    if equivalence and "min_effect_size" in section:
        r.report(
            section,
            "min_effect_size",
            f"{path}.min_effect_size",
            "a minimum effect contradicts an equivalence claim",
            value=section["min_effect_size"],
            allowed="margin (the equivalence bounds) instead",
        )
    margin = _margin(section, path, r) if "margin" in section else None
    if equivalence and "margin" not in section:
        r.report(
            section,
            "direction",
            f"{path}.margin",
            "direction equivalent needs a margin",
            allowed="margin: 0.2 (meaning [-0.2, 0.2]) or margin: [low, high]",
        )
    if direction is not None and not equivalence and "margin" in section:
        r.report(
            section,
            "margin",
            f"{path}.margin",
            f"a margin only applies to direction equivalent, not {direction}",
            value=section["margin"],
            allowed="min_effect_size for a difference claim",
        )
    null_value = r.number(section, "null_value", path, 0.0)
    resamples = r.integer(section, "resamples", path, low=100, high=10_000_000)
    if "resamples" in section and test is not None and test not in s.RESAMPLING_TESTS:
        r.report(
            section,
            "resamples",
            f"{path}.resamples",
            f"resamples only applies to resampling tests, not {test}",
            value=section["resamples"],
            allowed=f"test: {listing(s.RESAMPLING_TESTS)}",
        )
    if r.failed_since(start):
        return None
    return s.Expect(direction, test, alpha, min_effect, margin, null_value, resamples)


def _margin(section: LineDict, path: str, r: Reader) -> tuple[float, float] | None:
    value = section["margin"]
    allowed = "a positive number m (meaning [-m, m]) or [low, high] with low < high"
    if isinstance(value, LineList):
        if len(value) != 2:
            r.report(
                section,
                "margin",
                f"{path}.margin",
                "expected two bounds",
                value=value,
                allowed=allowed,
            )
            return None
        low = r.check_number(value[0], value, 0, f"{path}.margin[0]")
        high = r.check_number(value[1], value, 1, f"{path}.margin[1]")
        if low is None or high is None:
            return None
        if not low < high:
            r.report(
                section,
                "margin",
                f"{path}.margin",
                "the lower bound must be below the upper",
                value=value,
                allowed=allowed,
            )
            return None
        return (low, high)
    width = r.check_number(value, section, "margin", f"{path}.margin", low=0.0, open_low=True)
    return None if width is None else (-width, width)


def _sequential_field(node: LineDict, name: str, field: str, r: Reader) -> Any:
    if name in ("max_n", "chunk"):
        return r.integer(node, name, field, low=1, high=MAX_N)
    if name == "method":
        return r.choice(node, name, field, s.SEQUENTIAL_METHODS)
    if name == "prior_scale":
        return r.number(node, name, field, low=0.0, open_low=True)
    if name == "symmetric":
        value = node[name]
        if not isinstance(value, bool):
            r.report(node, name, f"{field}.{name}", "expected true or false", value=value,
                     allowed="true: you declare the differences symmetric about their mean (t_mixture needs it)")
            return None
        return value
    return _bounds(node, field, r)


def _bounds(section: LineDict, path: str, r: Reader) -> tuple[float, float] | None:
    value = section["bounds"]
    allowed = "[low, high] with low < 0 < high: the range every difference lies in"
    if not isinstance(value, LineList) or len(value) != 2:
        r.report(section, "bounds", f"{path}.bounds", "expected two bounds", value=value, allowed=allowed)
        return None
    low = r.check_number(value[0], value, 0, f"{path}.bounds[0]")
    high = r.check_number(value[1], value, 1, f"{path}.bounds[1]")
    if low is None or high is None:
        return None
    if not low < 0.0 < high:
        r.report(
            section, "bounds", f"{path}.bounds", "the bounds must enclose 0", value=value, allowed=allowed
        )
        return None
    return (low, high)


# What a sequential design cannot express, per expect key: the reason given when it is refused.
SEQUENTIAL_REFUSED_EXPECT = {
    "min_effect_size": "the sequential methods test the mean difference against 0, not a "
    "minimum effect size",
    "resamples": "the sequential methods draw nothing at random",
}


def _sequential(
    node: LineDict, field: str, r: Reader, ctx: FileContext, expect: s.Expect | None
) -> s.Sequential | None:
    """The hypothesis's sequential design (the file's, with this hypothesis's fields over it),
    checked against its expectation; None for a fixed-n hypothesis."""
    path = f"{field}.sequential"
    override = _section_fields(node, "sequential", path, SEQUENTIAL_KEYS, _sequential_field, r)
    if override is None or (not override and not ctx.sequential and "sequential" not in node):
        return None
    fields = {**ctx.sequential, **override}
    here = "sequential" in node
    line = node.lines.get("sequential") if here else ctx.sequential_line
    where = path if here else "sequential"
    start = r.mark()
    for key in ("max_n", "chunk"):
        if key not in fields:
            r.report(None, None, f"{where}.{key}", f"sequential needs {key!r}", line=line,
                     allowed="max_n: the most examples; chunk: examples between decisions")
    data = node.get("data")
    if isinstance(data, LineDict) and "n" in data:
        r.report(
            data,
            "n",
            f"{field}.data.n",
            "data.n conflicts with sequential: a sequential hypothesis runs up to "
            "sequential.max_n examples, chunk by chunk",
            value=data["n"],
            allowed="leave data.n out (sequential.max_n sets the number of examples)",
        )
    section = node.get("expect")
    if isinstance(section, LineDict):
        for key, why in SEQUENTIAL_REFUSED_EXPECT.items():
            if key in section:
                r.report(section, key, f"{field}.expect.{key}",
                         f"{key} cannot be used with sequential: {why}", value=section[key],
                         allowed=f"leave {key} out, or drop sequential:")
        if expect is not None and "test" in section and expect.test not in s.SEQUENTIAL_FIXED_N_TESTS:
            r.report(
                section,
                "test",
                f"{field}.expect.test",
                f"test {expect.test} cannot be used with sequential: the sequential method "
                "decides, and test only names the fixed-n test shown next to it, which must "
                "test the same mean difference",
                value=expect.test,
                allowed=f"{listing(s.SEQUENTIAL_FIXED_N_TESTS)}, or leave test out",
            )
    if r.failed_since(start) or expect is None:
        return None
    design = s.Sequential(
        fields["max_n"], fields["chunk"], fields.get("method", "t_mixture"), fields.get("bounds"),
        fields.get("prior_scale"), fields.get("symmetric", False), line=line,
    )
    problem = sequential_design_problem(design, expect)
    if problem is not None:
        r.report(None, None, where, problem, line=line,
                 allowed="see docs/sequential.md: max_n >= chunk; bounds (and only bounds) with "
                 "betting; symmetric: true (and only) with t_mixture; an equivalence margin inside the bounds")
        return None
    return design


def sequential_design_problem(design: s.Sequential, expect: s.Expect) -> str | None:
    """Why the statistics layer refuses this design for this expectation, or None."""
    # imported here: the stats layer owns the rules and pulls numpy/scipy, which specs without
    # sequential: never need
    from latentflow.stats.sequential import SequentialDesign

    try:
        stats_design(design, expect, SequentialDesign)
    except ValueError as why:
        return str(why)
    return None


def stats_design(design: s.Sequential, expect: s.Expect, factory: Any = None, family_size: int = 1) -> Any:
    """The ``latentflow.stats.sequential.SequentialDesign`` of a hypothesis's design;
    ``family_size``: the cases of its corrected family, which split alpha before any data."""
    if factory is None:
        from latentflow.stats.sequential import SequentialDesign as factory
    equivalence = expect.direction == "equivalent"
    extra = {} if design.prior_scale is None else {"prior_scale": design.prior_scale}
    return factory(
        max_n=design.max_n,
        chunk=design.chunk,
        method=design.method,
        alternative="equivalence" if equivalence else expect.direction,
        alpha=expect.alpha,
        margin=expect.margin if equivalence else None,
        bounds=design.bounds,
        symmetric=design.symmetric,
        family_size=family_size,
        **extra,
    )


def _outcome(node: LineDict, field: str, r: Reader) -> tuple[str, str | None]:
    """``outcome`` (holds / fails) and the ``reason`` that ``outcome: fails`` must give."""
    outcome = r.choice(node, "outcome", field, s.OUTCOMES, "holds")
    reason = r.text(node, "reason", field)
    if outcome == "fails" and reason is None and "reason" not in node:
        r.report(
            node,
            "outcome",
            f"{field}.reason",
            "outcome: fails needs a reason (what was measured and why it fails)",
            allowed="reason: <text>",
        )
    if outcome == "holds" and "reason" in node:
        r.report(
            node,
            "reason",
            f"{field}.reason",
            "reason is only for outcome: fails",
            value=node["reason"],
            allowed="outcome: fails with a reason, or use notes",
        )
    return outcome, reason


# -- fuzz checks ------------------------------------------------------------------------------


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
    outcome, reason = _outcome(node, field, r)
    marks = _marks(node, field, r)
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
        check_id,
        invariant,
        s.FrozenDict(given),
        max_examples,
        node.get("title"),
        node.get("notes"),
        outcome=outcome,
        reason=reason,
        template=node,
        line=node.line,
        path=field,
        marks=marks,
    )
    for values in corner_values(spec.given):
        parse_fuzz_instance(spec, values, r, ctx)
    return None if r.failed_since(start) else spec


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
    spec: s.FuzzSpec, values: Mapping[str, Any], r: Reader, ctx: FileContext
) -> s.FuzzInstance | None:
    """Fill the template with ``values`` and parse the concrete example."""
    field = spec.path or "fuzz"
    label = variant_label(values) if values else None
    rr = r.within(f"example {label}" if label else None)
    start = rr.mark()
    node = substitute(spec.template, values, skip="given")
    title = rr.text(node, "title", field)
    notes = rr.text(node, "notes", field)
    variant = case_label(values) if values else _variant(node, field, rr)
    data, sampler = _merged_data_sampler(node, field, rr, ctx)
    steps_count = sampler.steps if sampler is not None else None
    interventions = _interventions(node, field, rr, steps_count, required=True)
    measure = _measure(node, field, rr, steps_count) if "measure" in node else None
    args = _args(node, field, rr)
    if rr.failed_since(start) or None in (data, sampler, interventions):
        return None
    return s.FuzzInstance(
        spec.id,
        variant,
        spec.invariant,
        args,
        interventions,
        measure,
        data,
        sampler,
        title,
        notes,
        values=s.freeze(dict(values)),
        line=node.line,
        path=field,
    )


# -- cross checks -----------------------------------------------------------------------------


def _check_unique_ids(hypotheses: list[s.Hypothesis], fuzz: list[s.FuzzSpec], r: Reader) -> None:
    seen: dict[tuple[str, str | None], int | None] = {}
    for item in [*hypotheses, *fuzz]:
        key = (item.id, getattr(item, "variant", None))
        shown = item.id + (f"[{key[1]}]" if key[1] else "")
        line = _key_line(item, "id")
        if key in seen:
            r.report(
                None,
                None,
                f"{item.path}.id",
                f"duplicate id {shown!r} (first at line {seen[key]})",
                value=item.id,
                allowed="ids unique within the file (hypotheses and fuzz checks)",
                line=line,
            )
        else:
            seen[key] = line


def _key_line(item: s.Hypothesis | s.FuzzSpec, key: str) -> int | None:
    lines = item.lines if isinstance(item, s.Hypothesis) else getattr(item.template, "lines", None)
    return (lines or {}).get(key, item.line)


def _check_families(
    hypotheses: list[s.Hypothesis],
    family: s.FamilySpec | None,
    families: tuple[s.FamilySpec, ...],
    raw: LineDict,
    r: Reader,
) -> None:
    names = [f.name for f in families]
    used = set()
    default_used = False
    for h in hypotheses:
        if h.family is None:
            default_used = True
        elif h.family in names:
            used.add(h.family)
        else:
            r.report(
                None,
                None,
                f"{h.path}.family",
                "unknown family",
                value=h.family,
                allowed=f"families declared under families: {listing(names) or 'none'}",
                hint=did_you_mean(h.family, names),
                line=_key_line(h, "family"),
            )
    for f in families:
        if f.name not in used and hypotheses:
            r.report(
                None,
                None,
                f"families.{f.name}",
                "family has no hypotheses",
                value=f.name,
                allowed="name it in some hypothesis (family: NAME) or remove it",
                line=f.line,
            )
    if family is not None and not default_used and hypotheses:
        r.report(
            raw,
            "family",
            "family",
            "every hypothesis names its own family, so the file-level family is empty",
            allowed="remove the file-level family, or leave some hypotheses without family:",
        )


def _check_family_designs(
    hypotheses: list[s.Hypothesis],
    family: s.FamilySpec | None,
    families: tuple[s.FamilySpec, ...],
    r: Reader,
) -> None:
    """A correction must stay valid for the family's design (sequential or fixed n), and one
    family cannot correct both kinds together (their p-values mean different things)."""
    from latentflow.stats.sequential_corrections import check_correction  # see sequential_design_problem

    declared = ([family] if family is not None else []) + list(families)
    for f in declared:
        members = [h for h in hypotheses if h.family == f.name]
        kinds = {h.sequential is not None for h in members}
        if f.correction == "none" or not members:
            continue
        field = "family" if f.name is None else f"families.{f.name}"
        if len(kinds) > 1:
            r.report(
                None,
                None,
                f"{field}.correction",
                "the family mixes sequential and fixed-n hypotheses; a correction needs one "
                "kind of p-value",
                value=f.correction,
                allowed="put the sequential hypotheses in a family of their own (families:)",
                line=f.line,
            )
            continue
        designs = {(h.sequential.method, "equivalence" if h.expect.direction == "equivalent" else h.expect.direction)
                   for h in members if h.sequential is not None and h.expect is not None} or {(None, None)}
        for method, alternative in sorted(designs, key=str):  # e_bh holds for some designs only
            try:
                check_correction(f.correction, sequential=kinds == {True}, method=method, alternative=alternative)
            except ValueError as why:
                r.report(None, None, f"{field}.correction", str(why), value=f.correction, line=f.line)
                break
