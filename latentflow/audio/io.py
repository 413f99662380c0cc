"""Reading and writing audio files with soundfile, with errors that name the file and problem.

Every failure raises :class:`AudioFileError` (a ``ValueError``) whose message starts with the
path, so a command-line user sees which file is wrong and why: missing, not audio at all,
an undecodable sample format, empty, or holding non-finite samples. Resampling goes through
``torchaudio.functional.resample`` (band-limited sinc interpolation).

Also here: :func:`fixtures_root`, the one place that decides where the repository's
``fixtures/`` folder is (``LATENTFLOW_FIXTURES`` overrides it).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile
import torch
import torchaudio.functional

# Container formats `write_audio` chooses by file extension, and the 16-bit subtype each
# one can hold. OGG stores Vorbis (lossy), which is why it is not offered.
WRITE_FORMATS = {".wav": ("WAV", "PCM_16"), ".flac": ("FLAC", "PCM_16")}
WRITE_SUBTYPES = ("PCM_16", "PCM_24", "FLOAT")

FIXTURES_ENV_VAR = "LATENTFLOW_FIXTURES"


class AudioFileError(ValueError):
    """An audio file that cannot be read or written; ``path`` and ``problem`` say which and why."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


def read_audio(
    path: str | os.PathLike,
    sample_rate: int | None = None,
    mono: bool = True,
) -> tuple[torch.Tensor, int]:
    """Read an audio file as float32 in [-1, 1].

    Returns ``(waveform, rate)``: ``waveform`` is (frames,) when ``mono`` (channels are
    averaged) and (channels, frames) otherwise; ``rate`` is ``sample_rate`` when given (the
    file is resampled to it), else the file's own rate.
    """
    path = Path(path)
    if sample_rate is not None:
        _check_rate(sample_rate, "sample_rate")
    if not path.exists():
        raise AudioFileError(path, "no such file")
    if path.is_dir():
        raise AudioFileError(path, "is a directory, not an audio file")
    if path.stat().st_size == 0:
        raise AudioFileError(path, "file is empty (0 bytes)")
    try:
        info = soundfile.info(str(path))
    except soundfile.LibsndfileError as err:
        raise AudioFileError(
            path,
            f"not a readable audio file ({err.error_string}); readable formats: "
            f"{', '.join(sorted(soundfile.available_formats()))}",
        ) from err
    if info.frames == 0:
        raise AudioFileError(path, f"contains no audio samples ({info.format}, {info.subtype})")
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as err:
        raise AudioFileError(
            path, f"cannot decode sample format {info.subtype!r} in a {info.format} file ({err})"
        ) from err
    if data.shape[0] == 0:
        raise AudioFileError(path, "contains no audio samples")
    if not np.isfinite(data).all():
        # Float WAVs can carry NaN/inf; they would poison every later computation.
        raise AudioFileError(path, "contains NaN or infinite samples")
    waveform = torch.from_numpy(np.ascontiguousarray(data.T))  # (channels, frames)
    if mono:
        waveform = waveform.mean(dim=0)
    if sample_rate is not None and sample_rate != rate:
        waveform = resample(waveform, rate, sample_rate)
        rate = sample_rate
    return waveform, int(rate)


def write_audio(
    path: str | os.PathLike,
    waveform: torch.Tensor | np.ndarray,
    sample_rate: int,
    subtype: str | None = None,
) -> Path:
    """Write (frames,) or (channels, frames) float audio as WAV or FLAC (chosen by extension).

    Samples must be finite and, for the integer subtypes, within [-1, 1]: silently clipping a
    separated source would corrupt it, so out-of-range audio is an error naming the peak.
    """
    path = Path(path)
    _check_rate(sample_rate, "sample_rate")
    suffix = path.suffix.lower()
    if suffix not in WRITE_FORMATS:
        raise AudioFileError(
            path, f"cannot write extension {path.suffix!r}; allowed: {', '.join(WRITE_FORMATS)}"
        )
    fmt, default_subtype = WRITE_FORMATS[suffix]
    subtype = default_subtype if subtype is None else subtype
    if subtype not in WRITE_SUBTYPES or (fmt == "FLAC" and subtype == "FLOAT"):
        allowed = [s for s in WRITE_SUBTYPES if not (fmt == "FLAC" and s == "FLOAT")]
        raise AudioFileError(path, f"subtype {subtype!r} not allowed for {fmt}; allowed: {allowed}")
    data = waveform.detach().cpu().numpy() if isinstance(waveform, torch.Tensor) else np.asarray(waveform)
    if data.ndim not in (1, 2) or data.size == 0:
        raise AudioFileError(
            path, f"waveform must be non-empty (frames,) or (channels, frames); got shape {data.shape}"
        )
    if not np.issubdtype(data.dtype, np.floating):
        raise AudioFileError(path, f"waveform must be floating point; got dtype {data.dtype}")
    if not np.isfinite(data).all():
        raise AudioFileError(path, "waveform contains NaN or infinite samples")
    peak = float(np.abs(data).max())
    if subtype != "FLOAT" and peak > 1.0:
        raise AudioFileError(
            path, f"waveform peak {peak:.4f} exceeds 1.0 and would clip in {subtype}; scale it down"
        )
    frames_first = data if data.ndim == 1 else data.T
    if not path.parent.exists():
        raise AudioFileError(path, f"folder {path.parent} does not exist")
    soundfile.write(str(path), frames_first, sample_rate, format=fmt, subtype=subtype)
    return path


def resample(waveform: torch.Tensor, orig_rate: int, new_rate: int) -> torch.Tensor:
    """Resample along the last axis with torchaudio's band-limited sinc interpolation."""
    _check_rate(orig_rate, "orig_rate")
    _check_rate(new_rate, "new_rate")
    if orig_rate == new_rate:
        return waveform
    return torchaudio.functional.resample(waveform, orig_rate, new_rate)


def fixtures_root() -> Path:
    """The repository's ``fixtures/`` folder, or ``$LATENTFLOW_FIXTURES`` when set.

    The folder is not shipped in the wheel (see pyproject), so an installed package must be
    pointed at a checkout's ``fixtures/`` through the environment variable.
    """
    override = os.environ.get(FIXTURES_ENV_VAR, "").strip()
    if override:
        root = Path(override)
        if not root.is_dir():
            raise FileNotFoundError(f"{FIXTURES_ENV_VAR}={override!r} is not a directory")
        return root
    root = Path(__file__).resolve().parents[2] / "fixtures"
    if not root.is_dir():
        raise FileNotFoundError(
            f"latentflow fixtures not found at {root} (they live in the repository, not in the "
            f"installed package); set {FIXTURES_ENV_VAR} to a checkout's fixtures/ folder"
        )
    return root


def _check_rate(rate: int, name: str) -> None:
    if isinstance(rate, bool) or not isinstance(rate, (int, np.integer)) or rate <= 0:
        raise ValueError(f"{name} must be a positive integer (Hz); got {rate!r}")
