"""A spec section's YAML keys and its YAML form, read off the dataclass that holds it.

Each section of the spec language is one frozen dataclass in :mod:`latentflow.spec.schema`;
its fields are the section's keys, in the order error messages list them. Field metadata says
where that is not so:

- ``key``: the YAML key when it differs from the field name; ``None`` for a field that is no
  key at all (where a value came from: ``line``, ``lines``, ``path``).
- ``omit``: when :func:`to_yaml` leaves the key out besides ``None``: ``"default"`` (the value
  is the field's default) or ``"empty"`` (an empty mapping).

So a new key is one new field: the parser's allowed keys, the JSON schema's key check and the
snippet a failing case prints all follow.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

NOT_A_KEY = {"key": None}


def provenance(default: Any = None) -> Any:
    """A field that records where a value came from; never a key, never part of equality."""
    return dataclasses.field(default=default, compare=False, repr=False, metadata=NOT_A_KEY)


def key_of(field: dataclasses.Field) -> str | None:
    return field.metadata.get("key", field.name)


def section_keys(cls: type) -> tuple[str, ...]:
    """The YAML keys of the section ``cls`` holds, in field order."""
    return tuple(key for f in dataclasses.fields(cls) if (key := key_of(f)) is not None)


def to_yaml(section: Any) -> dict[str, Any]:
    """The section as YAML data: every key that is set, nested sections and selections in
    their own YAML form, tuples as lists."""
    out: dict[str, Any] = {}
    for f in dataclasses.fields(section):
        key = key_of(f)
        if key is None:
            continue
        value = getattr(section, f.name)
        omit = f.metadata.get("omit")
        if value is None or (omit == "default" and value == f.default):
            continue
        if omit == "empty" and isinstance(value, Mapping) and not value:
            continue
        out[key] = yaml_value(value)
    return out


def yaml_value(value: Any) -> Any:
    """A value as YAML writes it: a section or selection by its ``to_yaml``, containers thawed."""
    if hasattr(value, "to_yaml"):
        return value.to_yaml()
    if isinstance(value, Mapping):
        return {k: yaml_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [yaml_value(v) for v in value]
    return value
