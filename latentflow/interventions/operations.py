"""What can be done at a hook site: a registry of operations, each declared as data.

An operation has a ``kind``:
- ``activation``: a function of the activation at a hook point (zero, scale, patch ...), called
  only on the selected sampler steps;
- ``pattern``: an attention-pattern override for the attention module behind a ``hook_pattern``
  site (uniform weights, freezing), called on every evaluation with ``active`` telling whether
  the step is selected, so stateful operations can record what they need before they act;
- ``scalar`` is an activation operation meant for 1-element sites such as the anchor gate;
- ``controller``: a method that follows the sampler as a whole (LSAC, adaptive refresh) for the
  layers its sites select; ``build(args)`` returns ``(model, layers) -> SamplingController``
  (see :mod:`latentflow.interventions.caching`).

Users register their own with ``register_operation`` (from a conftest.py or an entry point in
the ``latentflow.operations`` group).
"""

from __future__ import annotations

import collections.abc
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor

from ..registry import REQUIRED, Param, Registry, arg_problems, declared_params
from ..vocabulary import RENAMED, TIERS
from . import caching
from .sites import PATTERN_SITES, SCALAR_SITES, SELF_PATTERN_SITES, SiteKind


@dataclass
class InterventionContext:
    """What operations may need beyond the activation itself.

    model: the model being run (its ``sampling`` state tells the step).
    source: activations of a second run for patching, keyed by (site, step, evaluation); step and
        evaluation are None for a plain forward pass.
    example_keys: one integer per batch row, so seeded randomness depends on the example, not on
        its position in a batch.
    frame_mask: (B, T) bool, True = real frame, so temporal means skip padding.
    controllers: the controllers ``applied`` attached for controller operations (LSAC), in
        order; each one's ``record()`` says what the latest sampling call computed.
    """

    model: Any
    source: Mapping[tuple[str, int | None, int | None], Tensor] | None = None
    example_keys: Sequence[int] | None = None
    frame_mask: Tensor | None = None
    controllers: list = field(default_factory=list)

    def position(self) -> tuple[int | None, int | None]:
        state = getattr(self.model, "sampling", None)
        return (None, None) if state is None else (state.step, state.evaluation)

    def rows(self, rows: slice) -> InterventionContext:
        """The context of the batch rows ``rows`` alone (for variants sharing one forward pass;
        those need no second run, so there is no source to slice)."""
        return InterventionContext(
            model=self.model,
            example_keys=None if self.example_keys is None else list(self.example_keys)[rows],
            frame_mask=None if self.frame_mask is None else self.frame_mask[rows],
        )


ActivationFn = Callable[[Tensor, str, InterventionContext], Tensor]
PatternFn = Callable[[Callable[[], Tensor], Any, bool, InterventionContext], Tensor | None]  # None: no override


@dataclass(frozen=True)
class Operation:
    name: str
    kind: str  # "activation" | "pattern" | "scalar" | "controller"
    build: Callable[[Mapping[str, Any]], Any]  # args -> ActivationFn, a fresh PatternFn or a ControllerFactory
    params: Mapping[str, Param] = field(default_factory=dict)
    doc: str = ""
    requires_source: bool = False
    acts_on: SiteKind | None = None  # None: any site

    def bind(self, args: Mapping[str, Any] | None) -> dict[str, Any]:
        """Arguments with defaults filled in; unknown, missing or mistyped ones are errors."""
        args = dict(args or {})
        params = declared_params(self)
        problems = arg_problems(params, args)
        unknown = sorted(p.key for p in problems if p.problem == "unknown")
        renamed = [f"{key!r} is now {RENAMED[key]!r}" for key in unknown if RENAMED.get(key) in params]
        if renamed:
            raise ValueError(f"operation {self.name!r}: renamed argument: {'; '.join(renamed)}")
        if unknown:
            raise ValueError(f"operation {self.name!r} got unknown argument(s) {unknown}; allowed: {sorted(params)}")
        if problems:  # the first in the order the operation declares its parameters
            first = min(problems, key=lambda p: list(params).index(p.key))
            name, param = first.key, params[first.key]  # unknown ones were refused above
            if first.problem == "missing":
                raise ValueError(f"operation {self.name!r} needs argument {name!r} ({param.type_name()}): {param.doc}")
            allowed = f" one of {list(param.choices)}" if param.choices else f" a {param.type_name()}"
            raise ValueError(f"operation {self.name!r} argument {name!r}={args[name]!r}: expected{allowed}")
        return {name: args.get(name, param.default) for name, param in params.items()}


OPERATIONS: Registry[Operation] = Registry("operation")


def register_operation(operation: Operation, *, replace: bool = False) -> Operation:
    return OPERATIONS.register(operation.name, operation, replace=replace)


def _temporal_mean(t: Tensor, ctx: InterventionContext) -> Tensor:
    """Mean over the time axis (dim 1), over real frames only when a frame mask fits."""
    mask = ctx.frame_mask
    if mask is not None and t.dim() >= 2 and t.shape[:2] == mask.shape:
        weights = mask.to(t.dtype).reshape(*mask.shape, *([1] * (t.dim() - 2)))
        return (t * weights).sum(1, keepdim=True) / weights.sum(1, keepdim=True)
    return t.mean(1, keepdim=True)


def _mean_ablate(args):
    if args["over"] == "time":
        return lambda t, site, ctx: _temporal_mean(t, ctx).expand_as(t).clone()
    return lambda t, site, ctx: t.mean(0, keepdim=True).expand_as(t).clone()


