"""Metrics by name: what the spec engine looks up, lists in errors, and users extend.

A metric is a function called with keyword inputs only (``estimate=...``,
``reference=...``, ``mixture=...``, ``sample_rate=...``, or whatever its ``requires`` and
``accepts`` name), returning a :class:`MetricResult` or a 1-D array of per-example values.
Its :class:`MetricInfo` says how to read the number (``higher_is_better``, ``unit``,
``bounds``), what it can compare (``compare``: an output against the true ``"target"``
source, against a ``"baseline"`` output, or ``"internal"`` statistics of activations,
matching a spec measure's ``compare:``), and which options a spec may set (``params``:
name -> (type, default, doc), the form ``latentflow.registry.Param.coerce`` reads).

    >>> from latentflow.metrics import compute_metric
    >>> compute_metric("si_snr", estimate=est, reference=target).values

User metrics (e.g. from a ``conftest.py``)::

    register_metric("peak_ratio", my_function, higher_is_better=True, unit="dB",
                    requires=("estimate", "reference"))
"""

from __future__ import annotations

import difflib
import inspect
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from latentflow.metrics._inputs import as_batch, check_same_shape
from latentflow.metrics.bss import DEFAULT_FILTER_LENGTH
from latentflow.metrics.perceptual import pesq_result, stoi_result
from latentflow.metrics.result import MetricResult
from latentflow.metrics.separation import (
    sar_result,
    si_snr_improvement_result,
    si_snr_result,
)
from latentflow.registry import Registry, UnknownNameError
from latentflow.vocabulary import COMPARES

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class UnknownMetricError(UnknownNameError):
    """A metric name that is not registered; the message lists the registry. Its own wording
    (one suggestion, case-blind) because ``compute_metric("PESQ")`` is a common slip."""

    def __init__(self, name: str, registered: Sequence[str]) -> None:
        self.kind = "metric"
        self.name = name
        self.registered = tuple(registered)
        close = difflib.get_close_matches(str(name).lower(), self.registered, n=1, cutoff=0.5)
        self.suggestion = close[0] if close else None
        self.suggestions = (self.suggestion,) if self.suggestion else ()
        hint = f" Did you mean {self.suggestion!r}?" if self.suggestion else ""
        LookupError.__init__(
            self, f"unknown metric {name!r}.{hint} Registered metrics: {', '.join(self.registered)}"
        )


@dataclass(frozen=True)
class MetricInfo:
    """A registered metric and how to read it."""

    name: str
    function: Callable[..., object]
    higher_is_better: bool
    unit: str
    requires: tuple[str, ...]
    accepts: tuple[str, ...] = ()
    # A read-only mapping is not hashable, so it stays out of the hash (not out of ==).
    params: Mapping[str, tuple[type, Any, str]] = field(default_factory=dict, hash=False)
    compare: tuple[str, ...] = ("target", "baseline")
    bounds: tuple[float, float] = (-math.inf, math.inf)
    description: str = ""

    @property
    def inputs(self) -> tuple[str, ...]:
        """Every keyword the function takes: required and optional inputs, then params."""
        return self.requires + self.accepts + tuple(self.params)

    def __call__(self, **inputs) -> MetricResult:
        """Compute the metric from keyword inputs (see :func:`compute_metric`)."""
        return _compute(self, inputs)


_REGISTRY: Registry[MetricInfo] = Registry("metric", unknown=UnknownMetricError)


