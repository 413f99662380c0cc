"""The ``--latentflow-results`` file: its format, writing it, and reading it back.

One home for the format: the pytest plugin and `SpecSession.write_results` write the file with
`write_results`; `latentflow gate` (gate.py) and the report read it with `read_results` /
`results_verdicts`, which check its version and shape and name the file, the verdict and the
field of any problem. Pure Python (json): the gate imports it without torch.

Format 3::

    {"latentflow_results": 3,
     "model": {"name", "kind", "sha256", ...} or null,   # the one model the cases ran on
     "codec": {"name", "sample_rate", "hop", "latent_channels"} or null,
     "text_encoder": {"name", "dim"} or null,
     "derived": [{"method", "split", "settings", "values", "measured", "declared_in"}, ...],
     "models": {name: {"model", "codec", "text_encoder", "derived"}},   # every model, when several
     "model_override": "--latentflow-model value" or null,
     "seeds": {"override": int or null, "data_seeds": [the cases' data seeds]},
     "smoke_run": {"max_examples_per_case": N} or null,
     "verdicts": [Verdict.to_dict(), ...]}   # each with "examples": per-example values of both arms

A verdict's ``interventions``, ``measure`` and ``expectation`` are the spec's own dicts
(``Intervention.to_yaml()``, ``Measure.to_yaml()``, ``Expect.to_yaml()``). A sequential case's
verdict adds ``"sequential"`` (``SequentialResult.to_dict()``: method, status, n_used,
stopped_at_look, looks, anytime p-value, e-value, the confidence sequence cs_lower/cs_upper for
n = 1..n_used, any family correction); its ``"stats"`` are then the fixed-n test on the examples
used and its ``"examples"`` hold those n_used examples.
``"derived"`` lists the spec constants derived on the model (a spec's ``derive:``,
latentflow.derivation): the method, its TRAIN-split settings, the values, what was measured and
the ``file:line`` of every ``derive:`` entry that used it ([] when none; per model under
``models``; at the top only when one model derived any: controls add counter-models, which derive nothing).
A verdict whose case used derived constants names them and their values, ``"derived":
{"convergence.threshold": 0.0076, ...}`` (absent when it used none; how each was derived is in the
file's ``derived``).

Older formats, still read (a committed gate baseline may be one): format 2 wrote the three
fields above as display text (``"si_snr (target)"``); format 1 also lacked what ran and the
examples (only ``model`` as the override text, and ``seed``). `results_verdicts` gives their
verdicts in the current shape: the metric is the one fact the gate needs from that text, and it
is the text's first word by how those formats were written; the rest of the text is kept under
``"display"`` and the structured fields are None (unknown).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

RESULTS_FORMAT = 3
READABLE_FORMATS = (1, 2, 3)  # the gate still compares against committed older baselines
TEXT_FORMATS = (1, 2)  # formats whose interventions, measure and expectation are display text


class ResultsError(ValueError):
    """A results file (or object) that cannot be read as latentflow results; names the source."""


def results_payload(verdicts: Iterable[Mapping[str, Any]], *, model: str | None = None,
                    seed: int | None = None, max_n: int | None = None,
                    setups: Mapping[str, Mapping[str, Any]] | None = None) -> dict:
    """The results object: verdict dicts (``Verdict.to_dict()``) sorted by case_id.

    ``model``/``seed``: the command line's overrides. ``setups``: model name -> ``{"model":
    identity, "codec": ..., "text_encoder": ...}`` (``World.describe()``) of the models the cases
    ran on. ``max_n``: a smoke run's limit on examples per case (``--latentflow-n``), recorded so
    that nobody mistakes its verdicts for the claims'.
    """
    ordered = sorted((dict(v) for v in verdicts), key=lambda v: v["case_id"])
    setups = {name: dict(setup) for name, setup in sorted((setups or {}).items())}
    only = next(iter(setups.values())) if len(setups) == 1 else {}
    # the constants derived per model: a run's controls add counter-models, which derive nothing
    derived = [setup["derived"] for setup in setups.values() if setup.get("derived")]
    data_seeds = sorted({v["examples"]["data"]["seed"] for v in ordered if "examples" in v})
    return {
        "latentflow_results": RESULTS_FORMAT,
        "model": only.get("model"),
        "codec": only.get("codec"),
        "text_encoder": only.get("text_encoder"),
        "derived": derived[0] if len(derived) == 1 else [],
        "models": setups,
        "model_override": model,
        "seeds": {"override": seed, "data_seeds": data_seeds},
        "smoke_run": None if max_n is None else {"max_examples_per_case": max_n},
        "verdicts": ordered,
    }


def write_results(path: str | Path, verdicts: Iterable[Mapping[str, Any]], *, model: str | None = None,
                  seed: int | None = None, max_n: int | None = None,
                  setups: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    """Write a results file (creating its folder); returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = results_payload(verdicts, model=model, seed=seed, max_n=max_n, setups=setups)
    # allow_nan=False: per-example NaNs are written as null with their reason, never as NaN
    path.write_text(json.dumps(payload, indent=2, sort_keys=True, allow_nan=False) + "\n", encoding="utf-8")
    return path


def model_label(results: Mapping[str, Any]) -> str | None:
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


# -- reading -----------------------------------------------------------------------------------


