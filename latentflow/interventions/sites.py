"""Hook-site patterns: ``blocks.*.hook_cross_out`` -> the concrete hook names of a model."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..registry import nearest_names
from ..site_patterns import ATTENTION_PATTERN_SITE, layer_of, pattern_regex, probe


class UnknownSiteError(LookupError):
    """A site pattern that names no hook point; the message lists the nearest real names."""

    def __init__(self, pattern: str, names: Sequence[str]):
        near = nearest_names(probe(pattern.replace("{layer}", "0")), list(names), n=5)
        hint = f"; nearest: {', '.join(near)}" if near else ""
        super().__init__(f"unknown hook site {pattern!r}{hint} (see README 'Hook points' for all names)")

    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class SiteKind:
    """The hook sites an operation can act on: the one definition that both the engine
    (when it applies an operation) and the spec validator (at load time) consult."""

    name: str  # e.g. "attention-pattern sites"
    regex: str  # full match on a concrete hook name
    examples: tuple[str, ...]  # the forms, for messages

    def accepts(self, site: str) -> bool:
        return re.fullmatch(self.regex, site) is not None

    def describe(self) -> str:
        return f"{self.name}: {', '.join(self.examples)}"


# Pattern operations replace the attention module's softmax, which only the modules behind
# these hook points have; scalar sites are the 1-element gate parameters of the model.
PATTERN_SITES = SiteKind(
    "attention-pattern sites", ATTENTION_PATTERN_SITE,
    ("blocks.<i>.attn.hook_pattern", "blocks.<i>.cross_attn.hook_pattern"),
)
# LSAC caches self-attention only: cross-attention reads the fixed text, nothing to save there.
SELF_PATTERN_SITES = SiteKind(
    "self-attention pattern sites", r"blocks\.\d+\.attn\.hook_pattern", ("blocks.<i>.attn.hook_pattern",),
)
SCALAR_SITES = SiteKind("scalar sites", r"hook_anchor_gate|hook_video_gate", ("hook_anchor_gate", "hook_video_gate"))


def resolve_sites(pattern: str, names: Iterable[str], layers: Iterable[int] | None = None) -> list[str]:
    """Hook names matching ``pattern`` (``*`` matches within one dotted segment), in layer order.

    ``layers`` keeps only block sites of those layers. Raises UnknownSiteError when nothing matches.
    """
    names = list(names)
    regex = pattern_regex(pattern)
    found = [n for n in names if regex.fullmatch(n)]
    if not found:
        raise UnknownSiteError(pattern, names)
    if layers is not None:
        wanted = set(layers)
        found = [n for n in found if layer_of(n) in wanted]
    return sorted(found, key=lambda n: (layer_of(n) if layer_of(n) is not None else -1, n))


def site_exists(pattern: str, names: Iterable[str]) -> bool:
    try:
        resolve_sites(pattern, names)
    except UnknownSiteError:
        return False
    return True
