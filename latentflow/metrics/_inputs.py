"""Turning user inputs into the float64 (B, N) arrays every metric works on.

Whole-call problems (wrong rank, mismatched shapes, bad sample rate) raise ``ValueError``
naming the argument and what is allowed. Per-example problems (non-finite samples, silence)
are not errors: the metric returns NaN for that example and records why, so one bad clip in
a batch of 64 does not throw away the other 63.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

# An RMS below this (about -160 dBFS for audio in [-1, 1]) counts as silence. It is absolute
# rather than relative because a single signal carries no scale to compare against; it sits
# far below anything a 16- or 24-bit recording or a float32 model output can hold as sound.
SILENCE_RMS = 1e-8


def as_batch(x: object, name: str) -> np.ndarray:
    """Return ``x`` as a fresh C-contiguous float64 array of shape (B, N).

    Accepts numpy arrays, torch tensors (any device; detached) and nested sequences. A 1-D
    input is one example and comes back as shape (1, N).
    """
    array = _to_numpy(x, name)
    if array.dtype.kind == "c":
        raise ValueError(
            f"{name} is complex ({array.dtype}); metrics need real-valued waveforms"
        )
    if array.dtype.kind not in "iuf":
        raise ValueError(
            f"{name} has dtype {array.dtype}; metrics need real numbers (float or integer PCM)"
        )
    if array.ndim == 1:
        array = array[np.newaxis, :]
    if array.ndim != 2:
        raise ValueError(
            f"{name} has shape {tuple(array.shape)}; expected (B, N) waveforms "
            "(batch, samples) or a single (N,) waveform"
        )
    if array.shape[1] == 0:
        raise ValueError(f"{name} has shape {tuple(array.shape)}: zero samples per example")
    return np.array(array, dtype=np.float64, order="C", copy=True)


def _to_numpy(x: object, name: str) -> np.ndarray:
    # Checked by module name so that numpy-only users never pay for importing torch.
    if type(x).__module__.split(".")[0] == "torch":
        tensor = x.detach().cpu()  # type: ignore[attr-defined]
        if tensor.is_complex():
            raise ValueError(f"{name} is a complex tensor; metrics need real-valued waveforms")
        if tensor.dtype.is_floating_point:
            tensor = tensor.double()
        return tensor.numpy()
    try:
        return np.asarray(x)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} cannot be read as an array: {error}") from None


def check_same_shape(**arrays: np.ndarray) -> None:
    """Raise unless all arrays have one shape (metrics compare sample by sample)."""
    names = list(arrays)
    first = names[0]
    for other in names[1:]:
        if arrays[other].shape != arrays[first].shape:
            raise ValueError(
                f"{first} has shape {arrays[first].shape} but {other} has shape "
                f"{arrays[other].shape}; metrics compare the signals sample by sample, so "
                "give them the same batch size and length (trim or pad first)"
            )


def check_sample_rate(sample_rate: object, allowed: Sequence[int] | None = None,
                      what: str = "this metric") -> int:
    """Return ``sample_rate`` as an int, or raise if it is not a positive integer in ``allowed``."""
    if isinstance(sample_rate, bool) or not isinstance(sample_rate, (int, np.integer)):
        raise ValueError(
            f"sample_rate must be a positive integer number of Hz; got {sample_rate!r}"
        )
    rate = int(sample_rate)
    if rate <= 0:
        raise ValueError(f"sample_rate must be a positive integer number of Hz; got {rate}")
    if allowed is not None and rate not in allowed:
        allowed_text = " or ".join(str(a) for a in allowed)
        raise ValueError(
            f"{what} needs sample_rate {allowed_text} Hz; got {rate}. Resample first "
            "(e.g. torchaudio.functional.resample)"
        )
    return rate


def rms(batch: np.ndarray) -> np.ndarray:
    """Root-mean-square per example, shape (B,)."""
    return np.sqrt(np.mean(np.square(batch), axis=1))


class Reasons:
    """Collects, per example, the first reason its value is NaN."""

    def __init__(self, n_examples: int) -> None:
        self._reasons: list[str | None] = [None] * n_examples

    def mark(self, mask: np.ndarray, reason: str) -> None:
        for index in np.flatnonzero(mask):
            if self._reasons[index] is None:
                self._reasons[index] = reason

    def set(self, index: int, reason: str) -> None:
        if self._reasons[index] is None:
            self._reasons[index] = reason

    def bad(self) -> np.ndarray:
        """Boolean mask of the examples that already have a reason."""
        return np.array([r is not None for r in self._reasons], dtype=bool)

    def as_tuple(self) -> tuple[str | None, ...]:
        return tuple(self._reasons)


def mark_nonfinite(reasons: Reasons, **arrays: np.ndarray) -> None:
    """Give every example with a NaN or infinite sample in any array a reason."""
    for name, array in arrays.items():
        counts = np.sum(~np.isfinite(array), axis=1)
        for index in np.flatnonzero(counts):
            reasons.set(int(index), f"{name} has {int(counts[index])} non-finite samples (NaN or inf)")


def mark_silent(reasons: Reasons, **arrays: np.ndarray) -> None:
    """Give every example whose signal in any array is silent a reason."""
    for name, array in arrays.items():
        with np.errstate(invalid="ignore", over="ignore"):
            silent = rms(array) < SILENCE_RMS
        reasons.mark(silent, f"{name} is silent (RMS < {SILENCE_RMS:g}); the metric is undefined")


def zero_bad_rows(array: np.ndarray, bad: np.ndarray) -> np.ndarray:
    """Copy of ``array`` with the rows already marked bad set to zero.

    Vectorised maths then runs on clean numbers without warnings; the bad rows' values
    are overwritten with NaN afterwards anyway.
    """
    clean = array.copy()
    clean[bad] = 0.0
    return clean
