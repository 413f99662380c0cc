"""Where an intervention or an internal measure acts: the hook-site pattern and its layer
and step selections (``all``, ``3``, ``[1, 6]``, ``{only: [...]}``, ``{from: a, to: b}``)."""

from __future__ import annotations

from typing import Any

from latentflow.site_patterns import has_layer_wildcard, is_well_formed
from latentflow.spec import schema as s
from latentflow.spec.reader import Reader
from latentflow.spec.yaml_loader import LineDict, LineList


def read_site(node: LineDict, key: str, field: str, r: Reader) -> str | None:
    site = r.text(node, key, field)
    if site is None:
        return None
    if not is_well_formed(site):
        r.report(
            node,
            key,
            f"{field}.{key}",
            "malformed hook site",
            value=site,
            allowed="dot-separated names, indices or * (e.g. blocks.*.hook_cross_out, hook_text_proj)",
        )
        return None
    return site


def read_layers(node: LineDict, field: str, r: Reader, site: str | None) -> s.IndexSelection | None:
    wildcard = site is not None and has_layer_wildcard(site)
    if "layers" not in node:
        return s.ALL if wildcard else None
    if site is not None and not wildcard:
        r.report(
            node,
            "layers",
            f"{field}.layers",
            "layers selects the blocks of a blocks.* site; this site names no open block index",
            value=site,
            allowed="a site like blocks.*.hook_cross_out, or no layers key",
            # `hook_cross_out` + layers usually means the block prefix was forgotten.
            hint=None if site.startswith("blocks.") else f"did you mean 'blocks.*.{site}'?",
        )
        return None
    return read_selection(node, "layers", field, r, "layer", None)


def read_selection(
    node: LineDict, key: str, field: str, r: Reader, what: str, count: int | None
) -> s.IndexSelection | None:
    """Parse all | N | [..] | {only: [..]} | {from: a, to: b}; check it against ``count``."""
    value = node[key]
    path = f"{field}.{key}"
    allowed = f"all, a {what} index, a list of indices, {{only: [...]}} or {{from: a, to: b}}"
    start = r.mark()
    selection = None
    if value == "all":
        selection = s.ALL
    elif isinstance(value, int) and not isinstance(value, bool):
        if r.check_integer(value, node, key, path, low=0) is not None:
            selection = s.IndexSelection(only=(value,))
    elif isinstance(value, LineList):
        selection = _only(value, node, key, path, r)
    elif isinstance(value, LineDict):
        if r.check_keys(
            value, path, ("only", "from", "to"), what=f"a {what} selection", parent=node, key=key
        ):
            if "only" in value and ("from" in value or "to" in value):
                r.report(
                    value, "only", path, "use either only or from/to", value=value, allowed=allowed
                )
            elif "only" in value:
                only = value["only"]
                selection = (
                    _only(only, value, "only", f"{path}.only", r)
                    if isinstance(only, LineList)
                    else None
                )
                if not isinstance(only, LineList):
                    r.report(
                        value, "only", f"{path}.only", "expected a list of indices", value=only
                    )
            elif "from" not in value:
                r.report(
                    value,
                    None,
                    f"{path}.from",
                    "a range needs from (to is optional and inclusive)",
                    value=value,
                    allowed=allowed,
                )
            else:
                low = r.integer(value, "from", path, low=0)
                high = r.integer(value, "to", path, low=0)
                if low is not None and high is not None and high < low:
                    r.report(
                        value,
                        "to",
                        f"{path}.to",
                        f"range ends before it starts (from {low})",
                        value=high,
                        allowed=f"an integer >= {low}",
                    )
                elif low is not None and ("to" not in value or high is not None):
                    selection = s.IndexSelection(start=low, stop=high)
    else:
        r.report(node, key, path, f"not a {what} selection", value=value, allowed=allowed)
    if r.failed_since(start) or selection is None:
        return None
    if count is not None:
        beyond = [i for i in selection.endpoints() if i >= count]
        if beyond:
            r.report(
                node,
                key,
                path,
                f"{what} {beyond[0]} does not exist: the sampler has {count} steps",
                value=value,
                allowed=f"{what}s 0 to {count - 1}",
            )
            return None
    return selection


def _only(
    items: LineList, container: Any, key: Any, path: str, r: Reader
) -> s.IndexSelection | None:
    if not items:
        r.report(
            container,
            key,
            path,
            "an empty selection selects nothing",
            value=items,
            allowed="at least one index",
        )
        return None
    start = r.mark()
    values = []
    for i, item in enumerate(items):
        value = r.check_integer(item, items, i, f"{path}[{i}]", low=0)
        if value is not None and value in values:
            r.report(items, i, f"{path}[{i}]", "duplicate index", value=value)
        values.append(value)
    return None if r.failed_since(start) else s.IndexSelection(only=tuple(sorted(values)))
