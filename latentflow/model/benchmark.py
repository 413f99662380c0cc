"""``latentflow bench forward``: the cost of hooks and of materialising attention patterns.

Times one velocity evaluation (median of repeats, after warm-up) with no hooks, with a no-op
hook on every hook point, and with hooks on every ``hook_pattern`` (which switches attention to
the explicit path). Targets from issue 2: no-op hooks <= 1.25x, materialised patterns <= 1.3x the
no-hook time on CPU at T=250. On a GPU it also times the ``large`` config in bf16.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from copy import deepcopy as copy_module
from dataclasses import asdict, dataclass

import torch

from .config import preset
from .dit import SamAudioModel, build_model
from .random_inputs import random_conditioning, random_state

MODES = ("no_hooks", "noop_every_site", "materialised_patterns")


@dataclass(frozen=True)
class ForwardTiming:
    config: str
    device: str
    dtype: str
    batch: int
    frames: int
    mode: str
    median_ms: float
    repeats: int
    ratio_to_no_hooks: float


def _hooks_for(model: SamAudioModel, mode: str) -> list:
    noop = lambda tensor, hook: None  # noqa: E731 - a hook that does nothing, on purpose
    if mode == "no_hooks":
        return []
    if mode == "noop_every_site":
        return [(name, noop) for name in model.hook_dict]
    return [(name, noop) for name in model.hook_dict if name.endswith("hook_pattern")]


def _interleaved_medians(
    calls: dict[str, Callable[[], object]], repeats: int, synchronize: Callable[[], None]
) -> dict[str, float]:
    """Median ms per call, timing the modes round-robin so that load drift hits all alike."""
    for fn in calls.values():
        for _ in range(3):
            fn()
    synchronize()
    times: dict[str, list[float]] = {mode: [] for mode in calls}
    for _ in range(repeats):
        for mode, fn in calls.items():
            start = time.perf_counter()
            fn()
            synchronize()
            times[mode].append((time.perf_counter() - start) * 1e3)
    return {mode: statistics.median(values) for mode, values in times.items()}


@torch.no_grad()
def time_forward(
    config: str,
    frames: int,
    *,
    batch: int = 2,
    repeats: int = 20,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
) -> list[ForwardTiming]:
    model = build_model(preset(config), seed=0, device=device, dtype=dtype)
    cond = random_conditioning(model.cfg, batch, frames, tokens=8, seed=1, device=device, dtype=dtype)
    x_t = random_state(model.cfg, batch, frames, seed=2).to(device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device.startswith("cuda") else (lambda: None)
    # One copy of the model per mode with its hooks attached once, so that a timed call is a
    # plain forward (attaching and removing hooks is not part of the cost being measured).
    copies = {}
    for mode in MODES:
        copy = copy_module(model)
        for name, hook in _hooks_for(copy, mode):
            copy.add_hook(name, hook)
        copies[mode] = copy
    def forward_of(copy: SamAudioModel) -> Callable[[], object]:
        return lambda: copy(x_t, 0.5, cond)

    medians = _interleaved_medians({mode: forward_of(copy) for mode, copy in copies.items()}, repeats, sync)
    for copy in copies.values():
        copy.reset_hooks()
    return [
        ForwardTiming(config, device, str(dtype).removeprefix("torch."), batch, frames, mode, medians[mode], repeats,
                      medians[mode] / medians["no_hooks"])
        for mode in MODES
    ]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentflow bench forward", description=__doc__.split("\n\n")[0])
    parser.add_argument("--config", default="fixture", help="model preset timed on the CPU (default: fixture)")
    parser.add_argument("--frames", type=int, nargs="+", default=[100, 250], help="latent frames (25 per second)")
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--json", dest="json_out", help="write the results here")
    parser.add_argument("--no-gpu", action="store_true", help="skip the large bf16 run even if CUDA is available")
    args = parser.parse_args(argv)

    rows: list[ForwardTiming] = []
    for frames in args.frames:
        rows += time_forward(args.config, frames, batch=args.batch, repeats=args.repeats)
    if torch.cuda.is_available() and not args.no_gpu:
        rows += time_forward("large", 250, batch=1, repeats=args.repeats, device="cuda", dtype=torch.bfloat16)

    print(f"{'config':<8} {'device':<6} {'dtype':<8} {'B':>2} {'T':>4} {'mode':<22} {'median ms':>10} {'x no-hook':>9}")
    for r in rows:
        print(f"{r.config:<8} {r.device:<6} {r.dtype:<8} {r.batch:>2} {r.frames:>4} {r.mode:<22} "
              f"{r.median_ms:>10.2f} {r.ratio_to_no_hooks:>9.3f}")
    if args.json_out:
        payload = {
            "benchmark": "forward",
            "machine": {
                "platform": platform.platform(), "torch": torch.__version__, "threads": torch.get_num_threads()
            },
            "targets": {"noop_every_site": 1.25, "materialised_patterns_cpu_T250": 1.3},
            "results": [asdict(r) for r in rows],
        }
        with open(args.json_out, "w") as handle:
            json.dump(payload, handle, indent=2)
        print(f"wrote {args.json_out}")
    return 0
