"""A random-weight SAM Audio folder in the official layout (``latentflow make-test-model DIR``).

The folder is what facebook/sam-audio-* publishes, at tiny widths: ``config.json`` (official
fields), ``checkpoint.pt`` (one state dict: the DiT and wrapper, ``audio_codec.*`` and a few
``vision_encoder.*`` / ``visual_ranker.*`` tensors that a loader must report as skipped), and a
tiny randomly initialised T5 saved locally under ``<DIR>/<text_encoder.name>`` (config, weights
and a word-level tokenizer built here: no download). The codec is real DAC-VAE at 48 kHz, hop
1920, with small widths (C = 8 by default). The same seed writes the same files, byte for byte
in their tensors; the verdicts on such a model mean nothing: it exists to test the path.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

TEXT_ENCODER_NAME = "tiny-t5"
# A fixed word list for the tokenizer: the words of the tier prompts and a few more; anything
# else becomes <unk>, which is enough for a random encoder.
WORDS = [
    "a", "an", "the", "of", "and", "in", "with", "on", "man", "woman", "speaking", "speech", "talking", "voice",
    "person", "male", "female", "speaker", "music", "sound", "noise", "dog", "barking", "siren", "engine", "rain",
    "birds", "alarm", "knocking", "car", "bell", "water", "wind", "child", "laughing", "singing", "other",
    "background", "loud", "quiet",
]


def make_test_model(folder: str | Path, *, seed: int = 0, dim: int = 64, n_heads: int = 4, n_layers: int = 2,
                    codebook_dim: int = 8, text_dim: int = 32) -> Path:
    from latentflow.audio.dacvae import DACVAE, DACVAEConfig
    from latentflow.model import build_model
    from latentflow.model.config import SamAudioConfig
    from latentflow.model.official_config import TextEncoderSpec, official_config_dict

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cfg = SamAudioConfig(dim=dim, n_heads=n_heads, n_layers=n_layers, latent_channels=codebook_dim,
                         text_dim=text_dim, vision_dim=16, anchor_embedding_dim=16, name="test-model")
    codec_cfg = DACVAEConfig(encoder_dim=4, latent_dim=32, codebook_dim=codebook_dim, decoder_dim=96)
    text = TextEncoderSpec(name=TEXT_ENCODER_NAME, max_length=64, dim=text_dim)
    model = build_model(cfg, seed=seed)
    torch.manual_seed(seed + 1)
    codec = DACVAE(codec_cfg)
    state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    state.update({f"audio_codec.{k}": v.detach().clone() for k, v in codec.state_dict().items()})
    generator = torch.Generator().manual_seed(seed + 2)
    for name, shape in (("vision_encoder.proj.weight", (16, 8)), ("visual_ranker.head.weight", (1, 8))):
        state[name] = torch.randn(shape, generator=generator)
    torch.save(state, folder / "checkpoint.pt")
    (folder / "config.json").write_text(json.dumps(official_config_dict(cfg, codec_cfg, text), indent=2) + "\n")
    write_tiny_t5(folder / TEXT_ENCODER_NAME, text_dim, seed + 3)
    return folder


def write_tiny_t5(folder: Path, width: int, seed: int) -> None:
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast, T5Config, T5EncoderModel

    specials = ["<pad>", "</s>", "<unk>"]  # T5's ids: pad 0, eos 1, unk 2
    vocab = {token: i for i, token in enumerate(specials + sorted(set(WORDS)))}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    tokenizer.normalizer = normalizers.Lowercase()
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    # T5 appends </s> to every input
    tokenizer.post_processor = processors.TemplateProcessing(single="$A </s>", special_tokens=[("</s>", 1)])
    fast = PreTrainedTokenizerFast(tokenizer_object=tokenizer, pad_token="<pad>", eos_token="</s>",
                                   unk_token="<unk>", model_max_length=512)
    config = T5Config(vocab_size=len(vocab), d_model=width, d_kv=8, d_ff=2 * width, num_layers=2, num_heads=4,
                      pad_token_id=0, eos_token_id=1)
    # not a T5Config parameter in transformers 5 (only a kept extra key), but config.json has carried it
    config.decoder_start_token_id = 0
    torch.manual_seed(seed)
    model = T5EncoderModel(config).eval()
    folder.mkdir(parents=True, exist_ok=True)
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()  # one tiny shard: a progress bar is noise
    try:
        model.save_pretrained(folder)
        fast.save_pretrained(folder)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()
