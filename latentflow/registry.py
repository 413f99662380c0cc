"""A small name -> entry registry, and the argument schema its entries declare.

Operations, metrics and fuzz invariants are all looked up by the name a spec writes, so a
typo must answer with the registered names and the nearest matches instead of a bare
KeyError. Entries that take arguments declare them as ``params`` (name -> :class:`Param`),
which is what the spec validator checks a spec's ``args`` against; the validator never
imports the code behind an entry.
"""

from __future__ import annotations

import builtins
import difflib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class _Required:
    """Marks a parameter without a default: the spec must give it."""

    _instance: _Required | None = None

    def __new__(cls) -> _Required:
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "REQUIRED"

    def __reduce__(self) -> str:
        return "REQUIRED"


REQUIRED: Any = _Required()


@dataclass(frozen=True)
class Param:
    """One argument an entry accepts.

    ``type`` is a type or a tuple of types. ``float`` also accepts ints (YAML writes ``2``
    for 2.0); ``bool`` is never accepted where an int or float is asked for, because a YAML
    ``yes`` silently becoming 1 hides mistakes. ``choices`` restricts the value to a set.
    A default of ``None`` also allows an explicit ``null`` in the spec.
    """

    type: type | tuple[type, ...]
    default: Any = REQUIRED
    doc: str = ""
    choices: tuple[Any, ...] | None = None
    low: float | None = None  # the smallest allowed value (e.g. 0 for a sampler step)

    @property
    def required(self) -> bool:
        return self.default is REQUIRED

    @property
    def types(self) -> tuple[builtins.type, ...]:  # builtins: the field `type` shadows the name here
        return self.type if isinstance(self.type, tuple) else (self.type,)

    def type_name(self) -> str:
        text = " or ".join(_TYPE_NAMES.get(t, t.__name__) for t in self.types)
        return text if self.low is None else f"{text} >= {self.low}"

    def accepts(self, value: Any) -> bool:
        """Whether ``value`` (as YAML produced it) has an acceptable type and choice."""
        if value is None and self.default is None:
            return True
        if not any(_is_instance(value, t) for t in self.types):
            return False
        if self.low is not None and value < self.low:
            return False
        return self.choices is None or value in self.choices

    @classmethod
    def coerce(cls, declared: Param | tuple[Any, ...] | builtins.type) -> Param:
        """Accept the short forms ``float`` and ``(float, 1.0, "doc")`` as well as a Param."""
        if isinstance(declared, Param):
            return declared
        if isinstance(declared, tuple):
            return cls(*declared)
        if isinstance(declared, type):
            return cls(declared)
        raise TypeError(f"a parameter is declared as Param, a type or a tuple, not {declared!r}")


_TYPE_NAMES = {int: "integer", float: "number", str: "text", bool: "true/false", list: "list"}


def _is_instance(value: Any, expected: type) -> bool:
    if isinstance(value, bool) and expected is not bool:
        return False
    if expected is float:
        return isinstance(value, (int, float))
    if expected is list:
        return isinstance(value, (list, tuple))
    return isinstance(value, expected)


def declared_params(entry: Any) -> dict[str, Param]:
    """The ``params`` an entry declares (an attribute or a mapping key), normalised."""
    raw = entry.get("params", {}) if isinstance(entry, Mapping) else getattr(entry, "params", {})
    return {name: Param.coerce(p) for name, p in (raw or {}).items()}


@dataclass(frozen=True)
class ArgProblem:
    """What is wrong with one argument: ``unknown`` (no such parameter), ``missing`` (a
    required one not given) or ``wrong`` (a value the parameter does not accept)."""

    key: str
    problem: str
    param: Param | None = None


def arg_problems(params: Mapping[str, Param], args: Mapping[str, Any]) -> list[ArgProblem]:
    """Every problem of ``args`` against declared ``params``: unknown and wrong values in the
    order of ``args``, then missing ones in the order of ``params``. The one rule behind the
    spec validator's messages (at load time) and ``Operation.bind`` (when it runs)."""
    out = []
    for key, value in args.items():
        param = params.get(key)
        if param is None:
            out.append(ArgProblem(key, "unknown"))
        elif not param.accepts(value):
            out.append(ArgProblem(key, "wrong", param))
    out.extend(ArgProblem(key, "missing", p) for key, p in params.items() if p.required and key not in args)
    return out


def declared_flag(entry: Any, name: str, default: Any = None) -> Any:
    """An optional attribute of an entry (``requires_source``, ``kind``...), mapping or object."""
    if isinstance(entry, Mapping):
        return entry.get(name, default)
    return getattr(entry, name, default)


def nearest_names(name: str, names: list[str] | tuple[str, ...], n: int = 3) -> list[str]:
    """Close matches by difflib's ratio, best first."""
    return difflib.get_close_matches(str(name), list(names), n=n, cutoff=0.6)


class UnknownNameError(LookupError):
    """A name that is not registered; the message lists the nearest and all registered names."""

    def __init__(self, kind: str, name: str, registered: tuple[str, ...]):
        self.kind = kind
        self.name = name
        self.registered = registered
        self.suggestions = tuple(nearest_names(name, registered))
        listing = ", ".join(registered) if registered else "(none registered)"
        hint = (
            f" (did you mean {', '.join(repr(s) for s in self.suggestions)}?)"
            if self.suggestions
            else ""
        )
        super().__init__(f"unknown {kind} {name!r}{hint}; registered {kind}s: {listing}")

    def __str__(self) -> str:  # LookupError would otherwise quote the whole message
        return self.args[0]


class Registry(Generic[T]):
    """Entries by name. ``kind`` ("operation", "metric", ...) words the error messages.

    ``register`` works directly (``reg.register("zero", entry)``) or as a decorator
    (``@reg.register("zero")``). Registering a taken name is an error unless
    ``replace=True``, so two plugins cannot silently shadow each other. ``unknown`` builds
    the error for a name that is not registered, from the name and the registered names
    (default: :class:`UnknownNameError`).
    """

    def __init__(self, kind: str, unknown: Callable[[Any, tuple[str, ...]], LookupError] | None = None):
        self.kind = kind
        self._entries: dict[str, T] = {}
        self._unknown = unknown or (lambda name, registered: UnknownNameError(kind, str(name), registered))

    def register(self, name: str, entry: T | None = None, *, replace: bool = False) -> Any:
        if not isinstance(name, str) or not name:
            raise ValueError(f"a {self.kind} name must be non-empty text, not {name!r}")

        def add(value: T) -> T:
            if name in self._entries and not replace:
                raise ValueError(
                    f"{self.kind} {name!r} is already registered; pass replace=True to override it"
                )
            self._entries[name] = value
            return value

        if entry is None:
            return add
        return add(entry)

    def get(self, name: str) -> T:
        try:
            return self._entries[name]
        except (KeyError, TypeError):
            raise self._unknown(name, self.names()) from None

    def names(self) -> tuple[str, ...]:
        return tuple(sorted(self._entries))

    def items(self) -> tuple[tuple[str, T], ...]:
        return tuple((name, self._entries[name]) for name in self.names())

    def unregister(self, name: str) -> T:
        entry = self.get(name)
        del self._entries[name]
        return entry

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def __len__(self) -> int:
        return len(self._entries)

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {list(self.names())})"
