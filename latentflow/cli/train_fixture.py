"""``latentflow train-fixture``: retrain the bundled fixture model from its recipe.

    latentflow train-fixture [--seed 0] [--steps N] [--out PATH] [--quiet]

The default recipe (``TrainingRecipe()``) is the one the committed checkpoint was trained
with; a fixed step count (not a wall-clock budget) keeps the result deterministic. ``--minutes``
is a guard only: the run stops with an error if the projected time exceeds it.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from latentflow.training.recipe import TrainingRecipe


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(
        prog="latentflow train-fixture",
        description="Train the fixture separator (flow matching on the tiers' training split).",
    )
    parser.add_argument("--seed", type=int, default=0, help="seed of every random draw (default 0)")
    parser.add_argument("--steps", type=int, default=None, help=f"optimiser steps (default {TrainingRecipe().steps})")
    parser.add_argument(
        "--minutes",
        type=float,
        default=30.0,
        help="stop with an error if the projected run time after 20 steps exceeds this (default 30)",
    )
    parser.add_argument("--out", type=Path, default=None, help="checkpoint path (default: the bundled fixture path)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args(argv)

    from latentflow.fixture import fixture_model_path

    changes = {"seed": args.seed}
    if args.steps is not None:
        changes["steps"] = args.steps
    try:
        recipe = TrainingRecipe().replace(**changes)
    except ValueError as error:
        print(f"latentflow train-fixture: {error}", file=sys.stderr)
        return 2
    if not args.minutes > 0:
        print(f"latentflow train-fixture: --minutes={args.minutes} must be positive", file=sys.stderr)
        return 2
    out = args.out if args.out is not None else fixture_model_path()
    if out.suffix.lower() != ".safetensors":
        print(f"latentflow train-fixture: --out {out}: the checkpoint must be a .safetensors file", file=sys.stderr)
        return 2
    if not out.parent.is_dir():
        print(f"latentflow train-fixture: --out {out}: folder {out.parent} does not exist", file=sys.stderr)
        return 2

    from latentflow.training.checkpoint import save_trained
    from latentflow.training.trainer import train

    bar = _ProgressBar(recipe.steps, args.minutes * 60.0, enabled=not args.quiet)
    try:
        result = train(recipe, progress=bar.update)
    except _TooSlow as error:
        print(f"latentflow train-fixture: {error}", file=sys.stderr)
        return 1
    finally:
        bar.close()
    save_trained(result, out)
    summary = {
        "checkpoint": str(out),
        "steps": recipe.steps,
        "seed": recipe.seed,
        "seconds": round(result.seconds, 1),
        "final_loss_mean_last_50": round(sum(result.losses[-50:]) / len(result.losses[-50:]), 4),
        "anchor_gate": round(result.anchor_gate, 4),
    }
    print(json.dumps(summary, indent=2))
    return 0


class _TooSlow(RuntimeError):
    pass


class _ProgressBar:
    def __init__(self, total: int, budget_seconds: float, enabled: bool) -> None:
        from tqdm import tqdm

        self.budget = budget_seconds
        self.started = time.perf_counter()
        self.first_step_at: float | None = None
        self.bar = tqdm(total=total, unit="step", disable=not enabled, file=sys.stderr, mininterval=2.0)

    def update(self, step: int, total: int, loss: float, lr: float) -> None:
        now = time.perf_counter()
        if self.first_step_at is None:
            self.first_step_at = now
        self.bar.set_postfix(loss=f"{loss:.4f}", lr=f"{lr:.1e}", refresh=False)
        self.bar.update(1)
        if step == 20:
            per_step = (now - self.first_step_at) / 19
            projected = (now - self.started) + per_step * (total - step)
            if projected > self.budget:
                raise _TooSlow(
                    f"projected run time {projected / 60:.1f} min exceeds --minutes {self.budget / 60:.1f} "
                    f"({per_step:.2f} s/step; is the machine busy?); raise --minutes to run anyway"
                )

    def close(self) -> None:
        self.bar.close()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
