"""YAML loading that remembers where every key and item came from.

PyYAML's safe loader forgets line numbers and keeps the last of two duplicate keys
silently. This loader builds :class:`LineDict` / :class:`LineList` (a dict / list that
also carries the 1-based line of itself and of each key or item), refuses duplicate keys
naming both lines, and constructs only plain YAML types: no Python tags, no timestamps
(a date stays the text the author wrote), no sets.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from latentflow.spec.errors import SpecError, SpecIssue, show

SPEC_SUFFIXES = (".yaml", ".yml")
VERSION_KEY = "latentflow"

# A top-level `latentflow:` key at the start of a line (optionally quoted) marks a spec.
_SPEC_MARKER = re.compile(r"""^(?:latentflow|"latentflow"|'latentflow')[ \t]*:""", re.MULTILINE)


class LineDict(dict):
    """A dict with ``line`` (where the mapping starts) and ``lines`` (key -> line of the key)."""

    def __init__(self, *args: Any, line: int | None = None, lines: dict[Any, int | None] | None = None):
        super().__init__(*args)
        self.line = line
        # None: a node built in code, not read from a file (it has no line to report)
        self.lines: dict[Any, int | None] = dict(lines or {})

    def line_of(self, key: Any) -> int | None:
        return self.lines.get(key, self.line)


class LineList(list):
    """A list with ``line`` (where the sequence starts) and ``lines`` (line of each item)."""

    def __init__(self, *args: Any, line: int | None = None, lines: list[int | None] | None = None):
        super().__init__(*args)
        self.line = line
        self.lines: list[int | None] = list(lines or [])

    def line_of(self, index: int) -> int | None:
        return self.lines[index] if 0 <= index < len(self.lines) else self.line


_CORE = "tag:yaml.org,2002:"
_ALLOWED_TAGS = {_CORE + t for t in ("str", "int", "float", "bool", "null", "map", "seq")}


class _LineLoader(yaml.SafeLoader):
    """Safe loader building LineDict/LineList; problems go to ``self.issues``."""

    def __init__(self, stream: str, filename: str):
        super().__init__(stream)
        self.filename = filename
        self.issues: list[SpecIssue] = []
        self._path: list[str] = []

    def _field(self) -> str:
        return "".join(self._path).lstrip(".") or "(document)"

    def _issue(self, node: yaml.Node, message: str, **kw: Any) -> None:
        self.issues.append(
            SpecIssue(self.filename, node.start_mark.line + 1, self._field(), message, **kw)
        )

    def construct_line_map(self, node: yaml.MappingNode) -> LineDict:
        explicit = [(k, v) for k, v in node.value if k.tag != _CORE + "merge"]
        first_line: dict[Any, int] = {}
        for key_node, _ in explicit:
            key = self.construct_object(key_node, deep=True)
            if not _hashable(key):
                continue  # reported below when the mapping is built
            if key in first_line:
                self._path.append(f".{key}")
                self._issue(
                    key_node,
                    f"duplicate key {show(key)} (first at line {first_line[key]})",
                    hint="a key may appear once per mapping; YAML would silently keep the last",
                )
                self._path.pop()
            else:
                first_line[key] = key_node.start_mark.line + 1
        # Merge keys (`<<: *defaults`) are allowed; explicit keys override merged ones.
        self.flatten_mapping(node)
        mapping = LineDict(line=node.start_mark.line + 1)
        for key_node, value_node in node.value:
            key = self.construct_object(key_node, deep=True)
            if not _hashable(key):
                self._issue(key_node, "a key must be text", value=show(key))
                continue
            self._path.append(f".{key}")
            try:
                mapping[key] = self.construct_object(value_node, deep=True)
            finally:
                self._path.pop()
            mapping.lines[key] = key_node.start_mark.line + 1
        return mapping

    def construct_line_seq(self, node: yaml.SequenceNode) -> LineList:
        items = LineList(line=node.start_mark.line + 1)
        for index, child in enumerate(node.value):
            self._path.append(f"[{index}]")
            try:
                items.append(self.construct_object(child, deep=True))
            finally:
                self._path.pop()
            items.lines.append(child.start_mark.line + 1)
        return items

    def construct_forbidden(self, node: yaml.Node) -> None:
        self._issue(
            node,
            "YAML tag not allowed in a spec",
            value=node.tag,
            allowed="plain YAML values (text, numbers, true/false, null, lists, mappings)",
        )


def _hashable(key: Any) -> bool:
    try:
        hash(key)
    except TypeError:
        return False
    return True


# Only the core tags construct; everything else (python/*, set, omap, binary, timestamp)
# is reported, never executed or converted.
_LineLoader.yaml_constructors = {
    tag: yaml.SafeLoader.yaml_constructors[tag]
    for tag in _ALLOWED_TAGS
    if tag in yaml.SafeLoader.yaml_constructors
}
_LineLoader.yaml_constructors[_CORE + "map"] = _LineLoader.construct_line_map
_LineLoader.yaml_constructors[_CORE + "seq"] = _LineLoader.construct_line_seq
_LineLoader.yaml_constructors[None] = _LineLoader.construct_forbidden
_LineLoader.yaml_multi_constructors = {}
# Implicit timestamps would turn `2026-06-10` into a date object; keep it text.
_LineLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _CORE + "timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


# Aliases let a small file describe a huge tree ("billion laughs": 9 levels of 10 aliases
# each is 10**9 nodes); everything after loading walks the tree as if written out, so the
# expanded size is bounded. Real specs have a few thousand nodes.
MAX_EXPANDED_NODES = 100_000


def _expanded_sizes(node: yaml.Node, sizes: dict[int, int]) -> int:
    """How many nodes ``node`` stands for with every alias written out (memoised per node,
    so an alias bomb is measured in time linear in the file)."""
    known = sizes.get(id(node))
    if known is not None:
        return known
    sizes[id(node)] = 1  # a recursive alias counts once; the constructor reports it
    if isinstance(node, yaml.MappingNode):
        total = 1 + sum(_expanded_sizes(k, sizes) + _expanded_sizes(v, sizes) for k, v in node.value)
    elif isinstance(node, yaml.SequenceNode):
        total = 1 + sum(_expanded_sizes(child, sizes) for child in node.value)
    else:
        total = 1
    sizes[id(node)] = total
    return total


def _check_expanded_size(node: yaml.Node, filename: str) -> None:
    sizes: dict[int, int] = {}
    total = _expanded_sizes(node, sizes)
    if total <= MAX_EXPANDED_NODES:
        return
    # Point at the first top-level entry that is too big on its own, where the aliases are.
    where, field = node, "(document)"
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if sizes[id(value)] > MAX_EXPANDED_NODES // 2:
                where, field = key, str(key.value)
                break
    raise SpecError(
        [
            SpecIssue(
                filename,
                where.start_mark.line + 1,
                field,
                f"the YAML aliases expand to more than {MAX_EXPANDED_NODES:,} values",
                value=f"about {total:,} values",
                allowed=f"at most {MAX_EXPANDED_NODES:,} values with every alias (*name) written out",
                hint="nested aliases multiply: each level repeats everything below it",
            )
        ]
    )


def load_yaml_text(text: str, filename: str = "<string>") -> Any:
    """Parse one YAML document into LineDict/LineList/scalars; SpecError on any problem."""
    loader = _LineLoader(text, filename)
    try:
        node = loader.get_single_node()
        if node is not None:
            _check_expanded_size(node, filename)
        data = None if node is None else loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        message = " ".join(p for p in (exc.context, exc.problem) if p)
        raise SpecError([SpecIssue(filename, line, "(yaml syntax)", message)]) from None
    except yaml.YAMLError as exc:
        raise SpecError([SpecIssue(filename, None, "(yaml syntax)", str(exc))]) from None
    finally:
        loader.dispose()
    if loader.issues:
        raise SpecError(loader.issues)
    return data


def read_text(path: str | Path) -> str:
    """Read a spec as UTF-8; an undecodable file is a SpecError naming the line."""
    raw = Path(path).read_bytes()
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SpecError(
            [
                SpecIssue(
                    str(path),
                    line,
                    "(encoding)",
                    "the file is not UTF-8 text",
                    value=f"byte 0x{raw[exc.start]:02x}",
                )
            ]
        ) from None


def load_yaml(path: str | Path) -> Any:
    return load_yaml_text(read_text(path), str(path))


def is_spec_text(text: str) -> bool:
    return _SPEC_MARKER.search(text.lstrip("\ufeff")) is not None


# Top-level keys only a spec has: a file with one of them but no marker was meant as a spec.
_SPEC_KEYS = re.compile(r"""^(?:hypotheses|claim|"hypotheses"|"claim"|'hypotheses'|'claim')[ \t]*:""", re.MULTILINE)
_NEAR_MARKER = re.compile(r"^([A-Za-z_\-]*latent[A-Za-z_\-]*)[ \t]*:", re.MULTILINE | re.IGNORECASE)


def looks_like_spec(path: str | Path) -> str | None:
    """Why ``path`` looks like a spec that collection would skip, or None.

    A .yaml/.yml file with a top-level ``hypotheses:`` or ``claim:`` key but no
    ``latentflow: 1`` marker (missing or misspelled) is not collected; the returned reason
    names the file and the marker, for a warning. A text scan, like :func:`is_spec_file`.
    """
    path = Path(path)
    if path.suffix.lower() not in SPEC_SUFFIXES or not path.is_file():
        return None
    text = path.read_text(encoding="utf-8", errors="replace").lstrip("\ufeff")
    if is_spec_text(text):
        return None
    keys = _SPEC_KEYS.search(text)
    if keys is None:
        return None
    key = keys.group(0).rstrip(" \t:").strip("'\"")
    near = _NEAR_MARKER.search(text)
    found = f"; found {near.group(1)!r} instead" if near else ""
    return (
        f"{path}: has a top-level {key!r} key like a spec but no `{VERSION_KEY}: 1` marker{found}, "
        f"so it is not collected; add `{VERSION_KEY}: 1` as the first line"
    )


def is_spec_file(path: str | Path) -> bool:
    """Whether ``path`` is a latentflow spec: a .yaml/.yml file with a top-level ``latentflow:``.

    This is a text scan, not a parse, so collecting a tree full of other YAML stays cheap,
    and a spec with a syntax error is still recognised (and then reported, not skipped).
    """
    path = Path(path)
    if path.suffix.lower() not in SPEC_SUFFIXES or not path.is_file():
        return False
    return is_spec_text(path.read_text(encoding="utf-8", errors="replace"))
