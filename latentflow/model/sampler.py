"""Fixed-grid flow-matching integration from noise (t=0) to data (t=1).

The official ``separate`` integrates with a fixed-grid midpoint rule, step 1/16 (16 steps, 32
velocity evaluations); the paper describes a 16-step Euler sampler. Both are here. During each
evaluation ``model.sampling`` holds a ``SamplingState`` so hooks can act on chosen steps only.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
from torch import Tensor

from ..vocabulary import SAMPLER_METHODS
from .conditioning import Conditioning
from .dit import SamAudioModel, SamplingState
from .hook_names import NamesSpec, names_filter

EVALUATIONS_PER_STEP = {"euler": 1, "midpoint": 2}


@dataclass
class SampleOutput:
    """The result of one integration.

    final: (B, T, 2C) the state at t=1; split it with ``[..., :C]`` (target) / ``[..., C:]``.
    states: (steps + 1, B, T, 2C) the state at every grid time, when asked for.
    times: the grid, ``steps + 1`` values from 0 to 1.
    caches: per velocity evaluation, the activations whose hook names passed ``cache`` (in
    evaluation order; ``evaluations[i]`` tells the step and time of entry i).
    """

    final: Tensor
    times: list[float]
    states: Tensor | None = None
    caches: list[dict[str, Tensor]] = field(default_factory=list)
    evaluations: list[SamplingState] = field(default_factory=list)


def initial_noise(
    shape: Sequence[int],
    *,
    seeds: Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> Tensor:
    """Gaussian starting noise.

    With ``seeds`` (one per example) each example's noise depends only on its own seed, so an
    example's trajectory is the same whatever batch it runs in; with a ``generator`` the whole
    batch is drawn from it in one go.
    """
    if seeds is not None and generator is None:
        if len(seeds) != shape[0]:
            raise ValueError(f"got {len(seeds)} seeds for a batch of {shape[0]}")
        rows = [torch.randn(tuple(shape[1:]), generator=torch.Generator().manual_seed(int(s))) for s in seeds]
        noise = torch.stack(rows)
    elif generator is not None and seeds is None:
        noise = torch.randn(tuple(shape), generator=generator, device=generator.device)
    else:
        raise ValueError("give exactly one of seeds (one per example) or generator")
    return noise.to(device=device, dtype=dtype)


def time_grid(steps: int) -> list[float]:
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive integer, got {steps!r}")
    return [k / steps for k in range(steps)] + [1.0]


@torch.no_grad()
def sample(
    model: SamAudioModel,
    cond: Conditioning,
    *,
    steps: int = 16,
    method: str = "midpoint",
    noise: Tensor | None = None,
    seeds: Sequence[int] | None = None,
    generator: torch.Generator | None = None,
    return_states: bool = False,
    cache: NamesSpec = None,
) -> SampleOutput:
    """Integrate dx/dt = v(x, t | cond) on a fixed grid of ``steps`` steps.

    Starting noise: ``noise`` if given, else drawn from ``seeds`` / ``generator``.
    ``cache`` selects hook names whose activations are kept per evaluation: a hook name, a list
    of names or a predicate, as ``run_with_cache``'s ``names_filter`` (an unknown name is an
    error listing the nearest real ones); caching only what is asked keeps memory bounded on
    long trajectories.
    """
    if method not in SAMPLER_METHODS:
        raise ValueError(f"unknown sampler method {method!r}; allowed: {list(SAMPLER_METHODS)}")
    times = time_grid(steps)
    dtype = next(model.parameters()).dtype
    device = cond.mixture.device
    if noise is None:
        shape = (cond.batch_size, cond.n_frames, model.cfg.state_channels)
        noise = initial_noise(shape, seeds=seeds, generator=generator, device=device, dtype=dtype)
    elif noise.shape != (cond.batch_size, cond.n_frames, model.cfg.state_channels):
        raise ValueError(
            f"noise has shape {tuple(noise.shape)}; expected "
            f"{(cond.batch_size, cond.n_frames, model.cfg.state_channels)}"
        )

    keep = names_filter(cache, model.hook_dict, where="sample cache")
    output = SampleOutput(final=noise, times=times)
    states = [noise] if return_states else None
    x = noise

    def velocity(x_in: Tensor, t: float, step: int, within: int) -> Tensor:
        state = SamplingState(step=step, n_steps=steps, t=t, evaluation=within, method=method)
        with model.sampling_step(state):
            if keep is None:
                v = model(x_in, t, cond)
            else:
                v, activations = model.run_with_cache(x_in, t, cond, names_filter=keep, return_cache_object=False)
                output.caches.append(activations)
                output.evaluations.append(state)
        return v

    for step in range(steps):
        t0, t1 = times[step], times[step + 1]
        dt = t1 - t0
        if method == "euler":
            x = x + dt * velocity(x, t0, step, 0)
        else:
            half = 0.5 * dt
            k1 = velocity(x, t0, step, 0)
            x = x + dt * velocity(x + half * k1, t0 + half, step, 1)
        if states is not None:
            states.append(x)

    output.final = x
    if states is not None:
        output.states = torch.stack(states)
    return output

