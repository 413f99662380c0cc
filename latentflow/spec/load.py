"""Read a spec file: YAML with line numbers -> typed Spec -> names checked, all problems at once."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from latentflow.spec.derived import Provider, resolve_derived, with_derived_values
from latentflow.spec.errors import SpecError
from latentflow.spec.parse import parse_spec
from latentflow.spec.probe import ProbeSpec, is_probe_document, load_probe_spec
from latentflow.spec.reader import Reader
from latentflow.spec.schema import Spec
from latentflow.spec.validate import Sites, find_issues, find_orphan_issues
from latentflow.spec.yaml_loader import load_yaml_text, read_text


def loads_spec(
    text: str,
    filename: str = "<string>",
    *,
    sites_when_broken: Callable[[Spec], Sites] | None = None,
    derived: Provider | None = None,
    model: str | None = None,
    **registries: Any,
) -> Spec | ProbeSpec:
    """Parse and validate spec text; ``registries`` as for :func:`latentflow.spec.validate`.

    Raises SpecError listing every problem found (syntax errors stop at the first, since
    nothing after a syntax error can be read reliably).

    ``sites_when_broken``: when no ``sites`` are given (a caller that validates sites later,
    against the model the compiled plan names) but the file has problems, the hook sites of
    the spec's model (``sites_when_broken(spec)``; None when they cannot be had) are checked
    too, so that an unknown site is reported with the other problems, not after they are fixed.

    ``derived``: computes the file's ``derive:`` constants on its model (latentflow.spec.derived).

    ``model``: the model the spec will run on when not the file's own (an override, as
    ``Overrides.model``): the hypotheses take its ``per_model:`` entries (latentflow.spec.per_model),
    and the spec compiles for that model only.
    """
    raw = load_yaml_text(text, filename)
    if is_probe_document(raw):  # the probe hypothesis kind: its own reader (latentflow/spec/probe.py)
        return load_probe_spec(raw, filename)
    reader = Reader(filename)
    raw, derived_uses = resolve_derived(raw, reader, derived)
    orphans: list = []
    spec = parse_spec(raw, filename, reader, orphans, model=model)
    issues = list(reader.issues)
    if spec is not None:
        named = list(find_issues(spec, **registries)) + list(find_orphan_issues(filename, orphans, **registries))
        if (issues or named) and registries.get("sites") is None and sites_when_broken is not None:
            sites = sites_when_broken(spec)
            if sites is not None:
                registries = {**registries, "sites": sites}
                named = list(find_issues(spec, **registries)) + list(
                    find_orphan_issues(filename, orphans, **registries)
                )
        issues += named
    if issues:
        raise SpecError(issues)
    assert spec is not None  # parse_spec reports a problem whenever it returns None
    return with_derived_values(spec, derived_uses)


def load_spec(path: str | Path, **options: Any) -> Spec | ProbeSpec:
    """Load the spec file at ``path`` (see :func:`loads_spec`)."""
    return loads_spec(read_text(path), str(path), **options)
