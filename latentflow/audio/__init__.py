"""Audio for latentflow: file I/O, the espeak-ng speech pool, procedural environmental
sounds, and the three separation tiers (Clean / Noisy / Env).

The codec and text-encoder modules (``latentflow.audio.codec``, ``latentflow.audio.text``)
sit beside these; import from them directly.
"""

from __future__ import annotations

from latentflow.audio.environmental import ENV_CLASS_NAMES, ENV_CLASSES, generate_env
from latentflow.audio.io import AudioFileError, fixtures_root, read_audio, resample, write_audio
from latentflow.audio.speech import SAMPLE_RATE, SENTENCES, VOICES, SpeechPool, Utterance, Voice, load_pool
from latentflow.audio.tiers import (
    SPEECH_PROMPTS,
    MixtureBatch,
    MixtureExample,
    MixtureSampler,
    SourceInfo,
    TierConfig,
    all_prompts,
    make_example,
    make_examples,
    prompts_for,
    stack_examples,
)

__all__ = [
    "ENV_CLASSES",
    "ENV_CLASS_NAMES",
    "SAMPLE_RATE",
    "SENTENCES",
    "SPEECH_PROMPTS",
    "VOICES",
    "AudioFileError",
    "MixtureBatch",
    "MixtureExample",
    "MixtureSampler",
    "SourceInfo",
    "SpeechPool",
    "TierConfig",
    "Utterance",
    "Voice",
    "all_prompts",
    "fixtures_root",
    "generate_env",
    "load_pool",
    "make_example",
    "make_examples",
    "prompts_for",
    "read_audio",
    "resample",
    "stack_examples",
    "write_audio",
]
