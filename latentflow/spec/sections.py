"""The small pieces every level of a spec reads: the data/sampler overrides (merged over
the file's), marks, a variant label, ``outcome``/``reason``, ``paper`` and ``args``; and the
:class:`FileContext` a file's hypotheses and fuzz checks inherit."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from latentflow.spec import schema as s
from latentflow.spec.grammar import (
    DATA_KEYS,
    MAX_N,
    MAX_SEED,
    MAX_STEPS,
    NAME,
    NAME_HELP,
    SAMPLER_KEYS,
    VARIANT,
)
from latentflow.spec.reader import Reader
from latentflow.spec.yaml_loader import LineDict
from latentflow.vocabulary import PROMPT_KINDS, SAMPLER_METHODS, SPAN_SELECTIONS, SPLITS, TIERS


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
    # the model the spec runs on (resolved), whose `per_model:` entries apply
    # (latentflow.spec.per_model); per_model: whether any hypothesis has such a section
    model: str = s.FIXTURE_MODEL
    per_model: bool = False
    # Interventions and measures that parsed inside hypotheses that did not, with the
    # variant they came from: their names are still checked, so one run reports everything.
    orphans: list[tuple[Any, str | None]] = field(default_factory=list)


def read_paper(node: LineDict, field: str, r: Reader) -> Any:
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


def section_fields(
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


def data_field(node: LineDict, name: str, field: str, r: Reader) -> Any:
    if name == "tier":
        return r.choice(node, name, field, TIERS)
    if name == "n":
        return r.integer(node, name, field, low=1, high=MAX_N)
    if name == "seed":
        return r.integer(node, name, field, low=0, high=MAX_SEED)
    if name == "split":
        return r.choice(node, name, field, SPLITS)
    if name == "spans":
        return r.choice(node, name, field, SPAN_SELECTIONS)
    return r.choice(node, name, field, PROMPT_KINDS)


def sampler_field(node: LineDict, name: str, field: str, r: Reader) -> Any:
    if name == "method":
        return r.choice(node, name, field, SAMPLER_METHODS)
    return r.integer(node, name, field, low=1, high=MAX_STEPS)


def merged_data_sampler(
    node: LineDict, field: str, r: Reader, ctx: FileContext
) -> tuple[s.Data | None, s.Sampler | None]:
    """The file's data and sampler with this hypothesis's overrides applied."""
    data_override = section_fields(node, "data", f"{field}.data", DATA_KEYS, data_field, r)
    sampler_override = section_fields(
        node, "sampler", f"{field}.sampler", SAMPLER_KEYS, sampler_field, r
    )
    data = s.Data(**{**ctx.data, **data_override}) if data_override is not None else None
    sampler = (
        s.Sampler(**{**ctx.sampler, **sampler_override}) if sampler_override is not None else None
    )
    return data, sampler


def read_marks(node: LineDict, field: str, r: Reader) -> tuple[str, ...]:
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


def read_variant(node: LineDict, field: str, r: Reader) -> str | None:
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


def read_outcome(node: LineDict, field: str, r: Reader) -> tuple[str, str | None]:
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


def read_args(node: LineDict, field: str, r: Reader) -> s.FrozenDict:
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


def lines_with_args(node: LineDict) -> s.FrozenDict:
    """Key lines of a section plus ``args.NAME`` lines, so argument errors point at the argument."""
    lines = dict(node.lines)
    args = node.get("args")
    if isinstance(args, LineDict):
        lines.update({f"args.{k}": line for k, line in args.lines.items()})
    return s.FrozenDict(lines)


def key_line(item: s.Hypothesis | s.FuzzSpec, key: str) -> int | None:
    """The line of ``key`` in a hypothesis or fuzz check, else the item's own line."""
    return item.lines.get(key, item.line) if item.lines else item.line
