"""Spec constants derived per model (a spec's ``derive:`` section, read by latentflow.spec.derived).

Each derivation is computed once per model identity and settings in a process: the weights'
SHA-256 and the separator's codec and text encoder, so ``fixture`` and the bundled checkpoint's
path share one computation, and every case and spec file of a session reuses it. Under
pytest-xdist each worker collects every spec file and derives on its own; the derivations are
deterministic (fixed examples and noise seeds, one torch thread per process under pytest), so
every worker gets the same values and collects the same cases.

What was derived, how and from what, is recorded per model: :func:`derived_records` (a
World's ``describe()`` adds it, and results files carry it under ``models.<name>.derived``).
"""

from __future__ import annotations

import json
import weakref
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from latentflow.spec.derived import DerivationError, DerivationRequest, ModelUnavailable

from .convergence import SPLIT, derive_convergence
from .lsac_plans import derive_lsac_plans

__all__ = ["SPLIT", "SessionDerivations", "derive", "derived_records"]

def read_architecture(separator: Any, model: Any, device: str, settings: Mapping[str, Any]) -> dict:
    """The model's sizes: nothing measured, no examples (so no split). ``layers`` spans the depth
    at a fixed spacing and always ends at the last layer, so a claim probed through the stack
    reaches its output on any depth (8 layers, every 2: 0, 2, 4, 6, 7)."""
    n_layers = int(model.cfg.n_layers)
    spaced = list(range(0, n_layers, int(settings["every"])))
    layers = spaced if spaced[-1] == n_layers - 1 else [*spaced, n_layers - 1]
    return {"split": None, "values": {"n_layers": n_layers, "last_layer": n_layers - 1, "layers": layers},
            "measured": {}}


COMPUTE = {"convergence": derive_convergence, "lsac_tuning": derive_lsac_plans, "architecture": read_architecture}

# (model identity, request key) -> record; per process, shared by every session in it
_CACHE: dict[tuple[str, str], dict] = {}
# model object -> request key -> record (with where it was declared), for results files
_RECORDS: weakref.WeakKeyDictionary[Any, dict[str, dict]] = weakref.WeakKeyDictionary()


def _identity(world: Any) -> str:
    from latentflow.acceleration.presets import weights_fingerprint

    return json.dumps({"weights_sha256": weights_fingerprint(world.model), **world.separator.describe()},
                      sort_keys=True)


def derive(world: Any, requests: Sequence[DerivationRequest]) -> dict[str, dict[str, Any]]:
    """Request name -> quantity -> value on ``world``'s model (computed at most once per model
    identity and settings)."""
    identity = _identity(world)
    out = {}
    for request in requests:
        key = (identity, request.key)
        if key not in _CACHE:
            settings = dict(request.settings)
            try:
                made = COMPUTE[request.method](world.separator, world.model, world.device, settings)
            except ValueError as error:  # e.g. too few examples for a rate, an unusable tier
                raise DerivationError(f"{request.method} on model {world.name!r}: {error}") from error
            _CACHE[key] = {"method": request.method, "split": SPLIT, "settings": settings, **made}
        record = _RECORDS.setdefault(world.model, {}).setdefault(
            request.key, {**json.loads(json.dumps(_CACHE[key])), "declared_in": []})
        where = f"{_shown(request.file)}:{request.line}"
        if where not in record["declared_in"]:
            record["declared_in"].append(where)
        out[request.name] = _CACHE[key]["values"]
    return out


def _shown(file: str) -> str:
    """A spec path as results files show it: relative to the working folder when inside it."""
    path = Path(file).resolve()
    return str(path.relative_to(Path.cwd())) if path.is_relative_to(Path.cwd()) else str(path)


def derived_records(model: Any) -> list[dict]:
    """What was derived on ``model`` in this process, in a fixed order (method, settings)."""
    records = _RECORDS.get(model, {})
    return [records[key] for key in sorted(records)]


class SessionDerivations:
    """The provider SpecSession passes to ``load_spec``: derives on the model a spec runs on (the
    override, else the file's ``model:``), loaded through the session's Runner."""

    def __init__(self, runner: Any, overrides: Any) -> None:
        self.runner = runner
        self.overrides = overrides

    def __call__(self, requests: Sequence[DerivationRequest], model: str | None, file: str) -> Mapping[str, Any]:
        from latentflow.spec.schema import FIXTURE_MODEL

        # the file's model as Overrides.model_for resolves a Spec's (the spec is not read yet)
        name = self.overrides.model_for(SimpleNamespace(model=model or FIXTURE_MODEL, file=file))
        try:
            world = self.runner.world(name)
        except Exception as error:
            raise ModelUnavailable(str(error)) from error
        return derive(world, requests)
