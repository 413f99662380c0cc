"""Long audio in overlapping windows: no crash, the input's length, an exact crossfade."""

from __future__ import annotations

import itertools
import math
import warnings

import pytest
import torch

from latentflow.audio.windows import Windows, overlap_add, separate_long, window_span
from latentflow.model import sample
from latentflow.model_names import load_separator


def test_windows_cover_the_clip_and_the_last_ends_at_its_end():
    windows = Windows.plan(10_000, window=1_000, overlap=250)
    assert windows.starts[:3] == (0, 750, 1500) and windows.starts[-1] == 9_000
    assert all(b - a <= 750 for a, b in itertools.pairwise(windows.starts))
    assert Windows.plan(800, 1_000, 250) == Windows((0,), 800, 0)  # short clips run whole
    with pytest.raises(ValueError, match="between 0 and half the window"):
        Windows.plan(5_000, 1_000, 501)


def test_crossfade_of_agreeing_windows_is_the_signal_itself():
    signal = torch.sin(torch.arange(9_130, dtype=torch.float64) * 0.01)
    windows = Windows.plan(len(signal), window=1_000, overlap=300)
    pieces = [signal[s:s + windows.length] for s in windows.starts]
    assert torch.allclose(overlap_add(pieces, windows, len(signal)), signal, atol=1e-12)


def test_crossfade_between_two_constant_windows_is_a_raised_cosine():
    windows = Windows.plan(1_700, window=1_000, overlap=300)
    assert windows.starts == (0, 700)
    out = overlap_add([torch.full((1_000,), 1.0), torch.full((1_000,), 3.0)], windows, 1_700)
    assert torch.all(out[:700] == 1.0) and torch.all(out[1_000:] == 3.0)
    phase = (torch.arange(300, dtype=torch.float64) + 0.5) / 300
    expected = 1.0 + 2.0 * torch.sin(0.5 * math.pi * phase) ** 2
    assert torch.allclose(out[700:1_000].double(), expected, atol=1e-6)
    assert torch.all(out[700:1_000].diff() > 0)  # a smooth move from one estimate to the other


def test_window_span():
    assert window_span((1.0, 2.5), 2.0, 4.0) == (0.0, 0.5)
    assert window_span((1.0, 2.5), 3.0, 4.0) is None
    assert window_span(None, 0.0, 4.0) is None


@pytest.fixture(scope="module")
def separator():
    return load_separator("fixture")


def test_long_input_in_small_windows(separator):
    rate = separator.codec.sample_rate
    mixture = 0.1 * torch.randn(12 * rate + 123, generator=torch.Generator().manual_seed(0))
    target, residual = separate_long(separator, mixture, prompt="a man speaking", window_seconds=0.8,
                                     overlap_seconds=0.2, steps=1)
    assert target.shape == residual.shape == mixture.shape
    assert torch.isfinite(target).all() and target.abs().max() > 0
    assert torch.allclose(target + residual, mixture, atol=1e-6)
    # before the first crossfade the output is exactly the Separator's own on the first window
    first = separator.separate(mixtures=mixture[: int(0.8 * rate)][None], prompts=["a man speaking"], steps=1,
                               seeds=[0])
    assert torch.allclose(target[: int(0.6 * rate)], first.target[0, : int(0.6 * rate)], atol=1e-6)


def test_a_clip_within_one_window_is_separated_whole(separator):
    rate = separator.codec.sample_rate
    mixture = 0.1 * torch.randn(2 * rate, generator=torch.Generator().manual_seed(1))
    target, _ = separate_long(separator, mixture, prompt="a dog barking", steps=2, seed=3)
    whole = separator.separate(mixtures=mixture[None], prompts=["a dog barking"], steps=2, seeds=[3])
    assert torch.equal(target, whole.target[0])


def test_span_only_and_a_span_past_the_end(separator):
    rate = separator.codec.sample_rate
    mixture = 0.1 * torch.randn(3 * rate, generator=torch.Generator().manual_seed(2))
    with pytest.warns(UserWarning, match=r"\(1, 5\) s runs past the end of the 3 s mixture; clipped to \(1, 3\) s"):
        target, _ = separate_long(separator, mixture, span=(1.0, 5.0), window_seconds=1.2, overlap_seconds=0.4, steps=1)
    assert target.shape == mixture.shape
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        clipped, _ = separate_long(
            separator, mixture, span=(1.0, 3.0), window_seconds=1.2, overlap_seconds=0.4, steps=1
        )
    assert torch.equal(target, clipped)
    with pytest.raises(ValueError, match="text prompt, a span, or both"):
        separate_long(separator, mixture)


def test_a_window_the_span_does_not_reach_is_all_outside(separator):
    from latentflow.pipeline import ALIGN_OUTSIDE

    rate = separator.codec.sample_rate
    mixture = 0.1 * torch.randn(3 * rate, generator=torch.Generator().manual_seed(4))
    target, _ = separate_long(separator, mixture, span=(2.4, 3.0), window_seconds=1.2, overlap_seconds=0.4, steps=1)
    chunk = mixture[: int(1.2 * rate)][None]
    cond = separator.conditioning(mixtures=chunk, spans=[None], prompt_kind="span")
    outside = cond.replace(anchor_alignment=torch.full_like(cond.anchor_alignment, ALIGN_OUTSIDE))
    expected = separator.decode(sample(separator.model, outside, steps=1, method="euler", seeds=[0]).final, chunk)[0]
    unmarked = separator.decode(sample(separator.model, cond, steps=1, method="euler", seeds=[0]).final, chunk)[0]
    head = int(0.8 * rate)  # before the first crossfade
    assert torch.allclose(target[:head], expected[0, :head], atol=1e-6)
    assert not torch.allclose(target[:head], unmarked[0, :head], atol=1e-4)
