"""Applying interventions to a model inside a context that always removes them."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..model.blocks import pattern_of
from .operations import OPERATIONS, InterventionContext, Operation
from .sites import PATTERN_SITES, resolve_sites


class Selection(Protocol):
    def contains(self, index: int) -> bool: ...


@dataclass(frozen=True)
class Intervention:
    """An operation at the hook sites a pattern names, on some layers and sampler steps.

    ``layers``/``steps`` are None for all, or anything with ``contains(i)`` (the spec's
    IndexSelection) or a sequence of ints. The spec's Intervention has the same attributes.
    """

    site: str
    op: str
    args: Mapping[str, Any] = field(default_factory=dict)
    layers: Any = None
    steps: Any = None


def _contains(selection: Any, index: int | None) -> bool:
    if selection is None:
        return True
    if index is None:
        return bool(getattr(selection, "is_all", False))
    if hasattr(selection, "contains"):
        return selection.contains(index)
    return index in set(selection)


def _layers(selection: Any, n_layers: int) -> list[int] | None:
    if selection is None:
        return None
    return [i for i in range(n_layers) if _contains(selection, i)]


def _attention_for(model: Any, site: str):
    if not PATTERN_SITES.accepts(site):
        raise ValueError(f"pattern operations act on attention patterns: site {site!r} is none of the "
                         f"{PATTERN_SITES.describe()}")
    parts = site.split(".")
    block = model.blocks[int(parts[1])]
    return block.attention if parts[2] == "attn" else block.cross_attention


class NotBatchable(ValueError):
    """An intervention that cannot be limited to some rows of the batch."""


class InterventionNeverFired(ValueError):
    """An intervention whose hook sites the model never ran during a run: it tested nothing."""

    def __init__(self, intervention: Any, names: Sequence[str], why: str | None = None):
        self.intervention = intervention
        self.names = tuple(names)
        where = getattr(intervention, "path", None)
        line = getattr(intervention, "line", None)
        located = f" ({where}, line {line})" if where and line else ""
        because = f": {why}" if why else ": the model never ran these hook points for these inputs"
        super().__init__(
            f"intervention {intervention.op!r} at {intervention.site!r}{located} never fired: "
            f"{', '.join(self.names)} never ran during the run{because}. The run equals the baseline, "
            "so the case would test nothing; choose a site the model runs for this data, or data "
            "that makes it run"
        )


def batchable(interventions: Sequence[Any]) -> bool:
    """Whether ``applied(..., rows=...)`` can limit these interventions to a slice of the batch:
    activation operations that need no second run. Pattern operations would send every row
    through the explicit attention path (not bitwise the fast path the others use), and scalar
    sites such as the anchor gate have no batch dimension."""
    return all(OPERATIONS.get(iv.op).kind == "activation" and not OPERATIONS.get(iv.op).requires_source
               for iv in interventions)


@contextlib.contextmanager
def applied(
    model: Any,
    interventions: Sequence[Any],
    ctx: InterventionContext | None = None,
    rows: slice | None = None,
    fired: set[int] | None = None,
) -> Iterator[InterventionContext]:
    """Run the model with ``interventions`` inside the block; everything is removed on exit or error.

    Weights are never touched: activation operations are forward hooks returning new tensors,
    pattern operations are attention overrides (see ``Attention.overriding_pattern``).

    ``rows``: apply the interventions to these batch rows only (``ctx`` describes the whole
    batch), so that independent variants can share one forward pass. Only for
    :func:`batchable` interventions; others raise :class:`NotBatchable`.

    ``fired``: receives the index of every intervention whose hook point ran at least once (on
    any step, whether or not its ``steps`` selected it), so a caller can tell an intervention
    at a site the model never runs (see :func:`check_fired`).
    """
    ctx = ctx or InterventionContext(model=model)
    if rows is not None and not batchable(interventions):
        raise NotBatchable(f"interventions {[iv.op for iv in interventions]} cannot be limited to batch rows "
                           "(only activation operations without a source run can)")
    if rows is not None and ctx.example_keys is None:
        raise ValueError("rows= needs a context with example_keys (one per batch row) to check each activation's batch")
    hooks = []
    overridden: dict[int, str] = {}
    with contextlib.ExitStack() as stack:
        for index, iv in enumerate(interventions):
            op: Operation = OPERATIONS.get(iv.op)
            mark = _marker(fired, index)
            args = op.bind(getattr(iv, "args", None))
            names = resolve_sites(iv.site, model.hook_dict, _layers(getattr(iv, "layers", None), model.cfg.n_layers))
            steps = getattr(iv, "steps", None)
            for name in names:
                if op.acts_on is not None and not op.acts_on.accepts(name):
                    raise ValueError(
                        f"operation {op.name!r} cannot act on {name!r}; it acts on {op.acts_on.describe()}"
                    )
                if op.kind == "controller":
                    continue  # acts on the model as a whole, below
                if op.kind == "pattern":
                    attention = _attention_for(model, name)
                    if id(attention) in overridden:
                        raise ValueError(f"two pattern operations on {name!r} ({overridden[id(attention)]!r} and "
                                         f"{op.name!r})")
                    overridden[id(attention)] = op.name
                    override = _pattern_override(op.build(args), steps, ctx, attention.pattern_override, mark)
                    stack.enter_context(attention.overriding_pattern(override))
                elif rows is not None:
                    hooks.append((name, _rows_hook(op.build(args), name, steps, ctx, rows, mark)))
                else:
                    hooks.append((name, _activation_hook(op.build(args), name, steps, ctx, mark)))
            if op.kind == "controller":
                stack.enter_context(_controller(op, args, names, steps, model, ctx))
                # a controller acts on self-attention, which runs on every forward: attached is fired
                mark()
        stack.enter_context(model.hooks(fwd_hooks=hooks))
        yield ctx


def check_fired(model: Any, interventions: Sequence[Any], fired: set[int],
                why: Any | None = None) -> None:
    """Raise :class:`InterventionNeverFired` for the first intervention not in ``fired``;
    ``why(name)`` may say why the model never runs hook point ``name`` (e.g. no text prompt)."""
    for index, iv in enumerate(interventions):
        if index in fired:
            continue
        names = resolve_sites(iv.site, model.hook_dict, _layers(getattr(iv, "layers", None), model.cfg.n_layers))
        reasons = [r for r in (why(name) for name in names) if r] if why is not None else []
        raise InterventionNeverFired(iv, names, reasons[0] if reasons else None)


def _marker(fired: set[int] | None, index: int):
    if fired is None:
        return lambda: None
    return lambda: fired.add(index)


@contextlib.contextmanager
def _controller(op: Operation, args: Mapping[str, Any], names: Sequence[str], steps: Any, model: Any,
                ctx: InterventionContext) -> Iterator[None]:
    """Attach the controller a controller operation builds for the layers of its sites."""
    if steps is not None and not getattr(steps, "is_all", False):
        raise ValueError(f"operation {op.name!r} decides per step itself (its plan); it takes no steps selection")
    controller = op.build(args)(model, sorted({int(name.split(".")[1]) for name in names}))
    ctx.controllers.append(controller)
    with controller.attached():
        yield


def _step(ctx: InterventionContext) -> int | None:
    return ctx.position()[0]


def _activation_hook(fn, name: str, steps: Any, ctx: InterventionContext, mark=lambda: None):
    def hook(tensor, hook):
        mark()
        if not _contains(steps, _step(ctx)):
            return None
        return fn(tensor, name, ctx)

    return hook


def _rows_hook(fn, name: str, steps: Any, ctx: InterventionContext, rows: slice, mark=lambda: None):
    """The operation on ``rows`` of the activation; the other rows pass through unchanged."""
    row_ctx = ctx.rows(rows)
    assert ctx.example_keys is not None, "applied() refuses rows= without example_keys"
    batch = len(ctx.example_keys)

    def hook(tensor, hook):
        mark()
        if not _contains(steps, _step(ctx)):
            return None
        if tensor.dim() == 0 or tensor.shape[0] != batch:
            raise NotBatchable(f"{name}: activation of shape {tuple(tensor.shape)} has no batch dimension of {batch}")
        out = tensor.clone()
        out[rows] = fn(tensor[rows], name, row_ctx)
        return out

    return hook


def _pattern_override(fn, steps: Any, ctx: InterventionContext, underlying=None, mark=lambda: None):
    """The operation's override, on top of any override the model already has (e.g. a
    counter-model's): "computing the pattern" then means what the model would have used."""
    def override(compute, call):
        mark()
        inner = (lambda: pattern_of(underlying, compute, call)) if underlying is not None else compute
        pattern = fn(inner, call, _contains(steps, _step(ctx)), ctx)
        if pattern is None and underlying is not None:
            return underlying(compute, call)  # the operation declines: the model's own override stands
        return pattern

    return override
