"""Hook-site patterns: ``blocks.*.hook_cross_out`` -> the concrete hook names of a model."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..registry import nearest_names


class UnknownSiteError(LookupError):
    """A site pattern that names no hook point; the message lists the nearest real names."""

    def __init__(self, pattern: str, names: Sequence[str]):
        probe = pattern.replace("*", "0").replace("{layer}", "0")
        near = nearest_names(probe, list(names), n=5)
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
    "attention-pattern sites", r"blocks\.\d+\.(attn|cross_attn)\.hook_pattern",
    ("blocks.<i>.attn.hook_pattern", "blocks.<i>.cross_attn.hook_pattern"),
)
# LSAC caches self-attention only: cross-attention reads the fixed text, nothing to save there.
SELF_PATTERN_SITES = SiteKind(
    "self-attention pattern sites", r"blocks\.\d+\.attn\.hook_pattern", ("blocks.<i>.attn.hook_pattern",),
)
SCALAR_SITES = SiteKind("scalar sites", r"hook_anchor_gate|hook_video_gate", ("hook_anchor_gate", "hook_video_gate"))


def layer_of(name: str) -> int | None:
    match = re.match(r"^blocks\.(\d+)\.", name)
    return int(match.group(1)) if match else None


def resolve_sites(pattern: str, names: Iterable[str], layers: Iterable[int] | None = None) -> list[str]:
    """Hook names matching ``pattern`` (``*`` matches within one dotted segment), in layer order.

    ``layers`` keeps only block sites of those layers. Raises UnknownSiteError when nothing matches.
    """
    names = list(names)
    # "*" alone matches one dotted segment; inside a segment it matches any characters but dots.
    regex = re.compile(r"\.".join(
        "[^.]+" if seg == "*" else re.escape(seg).replace(r"\*", "[^.]*") for seg in pattern.split(".")
    ))
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
