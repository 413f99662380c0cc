"""User extensions: operations, metrics, internal measures and invariants from other packages.

A package registers its own by importing latentflow's registries in a module and calling
``register_operation`` / ``register_metric`` / ``INVARIANTS.register`` there, and names that
module as an entry point in the ``latentflow.plugins`` group:

    [project.entry-points."latentflow.plugins"]
    my_ops = "my_package.latentflow_ops"

A project can do the same from its ``conftest.py`` (plain imports), without any packaging.
"""

from __future__ import annotations

from importlib import metadata

ENTRY_POINT_GROUP = "latentflow.plugins"
_loaded: set[str] = set()


class ExtensionError(ImportError):
    """An entry point that could not be loaded; the message names it and its target."""


def load_extensions() -> list[str]:
    """Import every ``latentflow.plugins`` entry point once; returns the names loaded now."""
    loaded = []
    for entry in sorted(metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
        key = f"{entry.name}={entry.value}"
        if key in _loaded:
            continue
        try:
            entry.load()
        except Exception as error:  # report which plugin broke, not just the inner error
            raise ExtensionError(
                f"latentflow plugin {entry.name!r} ({entry.value}) failed to load: {type(error).__name__}: {error}"
            ) from error
        _loaded.add(key)
        loaded.append(entry.name)
    return loaded
