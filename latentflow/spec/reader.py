"""Typed reads from line-numbered YAML that record problems instead of raising.

A :class:`Reader` is bound to one file (and optionally a variant, for parametrised
hypotheses). Each getter returns the value or a default and, when the value is wrong,
records a :class:`SpecIssue` with the line, the field path, the value and what is allowed,
so a whole file is checked in one pass.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from typing import Any

from latentflow.spec.errors import SpecIssue, did_you_mean, listing, show
from latentflow.spec.yaml_loader import LineDict, LineList

_ABSENT = object()


def line_of(container: Any, key: Any = None) -> int | None:
    if key is not None and isinstance(container, (LineDict, LineList)):
        return container.line_of(key)
    return getattr(container, "line", None)


class Reader:
    def __init__(
        self, file: str, context: str | None = None, issues: list[SpecIssue] | None = None
    ):
        self.file = file
        self.context = context
        self.issues: list[SpecIssue] = issues if issues is not None else []

    def within(self, context: str | None) -> Reader:
        """A reader that adds ``context`` (e.g. the variant) to what it reports, same list."""
        return Reader(self.file, context, self.issues)

    def mark(self) -> int:
        """A checkpoint: ``self.failed_since(mark)`` says whether anything was reported after."""
        return len(self.issues)

    def failed_since(self, mark: int) -> bool:
        return len(self.issues) > mark

    def report(
        self,
        container: Any,
        key: Any,
        field: str,
        message: str,
        *,
        value: Any = _ABSENT,
        allowed: str | None = None,
        hint: str | None = None,
        line: int | None = None,
    ) -> None:
        self.issues.append(
            SpecIssue(
                self.file,
                line if line is not None else line_of(container, key),
                field,
                message,
                value=None if value is _ABSENT else show(value),
                allowed=allowed,
                hint=hint,
                context=self.context,
            )
        )

    # -- mappings -------------------------------------------------------------------------

    def check_keys(
        self,
        node: Any,
        field: str,
        allowed: Sequence[str],
        required: Sequence[str] = (),
        what: str = "a mapping",
        parent: Any = None,
        key: Any = None,
    ) -> bool:
        """``node`` must be a mapping with only ``allowed`` keys and every ``required`` one.

        ``parent``/``key`` say where ``node`` sits, to locate the error if it is no mapping.
        """
        if not isinstance(node, LineDict):
            container, at = (parent, key) if parent is not None else (node, None)
            self.report(
                container, at, field, f"expected {what}", value=node, allowed=f"keys {listing(allowed)}"
            )
            return False
        for name in node:
            if name not in allowed:
                self.report(
                    node,
                    name,
                    _join(field, name),
                    "unknown key",
                    value=name,
                    allowed=listing(allowed),
                    hint=did_you_mean(name, allowed),
                )
        missing = [k for k in required if k not in node]
        for name in missing:
            self.report(
                node,
                None,
                _join(field, name),
                f"missing required key {name!r}",
                allowed=f"{field or 'this mapping'} needs {listing(required)}",
            )
        return True

    # -- scalars --------------------------------------------------------------------------

    def text(
        self,
        node: LineDict,
        key: str,
        field: str,
        default: Any = None,
        *,
        pattern: re.Pattern[str] | None = None,
        pattern_help: str = "",
    ) -> Any:
        if key not in node:
            return default
        value = node[key]
        if not isinstance(value, str) or not value.strip():
            self.report(node, key, _join(field, key), "expected non-empty text", value=value)
            return default
        if pattern is not None and not pattern.match(value):
            self.report(
                node, key, _join(field, key), "malformed", value=value, allowed=pattern_help
            )
            return default
        return value

    def integer(
        self, node: LineDict, key: str, field: str, default: Any = None, **limits: Any
    ) -> Any:
        """``node[key]`` as an integer within ``low``/``high`` limits, or ``default``."""
        return self._keyed(self.check_integer, node, key, field, default, limits)

    def check_integer(
        self,
        value: Any,
        container: Any,
        key: Any,
        field: str,
        default: Any = None,
        *,
        low: int | None = None,
        high: int | None = None,
    ) -> Any:
        allowed = _range_text(low, high, "integers")
        if isinstance(value, bool) or not isinstance(value, int):
            self.report(container, key, field, "expected an integer", value=value, allowed=allowed)
            return default
        if (low is not None and value < low) or (high is not None and value > high):
            self.report(container, key, field, "out of range", value=value, allowed=allowed)
            return default
        return value

    def number(
        self, node: LineDict, key: str, field: str, default: Any = None, **limits: Any
    ) -> Any:
        """``node[key]`` as a finite float within the limits of :meth:`check_number`."""
        return self._keyed(self.check_number, node, key, field, default, limits)

    def _keyed(self, check: Any, node: LineDict, key: str, field: str, default: Any, limits: dict) -> Any:
        """``check`` applied to ``node[key]`` (reported at that key), or ``default`` if absent."""
        if key not in node:
            return default
        return check(node[key], node, key, _join(field, key), default, **limits)

    def check_number(
        self,
        value: Any,
        container: Any,
        key: Any,
        field: str,
        default: Any = None,
        *,
        low: float | None = None,
        high: float | None = None,
        open_low: bool = False,
        open_high: bool = False,
    ) -> Any:
        allowed = _interval_text(low, high, open_low, open_high)
        if (
            isinstance(value, bool)
            or not isinstance(value, (int, float))
            or not math.isfinite(value)
        ):
            self.report(
                container, key, field, "expected a finite number", value=value, allowed=allowed
            )
            return default
        too_low = low is not None and (value <= low if open_low else value < low)
        too_high = high is not None and (value >= high if open_high else value > high)
        if too_low or too_high:
            self.report(container, key, field, "out of range", value=value, allowed=allowed)
            return default
        return float(value)

    def choice(
        self, node: LineDict, key: str, field: str, choices: Sequence[str], default: Any = None
    ) -> Any:
        if key not in node:
            return default
        value = node[key]
        if not isinstance(value, str) or value not in choices:
            self.report(
                node,
                key,
                _join(field, key),
                "not an allowed value",
                value=value,
                allowed=listing(choices),
                hint=did_you_mean(value, choices) if isinstance(value, str) else None,
            )
            return default
        return value

    def mapping(self, node: LineDict, key: str, field: str) -> LineDict | None:
        if key not in node:
            return None
        value = node[key]
        if not isinstance(value, LineDict):
            self.report(node, key, _join(field, key), "expected a mapping", value=value)
            return None
        return value

    def sequence(
        self, node: LineDict, key: str, field: str, *, non_empty: bool = False
    ) -> LineList | None:
        if key not in node:
            return None
        value = node[key]
        if not isinstance(value, LineList):
            self.report(node, key, _join(field, key), "expected a list", value=value)
            return None
        if non_empty and not value:
            self.report(node, key, _join(field, key), "expected a non-empty list", value=value)
            return None
        return value


def _join(field: str, key: Any) -> str:
    return f"{field}.{key}" if field else str(key)


def _range_text(low: int | None, high: int | None, what: str) -> str:
    if low is not None and high is not None:
        return f"{what} from {low} to {high}"
    if low is not None:
        return f"{what} >= {low}"
    if high is not None:
        return f"{what} <= {high}"
    return what


def _interval_text(low: float | None, high: float | None, open_low: bool, open_high: bool) -> str:
    if low is None and high is None:
        return "a finite number"
    left = "(" if open_low else "["
    right = ")" if open_high else "]"
    return f"numbers in {left}{'-inf' if low is None else low}, {'inf' if high is None else high}{right}"
