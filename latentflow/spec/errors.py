"""Spec problems that point at the file, line, field and value, and say what is allowed.

Every check in the spec package reports a :class:`SpecIssue` instead of raising at the
first problem, so one run shows everything wrong in a file; :class:`SpecError` carries
them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

from latentflow.registry import nearest_names


@dataclass(frozen=True)
class SpecIssue:
    """One problem. ``value`` and ``allowed`` are already rendered for reading."""

    file: str
    line: int | None
    field: str
    message: str
    value: str | None = None
    allowed: str | None = None
    hint: str | None = None
    context: str | None = None

    @property
    def location(self) -> str:
        return f"{self.file}:{self.line}" if self.line is not None else self.file

    def __str__(self) -> str:
        parts = [f"{self.location}: {self.field}: {self.message}"]
        if self.value is not None:
            parts.append(f"got {self.value}")
        if self.allowed is not None:
            parts.append(f"allowed: {self.allowed}")
        if self.hint:
            parts.append(self.hint)
        text = "; ".join(parts)
        return f"{text} (in {self.context})" if self.context else text


def _dedupe(issues: Iterable[SpecIssue]) -> tuple[SpecIssue, ...]:
    # A parametrised hypothesis repeats the same mistake in every variant; say it once,
    # naming the first variant and how many others share it.
    groups: dict[tuple[Any, ...], list[SpecIssue]] = {}
    for issue in issues:
        key = (issue.file, issue.line, issue.field, issue.message, issue.value, issue.allowed)
        groups.setdefault(key, []).append(issue)
    kept = []
    for group in groups.values():
        first = group[0]
        contexts = list(dict.fromkeys(i.context for i in group if i.context))
        if len(contexts) > 1:
            first = replace(first, context=f"{contexts[0]} and {len(contexts) - 1} more")
        kept.append(first)
    return tuple(kept)


class SpecError(ValueError):
    """All problems found in a spec. ``issues`` holds them in file order."""

    def __init__(self, issues: Iterable[SpecIssue]):
        ordered = sorted(_dedupe(issues), key=lambda i: (i.file, i.line or 0))
        if not ordered:
            raise ValueError("SpecError needs at least one issue")
        self.issues: tuple[SpecIssue, ...] = tuple(ordered)
        super().__init__(self._render())

    @property
    def file(self) -> str:
        return self.issues[0].file

    def _render(self) -> str:
        if len(self.issues) == 1:
            return str(self.issues[0])
        files = sorted({i.file for i in self.issues})
        lines = [f"{len(self.issues)} problems in {', '.join(files)}:"]
        lines += [f"  {issue}" for issue in self.issues]
        return "\n".join(lines)


def show(value: Any, limit: int = 60) -> str:
    """A YAML-flavoured rendering of a value for messages: 'text', 3, true, null, [..], {..}."""
    text = _show(value, limit + 1)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _show(value: Any, budget: int) -> str:
    # Rendering stops once ``budget`` characters are written, so a huge value (a long list,
    # a tree of shared YAML aliases) costs no more than the part that is shown.
    if isinstance(value, str):
        return repr(value[:budget])
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        items = (f"{k!s:.{budget}}: {_show(v, budget)}" for k, v in value.items())
        return "{" + _join_within(items, budget) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + _join_within((_show(v, budget) for v in value), budget) + "]"
    return str(value)[:budget]


def _join_within(parts: Iterable[str], budget: int) -> str:
    out: list[str] = []
    used = 0
    for part in parts:
        out.append(part)
        used += len(part) + 2
        if used > budget:
            break
    return ", ".join(out)


def listing(values: Iterable[Any]) -> str:
    return ", ".join(str(v) for v in values)


def did_you_mean(word: Any, candidates: Sequence[Any]) -> str | None:
    close = nearest_names(str(word), [str(c) for c in candidates])
    if not close:
        return None
    return "did you mean " + " or ".join(repr(c) for c in close) + "?"
