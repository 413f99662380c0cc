"""Parametrisation: placeholders like ``{layer}`` and the grid of values that fills them.

A hypothesis (or fuzz check) is a template. Every text value inside it, except the
``parametrize``/``given`` section itself, may hold ``{name}`` placeholders; ``{{`` and
``}}`` are literal braces. A text that is exactly one placeholder takes the parameter's
value with its type (``factor: "{scale}"`` becomes the number), a placeholder inside
longer text is formatted in (``blocks.{layer}.hook_cross_out``). Keys are never
substituted. Expansion keeps the line numbers of the template.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from latentflow.spec.errors import did_you_mean, listing
from latentflow.spec.reader import Reader, line_of
from latentflow.spec.yaml_loader import LineDict, LineList

PARAM_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_TOKEN = re.compile(r"\{\{|\}\}|\{([^{}]*)\}|[{}]")
MAX_VARIANTS = 10_000


class PlaceholderSyntaxError(ValueError):
    pass


def format_value(value: Any) -> str:
    """How a parameter value reads inside text and in case ids."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, tuple)):
        return ",".join(format_value(v) for v in value)
    return str(value)


def variant_label(params: Mapping[str, Any]) -> str:
    """``{tier: noisy, layer: 3}`` -> ``tier=noisy-layer=3`` (declaration order): how messages
    name a variant (``(in variant tier=noisy-layer=3)``)."""
    return "-".join(f"{name}={format_value(value)}" for name, value in params.items())


# What `pytest -k` accepts inside a name (its expression lexer reads letters, digits, _ . + -
# and a few more; ':' and '/' are left out too, since '::' and '/' split pytest node ids).
ID_UNSAFE = re.compile(r"[^\w.+-]+")


def id_value(value: Any) -> str:
    """One parameter value as it reads in a case id: list items joined by ``_``, and any
    character `pytest -k` rejects replaced by ``_``."""
    if isinstance(value, (list, tuple)):
        return "_".join(id_value(v) for v in value)
    return ID_UNSAFE.sub("_", format_value(value)) or "_"


def case_label(params: Mapping[str, Any]) -> str:
    """``{tier: noisy, layer: 3}`` -> ``noisy-3``: the variant in a case id, in pytest's own
    parametrize form (values joined by ``-``, declaration order), so ``-k noisy-3`` selects it."""
    return "-".join(id_value(value) for value in params.values())


def placeholders_in(text: str) -> list[str]:
    """Names of the ``{name}`` placeholders in ``text``; raises on malformed braces."""
    names = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        if token in ("{{", "}}"):
            continue
        if match.group(1) is None:
            raise PlaceholderSyntaxError(
                f"unmatched {token!r} (write {token * 2} for a literal brace)"
            )
        name = match.group(1).strip()
        if not PARAM_NAME.match(name):
            raise PlaceholderSyntaxError(
                f"{token!r} is not a placeholder name (letters, digits, _)"
            )
        names.append(name)
    return names


def fill(text: str, values: Mapping[str, Any]) -> Any:
    """Substitute placeholders; a text that is exactly one placeholder keeps the value's type."""
    whole = _TOKEN.fullmatch(text)
    if whole is not None and whole.group(1) is not None:
        return values[whole.group(1).strip()]

    def replace(match: re.Match[str]) -> str:
        token = match.group(0)
        if token == "{{":
            return "{"
        if token == "}}":
            return "}"
        return format_value(values[match.group(1).strip()])

    return _TOKEN.sub(replace, text)


def text_pieces(text: str) -> list[tuple[bool, str]]:
    """``text`` as its pieces in order: ``(False, literal)`` (``{{``/``}}`` unescaped) and
    ``(True, name)`` per placeholder; joining them with the names filled is :func:`fill`.
    Malformed braces are reported by :func:`scan` before anything compiles a text."""
    pieces: list[tuple[bool, str]] = []
    end = 0
    for match in _TOKEN.finditer(text):
        if match.start() > end:
            pieces.append((False, text[end : match.start()]))
        name = match.group(1)
        pieces.append((True, name.strip()) if name is not None else (False, match.group(0)[0]))
        end = match.end()
    if end < len(text):
        pieces.append((False, text[end:]))
    return pieces


@dataclass(frozen=True)
class _Use:
    container: Any
    key: Any
    field: str


