"""The DiT's building blocks, written to read like SAMAUDIO.md section 8-9.

Attention has two paths that compute the same function (to float round-off):
- a fast path through ``F.scaled_dot_product_attention`` when nobody needs the probabilities;
- an explicit path that materialises them when ``hook_pattern`` has a hook of any kind (a
  TransformerLens hook, a cache, an intervention, or a plain ``register_forward_hook`` /
  pre-hook as nnsight, pyvene and baukit register) or when a pattern override (uniform
  weights, a frozen or cached pattern) is set.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformer_lens.hook_points import HookPoint

from .config import SamAudioConfig


class RMSNorm(nn.Module):
    """``z * rsqrt(mean(z^2) + eps) * weight``, computed in float32 whatever the input dtype."""

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: Tensor) -> Tensor:
        z = x.float()
        z = z * torch.rsqrt(z.pow(2).mean(-1, keepdim=True) + self.eps)
        return (z * self.weight.float()).to(x.dtype)


class SwiGLU(nn.Module):
    """``w2(silu(w1 x) * w3 x)`` with bias-free projections (feed-forward, time and context MLPs)."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int) -> None:
        super().__init__()
        self.w1 = nn.Linear(in_dim, hidden, bias=False)
        self.w2 = nn.Linear(hidden, out_dim, bias=False)
        self.w3 = nn.Linear(in_dim, hidden, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return self.w2(F.silu(self.w1(x)) * self.w3(x))


def modulate(z: Tensor, shift: Tensor, scale: Tensor) -> Tensor:
    return z * (1 + scale) + shift


class RotaryEmbedding(nn.Module):
    """Rotates adjacent channel pairs (2j, 2j+1) of each head by ``p * theta^(-2j/hd)``."""

    def __init__(self, head_dim: int, theta: float) -> None:
        super().__init__()
        self.head_dim = head_dim
        self.theta = theta
        self.register_buffer("inv_freq", torch.empty(0), persistent=False)
        self.reset_buffers()

    def reset_buffers(self) -> None:
        """(Re)build the frequencies: they are not in the state dict, so a model materialised
        from the meta device (``load_model``) needs them again."""
        self.inv_freq = 1.0 / (self.theta ** (torch.arange(0, self.head_dim, 2, dtype=torch.float32) / self.head_dim))
        self._table: tuple[int, torch.device, Tensor, Tensor] | None = None

    def _cos_sin(self, n_positions: int, device: torch.device) -> tuple[Tensor, Tensor]:
        # The table only depends on the length: computing it once per length keeps it off the
        # per-step hot path of a sampler.
        cached = self._table
        if cached is None or cached[0] != n_positions or cached[1] != device:
            positions = torch.arange(n_positions, dtype=torch.float32, device=device)
            angles = torch.outer(positions, self.inv_freq.to(device))
            cached = (n_positions, device, angles.cos(), angles.sin())
            self._table = cached
        return cached[2], cached[3]

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, T, H, hd) -> the same, rotated by position along T."""
        cos, sin = self._cos_sin(x.shape[1], x.device)
        cos, sin = cos[None, :, None, :], sin[None, :, None, :]
        pairs = x.float().unflatten(-1, (-1, 2))
        a, b = pairs[..., 0], pairs[..., 1]
        rotated = torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1)
        return rotated.flatten(-2).to(x.dtype)


@dataclass(frozen=True)
class AttentionCall:
    """What a pattern override may need to know about the call it is answering."""

    batch: int
    n_heads: int
    n_queries: int
    n_keys: int
    key_mask: Tensor | None  # (B, n_keys) bool, True = attend; None = all keys
    dtype: torch.dtype
    device: torch.device

    def uniform_pattern(self) -> Tensor:
        """Uniform weights over unmasked keys, shaped (B, H, n_queries, n_keys)."""
        if self.key_mask is None:
            weights = torch.full(
                (self.batch, 1, 1, self.n_keys), 1.0 / self.n_keys, dtype=torch.float32, device=self.device
            )
        else:
            allowed = self.key_mask.to(torch.float32)[:, None, None, :]
            weights = allowed / allowed.sum(-1, keepdim=True)
        return weights.expand(self.batch, self.n_heads, self.n_queries, self.n_keys).to(self.dtype)


class PatternOverride(Protocol):
    """Decides the attention probabilities of one call.

    ``compute`` runs the real QK^T + softmax (so an override that does not call it skips that
    work, which is how LSAC saves compute); the return value is used as the pattern. Returning
    None means "not overriding this call": attention then runs as if no override were set (the
    fused fast path when no hook needs the pattern), so an inactive override changes nothing,
    bit for bit.
    """

    def __call__(self, compute: Callable[[], Tensor], call: AttentionCall) -> Tensor | None: ...


def pattern_of(override: PatternOverride | None, compute: Callable[[], Tensor], call: AttentionCall) -> Tensor:
    """The pattern attention would use under ``override``: its answer, or the computed pattern
    when there is no override or it declines the call. Overrides stacked on top of another one
    (interventions, LSAC) read "the pattern" through this."""
    pattern = None if override is None else override(compute, call)
    return compute() if pattern is None else pattern


def has_any_hook(module: nn.Module) -> bool:
    """Whether a forward on ``module`` would call anybody's hook.

    TransformerLens' own list (``HookPoint.fwd_hooks``) only knows hooks added through
    ``add_hook``; nnsight, pyvene and baukit call ``register_forward_hook`` (or a pre-hook)
    directly, and a global module hook fires on every module. Any of them needs the pattern
    materialised, or it would silently never fire.
    """
    return bool(
        module._forward_hooks
        or module._forward_pre_hooks
        or nn.modules.module._global_forward_hooks
        or nn.modules.module._global_forward_pre_hooks
    )


class Attention(nn.Module):
    """Multi-head attention with SAM Audio's strided head split, qk-norm and optional RoPE.

    Hook shapes follow TransformerLens: q, k, v, z are (B, pos, head, d_head); the pattern is
    (B, head, query_pos, key_pos). ``hook_in`` sees the query-side input.
    """

    def __init__(self, cfg: SamAudioConfig, rope: bool) -> None:
        super().__init__()
        d = cfg.dim
        self.n_heads = cfg.n_heads
        self.head_dim = cfg.head_dim
        self.wq = nn.Linear(d, d, bias=False)
        self.wk = nn.Linear(d, d, bias=False)
        self.wv = nn.Linear(d, d, bias=False)
        self.wo = nn.Linear(d, d, bias=False)
        self.q_norm: RMSNorm | None = None
        self.k_norm: RMSNorm | None = None
        if cfg.qk_norm:
            self.q_norm = RMSNorm(cfg.head_dim, cfg.norm_eps)
            self.k_norm = RMSNorm(cfg.head_dim, cfg.norm_eps)
        self.rope = RotaryEmbedding(cfg.head_dim, cfg.rope_theta) if rope else None
        self.hook_in = HookPoint()
        self.hook_q = HookPoint()
        self.hook_k = HookPoint()
        self.hook_v = HookPoint()
        self.hook_pattern = HookPoint()
        self.hook_z = HookPoint()
        self.pattern_override: PatternOverride | None = None

    # TransformerLens' per-head weight views, honouring the strided head split (channel c of a
    # projection belongs to head c % H) and the head-major merge before ``wo``. Queries and keys
    # are read before qk-norm and RoPE, as in TransformerLens' rotary models.

    @property
    def W_Q(self) -> Tensor:
        """(H, d_model, d_head): q[..., h, :] = x @ W_Q[h] (before qk-norm and RoPE)."""
        return self._input_weights(self.wq)

    @property
    def W_K(self) -> Tensor:
        return self._input_weights(self.wk)

    @property
    def W_V(self) -> Tensor:
        return self._input_weights(self.wv)

    @property
    def W_O(self) -> Tensor:
        """(H, d_head, d_model): the output is sum_h z[..., h, :] @ W_O[h]."""
        return self.wo.weight.T.reshape(self.n_heads, self.head_dim, -1)

    def _input_weights(self, linear: nn.Linear) -> Tensor:
        return linear.weight.reshape(self.head_dim, self.n_heads, -1).permute(1, 2, 0)

    def split_heads(self, x: Tensor) -> Tensor:
        """(B, T, d) -> (B, T, H, hd); channel c goes to head c % H at position c // H."""
        return x.unflatten(-1, (self.head_dim, self.n_heads)).transpose(-1, -2)

    def _queries_keys(self, x: Tensor, context: Tensor) -> tuple[Tensor, Tensor]:
        q = self.split_heads(self.wq(x))
        k = self.split_heads(self.wk(context))
        if self.q_norm is not None and self.k_norm is not None:  # both or neither (cfg.qk_norm)
            q, k = self.q_norm(q), self.k_norm(k)
        if self.rope is not None:
            q, k = self.rope(q), self.rope(k)
        return self.hook_q(q), self.hook_k(k)

    def forward(self, x: Tensor, context: Tensor | None = None, key_mask: Tensor | None = None) -> Tensor:
        x = self.hook_in(x)
        context = x if context is None else context
        v = self.hook_v(self.split_heads(self.wv(context)))

        def compute() -> Tensor:
            q, k = self._queries_keys(x, context)
            scores = (q.transpose(1, 2).float() @ k.permute(0, 2, 3, 1).float()) / math.sqrt(self.head_dim)
            if key_mask is not None:
                scores = scores.masked_fill(~key_mask[:, None, None, :], float("-inf"))
            return scores.softmax(-1).to(v.dtype)

        pattern = None
        if self.pattern_override is not None:
            call = AttentionCall(
                batch=x.shape[0],
                n_heads=self.n_heads,
                n_queries=x.shape[1],
                n_keys=context.shape[1],
                key_mask=key_mask,
                dtype=v.dtype,
                device=v.device,
            )
            pattern = self.pattern_override(compute, call)
        if pattern is None and has_any_hook(self.hook_pattern):
            pattern = compute()
        if pattern is None:
            # Nobody needs the probabilities: the fused kernel computes the same function.
            q, k = self._queries_keys(x, context)
            mask = None if key_mask is None else key_mask[:, None, None, :]
            z = F.scaled_dot_product_attention(
                q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), attn_mask=mask
            ).transpose(1, 2)
        else:
            pattern = self.hook_pattern(pattern)
            z = (pattern @ v.transpose(1, 2)).transpose(1, 2)
        z = self.hook_z(z)
        return self.wo(z.flatten(-2))  # heads merged head-major: channel = h * hd + p

    @contextlib.contextmanager
    def overriding_pattern(self, override: PatternOverride) -> Iterator[None]:
        """Use ``override`` for this module's patterns inside the block, restored on exit or error."""
        previous = self.pattern_override
        self.pattern_override = override
        try:
            yield
        finally:
            self.pattern_override = previous