def register_metric(name: str, function: Callable[..., object], *, higher_is_better: bool,
                    unit: str, requires: Sequence[str], accepts: Sequence[str] = (),
                    params: Mapping[str, tuple[type, Any, str]] | None = None,
                    compare: Sequence[str] = ("target", "baseline"),
                    bounds: tuple[float, float] = (-math.inf, math.inf),
                    description: str = "", replace: bool = False) -> MetricInfo:
    """Add a metric to the registry and return its :class:`MetricInfo`.

    ``requires`` / ``accepts`` name the keyword inputs (signals, sample rate, ...) the
    function must / may receive; ``params`` are the options a spec may set, each
    ``name: (type, default, doc)``, passed as keywords too. Registering an existing name
    raises unless ``replace=True``.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"metric name {name!r} must be lowercase letters, digits and underscores, "
            "starting with a letter (e.g. 'si_snr')"
        )
    if name in _REGISTRY and not replace:  # before the checks below, as it always was
        raise ValueError(f"metric {name!r} is already registered; pass replace=True to override it")
    if not callable(function):
        raise TypeError(f"metric {name!r}: function must be callable; got {function!r}")
    if not isinstance(higher_is_better, bool):
        raise TypeError(f"metric {name!r}: higher_is_better must be True or False; got {higher_is_better!r}")
    requires, accepts = tuple(requires), tuple(accepts)
    params = dict(params or {})
    for param_name, declared in params.items():
        if not (isinstance(declared, tuple) and len(declared) == 3 and isinstance(declared[0], type)):
            raise ValueError(
                f"metric {name!r}: param {param_name!r} must be declared as (type, default, doc); "
                f"got {declared!r}"
            )
    names = requires + accepts + tuple(params)
    for input_name in names:
        if not isinstance(input_name, str) or not input_name.isidentifier():
            raise ValueError(f"metric {name!r}: input name {input_name!r} is not a Python identifier")
    repeated = sorted({n for n in names if names.count(n) > 1})
    if repeated:
        raise ValueError(
            f"metric {name!r}: {repeated} declared more than once across requires, accepts and params"
        )
    unknown_kinds = [k for k in compare if k not in COMPARES]
    if unknown_kinds or not compare:
        raise ValueError(
            f"metric {name!r}: compare must list some of {COMPARES}; got {tuple(compare)!r}"
        )
    low, high = (float(b) for b in bounds)
    if not low < high:
        raise ValueError(f"metric {name!r}: bounds must be (low, high) with low < high; got {bounds!r}")
    _check_signature(name, function, requires, accepts + tuple(params))
    info = MetricInfo(name=name, function=function, higher_is_better=higher_is_better,
                      unit=str(unit), requires=requires, accepts=accepts,
                      params=MappingProxyType(params), compare=tuple(compare),
                      bounds=(low, high), description=str(description))
    return _REGISTRY.register(name, info, replace=replace)


def _check_signature(name: str, function: Callable, requires: tuple, accepts: tuple) -> None:
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):
        return  # builtins without a signature: trust the declaration
    try:
        signature.bind(**dict.fromkeys(requires))
        signature.bind_partial(**dict.fromkeys(requires + accepts))
    except TypeError as error:
        raise TypeError(
            f"metric {name!r}: function {getattr(function, '__name__', function)!r} cannot be "
            f"called with keyword inputs requires={requires} accepts={accepts}: {error}"
        ) from None


def unregister_metric(name: str) -> None:
    """Remove a metric (e.g. one a test registered)."""
    _REGISTRY.unregister(name)


def available_metrics() -> tuple[str, ...]:
    """Registered metric names, sorted."""
    return _REGISTRY.names()


def get_metric(name: str) -> MetricInfo:
    """The registered metric ``name``; :class:`UnknownMetricError` lists the others."""
    return _REGISTRY.get(name)


def compute_metric(name: str, **inputs) -> MetricResult:
    """Compute metric ``name`` from keyword inputs.

    Inputs the metric does not use are ignored when some registered metric uses them (so a
    caller may pass the same inputs to every metric); a name no metric uses is an error,
    which catches typos such as ``sample_rte``.
    """
    return _compute(get_metric(name), inputs)


def _compute(info: MetricInfo, inputs: dict) -> MetricResult:
    name = info.name
    known = {arg for _, registered in _REGISTRY.items() for arg in registered.inputs}
    strangers = sorted(set(inputs) - known)
    if strangers:
        raise TypeError(
            f"metric {name!r}: no registered metric takes input(s) {strangers}; "
            f"{name!r} takes {', '.join(info.inputs)}"
        )
    missing = [arg for arg in info.requires if inputs.get(arg) is None]
    if missing:
        raise TypeError(
            f"metric {name!r} needs input(s) {missing}; it requires {', '.join(info.requires)}"
            + (f" and accepts {', '.join(info.accepts)}" if info.accepts else "")
        )
    used = {arg: inputs[arg] for arg in info.inputs if inputs.get(arg) is not None}
    return _as_result(info, info.function(**used), used.get("estimate"))


def _as_result(info: MetricInfo, output: object, estimate: ArrayLike | None) -> MetricResult:
    if isinstance(output, MetricResult):
        result = MetricResult(info.name, output.values, output.reasons)
    else:
        try:
            values = np.asarray(output, dtype=np.float64)
        except (TypeError, ValueError):
            raise TypeError(
                f"metric {info.name!r} returned {type(output).__name__}; expected a "
                "MetricResult or a 1-D array of per-example values"
            ) from None
        if values.ndim != 1:
            raise TypeError(
                f"metric {info.name!r} returned shape {values.shape}; expected one value per example (1-D)"
            )
        result = MetricResult(info.name, values, (None,) * values.shape[0])
    shape: tuple[int, ...] = np.shape(estimate) if estimate is not None else ()
    if len(shape) in (1, 2):
        expected = shape[0] if len(shape) == 2 else 1
        if len(result) != expected:
            raise ValueError(
                f"metric {info.name!r} returned {len(result)} values for {expected} examples"
            )
    return result


# Built-in metrics. Keyword names are the registry's vocabulary: ``reference`` is the
# signal compared against (the true target, or a baseline output where allowed).

def _si_snr(*, estimate, reference):
    return si_snr_result(estimate, reference)


def _si_snr_improvement(*, estimate, reference, mixture):
    return si_snr_improvement_result(estimate, reference, mixture)


def _sar(*, estimate, reference, interference=None, mixture=None,
         filter_length=DEFAULT_FILTER_LENGTH):
    if interference is None and mixture is not None:
        interference = _minus(mixture, reference)
    return sar_result(estimate, reference, interference, filter_length=filter_length)


def _minus(a, b):
    a, b = as_batch(a, "mixture"), as_batch(b, "reference")
    check_same_shape(mixture=a, reference=b)
    return a - b


def _stoi(*, estimate, reference, sample_rate=16000, workers=1, extended=False):
    return stoi_result(estimate, reference, sample_rate, extended=extended, workers=workers)


def _pesq(*, estimate, reference, sample_rate=16000, workers=1):
    return pesq_result(estimate, reference, sample_rate, mode="wb", workers=workers)


register_metric(
    "si_snr", _si_snr, higher_is_better=True, unit="dB", requires=("estimate", "reference"),
    description="scale-invariant signal-to-noise ratio (zero-mean)",
)
register_metric(
    "si_snr_improvement", _si_snr_improvement, higher_is_better=True, unit="dB",
    requires=("estimate", "reference", "mixture"), compare=("target",),
    description="SI-SNR of the estimate minus SI-SNR of the mixture, against the target",
)
register_metric(
    "sar", _sar, higher_is_better=True, unit="dB", requires=("estimate", "reference"),
    accepts=("interference", "mixture"), compare=("target",),
    params={"filter_length": (int, DEFAULT_FILTER_LENGTH, "distortion filter taps")},
    description="BSS Eval v3 signal-to-artifacts ratio, 512-tap distortion filters; "
                "interference defaults to mixture - reference when a mixture is given",
)
register_metric(
    "stoi", _stoi, higher_is_better=True, unit="", requires=("estimate", "reference"),
    accepts=("sample_rate", "workers"), bounds=(-1.0, 1.0),
    params={"extended": (bool, False, "extended STOI (Jensen & Taal 2016) instead of STOI")},
    description="short-time objective intelligibility (pystoi); a mean correlation, "
                "in practice between 0 and 1",
)
register_metric(
    "pesq", _pesq, higher_is_better=True, unit="MOS-LQO", requires=("estimate", "reference"),
    # P.862.2's logistic mapping to MOS-LQO runs from 0.999 up to 4.644 (raw PESQ capped at 4.5).
    accepts=("sample_rate", "workers"), bounds=(0.999, 4.65),
    description="wideband PESQ, ITU-T P.862.2 (pesq package, 16 kHz)",
)
