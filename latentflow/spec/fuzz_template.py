"""A fuzz check's template compiled once, at load, into typed values with typed placeholders,
and the pure substitution that turns drawn values into one concrete example.

The template of a check is an :class:`~latentflow.spec.schema.FuzzInstance` (its
interventions, measure, data, sampler, args, title and notes) whose leaves may be:

- :class:`Placeholder`: a value that is exactly one ``{name}``; it takes the drawn value with
  its type (``from_step: "{k}"``);
- :class:`Text`: a text with placeholders formatted in (``blocks.{layer}.attn.hook_pattern``);
- :class:`SelectionTemplate`: a layer or step selection with drawn indices (``{from: "{k}"}``,
  ``[2, "{s}"]``, ``"{s}"``).

:func:`fill` substitutes drawn values into that structure: no YAML, no reader. Load makes it
safe: every value a check may draw is read by the spec's readers and checked against the
registries then (:func:`checked_draws`), and the filled template must equal what the readers
built from the same values, so a run only substitutes.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from latentflow.site_patterns import has_layer_wildcard
from latentflow.spec import schema as s
from latentflow.spec.expand import case_label, format_value, text_pieces
from latentflow.spec.yaml_loader import LineDict, LineList

# Load reads every draw of a check while there are at most this many distinct ones (floats
# count three: both ends and the middle); beyond, every value of each parameter with the
# others at their first value. Reading one draw takes about a millisecond.
MAX_CHECKED_DRAWS = 1_000


@dataclass(frozen=True)
class Placeholder:
    """One ``{name}`` that stands for a whole value: the drawn value of ``strategy``."""

    name: str
    strategy: s.Strategy

    def fill(self, values: Mapping[str, Any]) -> Any:
        return values[self.name]


@dataclass(frozen=True)
class Text:
    """A text with placeholders inside: literal pieces and :class:`Placeholder` s, in order."""

    pieces: tuple[str | Placeholder, ...]

    def fill(self, values: Mapping[str, Any]) -> str:
        return "".join(
            format_value(values[p.name]) if isinstance(p, Placeholder) else p for p in self.pieces
        )


@dataclass(frozen=True)
class SelectionTemplate:
    """A layer/step selection whose indices are drawn: ``only`` items, a ``start``/``stop``
    range, or one drawn value for the whole selection (``all``, an index or a list)."""

    only: tuple[Any, ...] | None = None
    start: Any = 0
    stop: Any = None
    whole: Placeholder | None = None

    def fill(self, values: Mapping[str, Any]) -> s.IndexSelection:
        if self.whole is not None:
            value = values[self.whole.name]
            if value == "all":
                return s.ALL
            return s.IndexSelection(only=tuple(sorted(value)) if isinstance(value, tuple) else (value,))
        if self.only is not None:
            # sorted, as the reader stores an explicit selection
            return s.IndexSelection(only=tuple(sorted(fill(i, values) for i in self.only)))
        return s.IndexSelection(start=fill(self.start, values), stop=fill(self.stop, values))


@dataclass(frozen=True)
class LayersOfSite:
    """The layers of a drawn site without a ``layers`` key: every block of a ``blocks.*``
    site, none of any other (as the reader decides for a written site)."""

    site: Placeholder | Text

    def fill(self, values: Mapping[str, Any]) -> s.IndexSelection | None:
        return s.ALL if has_layer_wildcard(fill(self.site, values)) else None


@dataclass(frozen=True)
class ReferenceOfCompare:
    """A measure's reference when ``compare`` is drawn: only ``compare: target`` has one."""

    compare: Placeholder
    reference: Any

    def fill(self, values: Mapping[str, Any]) -> Any:
        return fill(self.reference, values) if fill(self.compare, values) == "target" else None


_TEMPLATED = (Placeholder, Text, SelectionTemplate, LayersOfSite, ReferenceOfCompare)


def fill(value: Any, values: Mapping[str, Any]) -> Any:
    """``value`` with every placeholder replaced by its drawn value (a pure function; parts
    without placeholders are returned as they are, the same objects)."""
    if isinstance(value, _TEMPLATED):
        return value.fill(values)
    if isinstance(value, s.FrozenDict):
        items = {k: fill(v, values) for k, v in value.items()}
        return value if all(items[k] is value[k] for k in items) else s.FrozenDict(items)
    if isinstance(value, tuple):
        filled = tuple(fill(v, values) for v in value)
        return value if all(a is b for a, b in zip(filled, value, strict=True)) else filled
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changes = {}
        for f in _value_fields(type(value)):
            old = getattr(value, f.name)
            new = fill(old, values)
            if new is not old:
                changes[f.name] = new
        return dataclasses.replace(value, **changes) if changes else value
    return value


@functools.cache
def _value_fields(cls: type) -> tuple[dataclasses.Field, ...]:
    """The fields a placeholder may stand in: not provenance (lines, paths), which never hold one."""
    return tuple(f for f in dataclasses.fields(cls) if f.compare)


def fill_example(template: s.FuzzInstance, values: Mapping[str, Any]) -> s.FuzzInstance:
    """The concrete example of a compiled check for drawn ``values`` (one per ``given``)."""
    example = fill(template, values)
    if not values:
        return example
    return dataclasses.replace(example, variant=case_label(values), values=s.freeze(dict(values)))


