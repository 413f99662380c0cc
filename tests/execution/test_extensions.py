"""Operations registered by another package (entry points) or a conftest.py reach specs."""

from __future__ import annotations

import sys
from importlib import metadata

import pytest

from latentflow import extensions
from latentflow.interventions import OPERATIONS


def test_entry_point_plugins_register_operations(tmp_path, monkeypatch):
    (tmp_path / "my_lf_plugin.py").write_text(
        "from latentflow.interventions import Operation, register_operation\n"
        "register_operation(Operation('negate', 'activation', lambda a: (lambda t, site, ctx: -t)))\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    entry = metadata.EntryPoint(name="mine", value="my_lf_plugin", group=extensions.ENTRY_POINT_GROUP)
    monkeypatch.setattr(extensions.metadata, "entry_points", lambda group: [entry] if group == entry.group else [])
    try:
        assert extensions.load_extensions() == ["mine"]
        assert "negate" in OPERATIONS
        assert extensions.load_extensions() == []  # once only
    finally:
        OPERATIONS.unregister("negate")
        extensions._loaded.clear()
        sys.modules.pop("my_lf_plugin", None)


def test_a_broken_plugin_is_named(monkeypatch):
    entry = metadata.EntryPoint(name="broken", value="no_such_module_xyz", group=extensions.ENTRY_POINT_GROUP)
    monkeypatch.setattr(extensions.metadata, "entry_points", lambda group: [entry])
    with pytest.raises(extensions.ExtensionError, match=r"latentflow plugin 'broken' \(no_such_module_xyz\) failed to load"):
        extensions.load_extensions()
