"""The ``--latentflow-results`` file: its format version, and writing it.

One home for the format, so that the pytest plugin and `SpecSession.write_results` write the
same file that `latentflow gate` (gate.py) and the report read. Pure Python (json): the gate
imports it without torch.

Format 2 (format 1 had only ``model`` as the override text and ``seed``)::

    {"latentflow_results": 2,
     "model": {"name", "kind", "sha256", ...} or null,   # the one model the cases ran on
     "codec": {"name", "sample_rate", "hop", "latent_channels"} or null,
     "text_encoder": {"name", "dim"} or null,
     "derived": [{"method", "split", "settings", "values", "measured", "declared_in"}, ...],
     "models": {name: {"model", "codec", "text_encoder", "derived"}},   # every model, when several
     "model_override": "--latentflow-model value" or null,
     "seeds": {"override": int or null, "data_seeds": [the cases' data seeds]},
     "smoke_run": {"max_examples_per_case": N} or null,
     "verdicts": [Verdict.to_dict(), ...]}   # each with "examples": per-example values of both arms

A sequential case's verdict adds ``"sequential"`` (``SequentialResult.to_dict()``: method,
status, n_used, stopped_at_look, looks, anytime p-value, e-value, the confidence sequence
cs_lower/cs_upper for n = 1..n_used, any family correction); its ``"stats"`` are then the
fixed-n test on the examples used and its ``"examples"`` hold those n_used examples. ``"derived"``
lists the spec constants derived on the model (a spec's ``derive:``, latentflow.derivation): the
method, its TRAIN-split settings, the values, what was measured and the ``file:line`` of every
``derive:`` entry that used it ([] when none; per model under ``models``). Added fields only,
so the format stays 2.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterable, Mapping, Optional, Union

RESULTS_FORMAT = 2
READABLE_FORMATS = (1, 2)  # the gate still compares against a committed format-1 baseline


def results_payload(verdicts: Iterable[Mapping[str, Any]], *, model: Optional[str] = None,
                    seed: Optional[int] = None, max_n: Optional[int] = None,
                    setups: Optional[Mapping[str, Mapping[str, Any]]] = None) -> dict:
    """The results object: verdict dicts (``Verdict.to_dict()``) sorted by case_id.

    ``model``/``seed``: the command line's overrides. ``setups``: model name -> ``{"model":
    identity, "codec": ..., "text_encoder": ...}`` (``World.describe()``) of the models the cases
    ran on. ``max_n``: a smoke run's limit on examples per case (``--latentflow-n``), recorded so
    that nobody mistakes its verdicts for the claims'.
    """
    ordered = sorted((dict(v) for v in verdicts), key=lambda v: v["case_id"])
    setups = {name: dict(setups[name]) for name in sorted(setups or {})}
    only = next(iter(setups.values())) if len(setups) == 1 else {}
    data_seeds = sorted({v["examples"]["data"]["seed"] for v in ordered if "examples" in v})
    return {
        "latentflow_results": RESULTS_FORMAT,
        "model": only.get("model"),
        "codec": only.get("codec"),
        "text_encoder": only.get("text_encoder"),
        "derived": only.get("derived", []),
        "models": setups,
        "model_override": model,
        "seeds": {"override": seed, "data_seeds": data_seeds},
        "smoke_run": None if max_n is None else {"max_examples_per_case": max_n},
        "verdicts": ordered,
    }


def write_results(path: Union[str, Path], verdicts: Iterable[Mapping[str, Any]], *, model: Optional[str] = None,
                  seed: Optional[int] = None, max_n: Optional[int] = None,
                  setups: Optional[Mapping[str, Mapping[str, Any]]] = None) -> Path:
    """Write a results file (creating its folder); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = results_payload(verdicts, model=model, seed=seed, max_n=max_n, setups=setups)
    # allow_nan=False: per-example NaNs are written as null with their reason, never as NaN
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    return path


def model_label(results: Mapping[str, Any]) -> Optional[str]:
    """How a results file names its model: format 2's identity (name and checksum prefix), or
    format 1's override text."""
    model = results.get("model") if isinstance(results, Mapping) else None
    if isinstance(model, Mapping):
        digest = model.get("sha256")
        if isinstance(digest, Mapping):  # a model folder: one checksum per file
            digest = ", ".join(f"{name} {value[:12]}" for name, value in sorted(digest.items()))
        elif digest:
            digest = digest[:12]
        return f"{model.get('name')} (sha256 {digest})" if digest else str(model.get("name"))
    if model is None and isinstance(results, Mapping) and results.get("model_override"):
        return str(results["model_override"])
    return None if model is None else str(model)