def holds_placeholders(value: Any) -> bool:
    if isinstance(value, _TEMPLATED):
        return True
    if isinstance(value, Mapping):
        return any(holds_placeholders(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(holds_placeholders(v) for v in value)
    return False


# -- compiling (load time) ----------------------------------------------------------------------


def compile_template(
    node: LineDict, given: Mapping[str, s.Strategy], example: s.FuzzInstance
) -> s.FuzzInstance:
    """The typed template of the check ``node``, from ``example`` (one draw, read and checked by
    the readers): each field the template fills from a placeholder is replaced by its typed
    placeholder form. The caller checks that the result fills back to what the readers read."""
    template = _lift(node, given)
    changes: dict[str, Any] = {}
    for key in ("title", "notes"):
        if holds_placeholders(template.get(key)):
            changes[key] = template[key]
    if holds_placeholders(template.get("args")):
        changes["args"] = s.freeze(template["args"])
    for key in ("data", "sampler"):
        if holds_placeholders(template.get(key)):
            changes[key] = _replaced(getattr(example, key), template[key])
    if holds_placeholders(template.get("interventions")):
        changes["interventions"] = tuple(
            _site_section(item, raw)
            for item, raw in zip(example.interventions, template["interventions"], strict=True)
        )
    if example.measure is not None and holds_placeholders(template.get("measure")):
        changes["measure"] = _site_section(example.measure, template["measure"])
    if given:  # a draw's variant and values are its own (fill_example)
        changes.update(variant=None, values=s.FrozenDict())
    return dataclasses.replace(example, **changes)


def _lift(value: Any, given: Mapping[str, s.Strategy]) -> Any:
    """The YAML ``value`` with every text that holds placeholders in its typed form (plain
    containers; ``given`` itself is no template)."""
    if isinstance(value, LineDict):
        return {k: _lift(v, given) for k, v in value.items() if k != "given"}
    if isinstance(value, LineList):
        return [_lift(v, given) for v in value]
    if not isinstance(value, str):
        return value
    pieces = text_pieces(value)
    if not any(is_name for is_name, _ in pieces):
        return "".join(p for _, p in pieces)  # braces unescaped, as filling does
    typed = tuple(Placeholder(p, given[p]) if is_name else p for is_name, p in pieces)
    return typed[0] if len(typed) == 1 else Text(typed)


def _replaced(section: Any, raw: Mapping[str, Any]) -> Any:
    """``section`` with the keys that hold placeholders taken from the template (data and
    sampler keys are values as written)."""
    return dataclasses.replace(
        section, **{k: v for k, v in raw.items() if holds_placeholders(v)}
    )


def _site_section(item: Any, raw: Mapping[str, Any]) -> Any:
    """An intervention or measure with its templated keys in typed form."""
    changes: dict[str, Any] = {}
    for key in ("site", "op", "metric", "compare", "reference"):
        if key in raw and holds_placeholders(raw[key]):
            changes[key] = raw[key]
    if holds_placeholders(raw.get("args")):
        changes["args"] = s.freeze(raw["args"])
    for key in ("layers", "steps"):
        if key in raw and holds_placeholders(raw[key]):
            changes[key] = _selection(raw[key])
    if "site" in changes and "layers" not in raw:
        changes["layers"] = LayersOfSite(changes["site"])
    if isinstance(changes.get("compare"), Placeholder):
        changes["reference"] = ReferenceOfCompare(
            changes["compare"], changes.get("reference", raw.get("reference", "prompted"))
        )
    return dataclasses.replace(item, **changes) if changes else item


def _selection(raw: Any) -> SelectionTemplate:
    if isinstance(raw, Placeholder):
        return SelectionTemplate(whole=raw)
    if isinstance(raw, list):
        return SelectionTemplate(only=tuple(raw))
    if "only" in raw:
        only = raw["only"]
        return SelectionTemplate(whole=only) if isinstance(only, Placeholder) else SelectionTemplate(only=tuple(only))
    return SelectionTemplate(start=raw["from"], stop=raw.get("to"))


# -- which draws load reads ------------------------------------------------------------------------


def checked_draws(given: Mapping[str, s.Strategy]) -> list[dict[str, Any]]:
    """The draws load reads and checks besides the corners: every draw while there are at most
    :data:`MAX_CHECKED_DRAWS`, else each parameter's values with the others at their first."""
    domains = {name: _domain(strategy) for name, strategy in given.items()}
    if math.prod(len(d) for d in domains.values()) <= MAX_CHECKED_DRAWS:
        return [dict(zip(domains, row, strict=True)) for row in itertools.product(*domains.values())]
    base = {name: domain[0] for name, domain in domains.items()}
    rows: list[dict[str, Any]] = []
    for name, domain in domains.items():
        rows.extend({**base, name: value} for value in domain[1:])
    return rows


def _domain(strategy: s.Strategy) -> tuple[Any, ...]:
    if strategy.kind == "sampled_from":
        return strategy.values
    if strategy.kind == "integers" and strategy.high - strategy.low < MAX_CHECKED_DRAWS:
        return tuple(range(strategy.low, strategy.high + 1))
    if strategy.kind == "floats":
        # a float inside the range catches what its ends do not (a value read as a choice)
        return tuple(dict.fromkeys((strategy.low, (strategy.low + strategy.high) / 2, strategy.high)))
    return strategy.corners()
