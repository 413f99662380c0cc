"""Speech clips and degraded versions of them for the metric tests.

The clips are 3 s of espeak-ng speech at 16 kHz (``data/make_clips.sh`` regenerates them),
so no test needs espeak-ng. Every random draw comes from a seeded generator.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile

DATA = Path(__file__).parent / "data"
SAMPLE_RATE = 16000
CLIP_NAMES = ("male", "female", "male2")


def load_clip(name: str) -> np.ndarray:
    audio, rate = soundfile.read(DATA / f"{name}.flac", dtype="float64")
    assert rate == SAMPLE_RATE and audio.ndim == 1
    return audio


@pytest.fixture(scope="session")
def clips() -> dict[str, np.ndarray]:
    return {name: load_clip(name) for name in CLIP_NAMES}


@pytest.fixture(scope="session")
def separation_case(clips):
    """Targets, interferers, mixtures and four kinds of imperfect estimates, batched (4, N).

    Row k of every array belongs together: a target speaker, a different interfering
    speaker, their mixture, and an estimate with one characteristic flaw (leaked
    interference, additive noise, a short echo, or all three) on top of light noise.
    """
    rng = np.random.default_rng(20240611)
    targets = np.stack([clips["male"], clips["female"], clips["male2"], clips["female"]])
    interferers = np.stack([clips["female"], clips["male"], clips["female"], clips["male2"]])
    interferers = 0.8 * interferers
    mixtures = targets + interferers
    noise = rng.standard_normal(targets.shape) * 0.02
    echo = np.stack([np.convolve(t, [0.0] * 40 + [0.5, 0.25])[: t.size] for t in targets])
    # Every estimate carries some white noise, so every SAR is a finite, meaningful number.
    estimates = np.stack([
        targets[0] + 0.3 * interferers[0] + 0.1 * noise[0],
        targets[1] + noise[1],
        targets[2] + echo[2] + 0.2 * noise[2],
        0.7 * targets[3] + 0.2 * interferers[3] + noise[3] + echo[3],
    ])
    return {"target": targets, "interference": interferers, "mixture": mixtures,
            "estimate": estimates}