def scan(
    node: Any, field: str, reader: Reader, skip: str, declared: Mapping[str, Any]
) -> dict[str, list[_Use]]:
    """Every placeholder use under ``node`` (skipping the top-level key ``skip``).

    ``declared`` only sharpens one message: an unquoted ``{layer}`` that YAML read as the
    mapping ``{layer: null}``.
    """
    uses: dict[str, list[_Use]] = {}

    def visit(value: Any, container: Any, key: Any, path: str) -> None:
        if isinstance(value, LineDict):
            if _looks_like_unquoted_placeholder(value, declared):
                (name,) = value
                reader.report(
                    container,
                    key,
                    path,
                    "a placeholder must be quoted (YAML reads {name} as a mapping)",
                    value=value,
                    hint=f'write "{{{name}}}"',
                )
                uses.setdefault(name, []).append(_Use(container, key, path))
                return
            for k, v in value.items():
                if container is None and k == skip:
                    continue
                visit(v, value, k, f"{path}.{k}" if path else str(k))
        elif isinstance(value, LineList):
            for i, v in enumerate(value):
                visit(v, value, i, f"{path}[{i}]")
        elif isinstance(value, str):
            try:
                names = placeholders_in(value)
            except PlaceholderSyntaxError as exc:
                reader.report(container, key, path, str(exc), value=value)
                return
            for name in names:
                uses.setdefault(name, []).append(_Use(container, key, path))

    visit(node, None, None, field)
    return uses


def _looks_like_unquoted_placeholder(node: LineDict, declared: Mapping[str, Any]) -> bool:
    return len(node) == 1 and all(k in declared and v is None for k, v in node.items())


def substitute(
    node: Any,
    values: Mapping[str, Any],
    skip: str | None = None,
    top: bool = True,
    line: int | None = None,
) -> Any:
    """A copy of ``node`` with placeholders filled, line numbers kept."""
    if isinstance(node, LineDict):
        out = LineDict(line=node.line)
        for key, value in node.items():
            if top and key == skip:
                continue
            out.lines[key] = node.lines.get(key, node.line)
            out[key] = substitute(value, values, top=False, line=out.lines[key])
        return out
    if isinstance(node, LineList):
        items = [substitute(v, values, top=False, line=node.line_of(i)) for i, v in enumerate(node)]
        return LineList(items, line=node.line, lines=node.lines)
    if isinstance(node, str):
        filled = fill(node, values)
        if isinstance(filled, tuple):
            # A list-valued parameter becomes a YAML list again, located where it was written.
            return LineList(filled, line=line, lines=[line] * len(filled))
        return filled
    return node


def check_uses(
    uses: dict[str, list[_Use]],
    declared: Mapping[str, Any],
    reader: Reader,
    node: LineDict,
    section: str,
    field: str,
) -> None:
    """Every placeholder is declared and every declared parameter is used."""
    names = list(declared)
    what = "hypothesis" if section == "parametrize" else "check"
    for name, places in uses.items():
        if name not in declared:
            for use in places:
                reader.report(
                    use.container,
                    use.key,
                    use.field,
                    f"unknown placeholder {{{name}}}",
                    value=name,
                    allowed=f"parameters declared in {section}: {listing(names) or 'none'}",
                    hint=did_you_mean(name, names),
                )
    for name in names:
        if name not in uses:
            reader.report(
                node,
                section,
                f"{field}.{section}.{name}",
                f"parameter {name!r} is never used as {{{name}}}, so its cases would be identical",
                value=name,
                allowed=f"placeholders used in this {what}: {listing(sorted(uses)) or 'none'}",
            )


def is_param_value(value: Any) -> bool:
    scalar = (str, int, float, bool)
    if isinstance(value, scalar):
        return True
    return (
        isinstance(value, LineList) and len(value) > 0 and all(isinstance(v, scalar) for v in value)
    )


