"""Render compiled cases back as small, loadable YAML specs.

Short all-scalar mappings and lists are written inline (``steps: {from: 4}``), the rest as
blocks, so a failing case reads like something a person would have written.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import yaml

_INLINE_WIDTH = 72


class _SnippetDumper(yaml.SafeDumper):
    pass


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list))


def _inline(items: list[Any]) -> bool:
    return all(_is_scalar(v) for v in items) and len(repr(items)) <= _INLINE_WIDTH


def _represent_dict(dumper: yaml.SafeDumper, data: dict[str, Any]) -> yaml.Node:
    flow = bool(data) and _inline(list(data.keys()) + list(data.values()))
    return dumper.represent_mapping("tag:yaml.org,2002:map", data, flow_style=flow)


def _represent_list(dumper: yaml.SafeDumper, data: list[Any]) -> yaml.Node:
    return dumper.represent_sequence("tag:yaml.org,2002:seq", data, flow_style=_inline(data))


_SnippetDumper.add_representer(dict, _represent_dict)
_SnippetDumper.add_representer(list, _represent_list)


def dump(document: dict[str, Any], comments: Sequence[str] = ()) -> str:
    """YAML text of ``document`` (plain dicts/lists/scalars), with leading ``# comments``."""
    body = yaml.dump(
        document, Dumper=_SnippetDumper, sort_keys=False, allow_unicode=True, width=100
    )
    header = "".join(f"# {line}\n" for line in comments)
    return header + body