class DiTBlock(nn.Module):
    """adaLN-modulated self-attention, ungated cross-attention to the text memory, gated SwiGLU MLP."""

    def __init__(self, cfg: SamAudioConfig) -> None:
        super().__init__()
        self.attention_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.attention = Attention(cfg, rope=cfg.use_rope)
        self.cross_attention = Attention(cfg, rope=False)
        self.ffn_norm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.feed_forward = SwiGLU(cfg.dim, cfg.ffn_hidden, cfg.dim)
        self.scale_shift_table = nn.Parameter(torch.zeros(6, cfg.dim))
        self.hook_resid_pre = HookPoint()
        self.hook_mods = HookPoint()  # (B, 6, d): shift/scale/gate for attention, then for the MLP
        self.hook_attn_out = HookPoint()  # self-attention output before its gate
        self.hook_resid_mid = HookPoint()  # after the gated self-attention residual add
        self.hook_cross_out = HookPoint()  # cross-attention output before its residual add
        self.hook_resid_cross = HookPoint()  # after the cross-attention residual add
        self.hook_mlp_out = HookPoint()  # MLP output before its gate
        self.hook_resid_post = HookPoint()

    # TransformerLens names for the attentions (``model.blocks[l].attn.W_O``). Properties, not
    # submodules: the official parameter names (``attention.wq``) stay the only ones in the state dict.
    @property
    def attn(self) -> Attention:
        return self.attention

    @property
    def cross_attn(self) -> Attention:
        return self.cross_attention

    def forward(
        self,
        x: Tensor,
        t6: Tensor,
        context: Tensor,
        context_mask: Tensor | None,
        audio_mask: Tensor | None,
    ) -> Tensor:
        x = self.hook_resid_pre(x)
        mods = self.hook_mods(self.scale_shift_table + t6.unflatten(-1, (6, -1)))
        shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mods.unsqueeze(2).unbind(1)

        attn_in = modulate(self.attention_norm(x), shift_msa, scale_msa)
        h = x + gate_msa * self.hook_attn_out(self.attention(attn_in, key_mask=audio_mask))
        h = self.hook_resid_mid(h)
        # The only place text reaches the audio stream: no norm, no modulation, no gate.
        h = h + self.hook_cross_out(self.cross_attention(h, context=context, key_mask=context_mask))
        h = self.hook_resid_cross(h)
        mlp_in = modulate(self.ffn_norm(h), shift_mlp, scale_mlp)
        out = h + gate_mlp * self.hook_mlp_out(self.feed_forward(mlp_in))
        return self.hook_resid_post(out)