def _subspace(keep: bool):
    def build(args):
        def fn(t, site, ctx):
            mean = _temporal_mean(t, ctx).expand_as(t)
            return mean.clone() if keep else t - mean

        return fn

    return build


def _patch(args):
    def fn(t, site, ctx):
        if ctx.source is None:
            raise RuntimeError(f"patch at {site!r}: no source run was recorded (the runner must record one)")
        key = (site, *ctx.position())
        try:
            value = ctx.source[key]
        except KeyError:
            raise RuntimeError(
                f"patch at {site!r}: the source run has no activation at step/evaluation {key[1:]}"
            ) from None
        if value.shape != t.shape:
            raise RuntimeError(f"patch at {site!r}: source shape {tuple(value.shape)} != {tuple(t.shape)}")
        return value.to(t.dtype)

    return fn


def _add_noise(args):
    std, seed = float(args["std"]), int(args["seed"])

    def fn(t, site, ctx):
        step, evaluation = ctx.position()
        keys = ctx.example_keys if ctx.example_keys is not None else range(t.shape[0])
        rows = []
        for key in keys:
            # One generator per (seed, example, site, step, evaluation): the draw does not depend
            # on batch layout or on which other sites are noised.
            mixed = zlib.crc32(f"{seed}|{key}|{site}|{step}|{evaluation}".encode())
            g = torch.Generator().manual_seed(mixed)
            rows.append(torch.randn(tuple(t.shape[1:]), generator=g))
        return t + std * torch.stack(rows).to(device=t.device, dtype=t.dtype)

    return fn


def _uniform(args):
    def fn(compute, call, active, ctx):
        return call.uniform_pattern() if active else None

    return fn


for _op in (
    Operation("zero", "activation", lambda a: (lambda t, site, ctx: torch.zeros_like(t)), doc="replace by zeros"),
    Operation(
        "mean_ablate", "activation", _mean_ablate,
        params={
            "over": Param(
                str, "time", "mean over 'time' (dim 1, real frames) or the batch's 'examples'", ("time", "examples")
            )
        },
        doc="replace by its mean over time or over the examples of the batch",
    ),
    Operation("scale", "activation", lambda a: (lambda t, site, ctx: t * float(a["factor"])),
              params={"factor": Param(float, REQUIRED, "multiplier")}, doc="multiply by a factor"),
    Operation("set", "activation", lambda a: (lambda t, site, ctx: torch.full_like(t, float(a["value"]))),
              params={"value": Param(float, REQUIRED, "the constant")}, doc="set every element to a value"),
    Operation("override_scalar", "scalar", lambda a: (lambda t, site, ctx: torch.full_like(t, float(a["value"]))),
              params={"value": Param(float, REQUIRED, "new value, e.g. 5.0 for the anchor gate")},
              doc="override a scalar such as hook_anchor_gate without touching the weight", acts_on=SCALAR_SITES),
    Operation("patch", "activation", _patch, requires_source=True,
              params={"source": Param(str, "alternative", "which second run: see the hypothesis 'source'")},
              doc="replace by the same site's activation from a second run (e.g. another prompt)"),
    Operation("keep_subspace", "activation", _subspace(True),
              params={"subspace": Param(str, "temporal_mean", "the subspace", ("temporal_mean",))},
              doc="keep only the temporal-mean component (per channel)"),
    Operation("remove_subspace", "activation", _subspace(False),
              params={"subspace": Param(str, "temporal_mean", "the subspace", ("temporal_mean",))},
              doc="remove the temporal-mean component, keeping the orthogonal residual"),
    Operation("add_noise", "activation", _add_noise,
              params={"std": Param(float, REQUIRED, "noise standard deviation"), "seed": Param(int, 0, "noise seed")},
              doc="add seeded Gaussian noise"),
    Operation("uniform_attention", "pattern", _uniform, doc="uniform weights over unmasked keys",
              acts_on=PATTERN_SITES),
    Operation("freeze_pattern", "pattern", caching.freeze_pattern,
              params={
                  "from_step": Param(int, REQUIRED, "first step that reuses the pattern computed at this step", low=0)
              },
              doc="clamp the attention pattern from a sampler step on", acts_on=PATTERN_SITES),
    Operation(
        "lsac", "controller", caching.lsac,
        params={
            "preset": Param(str, None, "a tuned LSAC preset, as `latentflow bench lsac` runs it",
                            ("safe", "balanced", "aggressive")),
            "tier": Param(str, None, "with preset: the tier it was tuned on", TIERS),
            "tuned_on": Param(str, "fixture", "with preset: the model whose stored tuning gives the plan "
                              "(the bundled 'fixture'; latentflow/acceleration/tunings/)"),
            "plan": Param(collections.abc.Mapping, None, "explicit LSAC plan {layer: freeze_step}"),
            "from_step": Param(int, None, "every selected layer freezes from this step", low=0),
        },
        doc="LSAC (layer-selective attention caching) as shipped: a preset, an explicit plan or one freeze "
            "step for the selected self-attention layers",
        acts_on=SELF_PATTERN_SITES,
    ),
    Operation(
        "lsac_adaptive", "controller", caching.lsac_adaptive,
        params={
            "threshold": Param(float, REQUIRED, "relative input drift above which a pattern is recomputed", low=0),
            "start_step": Param(int, REQUIRED, "step from which the selected layers may reuse patterns", low=0),
        },
        doc="LSAC with adaptive refresh on the selected self-attention layers",
        acts_on=SELF_PATTERN_SITES,
    ),
):
    register_operation(_op)
