"""The grammar of hook-site patterns, shared by the spec layer and the intervention engine.

A pattern is dot-separated segments of letters, digits, ``_`` and ``*``
(``blocks.*.hook_cross_out``, ``blocks.3.attn.hook_pattern``, ``hook_text_proj``). A ``*``
alone matches one whole segment (a block index); inside a segment it matches any characters
but dots. ``blocks.*`` leaves the block index open, which a spec's ``layers:`` then selects.
This module imports nothing heavy, so specs are checked without the model.
"""

from __future__ import annotations

import itertools
import re

SEGMENT = re.compile(r"[A-Za-z0-9_*]+\Z")
_BLOCK_INDEX = re.compile(r"^blocks\.(\d+)\.")
# The concrete hook names of attention patterns (self: ``attn``, cross: ``cross_attn``): the
# sites pattern operations act on and the report's entropy figure reads.
ATTENTION_PATTERN_SITE = r"blocks\.(\d+)\.(attn|cross_attn)\.hook_pattern"


def is_well_formed(pattern: str) -> bool:
    """Whether every dot-separated segment is a name, an index or contains ``*``."""
    return all(SEGMENT.match(segment) for segment in pattern.split("."))


def pattern_regex(pattern: str) -> re.Pattern[str]:
    """The regex that fully matches the concrete hook names ``pattern`` stands for."""
    return re.compile(
        r"\.".join(
            "[^.]+" if segment == "*" else "[^.]*".join(re.escape(p) for p in segment.split("*"))
            for segment in pattern.split(".")
        )
    )


def has_layer_wildcard(site: str) -> bool:
    """Whether the site pattern leaves the block index open (``blocks.*....``)."""
    segments = site.split(".")
    return any(a == "blocks" and b == "*" for a, b in itertools.pairwise(segments))


def site_for_layer(site: str, layer: int) -> str:
    """Fill the block-index wildcard of ``blocks.*...`` with one layer."""
    segments = site.split(".")
    for i in range(len(segments) - 1):
        if segments[i] == "blocks" and segments[i + 1] == "*":
            segments[i + 1] = str(layer)
    return ".".join(segments)


def layer_of(name: str) -> int | None:
    """The block index of a concrete ``blocks.<i>....`` hook name; None outside the blocks."""
    match = _BLOCK_INDEX.match(name)
    return int(match.group(1)) if match else None


def probe(pattern: str) -> str:
    """A concrete-looking name for ``pattern`` (open indices filled with 0), to find the
    nearest real names: ``blocks.*.hook_cros_out`` is compared like ``blocks.0.hook_cros_out``."""
    return pattern.replace("*", "0")


def attention_pattern_site(name: str) -> tuple[int, str] | None:
    """``(layer, "attn" | "cross_attn")`` of an attention-pattern hook name, else None."""
    match = re.fullmatch(ATTENTION_PATTERN_SITE, name)
    return None if match is None else (int(match.group(1)), match.group(2))
