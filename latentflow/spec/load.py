"""Read a spec file: YAML with line numbers -> typed Spec -> names checked, all problems at once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from latentflow.spec.errors import SpecError
from latentflow.spec.parse import parse_spec
from latentflow.spec.reader import Reader
from latentflow.spec.schema import Spec
from latentflow.spec.validate import find_issues, find_orphan_issues
from latentflow.spec.yaml_loader import load_yaml_text, read_text


def loads_spec(text: str, filename: str = "<string>", **registries: Any) -> Spec:
    """Parse and validate spec text; ``registries`` as for :func:`latentflow.spec.validate`.

    Raises SpecError listing every problem found (syntax errors stop at the first, since
    nothing after a syntax error can be read reliably).
    """
    raw = load_yaml_text(text, filename)
    reader = Reader(filename)
    orphans: list = []
    spec = parse_spec(raw, filename, reader, orphans)
    issues = list(reader.issues)
    if spec is not None:
        issues += find_issues(spec, **registries)
        issues += find_orphan_issues(filename, orphans, **registries)
    if issues:
        raise SpecError(issues)
    assert spec is not None  # parse_spec reports a problem whenever it returns None
    return spec


def load_spec(path: str | Path, **registries: Any) -> Spec:
    """Load the spec file at ``path`` (see :func:`loads_spec`)."""
    return loads_spec(read_text(path), str(path), **registries)
