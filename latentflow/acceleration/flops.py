"""Analytic FLOP counts of the SAM Audio DiT, per block, per evaluation and per sampling run.

Conventions (one FLOP = one floating-point add or multiply):

* A matrix product of (n, a) by (a, b) costs ``2 n a b``; a bias adds ``n b``.
* Element-wise costs per element: RMSNorm 4 (square, accumulate, scale by the reciprocal
  root, scale by the weight), RoPE 3 (two products and a sum per rotated channel), softmax 5
  (max, subtract, exp, sum, divide), the 1/sqrt(d_head) score scale 1, SiLU 4, the SwiGLU
  gate product 1, adaLN modulation 2 (scale and shift), a gated residual add 2, a residual
  add 1, GroupNorm 5, LayerNorm 8. Masking (a select) and the per-row reciprocal roots are
  not counted.
* Padded frames and padded text tokens are counted: the model computes them.

Self-attention of one block on T frames (d = width, H heads, B examples):

    q, k, v, o projections   4 x 2 B T d^2
    qk-norm                  2 x 4 B T d          (when the config has qk_norm)
    RoPE on q and k          2 x 3 B T d          (when the config uses RoPE)
    QK^T and its scale       2 B H T^2 (d/H) + B H T^2
    softmax                  5 B H T^2
    P @ V                    2 B H T^2 (d/H)

The *pattern* part, what a reused pattern saves, is q and k projections, qk-norm, RoPE, QK^T,
the scale and softmax; v and o projections and P @ V are always computed. Cross-attention,
the SwiGLU MLP, norms and modulation, the input side (projection, ResNet patch embedder, time
and context embedders, text projection, optional video and anchor paths), the output head and
the sampler's own updates are counted too, so "total" means the whole sampling run.
"""

from __future__ import annotations

from dataclasses import dataclass

from latentflow.model import SamAudioConfig
from latentflow.model.sampler import EVALUATIONS_PER_STEP

from .record import ComputeRecord


@dataclass(frozen=True)
class Costs:
    """FLOPs per element of the non-matrix operations (see the module docstring)."""

    rmsnorm: float = 4
    rope: float = 3
    softmax: float = 5
    score_scale: float = 1
    silu: float = 4
    gate_product: float = 1
    modulate: float = 2
    gated_residual: float = 2
    residual: float = 1
    groupnorm: float = 5
    layernorm: float = 8
    bias: float = 1  # per output element of a biased projection


DEFAULT_COSTS = Costs()
# Matrix products only: what torch.utils.flop_counter counts, used to check this module.
MATMUL_ONLY = Costs(**dict.fromkeys(Costs.__dataclass_fields__, 0))


def linear(rows: float, fan_in: int, fan_out: int, bias: bool = False, costs: Costs = DEFAULT_COSTS) -> float:
    return 2.0 * rows * fan_in * fan_out + (costs.bias * rows * fan_out if bias else 0.0)


def swiglu(rows: float, fan_in: int, hidden: int, fan_out: int, costs: Costs = DEFAULT_COSTS) -> float:
    gate = rows * hidden * (costs.silu + costs.gate_product)
    return linear(rows, fan_in, hidden) * 2 + linear(rows, hidden, fan_out) + gate


@dataclass(frozen=True)
class AttentionFlops:
    """One attention module's cost, split so the pattern part can be read off."""

    q_proj: float
    k_proj: float
    v_proj: float
    o_proj: float
    qk_norm: float
    rope: float
    scores: float  # QK^T and the 1/sqrt(d_head) scale
    softmax: float
    pv: float

    @property
    def pattern(self) -> float:
        """What a reused pattern saves: q/k projections, qk-norm, RoPE, QK^T, scale, softmax."""
        return self.q_proj + self.k_proj + self.qk_norm + self.rope + self.scores + self.softmax

    @property
    def total(self) -> float:
        return self.pattern + self.v_proj + self.o_proj + self.pv


