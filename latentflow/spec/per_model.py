"""What some cases of a hypothesis do on one model: a hypothesis's ``per_model:`` section.

A hypothesis whose cases follow the model (``parametrize: {layer: {derived: ...}}``) still has
facts that belong to one model: on the bundled model layers 0 and 3 of the stable-layer claim
are recorded as not holding, and layer 6 needs more examples to be shown. ``per_model`` records
them by model name and by case, e.g. ``per_model: {fixture: [{cases: [{layer: 0}, {layer: 3}],
outcome: fails, reason: ...}, {cases: [{layer: 6}], sequential: {max_n: 48}}]}``
(docs/spec-language.md). An entry sets ``outcome`` (with its ``reason``) and/or ``sequential``
(over the hypothesis's own design) for the cases it names by their parameters (every case of
the hypothesis when it names none). It applies only when the spec runs on that model; on any
other model the hypothesis's own keys apply, as a hypothesis's ``outcome:`` applies on every model.

Checked when the file is read: the entry's keys and values on every model (so a typo under a
model that is not running is still found), the model name (a name latentflow knows or an
existing path), rows that name exactly the hypothesis's parameters, a case named twice under one
model, and, for the model the spec runs on, a row that matches none of its cases. Records of
other models cannot be matched: their cases are derived on a model that is not loaded.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.errors import listing
from latentflow.spec.expand import declared_names, parse_parametrize, variant_label
from latentflow.spec.grammar import SEQUENTIAL_KEYS
from latentflow.spec.reader import Reader
from latentflow.spec.sections import section_fields
from latentflow.spec.sequential import sequential_field
from latentflow.spec.yaml_loader import LineDict, LineList

SECTION = "per_model"
ENTRY_KEYS = ("cases", "outcome", "reason", "sequential")
SETTINGS = ENTRY_KEYS[1:]


@dataclass(frozen=True)
class Entry:
    """One entry under the model the spec runs on: the rows it names (None: every case)."""

    model: str
    rows: tuple[dict[str, Any], ...] | None
    row_lines: tuple[int | None, ...]
    node: LineDict
    field: str


def model_in_use(override: str | None, file_model: str, file: str) -> str:
    """The model a spec runs on, resolved as compile_plan resolves it (Overrides.model_for: an
    override relative to the working folder, the file's own relative to the file)."""
    from latentflow.spec.plan import resolve_model

    return resolve_model(override, Path.cwd()) if override is not None else resolve_model(file_model, Path(file).parent)


def read_per_model(node: LineDict, field: str, r: Reader, in_use: str) -> list[Entry]:
    """The entries of ``node``'s ``per_model:`` for the model ``in_use``; every entry is checked."""
    section = node[SECTION]
    where = f"{field}.{SECTION}"
    if not isinstance(section, LineDict) or not section:
        r.report(node, SECTION, where, "expected a mapping model name -> list of entries", value=section,
                 allowed="e.g. per_model: {fixture: [{cases: [{layer: 0}], outcome: fails, reason: ...}]}")
        return []
    names = declared_names(node.get("parametrize"))
    outcome = node.get("outcome", "holds")
    out = []
    for model, entries in section.items():
        model_field = f"{where}.{model}"
        if not _known_model(model, section, model_field, r):
            continue
        if not isinstance(entries, LineList) or not entries:
            r.report(section, model, model_field, "expected a non-empty list of entries", value=entries,
                     allowed=f"[{{cases: [...], {', '.join(SETTINGS)}}}, ...]")
            continue
        mine = _same_model(model, in_use, r.file)
        seen: dict[Any, int | None] = {}
        for index, entry in enumerate(entries):
            read = _entry(entry, entries, index, f"{model_field}[{index}]", r, names, outcome)
            if read is None:
                continue
            rows, row_lines = read
            _check_once(seen, rows, row_lines, entry, f"{model_field}[{index}]", r)
            if mine:
                out.append(Entry(str(model), rows, row_lines, entry, f"{model_field}[{index}]"))
    return out


def _check_once(seen: dict[Any, int | None], rows: tuple[dict, ...] | None, row_lines: tuple[int | None, ...],
                entry: LineDict, field: str, r: Reader) -> None:
    """No case is named by two entries of one model (``seen``: its cases so far, ``*`` for an
    entry that names every case)."""
    named = [("*", entry.line, "every case")] if rows is None else [
        (tuple(sorted(row.items())), line, f"case {variant_label(row)}")
        for row, line in zip(rows, row_lines, strict=True)]
    for key, line, what in named:
        clash = [earlier for named_before, earlier in seen.items() if named_before == key or "*" in (named_before, key)]
        if clash:
            r.report(None, None, f"{field}.cases", f"{what} is named again (the entry at line {clash[0]} "
                     "names it too)", line=line, allowed="each case in one entry per model")
        seen.setdefault(key, line)


def _entry(entry: Any, parent: LineList, index: int, field: str, r: Reader, names: list[str],
           outcome: Any) -> tuple[tuple[dict, ...] | None, tuple[int | None, ...]] | None:
    """An entry's rows and their lines; None when it is broken (reported)."""
    if not isinstance(entry, LineDict):
        r.report(parent, index, field, "expected a mapping (an entry)", value=entry,
                 allowed=f"keys {listing(ENTRY_KEYS)}")
        return None
    start = r.mark()
    if not r.check_keys(entry, field, ENTRY_KEYS):
        return None
    if set(entry) <= {"cases"}:
        r.report(entry, None, field, "an entry sets something for its cases", allowed=listing(SETTINGS))
    own = r.choice(entry, "outcome", field, s.OUTCOMES)
    effective = own if "outcome" in entry else outcome
    if effective == "fails" and "reason" not in entry and "outcome" in entry:
        r.report(entry, "outcome", f"{field}.reason",
                 "outcome: fails needs a reason (what was measured on this model and why it fails)",
                 allowed="reason: <text>")
    if effective != "fails" and "reason" in entry:
        r.report(entry, "reason", f"{field}.reason", "reason is only for outcome: fails", value=entry["reason"],
                 allowed="outcome: fails with a reason")
    r.text(entry, "reason", field)
    section_fields(entry, "sequential", f"{field}.sequential", SEQUENTIAL_KEYS, sequential_field, r)
    rows = row_lines = None
    if "cases" in entry:
        rows, row_lines = _rows(entry, field, r, names)
    if r.failed_since(start):
        return None
    return rows, row_lines or ()


def _rows(entry: LineDict, field: str, r: Reader, names: list[str]) -> tuple[tuple[dict, ...] | None, tuple]:
    cases = entry["cases"]
    where = f"{field}.cases"
    if not names:
        r.report(entry, "cases", where, "the hypothesis has one case (no parametrize): name none",
                 allowed="leave cases out")
        return None, ()
    if not isinstance(cases, LineList):
        r.report(entry, "cases", where, "expected a list of cases, each by its parameters", value=cases,
                 allowed=f"[{{{names[0]}: ...}}, ...]")
        return None, ()
    rows = parse_parametrize(cases, where, r)
    if rows is None:
        return None, ()
    for i, row in enumerate(rows):
        if set(row) != set(names):
            r.report(cases, i, f"{where}[{i}]", "a case is named by every parameter of the hypothesis",
                     value=list(row), allowed=listing(names))
    return tuple(rows), tuple(cases.line_of(i) for i in range(len(rows)))


def _known_model(model: Any, section: LineDict, field: str, r: Reader) -> bool:
    """Whether ``model`` is a name latentflow loads (a path must exist, relative to the spec)."""
    from latentflow.model_names import MODEL_NAME_FORMS, parse_model_name
    from latentflow.spec.plan import resolve_model

    problem = None
    try:
        parsed = parse_model_name(model)
    except ValueError as error:
        problem = str(error)
    else:
        if parsed.path is not None and not parsed.fixture:
            resolved = resolve_model(model, Path(r.file).parent)
            problem = None if Path(resolved).exists() else f"no such model file or folder (looked for {resolved})"
    if problem is not None:
        r.report(section, model, field, f"unknown model: {problem}", value=model, allowed=MODEL_NAME_FORMS)
    return problem is None


def _same_model(model: str, in_use: str, file: str) -> bool:
    from latentflow.model_names import is_fixture
    from latentflow.spec.plan import resolve_model

    resolved = resolve_model(model, Path(file).parent)
    return resolved == in_use or (is_fixture(resolved) and is_fixture(in_use))


def check_matches(entries: list[Entry], cases: list[dict[str, Any]], in_use: str, r: Reader) -> None:
    """Every row recorded for the model in use names one of the hypothesis's cases on it."""
    for entry in entries:
        for row, line in zip(entry.rows or (), entry.row_lines, strict=True):
            if row not in cases:
                r.report(None, None, f"{entry.field}.cases", f"case {variant_label(row)} is not a case of "
                         f"this hypothesis on {in_use}", value=dict(row), line=line,
                         allowed=listing([variant_label(c) for c in cases]) + " (its cases on this model)")


def apply(body: LineDict, params: dict[str, Any], entries: list[Entry]) -> tuple[LineDict, s.FrozenDict]:
    """``body`` (one expanded case) with the settings of the entry that names it, and that entry
    ({model: settings}, empty when none does)."""
    for entry in entries:
        if entry.rows is None or params in entry.rows:
            return _merged(body, entry.node), s.freeze({entry.model: {k: entry.node[k] for k in SETTINGS
                                                                       if k in entry.node}})
    return body, s.FrozenDict()


def _merged(body: LineDict, entry: LineDict) -> LineDict:
    out = LineDict(body, line=body.line, lines=body.lines)
    if "outcome" in entry:  # the record's outcome replaces the hypothesis's, reason and all
        out.pop("reason", None)
    for key in SETTINGS:
        if key not in entry:
            continue
        value = entry[key]
        if key == "sequential" and isinstance(body.get(key), LineDict) and isinstance(value, LineDict):
            value = LineDict({**body[key], **value}, line=value.line, lines={**body[key].lines, **value.lines})
        out[key] = value
        if (line := entry.line_of(key)) is not None:
            out.lines[key] = line
    return out


def json_schema() -> dict:
    """The ``per_model:`` section, for latentflow.spec.json_schema."""
    entry = {"type": "object", "properties": {
        "cases": {"type": "array", "minItems": 1, "items": {"type": "object", "minProperties": 1},
                  "description": "the cases by their parameters, e.g. [{layer: 0}] (none: every case)"},
        "outcome": {"enum": list(s.OUTCOMES)},
        "reason": {"type": "string", "description": "why it fails on this model (with outcome: fails)"},
        "sequential": {"type": "object", "description": "over the hypothesis's sequential design"},
    }, "additionalProperties": False, "minProperties": 1}
    return {"type": "object", "additionalProperties": {"type": "array", "items": entry, "minItems": 1},
            "description": "model name -> what some cases do on that model (docs/spec-language.md)"}