def read_results(path: str | Path) -> dict:
    """Read and check a results file; returns its object as stored. `ResultsError` names the
    file and the problem."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ResultsError(f"{path}: no such file") from None
    except (OSError, UnicodeDecodeError) as error:
        raise ResultsError(f"{path}: cannot be read: {error}") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise ResultsError(f"{path}:{error.lineno}:{error.colno}: not valid JSON: {error.msg}") from None
    results_verdicts(data, source=str(path))
    return data


def results_verdicts(data: Any, *, source: str) -> tuple[dict, ...]:
    """The verdicts of a results object, checked field by field, in the current format's shape
    (an older format's verdicts are converted copies; see the module docstring)."""
    if not isinstance(data, dict):
        raise ResultsError(f"{source}: expected a JSON object with 'latentflow_results' and 'verdicts', "
                           f"got {_kind(data)}")
    version = data.get("latentflow_results")
    if version is None:
        raise ResultsError(f"{source}: not a latentflow results file: the key 'latentflow_results' is "
                           f"missing (write one with pytest specs/ --latentflow-results PATH.json)")
    if isinstance(version, bool) or version not in READABLE_FORMATS:
        raise ResultsError(f"{source}: latentflow_results format {version!r} is not supported; "
                           f"this latentflow reads formats {', '.join(map(str, READABLE_FORMATS))}")
    verdicts = data.get("verdicts")
    if not isinstance(verdicts, list):
        raise ResultsError(f"{source}: 'verdicts' must be a list, got {_kind(verdicts)}")
    seen: set[str] = set()
    out = []
    for index, verdict in enumerate(verdicts):
        checked = _check_verdict(verdict, f"{source}: verdicts[{index}]", text_fields=version in TEXT_FORMATS)
        if checked["case_id"] in seen:
            raise ResultsError(f"{source}: verdicts[{index}]: case_id {checked['case_id']!r} appears twice")
        seen.add(checked["case_id"])
        out.append(checked)
    return tuple(out)


def _check_verdict(verdict: Any, where: str, *, text_fields: bool) -> dict:
    if not isinstance(verdict, dict):
        raise ResultsError(f"{where}: expected an object, got {_kind(verdict)}")
    case_id = _field(verdict, "case_id", where, str, "a non-empty string")
    if not case_id:
        raise ResultsError(f"{where}.case_id: must be a non-empty string")
    where = f"{where} ({case_id})"
    _field(verdict, "holds", where, bool, "true or false")
    expected = _field(verdict, "expected", where, str, "'holds' or 'fails'")
    if expected not in ("holds", "fails"):
        raise ResultsError(f"{where}.expected: {expected!r} is not allowed; allowed: 'holds', 'fails'")
    stats = _field(verdict, "stats", where, dict, "an object (TestResult.to_dict())")
    where_stats = f"{where}.stats"
    _number_or_none(stats, "effect_size", where_stats)
    _field(stats, "effect_size_name", where_stats, str, "a string such as 'd_z'")
    _number_or_none(stats, "mean_difference", where_stats)
    if text_fields:
        measure = _field(verdict, "measure", where, str, "a string such as 'si_snr (target)'")
        display = {"interventions": verdict.get("interventions"), "measure": measure,
                   "expectation": verdict.get("expectation")}
        # the metric is the first word of a format 1 or 2 measure text (how they wrote it)
        return {**verdict, "measure": {"metric": measure.split(" ", 1)[0]}, "interventions": None,
                "expectation": None, "display": display}
    measure = _field(verdict, "measure", where, dict, "an object (Measure.to_yaml())")
    _field(measure, "metric", f"{where}.measure", str, "a metric name such as 'si_snr'")
    interventions = _field(verdict, "interventions", where, list, "a list of objects (Intervention.to_yaml())")
    for k, iv in enumerate(interventions):
        if not isinstance(iv, dict) or not isinstance(iv.get("op"), str) or not isinstance(iv.get("site"), str):
            raise ResultsError(f"{where}.interventions[{k}]: {iv!r} is not allowed; expected an object with "
                               f"'op' and 'site' (Intervention.to_yaml())")
    _field(verdict, "expectation", where, dict, "an object (Expect.to_yaml())")
    if "derived" in verdict:  # added to format 3 without a new version: older files lack it
        _field(verdict, "derived", where, dict, "an object NAME.QUANTITY -> value")
    return verdict


def _field(obj: dict, name: str, where: str, kind: type, allowed: str) -> Any:
    if name not in obj:
        raise ResultsError(f"{where}: the field {name!r} is missing; expected {allowed}")
    value = obj[name]
    if not isinstance(value, kind) or (kind is not bool and isinstance(value, bool)):
        raise ResultsError(f"{where}.{name}: {value!r} is not allowed; expected {allowed}")
    return value


def _number_or_none(obj: dict, name: str, where: str) -> float | None:
    if name not in obj:
        raise ResultsError(f"{where}: the field {name!r} is missing; expected a number or null")
    value = obj[name]
    if value is None:
        return None  # to_dict writes NaN as null: the statistics could not compute it
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ResultsError(f"{where}.{name}: {value!r} is not allowed; expected a finite number or null")
    return float(value)


def _kind(value: Any) -> str:
    return {dict: "an object", list: "a list", str: "a string", bool: "a boolean",
            type(None): "null"}.get(type(value), f"a {type(value).__name__}")