def attention_flops(
    cfg: SamAudioConfig, batch: int, n_queries: int, n_keys: int, *, rope: bool, costs: Costs = DEFAULT_COSTS
) -> AttentionFlops:
    d, H, hd = cfg.dim, cfg.n_heads, cfg.head_dim
    q_rows, k_rows = batch * n_queries, batch * n_keys
    products = batch * H * n_queries * n_keys
    return AttentionFlops(
        q_proj=linear(q_rows, d, d),
        k_proj=linear(k_rows, d, d),
        v_proj=linear(k_rows, d, d),
        o_proj=linear(q_rows, d, d),
        qk_norm=costs.rmsnorm * d * (q_rows + k_rows) if cfg.qk_norm else 0.0,
        rope=costs.rope * d * (q_rows + k_rows) if rope else 0.0,
        scores=2.0 * products * hd + costs.score_scale * products,
        softmax=costs.softmax * products,
        pv=2.0 * products * hd,
    )


@dataclass(frozen=True)
class BlockFlops:
    self_attention: AttentionFlops
    cross_attention: AttentionFlops
    mlp: float
    other: float  # norms, adaLN modulation, gates, residual adds

    @property
    def total(self) -> float:
        return self.self_attention.total + self.cross_attention.total + self.mlp + self.other


def block_flops(
    cfg: SamAudioConfig, n_frames: int, n_text: int, batch: int = 1, costs: Costs = DEFAULT_COSTS
) -> BlockFlops:
    """One DiT block on ``batch`` examples of ``n_frames`` frames and ``n_text`` memory tokens
    (``n_text`` = 1 when there is no text: the memory is then the time term alone)."""
    d, rows = cfg.dim, batch * n_frames
    c = costs
    other = rows * d * (2 * c.rmsnorm + 2 * c.modulate + 2 * c.gated_residual + c.residual)
    other += batch * 6 * d * c.residual  # the block's adaLN table added to the shared time vector
    return BlockFlops(
        self_attention=attention_flops(cfg, batch, n_frames, n_frames, rope=cfg.use_rope, costs=costs),
        cross_attention=attention_flops(cfg, batch, n_frames, n_text, rope=False, costs=costs),
        mlp=swiglu(rows, d, cfg.ffn_hidden, d, costs),
        other=other,
    )


@dataclass(frozen=True)
class EvaluationFlops:
    """One velocity evaluation: the input side, ``n_layers`` identical blocks, the output head."""

    inputs: float
    block: BlockFlops
    n_layers: int
    head: float

    @property
    def total(self) -> float:
        return self.inputs + self.n_layers * self.block.total + self.head


def evaluation_flops(
    cfg: SamAudioConfig,
    n_frames: int,
    n_text: int | None,
    batch: int = 1,
    *,
    video: bool = False,
    anchors: bool = False,
    costs: Costs = DEFAULT_COSTS,
) -> EvaluationFlops:
    """``n_text`` None means no text (memory = the time term, one token)."""
    d, C, rows, c = cfg.dim, cfg.latent_channels, batch * n_frames, costs
    memory_rows = batch * (1 if n_text is None else n_text)
    inputs = linear(rows, 6 * C, d, True, c)
    # Patch embedder: a ResNet block of two (GroupNorm, SiLU, Conv1d k=3) and a residual add.
    inputs += 2 * (rows * d * (c.groupnorm + c.silu) + linear(rows, 3 * d, d, True, c)) + rows * d * c.residual
    if video:
        inputs += linear(rows, cfg.vision_dim, d, True, c) + rows * d * (c.layernorm + c.gated_residual)
    if anchors:
        inputs += linear(rows, cfg.anchor_embedding_dim, d) + rows * d * c.gated_residual
    if n_text is not None:
        inputs += linear(memory_rows, cfg.text_dim, d, True, c) + memory_rows * d * c.residual
    inputs += swiglu(memory_rows, d, d, d, c)  # context embedder y
    inputs += swiglu(batch, cfg.frequency_embedding_dim, d, d, c)  # time embedder
    inputs += batch * d * c.silu + linear(batch, d, 6 * d, True, c)  # t_block
    head = rows * d * (c.rmsnorm + c.modulate) + linear(rows, d, 2 * C)
    n_text_tokens = 1 if n_text is None else n_text
    block = block_flops(cfg, n_frames, n_text_tokens, batch, c)
    return EvaluationFlops(inputs=inputs, block=block, n_layers=cfg.n_layers, head=head)


