"""STOI (pystoi) and PESQ (pesq, ITU-T P.862.2 wideband) with per-example NaN reasons.

Both reference libraries work on one clip at a time, so the batch is mapped over examples:
serially by default, or over ``workers`` processes (order preserved, so the numbers do not
depend on the worker count). Library failures on a clip (PESQ finding no utterance, a
buffer too short, STOI having too few speech frames) become NaN with the library's reason
instead of an exception from deep inside the library.
"""

from __future__ import annotations

import multiprocessing
import sys
import warnings
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor

import numpy as np

from latentflow.metrics._inputs import (
    Reasons,
    as_batch,
    check_same_shape,
    check_sample_rate,
    mark_nonfinite,
    mark_silent,
)
from latentflow.metrics.result import MetricResult

# pystoi's intermediate-intelligibility window: 30 frames of 256 samples, hop 128, at 10 kHz
# (about 0.4 s of non-silent target). With fewer it warns and returns 1e-5.
STOI_MIN_FRAMES = 30
PESQ_MODES = {"wb": (16000,), "nb": (8000, 16000)}


def stoi_result(estimate, target, sample_rate: int = 16000, *, extended: bool = False,
                workers: int = 1) -> MetricResult:
    """Short-time objective intelligibility per example (pystoi), in [0, 1] (ESTOI if extended)."""
    rate = check_sample_rate(sample_rate, what="STOI")
    est, tgt, reasons = _prepare(estimate, target)
    jobs = [(tgt[i], est[i], rate, bool(extended)) for i in range(est.shape[0])]
    return _run("stoi" if not extended else "estoi", _stoi_one, jobs, reasons, workers)


def pesq_result(estimate, target, sample_rate: int = 16000, *, mode: str = "wb",
                workers: int = 1) -> MetricResult:
    """PESQ MOS-LQO per example (``pesq`` package); wideband by default (about 1.04 to 4.64)."""
    if mode not in PESQ_MODES:
        raise ValueError(f"PESQ mode must be one of {sorted(PESQ_MODES)}; got {mode!r}")
    rate = check_sample_rate(sample_rate, PESQ_MODES[mode], what=f"PESQ mode {mode!r}")
    est, tgt, reasons = _prepare(estimate, target)
    jobs = [(tgt[i], est[i], rate, mode) for i in range(est.shape[0])]
    return _run("pesq", _pesq_one, jobs, reasons, workers)


def stoi(estimate, target, sample_rate: int = 16000, *, extended: bool = False,
         workers: int = 1) -> np.ndarray:
    """STOI per example, shape (B,) float64; NaN where undefined (see :func:`stoi_result`)."""
    return np.array(stoi_result(estimate, target, sample_rate, extended=extended,
                                workers=workers).values)


def pesq(estimate, target, sample_rate: int = 16000, *, mode: str = "wb",
         workers: int = 1) -> np.ndarray:
    """PESQ per example, shape (B,) float64; NaN where undefined (see :func:`pesq_result`)."""
    return np.array(pesq_result(estimate, target, sample_rate, mode=mode, workers=workers).values)


def _prepare(estimate, target):
    est = as_batch(estimate, "estimate")
    tgt = as_batch(target, "target")
    check_same_shape(estimate=est, target=tgt)
    reasons = Reasons(est.shape[0])
    mark_nonfinite(reasons, estimate=est, target=tgt)
    mark_silent(reasons, estimate=est, target=tgt)
    return est, tgt, reasons


def _run(name: str, one: Callable, jobs: list, reasons: Reasons, workers: int) -> MetricResult:
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise ValueError(f"workers must be a positive integer; got {workers!r}")
    good = np.flatnonzero(~reasons.bad()).tolist()
    outcomes = _map_in_order(one, [jobs[i] for i in good], int(workers))
    values = np.full(len(jobs), np.nan)
    for index, (value, reason) in zip(good, outcomes, strict=True):
        if reason is None:
            values[index] = value
        else:
            reasons.set(index, reason)
    return MetricResult(name, values, reasons.as_tuple())


def _map_in_order(one: Callable, jobs: Sequence, workers: int) -> list:
    if workers == 1 or len(jobs) < 2:
        return [one(job) for job in jobs]
    # Processes, not threads: the pesq C extension holds the GIL. On Linux the workers are
    # forked: they run only numpy/scipy/C code (never torch), and unlike spawn or forkserver
    # a fork does not re-run the caller's __main__ script. map() keeps submission order.
    context = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
    with ProcessPoolExecutor(max_workers=min(workers, len(jobs)), mp_context=context) as pool:
        return list(pool.map(one, jobs))


def _stoi_one(job) -> tuple[float, str | None]:
    from pystoi import stoi as pystoi_stoi

    reference, degraded, rate, extended = job
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        value = float(pystoi_stoi(reference, degraded, rate, extended=extended))
    if any("Not enough STFT frames" in str(w.message) for w in caught):
        return float("nan"), (
            f"fewer than {STOI_MIN_FRAMES} STOI frames (about 0.4 s) of non-silent target "
            "speech; the clip is too short or mostly silent"
        )
    if not np.isfinite(value):
        return float("nan"), f"pystoi returned {value}"
    return value, None


def _pesq_one(job) -> tuple[float, str | None]:
    import pesq as pesq_package

    reference, degraded, rate, mode = job
    try:
        value = float(pesq_package.pesq(rate, reference, degraded, mode))
    except pesq_package.PesqError as error:
        # The C extension raises with a bytes message; show it as text.
        message = error.args[0] if error.args else ""
        if isinstance(message, bytes):
            message = message.decode("utf-8", "replace")
        return float("nan"), f"pesq failed: {type(error).__name__}: {message}"
    return value, None
