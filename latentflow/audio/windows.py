"""Separating audio of any length: overlapping windows, each run by the Separator, crossfaded.

Self-attention over T latent frames holds an (H, T, T) pattern per block: a 10-minute file is
15,000 frames at 25 frames/s, a 5.4 GB allocation for one attention call, and the model never
saw a context that long. Long audio is therefore cut into windows of ``window_seconds`` that
overlap by ``overlap_seconds``; each window is separated on its own (same prompt, same noise
seed) and the outputs are overlap-added with complementary raised-cosine fades, so that where
two windows agree the output is exactly their common value and where they differ it moves
smoothly from one to the other.

Defaults (``DEFAULT_WINDOW_SECONDS``, ``DEFAULT_OVERLAP_SECONDS``): 4 s windows, the clip length
the bundled model was trained on (fixtures/MODEL_CARD.md: 100 latent frames), so each window
looks like its training data; 1 s of overlap (25 frames), long enough for a fade that hides
the seam between two independent estimates, at 4 / 3 of the compute of cutting without overlap.
Both are rounded to whole latent frames. A clip no longer than one window is separated whole,
exactly as ``Separator.separate`` does. The last window ends at the clip's end (it overlaps its
neighbour by more than ``overlap_seconds`` rather than being padded with silence the model never
heard), and the weights are normalised, so any number of overlapping windows adds up correctly.

A span (``(start, end)`` seconds on the whole clip) is given to each window as the part of it
that falls inside the window; a window the span does not reach marks all its frames as outside
the span (SAM Audio's ``-`` anchor), which is what the span says about them.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

DEFAULT_WINDOW_SECONDS = 4.0
DEFAULT_OVERLAP_SECONDS = 1.0


@dataclass(frozen=True)
class Windows:
    """Where the windows of a clip start and how long they and their fades are, in samples."""

    starts: tuple[int, ...]
    length: int  # every window's length (the whole clip when it fits in one)
    fade: int  # the raised-cosine ramp at each inner window edge

    @classmethod
    def plan(cls, n_samples: int, window: int, overlap: int) -> Windows:
        """Windows of ``window`` samples every ``window - overlap``, the last ending at the end."""
        if n_samples < 1:
            raise ValueError(f"nothing to separate: the clip has {n_samples} samples")
        if not 0 <= 2 * overlap <= window:
            # a window's fade-in and fade-out must not overlap each other
            raise ValueError(f"overlap {overlap} samples must be between 0 and half the window ({window})")
        if n_samples <= window:
            return cls((0,), n_samples, 0)
        step = window - overlap
        starts = [*range(0, n_samples - window, step), n_samples - window]
        return cls(tuple(starts), window, overlap)

    def weights(self, index: int, dtype: torch.dtype = torch.float32) -> Tensor:
        """Window ``index``'s weight per sample: 1 inside, raised-cosine ramps at inner edges.

        The ramps are sin^2 / cos^2 of the same phase, so two windows overlapping by exactly
        ``fade`` samples have weights summing to 1; the samples sit at half-sample phases so no
        weight is 0 (every sample of the clip has a positive total weight).
        """
        w = torch.ones(self.length, dtype=torch.float64)
        if self.fade:
            phase = (torch.arange(self.fade, dtype=torch.float64) + 0.5) / self.fade
            rise = torch.sin(0.5 * math.pi * phase) ** 2
            if index > 0:
                w[: self.fade] = rise
            if index < len(self.starts) - 1:
                w[-self.fade :] = rise.flip(0)
        return w.to(dtype)


def overlap_add(pieces: Sequence[Tensor], windows: Windows, n_samples: int) -> Tensor:
    """Crossfade per-window outputs (..., window length) into one (..., n_samples) signal."""
    if len(pieces) != len(windows.starts):
        raise ValueError(f"{len(pieces)} pieces for {len(windows.starts)} windows")
    total = torch.zeros((*pieces[0].shape[:-1], n_samples), dtype=torch.float64)
    weight = torch.zeros(n_samples, dtype=torch.float64)
    for index, (piece, start) in enumerate(zip(pieces, windows.starts, strict=True)):
        w = windows.weights(index)
        total[..., start : start + windows.length] += w * piece.double()
        weight[start : start + windows.length] += w
    return (total / weight).to(pieces[0].dtype)


def window_span(span: tuple[float, float] | None, start: float, end: float) -> tuple[float, float] | None:
    """The part of ``span`` inside ``[start, end)`` seconds, relative to ``start``; None outside."""
    if span is None or span[1] <= start or span[0] >= end:
        return None
    return max(span[0], start) - start, min(span[1], end) - start


def separate_long(
    separator,
    mixture: Tensor,
    *,
    prompt: str | None = None,
    span: tuple[float, float] | None = None,
    window_seconds: float = DEFAULT_WINDOW_SECONDS,
    overlap_seconds: float = DEFAULT_OVERLAP_SECONDS,
    steps: int = 16,
    method: str = "euler",
    seed: int = 0,
    show_progress: bool = False,
) -> tuple[Tensor, Tensor]:
    """Separate one mono clip (S,) of any length; returns (target, residual), each (S,).

    ``prompt`` (text) and/or ``span`` must be given; ``show_progress`` draws a tqdm bar (on
    stderr) over the windows. A span past the clip's end is clipped with a warning.
    """
    from tqdm import tqdm

    from latentflow.model import sample
    from latentflow.pipeline import ALIGN_OUTSIDE, check_span

    if mixture.dim() != 1:
        raise ValueError(f"mixture must be one mono waveform (S,), got shape {tuple(mixture.shape)}")
    if prompt is None and span is None:
        raise ValueError("give a text prompt, a span, or both")
    from latentflow.pipeline import SAMPLE_RATE

    # The mixture is at the pipeline's rate (16 kHz); the separator resamples each window to its
    # codec's rate, so a latent frame is hop / codec-rate seconds, i.e. this many input samples.
    rate = SAMPLE_RATE
    hop = round(rate * separator.codec.hop / separator.codec.sample_rate)
    duration = mixture.shape[-1] / rate
    if span is not None:
        span = check_span(span, duration)
    kind = "+".join(k for k, given in (("text", prompt is not None), ("span", span is not None)) if given)
    window = _whole_frames(window_seconds, rate, hop, "window_seconds", minimum=1)
    overlap = _whole_frames(overlap_seconds, rate, hop, "overlap_seconds", minimum=0)
    windows = Windows.plan(mixture.shape[-1], window, overlap)
    targets = []
    bar = tqdm(windows.starts, unit="window", desc="separating", file=sys.stderr,
               disable=not show_progress or len(windows.starts) == 1)
    for start in bar:
        chunk = mixture[start : start + windows.length][None]
        local = window_span(span, start / rate, (start + windows.length) / rate)
        cond = separator.conditioning(mixtures=chunk, prompts=None if prompt is None else [prompt],
                                      spans=[local], prompt_kind=kind)
        if span is not None and local is None:
            cond = cond.replace(anchor_alignment=torch.full_like(cond.anchor_alignment, ALIGN_OUTSIDE))
        state = sample(separator.model, cond, steps=steps, method=method, seeds=[seed]).final
        targets.append(separator.decode(state, chunk, seeds=[seed])[0][0])
    target = overlap_add(targets, windows, mixture.shape[-1])
    return target, mixture.to(target.dtype) - target


def _whole_frames(seconds: float, rate: int, hop: int, name: str, minimum: int) -> int:
    """``seconds`` as a whole number of latent frames, in samples (so window frames line up)."""
    if not math.isfinite(seconds) or seconds < 0:
        raise ValueError(f"{name}={seconds!r} must be a non-negative number of seconds")
    frames = round(seconds * rate / hop)
    if frames < minimum:
        raise ValueError(f"{name}={seconds!r} is less than one latent frame ({hop / rate:g} s)")
    return frames * hop


__all__ = [
    "DEFAULT_OVERLAP_SECONDS",
    "DEFAULT_WINDOW_SECONDS",
    "Windows",
    "overlap_add",
    "separate_long",
    "window_span",
]