def sampler_update_flops(
    cfg: SamAudioConfig, n_frames: int, method: str, batch: int = 1, costs: Costs = DEFAULT_COSTS
) -> float:
    """The integrator's own arithmetic per step (x + dt v; midpoint also forms the midpoint)."""
    elements = batch * n_frames * cfg.state_channels
    return elements * costs.gated_residual * EVALUATIONS_PER_STEP[method]


@dataclass(frozen=True)
class RunFlops:
    """FLOPs of one sampling run (all examples of its batch)."""

    self_attention: float
    self_attention_pattern: float
    total: float
    n_evaluations: int

    def saved_vs(self, reference: RunFlops) -> tuple[float, float]:
        """(self-attention saved, total saved), fractions of the reference run's FLOPs."""
        return 1.0 - self.self_attention / reference.self_attention, 1.0 - self.total / reference.total

    def __add__(self, other: RunFlops) -> RunFlops:
        return RunFlops(
            self.self_attention + other.self_attention,
            self.self_attention_pattern + other.self_attention_pattern,
            self.total + other.total,
            self.n_evaluations + other.n_evaluations,
        )


def count_run(
    cfg: SamAudioConfig,
    record: ComputeRecord,
    n_frames: int,
    n_text: int | None,
    *,
    video: bool = False,
    anchors: bool = False,
    costs: Costs = DEFAULT_COSTS,
) -> RunFlops:
    """FLOPs of the run described by ``record``: what it computed, not what it planned."""
    if record.n_layers != cfg.n_layers:
        raise ValueError(f"record has {record.n_layers} layers, the config {cfg.n_layers}")
    per_row = evaluation_flops(cfg, n_frames, n_text, 1, video=video, anchors=anchors, costs=costs)
    block, sa = per_row.block, per_row.block.self_attention
    self_attention = pattern = total = 0.0
    for evaluation in record.evaluations:
        rows = evaluation.batch
        total += rows * (per_row.inputs + per_row.head)
        for layer in range(cfg.n_layers):
            if not evaluation.blocks_run[layer]:
                continue
            computed = evaluation.pattern_rows[layer]
            reused = rows - computed
            self_attention += rows * sa.total - reused * sa.pattern
            pattern += computed * sa.pattern
            total += rows * block.total - reused * sa.pattern
    total += record.n_steps * sampler_update_flops(cfg, n_frames, record.method, record.batch, costs)
    return RunFlops(
        self_attention=self_attention, self_attention_pattern=pattern, total=total, n_evaluations=record.n_evaluations
    )


def pattern_share(cfg: SamAudioConfig, n_frames: int) -> float:
    """Share of one block's self-attention FLOPs that a reused pattern saves."""
    sa = attention_flops(cfg, 1, n_frames, n_frames, rope=cfg.use_rope)
    return sa.pattern / sa.total


def count_for(cfg: SamAudioConfig, record: ComputeRecord, cond, costs: Costs = DEFAULT_COSTS) -> RunFlops:
    """:func:`count_run` with the sizes read off the run's ``Conditioning``."""
    n_text = None if cond.text is None else int(cond.text.shape[1])
    return count_run(
        cfg, record, cond.n_frames, n_text,
        video=cond.video is not None, anchors=cond.anchor_ids is not None, costs=costs,
    )


def self_attention_saving(cfg: SamAudioConfig, record: ComputeRecord, cond, costs: Costs = DEFAULT_COSTS) -> float:
    """Share of the full run's self-attention FLOPs that the run ``record`` describes skipped."""
    full = ComputeRecord.full(cfg.n_layers, record.n_steps, record.method, record.batch)
    return count_for(cfg, record, cond, costs).saved_vs(count_for(cfg, full, cond, costs))[0]
