"""Which hook names to cache: a name, a list of names, or a filter, checked against the model.

TransformerLens takes the same three forms for ``names_filter``, but a misspelt name silently
caches nothing, and ``sample(cache="hook_text_proj")`` used to read a string as the set of its
characters. Here an unknown name is an error that lists the nearest real names.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping

NameFilter = Callable[[str], bool]
NamesSpec = str | Iterable[str] | NameFilter | None


def names_filter(
    spec: NamesSpec, hook_names: Mapping[str, object] | Iterable[str], *, where: str = "names_filter"
) -> NameFilter | None:
    """``spec`` as a predicate over hook names (None stays None: the caller's "everything").

    ``hook_names`` are the model's real names (``model.hook_dict``); every given name must be
    one of them.
    """
    if spec is None or callable(spec):
        return spec
    if isinstance(spec, str):
        names = [spec]
    elif isinstance(spec, Iterable):
        names = list(spec)
        bad = [n for n in names if not isinstance(n, str)]
        if bad:
            raise TypeError(f"{where}: hook names must be strings, got {bad[0]!r}")
    else:
        raise TypeError(
            f"{where}: expected a hook name, a list of hook names or a callable name -> bool, "
            f"got {type(spec).__name__}"
        )
    known = set(hook_names)
    unknown = [n for n in names if n not in known]
    if unknown:
        raise ValueError(f"{where}: " + "; ".join(_unknown(n, known) for n in unknown))
    return frozenset(names).__contains__


def _unknown(name: str, known: set[str]) -> str:
    near = difflib.get_close_matches(name, sorted(known), n=3, cutoff=0.6)
    hint = f"nearest: {', '.join(near)}" if near else f"{len(known)} names exist, e.g. {', '.join(sorted(known)[:3])}"
    return f"unknown hook name {name!r} ({hint})"


__all__ = ["NameFilter", "NamesSpec", "names_filter"]
