"""SAM Audio's separation model, hookable (TransformerLens), with its sampler and checkpoints."""

from __future__ import annotations

from .activation_cache import SamAudioActivationCache
from .blocks import AttentionCall, PatternOverride, pattern_of
from .checkpoint import CheckpointError, LoadReport, infer_config, load_model, read_tensors, save_model
from .conditioning import Conditioning
from .config import SamAudioConfig, preset, preset_names
from .dit import CONDITIONED_SITES, SamAudioModel, SamplingState, build_model, hook_alias
from .sampler import SampleOutput, initial_noise, sample

__all__ = [
    "CONDITIONED_SITES",
    "AttentionCall",
    "CheckpointError",
    "Conditioning",
    "LoadReport",
    "PatternOverride",
    "SamAudioActivationCache",
    "SamAudioConfig",
    "SamAudioModel",
    "SampleOutput",
    "SamplingState",
    "build_model",
    "hook_alias",
    "infer_config",
    "initial_noise",
    "load_model",
    "pattern_of",
    "preset",
    "preset_names",
    "read_tensors",
    "sample",
    "save_model",
]
