"""From line-numbered YAML to the typed :class:`Spec`, checking structure on the way.

Everything that can be checked without the model or the registries is checked here:
keys, types, ranges, allowed values, combinations (a margin only with equivalence, a
reason only with ``outcome: fails``), placeholders, step selections against the sampler,
unique case ids and family references. Names of sites, operations, metrics and
invariants are checked in :mod:`latentflow.spec.validate`.

This module reads the file level (version, claim, model, the file's sections) and checks
across the file (unique ids, families); each section has its own reader module:
:mod:`~latentflow.spec.hypotheses`, :mod:`~latentflow.spec.fuzz`,
:mod:`~latentflow.spec.interventions`, :mod:`~latentflow.spec.selections`,
:mod:`~latentflow.spec.measures`, :mod:`~latentflow.spec.expectations`,
:mod:`~latentflow.spec.sequential`, :mod:`~latentflow.spec.families` and
:mod:`~latentflow.spec.sections` (the pieces every level shares); :mod:`~latentflow.spec.grammar`
holds the allowed keys and limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.controls import parse_file_controls
from latentflow.spec.errors import listing
from latentflow.spec.families import check_families, check_family_designs, read_families, read_family
from latentflow.spec.fuzz import corner_values, parse_fuzz_instance, parse_fuzz_template
from latentflow.spec.grammar import *  # noqa: F403 (the key lists and limits, read as parse.X_KEYS)
from latentflow.spec.grammar import CLAIM_KEYS, DATA_KEYS, ID_HELP, SAMPLER_KEYS, SEQUENTIAL_KEYS, TOP_KEYS
from latentflow.spec.hypotheses import parse_hypothesis_template
from latentflow.spec.per_model import model_in_use
from latentflow.spec.reader import Reader
from latentflow.spec.sections import (
    FileContext,
    data_field,
    key_line,
    read_marks,
    read_paper,
    sampler_field,
    section_fields,
)
from latentflow.spec.sequential import sequential_design_problem, sequential_field, stats_design
from latentflow.spec.yaml_loader import VERSION_KEY, LineDict, LineList
from latentflow.vocabulary import TIERS

__all__ = [
    "FileContext", "corner_values", "parse_fuzz_instance", "parse_fuzz_template",
    "parse_hypothesis_template", "parse_spec", "sequential_design_problem", "stats_design",
]


def parse_spec(
    raw: Any, file: str, reader: Reader | None = None, orphans: list[Any] | None = None,
    model: str | None = None,
) -> s.Spec | None:
    """The typed spec; problems go to ``reader.issues``.

    Returns None only when ``raw`` is not a spec document at all. Otherwise a Spec is
    returned even if problems were reported (broken sections replaced by stand-ins, broken
    hypotheses left out), so that the name checks can run on the rest and every problem of
    a file is reported at once: a Spec is only valid if no problem was reported.
    ``orphans`` receives the interventions and measures of hypotheses that failed (see
    :class:`FileContext`). ``model``: the model the spec will run on when it is not the file's
    own (an override, as Overrides.model), whose ``per_model:`` entries apply.
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
    claim = read_claim(raw.get("claim"), raw, r)
    model_name = r.text(raw, "model", "", s.FIXTURE_MODEL)
    data_fields = section_fields(raw, "data", "data", DATA_KEYS, data_field, r)
    sampler_fields = section_fields(raw, "sampler", "sampler", SAMPLER_KEYS, sampler_field, r)
    sequential_fields = section_fields(
        raw, "sequential", "sequential", SEQUENTIAL_KEYS, sequential_field, r
    )
    if "data" in raw and data_fields is not None:
        _complete_data(raw, "data", r, sequential="sequential" in raw)
    # Stand-ins for broken sections let the hypotheses be checked too; the file is
    # rejected anyway because the broken section was reported. A sequential file's
    # examples are its max_n (fuzz checks run on them too).
    data_fields = {
        "tier": TIERS[0],
        "n": (sequential_fields or {}).get("max_n", 1),
        **(data_fields or {}),
    }
    sampler_fields = sampler_fields or {}
    family = read_family(raw, "family", "family", r) if "family" in raw else None
    families = read_families(raw, r)
    marks = read_marks(raw, "", r)
    ctx = FileContext(
        file,
        data_fields,
        sampler_fields,
        orphans=orphans if orphans is not None else [],
        sequential=sequential_fields or {},
        sequential_line=raw.lines.get("sequential"),
        controls=parse_file_controls(raw, r, steps_count=sampler_fields.get("steps", s.Sampler.steps)),
        model=model_in_use(model, model_name or s.FIXTURE_MODEL, file),
    )

    hypotheses: list[s.Hypothesis] = []
    node = r.sequence(raw, "hypotheses", "", non_empty=True) or LineList()
    for index, item in enumerate(node):
        hypotheses.extend(parse_hypothesis_template(item, node, index, r, ctx))
    fuzz: list[s.FuzzSpec] = []
    node = r.sequence(raw, "fuzz", "", non_empty=True) or LineList()
    for index, item in enumerate(node):
        check = parse_fuzz_template(item, node, index, r, ctx)
        if check is not None:
            fuzz.append(check)

    _check_unique_ids(hypotheses, fuzz, r)
    check_families(hypotheses, family, families, raw, r)
    check_family_designs(hypotheses, family, families, r)
    claim = claim or s.Claim("claim", "", "")
    return s.Spec(
        file=file,
        version=version or s.SPEC_VERSIONS[-1],
        claim=claim,
        model=model_name or s.FIXTURE_MODEL,
        data=s.Data(**data_fields),
        sampler=s.Sampler(**sampler_fields),
        family=family,
        families=families,
        sequential=s.FrozenDict(ctx.sequential),
        hypotheses=tuple(hypotheses),
        fuzz=tuple(fuzz),
        marks=marks,
        controls=ctx.controls,
        model_line=raw.lines.get("model"),
        per_model_for=ctx.model if ctx.per_model else None,
    )


def _summary(raw: Any) -> Any:
    if isinstance(raw, Mapping):
        return f"a mapping with keys {listing(list(raw)[:6])}" if raw else "an empty mapping"
    return raw


def read_claim(node: Any, raw: LineDict, r: Reader) -> s.Claim | None:
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
    paper = read_paper(node, "claim", r)
    notes = r.text(node, "notes", "claim")
    if r.failed_since(start):
        return None
    return s.Claim(claim_id, title, source, paper, notes)


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
                allowed="tier: " + "|".join(TIERS)
                if key == "tier"
                else "n: the number of examples",
            )


def _check_unique_ids(hypotheses: list[s.Hypothesis], fuzz: list[s.FuzzSpec], r: Reader) -> None:
    seen: dict[tuple[str, str | None], int | None] = {}
    items: list[s.Hypothesis | s.FuzzSpec] = [*hypotheses, *fuzz]
    for item in items:
        key = (item.id, getattr(item, "variant", None))
        shown = item.id + (f"[{key[1]}]" if key[1] else "")
        line = key_line(item, "id")
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
