"""The conditioning of one velocity evaluation: everything but the noisy state and the time."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from .config import SamAudioConfig


@dataclass(frozen=True)
class Conditioning:
    """Prompt and mixture inputs, batched along dim 0.

    mixture: (B, T, 2C), the mixture latent concatenated twice (SAM Audio's ``audio_features``).
    text / text_mask: (B, L, Dtxt) token features and (B, L) bool, True = real token; None = no text.
    video: (B, Dv, T) features or None (None skips the video path; zeros do not).
    anchor_ids / anchor_alignment: (B, A) anchor tokens and (B, T) per-frame indices into them.
    audio_mask: (B, T) bool, True = real frame; masks self-attention keys.
    """

    mixture: Tensor
    text: Tensor | None = None
    text_mask: Tensor | None = None
    video: Tensor | None = None
    anchor_ids: Tensor | None = None
    anchor_alignment: Tensor | None = None
    audio_mask: Tensor | None = None

    @property
    def batch_size(self) -> int:
        return self.mixture.shape[0]

    @property
    def n_frames(self) -> int:
        return self.mixture.shape[1]

    def replace(self, **changes: Any) -> Conditioning:
        """A copy with the named fields changed (``dataclasses.replace``: unknown names raise)."""
        return dataclasses.replace(self, **changes)

    def _map(self, fn: Callable[[Tensor], Tensor]) -> Conditioning:
        mapped: dict[str, Tensor | None] = {
            f.name: (None if (v := getattr(self, f.name)) is None else fn(v)) for f in dataclasses.fields(self)
        }
        return Conditioning(**mapped)  # type: ignore[arg-type]  # mixture is never None, so never mapped to None

    def to(self, device: torch.device | str | None = None, dtype: torch.dtype | None = None) -> Conditioning:
        """Move to a device; floating tensors also take ``dtype`` (masks and ids keep theirs)."""

        def move(v: Tensor) -> Tensor:
            return v.to(device=device, dtype=dtype if (dtype is not None and v.is_floating_point()) else None)

        return self._map(move)

    def select(self, index: Tensor | Sequence[int]) -> Conditioning:
        """The examples at ``index`` (along the batch), in that order."""
        idx = torch.as_tensor(index, dtype=torch.long, device=self.mixture.device)
        return self._map(lambda v: v.index_select(0, idx))

    @staticmethod
    def concat(parts: Sequence[Conditioning]) -> Conditioning:
        """Stack several conditionings along the batch (all must have the same optional inputs)."""
        fields = [f.name for f in dataclasses.fields(Conditioning)]
        merged: dict[str, Tensor | None] = {}
        for name in fields:
            values = [getattr(p, name) for p in parts]
            present = [v is not None for v in values]
            if any(present) and not all(present):
                raise ValueError(f"cannot concatenate conditionings: {name!r} is set in some and None in others")
            merged[name] = torch.cat(values, 0) if all(present) else None
        return Conditioning(**merged)  # type: ignore[arg-type]  # mixture is always set, so concatenated

    def check(self, cfg: SamAudioConfig, x_t: Tensor) -> None:
        """Raise a ValueError naming the input and the expected shape when anything is off."""
        B, T, S = x_t.shape if x_t.dim() == 3 else (None, None, None)
        if x_t.dim() != 3 or cfg.state_channels != S:
            raise ValueError(f"x_t has shape {tuple(x_t.shape)}; expected (B, T, {cfg.state_channels})")
        _expect(self.mixture, "mixture", (B, T, cfg.state_channels))
        if self.text is None and self.text_mask is not None:
            raise ValueError("text_mask is given without text features")
        if self.text is not None:
            _expect(self.text, "text", (B, None, cfg.text_dim))
            if self.text_mask is not None:
                _expect(self.text_mask, "text_mask", (B, self.text.shape[1]), dtype=torch.bool)
                empty = (~self.text_mask.any(-1)).nonzero().flatten().tolist()
                if empty:
                    raise ValueError(
                        f"text_mask has no real token for batch rows {empty}; give at least one "
                        "token per row, or pass text=None to condition on time alone"
                    )
        if self.video is not None:
            _expect(self.video, "video", (B, cfg.vision_dim, T))
        if (self.anchor_ids is None) != (self.anchor_alignment is None):
            raise ValueError("anchor_ids and anchor_alignment must be given together")
        if self.anchor_ids is not None and self.anchor_alignment is not None:  # both or neither, checked above
            _expect(self.anchor_ids, "anchor_ids", (B, None), dtype=torch.long)
            _expect(self.anchor_alignment, "anchor_alignment", (B, T), dtype=torch.long)
            n_rows = cfg.num_anchors + 1
            if self.anchor_ids.numel() and (self.anchor_ids.min() < 0 or self.anchor_ids.max() >= n_rows):
                raise ValueError(
                    f"anchor_ids must lie in [0, {n_rows - 1}] (0 <null>, 1 +, 2 -, {cfg.num_anchors} pad); "
                    f"got values in [{int(self.anchor_ids.min())}, {int(self.anchor_ids.max())}]"
                )
            A = self.anchor_ids.shape[1]
            if self.anchor_alignment.min() < 0 or self.anchor_alignment.max() >= A:
                raise ValueError(f"anchor_alignment must index the {A} anchors: values in [0, {A - 1}]")
        if self.audio_mask is not None:
            _expect(self.audio_mask, "audio_mask", (B, T), dtype=torch.bool)
            empty = (~self.audio_mask.any(-1)).nonzero().flatten().tolist()
            if empty:
                raise ValueError(f"audio_mask has no real frame for batch rows {empty}")


def _expect(value: Tensor, name: str, shape: tuple, dtype: torch.dtype | None = None) -> None:
    ok = value.dim() == len(shape) and all(s is None or s == v for s, v in zip(shape, value.shape, strict=True))
    if not ok:
        pretty = tuple("*" if s is None else s for s in shape)
        raise ValueError(f"{name} has shape {tuple(value.shape)}; expected {pretty}")
    if dtype is not None and value.dtype != dtype:
        raise ValueError(f"{name} has dtype {value.dtype}; expected {dtype}")