def _freeze_value(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


def parse_parametrize(node: Any, field: str, reader: Reader) -> list[dict[str, Any]] | None:
    """The rows a ``parametrize`` section expands to, in a fixed order; None on error.

    A mapping name -> values (a list, or an inclusive integer range ``{from, to, by}``) is a
    grid: the first name varies slowest. A list of mappings is an explicit list of rows.
    """
    start = reader.mark()
    if isinstance(node, LineDict):
        if not node:
            reader.report(node, None, field, "expected at least one parameter", value=node)
            return None
        axes: list[list[Any]] = []
        for name, values in node.items():
            _check_name(name, node, f"{field}.{name}", reader)
            axes.append(_axis(values, node, name, f"{field}.{name}", reader))
        if reader.failed_since(start):
            return None
        total = 1
        for axis in axes:
            total *= len(axis)
        if total > MAX_VARIANTS:
            reader.report(
                node, None, field, f"expands to {total} cases", allowed=f"at most {MAX_VARIANTS}"
            )
            return None
        return [dict(zip(node.keys(), combo, strict=True)) for combo in itertools.product(*axes)]
    if isinstance(node, LineList):
        return _rows(node, field, reader)
    reader.report(
        node,
        None,
        field,
        "expected a mapping (name -> values) or a list of rows",
        value=node,
        allowed="{layer: [0, 1]} or [{layer: 0, step: 4}, ...]",
    )
    return None


def _check_name(name: Any, node: Any, field: str, reader: Reader) -> None:
    if not isinstance(name, str) or not PARAM_NAME.match(name):
        reader.report(
            node,
            name,
            field,
            "not a parameter name",
            value=name,
            allowed="letters, digits and _ (not starting with a digit)",
        )


def _axis(values: Any, node: LineDict, name: str, field: str, reader: Reader) -> list[Any]:
    if isinstance(values, LineDict):
        if not reader.check_keys(
            values,
            field,
            ("from", "to", "by"),
            ("from", "to"),
            what="an integer range",
            parent=node,
            key=name,
        ):
            return []
        low = reader.integer(values, "from", field)
        high = reader.integer(values, "to", field)
        step = reader.integer(values, "by", field, 1, low=1)
        if low is None or high is None or step is None:
            return []
        if high < low:
            reader.report(
                values,
                "to",
                f"{field}.to",
                f"range ends before it starts (from {low})",
                value=high,
                allowed=f"an integer >= {low}",
            )
            return []
        return list(range(low, high + 1, step))
    if not isinstance(values, LineList) or not values:
        reader.report(
            node,
            name,
            field,
            "expected a non-empty list of values or a range",
            value=values,
            allowed="[a, b, ...] or {from: 0, to: 11}",
        )
        return []
    out = []
    for i, value in enumerate(values):
        if not is_param_value(value):
            reader.report(
                values,
                i,
                f"{field}[{i}]",
                "a parameter value must be text, a number, true/false or a list of those",
                value=value,
            )
        elif _freeze_value(value) in out:
            reader.report(
                values,
                i,
                f"{field}[{i}]",
                "duplicate value (its cases would be identical)",
                value=value,
            )
        else:
            out.append(_freeze_value(value))
    return out


def _rows(node: LineList, field: str, reader: Reader) -> list[dict[str, Any]] | None:
    start = reader.mark()
    if not node:
        reader.report(node, None, field, "expected at least one row", value=node)
        return None
    rows: list[dict[str, Any]] = []
    names: list[str] | None = None
    for i, row in enumerate(node):
        row_field = f"{field}[{i}]"
        if not isinstance(row, LineDict) or not row:
            reader.report(node, i, row_field, "a row is a mapping name -> value", value=row)
            continue
        for name, value in row.items():
            _check_name(name, row, f"{row_field}.{name}", reader)
            if not is_param_value(value):
                reader.report(
                    row,
                    name,
                    f"{row_field}.{name}",
                    "a parameter value must be text, a number, true/false or a list of those",
                    value=value,
                )
        if names is None:
            names = list(row)
        elif list(row) != names:
            reader.report(
                node,
                i,
                row_field,
                "every row must name the same parameters in the same order",
                value=list(row),
                allowed=listing(names),
            )
            continue
        values = {k: _freeze_value(v) for k, v in row.items()}
        if values in rows:
            reader.report(
                node, i, row_field, "duplicate row (its case would be identical)", value=row
            )
        rows.append(values)
    return None if reader.failed_since(start) else rows


def declared_names(node: Any) -> list[str]:
    """The parameter names a parametrize section declares, even if its values are broken."""
    if isinstance(node, LineDict):
        return [k for k in node if isinstance(k, str)]
    if isinstance(node, LineList) and node and isinstance(node[0], LineDict):
        return [k for k in node[0] if isinstance(k, str)]
    return []


def expand(
    template: LineDict, field: str, reader: Reader, section: str
) -> list[tuple[dict[str, Any], LineDict]] | None:
    """Expand a template by its ``section`` (parametrize rows): [(params, body)]; None on error.

    Without the section, the template is its own single variant (and may use no placeholders).
    Placeholders are checked even when the section itself is broken, to report both at once.
    """
    start = reader.mark()
    rows: list[dict[str, Any]] | None = [{}]
    names: dict[str, None] = {}
    if section in template:
        rows = parse_parametrize(template[section], f"{field}.{section}", reader)
        names = dict.fromkeys(declared_names(template[section]))
    uses = scan(template, field, reader, skip=section, declared=names)
    check_uses(uses, names, reader, template, section, field)
    if reader.failed_since(start) or rows is None:
        return None
    return [(row, substitute(template, row, skip=section)) for row in rows]


def placeholder_lines(template: LineDict, section: str) -> set[int]:
    """Lines that hold a placeholder (their values cannot be checked before expansion)."""
    scratch = Reader("<scan>")
    declared = dict.fromkeys(declared_names(template.get(section)))
    uses = scan(template, "", scratch, skip=section, declared=declared)
    lines = {line_of(use.container, use.key) for places in uses.values() for use in places}
    return {line for line in lines if line is not None}


def without(template: LineDict, key: str) -> LineDict:
    """A shallow copy of ``template`` without ``key`` (lines kept)."""
    out = LineDict(line=template.line)
    for k, v in template.items():
        if k != key:
            out[k] = v
            out.lines[k] = template.lines.get(k, template.line)
    return out
