"""SAM Audio's separation model as a TransformerLens ``HookedRootModule``.

Module and parameter names are the official ones (``proj``, ``memory_proj``,
``transformer.layers.3.attention.wq`` ...) so checkpoints load with strict key matching; hook
points get TransformerLens-style names (``blocks.3.attn.hook_pattern``) through ``hook_alias``.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import cast

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from transformer_lens import HookedRootModule
from transformer_lens.hook_points import HookPoint

from .activation_cache import SamAudioActivationCache
from .blocks import Attention, DiTBlock, RMSNorm, modulate
from .conditioning import Conditioning
from .config import SamAudioConfig
from .embedders import AnchorEmbedder, ContextEmbedder, PatchEmbedder, TimestepEmbedder, VideoAligner, sinusoid
from .hook_names import NamesSpec, names_filter


@dataclass(frozen=True)
class SamplingState:
    """Where a sampler is: hooks read it from ``model.sampling`` to act only on some steps."""

    step: int  # 0-based integration step
    n_steps: int
    t: float  # time of this evaluation
    evaluation: int  # 0-based index of this velocity evaluation within the step (midpoint has 2)
    method: str


# ``runner(index, run, x) -> x``: decides how block ``index`` turns its input stream ``x`` into
# its output; ``run(x)`` is the block itself (with this evaluation's time, context and masks).
# Acceleration methods that skip blocks (DeepCache-style caching) plug in here.
BlockRunner = Callable[[int, Callable[[Tensor], Tensor], Tensor], Tensor]


class DiT(nn.Module):
    """``transformer.*``: patch embedder, time and context embedders, blocks, adaLN output head."""

    def __init__(self, cfg: SamAudioConfig) -> None:
        super().__init__()
        d = cfg.dim
        self.x_embedder = PatchEmbedder(d)
        self.t_embedder = TimestepEmbedder(d, cfg.frequency_embedding_dim)
        self.t_block = nn.Linear(d, 6 * d, bias=True)
        self.y_embedder = ContextEmbedder(d)
        self.layers = nn.ModuleList(DiTBlock(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(d, cfg.norm_eps)
        self.final_layer_scale_shift_table = nn.Parameter(torch.zeros(2, d))
        self.output = nn.Linear(d, cfg.state_channels, bias=False)
        self.hook_embed = HookPoint()  # after the patch embedder
        self.hook_context = HookPoint()  # y, shared by every block's cross-attention
        self.hook_final = HookPoint()  # the modulated, normalised stream before the output head
        self.block_runner: BlockRunner | None = None

    def forward(
        self,
        h: Tensor,
        t: Tensor,
        memory: Tensor,
        memory_mask: Tensor | None,
        audio_mask: Tensor | None,
    ) -> Tensor:
        x = self.hook_embed(self.x_embedder(h))
        tvec = self.t_embedder(t).to(x.dtype)
        t6 = self.t_block(F.silu(tvec))
        y = self.hook_context(self.y_embedder(memory))
        for index, block in enumerate(self.layers):
            if self.block_runner is None:
                x = block(x, t6, y, memory_mask, audio_mask)
            else:

                def run(h: Tensor, block: nn.Module = block) -> Tensor:
                    return block(h, t6, y, memory_mask, audio_mask)

                x = self.block_runner(index, run, x)
        shift, scale = (self.final_layer_scale_shift_table + tvec[:, None, :]).unsqueeze(2).unbind(1)
        return self.output(self.hook_final(modulate(self.norm(x), shift, scale)))

    @contextlib.contextmanager
    def running_blocks(self, runner: BlockRunner) -> Iterator[None]:
        """Let ``runner`` run the blocks inside the ``with`` block; restored on exit or error.

        A block the runner does not call fires none of its hooks for that evaluation.
        """
        previous = self.block_runner
        self.block_runner = runner
        try:
            yield
        finally:
            self.block_runner = previous


# Hook points that run only when the conditioning carries an input (see SamAudioModel.forward):
# hook name -> the Conditioning field. An intervention there does nothing without that input.
CONDITIONED_SITES = {
    "hook_video_gate": "video",
    "hook_video_add": "video",
    "hook_anchor_gate": "anchor_ids",
    "hook_anchor_add": "anchor_ids",
    "hook_text_proj": "text",
}


class SamAudioModel(HookedRootModule):
    """One velocity evaluation ``v = f(x_t, t | conditioning)`` (SAMAUDIO.md).

    ``model(x_t, t, cond)``: x_t (B, T, 2C) = [target | residual], t a float or (B,) in [0, 1].
    """

    counter_model: str | None = None  # the counter-model a copy was made into (latentflow.counter_models)

    def __init__(self, cfg: SamAudioConfig) -> None:
        super().__init__()
        self.cfg = cfg
        d, C = cfg.dim, cfg.latent_channels
        self.proj = nn.Linear(6 * C, d)
        self.align_masked_video = VideoAligner(cfg.vision_dim, d, cfg.video_gate_init)
        self.embed_anchors = AnchorEmbedder(cfg.num_anchors, cfg.anchor_embedding_dim, d, cfg.anchor_gate_init)
        self.memory_proj = nn.Linear(cfg.text_dim, d)
        self.transformer = DiT(cfg)
        self.hook_video_gate = HookPoint()  # the raw gate value, before tanh
        self.hook_video_add = HookPoint()  # tanh(gate) * video features, added to the stream
        self.hook_anchor_gate = HookPoint()  # the raw span-anchor gate (about -0.14 when released)
        self.hook_anchor_add = HookPoint()  # tanh(gate) * anchor features, added to the stream
        self.hook_text_proj = HookPoint()  # memory_proj(text): the paper's "additive text injection"
        self.hook_time_mem = HookPoint()  # the memory's parameter-free time sinusoid (B, d)
        self.hook_memory = HookPoint()  # memory = text projection + time term (B, L, d)
        self.hook_dit_in = HookPoint()  # the stream entering the DiT
        self.hook_velocity = HookPoint()
        self.sampling: SamplingState | None = None
        self.eval()
        self.setup()

    # -- hook naming -------------------------------------------------------------------------

    def setup(self) -> None:
        super().setup()
        self.hook_dict = {}
        for path, module in self.named_modules():
            if isinstance(module, HookPoint):
                alias = hook_alias(path)
                module.name = alias
                self.hook_dict[alias] = module
                self.mod_dict[alias] = module

    @property
    def blocks(self) -> nn.ModuleList:
        return self.transformer.layers

    def _apply(self, fn, *args, **kwargs):
        # Keep cfg.device / cfg.dtype (read by TransformerLens code) where the weights now are.
        result = super()._apply(fn, *args, **kwargs)
        weight = next(self.parameters(), None)
        if weight is not None:
            self.cfg = self.cfg.replace(device=str(weight.device), dtype=weight.dtype)
        return result

    def run_with_cache(
        self,
        *model_args,
        names_filter: NamesSpec = None,
        return_cache_object: bool = True,
        remove_batch_dim: bool = False,
        **kwargs,
    ):
        """TransformerLens' ``run_with_cache``: ``(output, cache)``.

        As in ``HookedTransformer``, the cache is a ``transformer_lens.ActivationCache`` (this
        architecture's subclass, ``SamAudioActivationCache``) unless ``return_cache_object=False``
        (a plain dict). ``names_filter`` is a hook name, a list of names or a callable; a name
        the model does not have is an error listing the nearest real ones.
        """
        keep = _names_filter(names_filter, self.hook_dict, where="run_with_cache names_filter")
        output, cache = super().run_with_cache(
            *model_args, names_filter=keep, remove_batch_dim=remove_batch_dim, **kwargs
        )
        if return_cache_object:
            cache = SamAudioActivationCache(cache, self, has_batch_dim=not remove_batch_dim)
        return output, cache

    def attention_modules(self, kind: str = "self") -> list[Attention]:
        """Per-block self- (``"self"``) or cross- (``"cross"``) attention modules, by layer."""
        if kind not in ("self", "cross"):
            raise ValueError(f"attention kind must be 'self' or 'cross', got {kind!r}")
        blocks = cast(list[DiTBlock], list(self.blocks))  # transformer.layers holds only DiTBlocks
        return [b.attention if kind == "self" else b.cross_attention for b in blocks]

    @contextlib.contextmanager
    def sampling_step(self, state: SamplingState) -> Iterator[None]:
        previous, self.sampling = self.sampling, state
        try:
            yield
        finally:
            self.sampling = previous

    # -- the computation ---------------------------------------------------------------------

    def forward(self, x_t: Tensor, t: Tensor | float, cond: Conditioning) -> Tensor:
        cond.check(self.cfg, x_t)
        B = x_t.shape[0]
        t = torch.as_tensor(t, dtype=torch.float32, device=x_t.device)
        t = t.expand(B) if t.dim() == 0 else t
        if t.shape != (B,):
            raise ValueError(f"t has shape {tuple(t.shape)}; expected a scalar or ({B},)")

        h = self.proj(torch.cat([x_t, torch.zeros_like(x_t), cond.mixture], dim=-1))
        # Hooks see a copy of each gate, never the nn.Parameter itself: a hook that edits its
        # input in place (``t.clamp_()``, as TransformerLens users do) must not change the weight.
        # A clone is bitwise the parameter's value and keeps gradients flowing to it.
        if cond.video is not None:
            gate = self.hook_video_gate(self.align_masked_video.gate.clone())
            h = h + self.hook_video_add(torch.tanh(gate) * self.align_masked_video.features(cond.video))
        if cond.anchor_ids is not None:
            assert cond.anchor_alignment is not None, "cond.check() above: the anchors come in pairs"
            gate = self.hook_anchor_gate(self.embed_anchors.gate.clone())
            anchors = self.embed_anchors.features(cond.anchor_ids, cond.anchor_alignment)
            h = h + self.hook_anchor_add(torch.tanh(gate) * anchors)

        half = self.cfg.dim // 2
        time_term = self.hook_time_mem(sinusoid(t, half, float(half)).to(h.dtype))[:, None, :]
        if cond.text is not None:
            memory = self.hook_text_proj(self.memory_proj(cond.text)) + time_term
            memory_mask = cond.text_mask
        else:
            memory, memory_mask = time_term, None
        memory = self.hook_memory(memory)

        v = self.transformer(self.hook_dit_in(h), t, memory, memory_mask, cond.audio_mask)
        return self.hook_velocity(v)


_names_filter = names_filter  # the method's argument shadows the function inside it


_BLOCK_PATH = re.compile(r"^transformer\.layers\.(\d+)\.(.+)$")


def hook_alias(path: str) -> str:
    """Module path of a hook point -> its TransformerLens-style name.

    ``transformer.layers.3.attention.hook_q`` -> ``blocks.3.attn.hook_q``;
    ``transformer.layers.3.cross_attention.hook_q`` -> ``blocks.3.cross_attn.hook_q``;
    ``transformer.hook_context`` -> ``hook_context``.
    """
    match = _BLOCK_PATH.match(path)
    if match:
        layer, rest = match.groups()
        rest = re.sub(r"^attention\.", "attn.", rest)
        rest = re.sub(r"^cross_attention\.", "cross_attn.", rest)
        return f"blocks.{layer}.{rest}"
    return path.removeprefix("transformer.")


def build_model(
    cfg: SamAudioConfig,
    *,
    seed: int | None = 0,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> SamAudioModel:
    """A model with deterministic random weights (``seed``), in eval mode.

    Unlike PyTorch's default init, the adaLN tables and gates are random too, so that a random
    model exercises every path (a zero gate would hide the attention entirely).
    """
    model = SamAudioModel(cfg)
    if seed is not None:
        init_random_(model, seed)
    return model.to(device=device, dtype=dtype)


@torch.no_grad()
def init_random_(model: nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    for name, param in sorted(model.named_parameters()):
        if name.endswith(".gate"):
            continue  # keep the config's gate values (e.g. the released anchor gate, -0.14)
        if name.endswith("norm.weight"):
            values = 1.0 + 0.1 * torch.randn(param.shape, generator=generator)
        elif param.dim() >= 2 and "table" not in name:
            fan_in = param[0].numel()
            values = torch.randn(param.shape, generator=generator) / fan_in**0.5
        else:  # biases, adaLN tables
            values = 0.1 * torch.randn(param.shape, generator=generator)
        param.copy_(values.to(param.dtype))
    for module in model.modules():
        if isinstance(module, nn.Embedding) and module.padding_idx is not None:
            module.weight[module.padding_idx].zero_()
