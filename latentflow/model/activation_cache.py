"""TransformerLens' ``ActivationCache`` for SAM Audio's blocks, which are not GPT-2's.

``SamAudioModel.run_with_cache`` returns this subclass of ``transformer_lens.ActivationCache``, so
``cache.to``, ``remove_batch_dim``, ``stack_activation``, ``cache["resid_pre", 3]`` and the other
generic helpers are TransformerLens' own. The helpers that assume a GPT-2 block are redone for
this block, which writes three things into the residual stream, not two:

    resid_pre -> + gate_msa * attn_out -> resid_mid -> + cross_out -> resid_cross
              -> + gate_mlp * mlp_out -> resid_post

(the gates are the adaLN vectors in ``hook_mods``; ``hook_attn_out`` and ``hook_mlp_out`` see the
outputs before their gates; the cross-attention is added ungated). ``hook_embed`` is the first
block's input, so the embedding plus every block's three contributions is the last ``resid_post``.

Helpers that cannot mean anything here raise ``NotImplementedError`` with the reason (the README's
"TransformerLens helpers" table lists them).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from transformer_lens import ActivationCache
from transformer_lens.utilities import Slice

# Rows of ``hook_mods`` (B, 6, d): shift, scale, gate for the self-attention, then for the MLP.
MOD_GATE_ATTENTION, MOD_GATE_MLP = 2, 5
ATTENTION_KINDS = ("self", "cross", "both")

_NO_LN = (
    "apply_ln is not supported: every norm in SAM Audio's DiT is modulated per example by adaLN "
    "(a scale and shift computed from the flow time), and the output head's norm is modulated too, "
    "so TransformerLens' fixed-LayerNorm folding does not describe it. The normalised, modulated "
    "stream before the output head is cached as 'hook_final'."
)
_NO_VOCABULARY = (
    "is not supported: SAM Audio has no vocabulary or unembedding; its output is a velocity "
    "(hook_velocity), not logits"
)
_NO_NEURONS = (
    "is not supported: the MLP is a SwiGLU (w2(silu(w1 x) * w3 x)) whose hidden activation has "
    "no hook point, so per-neuron contributions cannot be read from a cache"
)


class SamAudioActivationCache(ActivationCache):
    """``ActivationCache`` whose residual helpers know SAM Audio's three-part block."""

    def apply_slice_to_batch_dim(self, batch_slice: Any) -> SamAudioActivationCache:
        """TransformerLens' slicing, keeping this class (TL's returns a plain ActivationCache)."""
        sliced = super().apply_slice_to_batch_dim(batch_slice)
        return type(self)(sliced.cache_dict, self.model, has_batch_dim=sliced.has_batch_dim)

    # -- residual stream ------------------------------------------------------------------

    def accumulated_resid(
        self,
        layer: int | None = None,
        incl_mid: bool = False,
        apply_ln: bool = False,
        pos_slice: Any = None,
        mlp_input: bool = False,
        return_labels: bool = False,
    ):
        """The residual stream at every point up to the input of ``layer`` (all layers by default).

        As TransformerLens', with this block's two middle points: ``incl_mid=True`` adds, for each
        earlier layer, ``{l}_mid`` (after the self-attention) and ``{l}_cross`` (after the
        cross-attention); ``mlp_input=True`` adds both for ``layer`` itself (the MLP reads
        ``{l}_cross``). Labels: ``{l}_pre``, ``{l}_mid``, ``{l}_cross``, ``final_post``.
        """
        _refuse_ln(apply_ln)
        layer = self._layer(layer)
        n_layers = self.model.cfg.n_layers
        components, labels = [], []
        for index in range(layer + 1):
            if index == n_layers:
                components.append(self[("resid_post", n_layers - 1)])
                labels.append("final_post")
                continue
            components.append(self[("resid_pre", index)])
            labels.append(f"{index}_pre")
            if (incl_mid and index < layer) or (mlp_input and index == layer):
                components += [self[("resid_mid", index)], self[f"blocks.{index}.hook_resid_cross"]]
                labels += [f"{index}_mid", f"{index}_cross"]
        return self._stacked(components, labels, pos_slice, return_labels)

    def decompose_resid(
        self,
        layer: int | None = None,
        mlp_input: bool = False,
        mode: str = "all",
        apply_ln: bool = False,
        pos_slice: Any = None,
        incl_embeds: bool = True,
        return_labels: bool = False,
    ):
        """What each component wrote into the stream entering ``layer``; they sum to it.

        Components: ``embed`` (``hook_embed``, the first block's input), then per earlier layer
        ``{l}_attn_out`` (``gate_msa * hook_attn_out``), ``{l}_cross_out`` (``hook_cross_out``)
        and ``{l}_mlp_out`` (``gate_mlp * hook_mlp_out``). ``mode``: ``"all"``, ``"attn"`` (both
        attentions) or ``"mlp"``. ``mlp_input=True`` adds ``layer``'s two attention outputs (the
        MLP's input). With ``layer=None`` and ``mode="all"`` the sum is the last ``resid_post``.
        """
        _refuse_ln(apply_ln)
        if mode not in ("all", "attn", "mlp"):
            raise ValueError(f"mode {mode!r}: allowed 'all', 'attn', 'mlp'")
        layer = self._layer(layer)
        incl_attn, incl_mlp = mode != "mlp", mode != "attn"
        components, labels = [], []
        if incl_embeds:
            components.append(self["hook_embed"])
            labels.append("embed")
        for index in range(layer):
            if incl_attn:
                components += [self.attention_contribution(index), self[("cross_out", index)]]
                labels += [f"{index}_attn_out", f"{index}_cross_out"]
            if incl_mlp:
                components.append(self.mlp_contribution(index))
                labels.append(f"{index}_mlp_out")
        if mlp_input and incl_attn:
            components += [self.attention_contribution(layer), self[("cross_out", layer)]]
            labels += [f"{layer}_attn_out", f"{layer}_cross_out"]
        return self._stacked(components, labels, pos_slice, return_labels)

    def attention_contribution(self, layer: int) -> Tensor:
        """``gate_msa * hook_attn_out``: what block ``layer``'s self-attention adds to the stream."""
        return self._gate(layer, MOD_GATE_ATTENTION) * self[("attn_out", layer)]

    def mlp_contribution(self, layer: int) -> Tensor:
        """``gate_mlp * hook_mlp_out``: what block ``layer``'s MLP adds to the stream."""
        return self._gate(layer, MOD_GATE_MLP) * self[("mlp_out", layer)]

    # -- heads ----------------------------------------------------------------------------

    def compute_head_results(self, attention: str = "self") -> None:
        """Cache each head's contribution to the stream as ``blocks.{l}.attn.hook_result`` /
        ``blocks.{l}.cross_attn.hook_result`` (..., pos, head, d_model), from ``hook_z`` and
        ``W_O``; self-attention heads include the block's gate, so they sum to
        ``attention_contribution(l)``, and cross-attention heads sum to ``hook_cross_out``."""
        for kind in _kinds(attention):
            for index in range(self.model.cfg.n_layers):
                self.cache_dict[_result_name(kind, index)] = self._head_results(kind, index)

    def _ensure_head_results(self) -> bool:
        self.compute_head_results("both")
        return False

    def stack_head_results(
        self,
        layer: int = -1,
        return_labels: bool = False,
        incl_remainder: bool = False,
        pos_slice: Any = None,
        apply_ln: bool = False,
        attention: str = "self",
    ):
        """Every head's contribution to the stream, for layers before ``layer``, stacked first.

        As TransformerLens' (labels ``L{l}H{h}``), plus ``attention="cross"`` (labels
        ``L{l}C{h}``) or ``"both"`` (each layer's self- then cross-attention heads). With
        ``incl_remainder`` the last entry is ``resid_post`` of ``layer - 1`` minus all heads.
        """
        _refuse_ln(apply_ln)
        layer = self._layer(layer)
        pos_slice = pos_slice if isinstance(pos_slice, Slice) else Slice(pos_slice)
        heads, labels = [], []
        for index in range(layer):
            for kind in _kinds(attention):
                result = self._head_results(kind, index)  # (..., pos, head, d_model)
                heads.append(pos_slice.apply(result, dim=-3).movedim(-2, 0))  # heads first
                letter = "H" if kind == "self" else "C"
                labels += [f"L{index}{letter}{h}" for h in range(self.model.cfg.n_heads)]
        reference = pos_slice.apply(self[("resid_post", max(layer - 1, 0))], dim=-2)
        stacked = torch.cat(heads) if heads else reference.new_zeros((0, *reference.shape))
        if incl_remainder:
            remainder = reference - stacked.sum(0) if layer > 0 else reference
            stacked = torch.cat([stacked, remainder[None]])
            labels.append("remainder")
        return (stacked, labels) if return_labels else stacked

    def _head_results(self, kind: str, layer: int) -> Tensor:
        block = self.model.blocks[layer]
        attention = block.attn if kind == "self" else block.cross_attn
        prefix = "attn" if kind == "self" else "cross_attn"
        z = self[f"blocks.{layer}.{prefix}.hook_z"]
        weights = attention.W_O.to(z.dtype)
        result = torch.einsum("...hd,hdm->...hm", z, weights)
        if kind == "self":
            result = result * self._gate(layer, MOD_GATE_ATTENTION).unsqueeze(-2)
        return result

    # -- what does not apply --------------------------------------------------------------

    def apply_ln_to_stack(self, *args: Any, **kwargs: Any):
        raise NotImplementedError(_NO_LN)

    def logit_lens(self, *args: Any, **kwargs: Any):
        raise NotImplementedError("logit_lens " + _NO_VOCABULARY)

    def logit_attrs(self, *args: Any, **kwargs: Any):
        raise NotImplementedError("logit_attrs " + _NO_VOCABULARY)

    def get_neuron_results(self, *args: Any, **kwargs: Any):
        raise NotImplementedError("get_neuron_results " + _NO_NEURONS)

    def stack_neuron_results(self, *args: Any, **kwargs: Any):
        raise NotImplementedError("stack_neuron_results " + _NO_NEURONS)

    def get_full_resid_decomposition(self, *args: Any, **kwargs: Any):
        raise NotImplementedError(
            "get_full_resid_decomposition " + _NO_NEURONS + "; decompose_resid and stack_head_results "
            "(attention='both') decompose the stream by block and by head"
        )

    # -- helpers --------------------------------------------------------------------------

    def _layer(self, layer: int | None) -> int:
        n_layers = self.model.cfg.n_layers
        if layer is None or layer == -1:
            return n_layers
        if not isinstance(layer, int) or not 0 <= layer <= n_layers:
            raise ValueError(f"layer {layer!r}: allowed 0..{n_layers}, -1 or None (all layers)")
        return layer

    def _gate(self, layer: int, row: int) -> Tensor:
        """The adaLN gate vector (..., d) of block ``layer``, shaped to broadcast over positions."""
        return self[("mods", layer)][..., row, :].unsqueeze(-2)

    @staticmethod
    def _stacked(components: list[Tensor], labels: list[str], pos_slice: Any, return_labels: bool):
        pos_slice = pos_slice if isinstance(pos_slice, Slice) else Slice(pos_slice)
        stacked = torch.stack([pos_slice.apply(c, dim=-2) for c in components])
        return (stacked, labels) if return_labels else stacked


def _refuse_ln(apply_ln: bool) -> None:
    if apply_ln:
        raise NotImplementedError(_NO_LN)


def _kinds(attention: str) -> tuple[str, ...]:
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"attention {attention!r}: allowed {', '.join(map(repr, ATTENTION_KINDS))}")
    return ("self", "cross") if attention == "both" else (attention,)


def _result_name(kind: str, layer: int) -> str:
    return f"blocks.{layer}.{'attn' if kind == 'self' else 'cross_attn'}.hook_result"


__all__ = ["SamAudioActivationCache"]
