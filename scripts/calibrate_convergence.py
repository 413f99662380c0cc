"""Calibrate the stable/fast split of specs/async_convergence.yaml on the TRAIN split.

Prints each layer's self-attention entropy rate (per example and head, the mean |step-to-step
change| of the normalised entropy, averaged: the spec's measure; 16 Euler steps, Noisy tier,
train split) and the split at the threshold: by default
the median of the rates, so that half the layers are "stable" (the paper does not give its
threshold). The spec is then tested on held-out test mixtures.

    .venv/bin/python scripts/calibrate_convergence.py [--model fixture] [--n 16] [--threshold T]
"""

from __future__ import annotations

import argparse

import numpy as np

from latentflow.audio.bench import make_bench
from latentflow.metrics.attention import entropy_rate, entropy_trajectory
from latentflow.model import sample
from latentflow.pipeline import Separator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="fixture")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--threshold", type=float, default=None, help="default: the median rate")
    args = parser.parse_args()
    separator = Separator.load(args.model)
    model = separator.model
    examples = make_bench("noisy", "train", args.n, seed=123)
    cond = separator.conditioning(examples)
    sites = [f"blocks.{i}.attn.hook_pattern" for i in range(model.cfg.n_layers)]
    out = sample(model, cond, steps=16, method="euler", seeds=list(range(args.n)), cache=sites)
    trajectory = entropy_trajectory(out.caches, out.evaluations, n_layers=model.cfg.n_layers)  # (steps, B, L, H)
    # The spec's measure (latentflow.execution.internal, entropy_rate): per example and head the
    # mean |step-to-step change|, then the mean over heads; here also over examples.
    rates = entropy_rate(trajectory).mean(axis=(0, 2))  # (B, L, H) -> per layer
    threshold = float(np.median(rates)) if args.threshold is None else args.threshold
    for layer, rate in enumerate(rates):
        print(f"layer {layer}: entropy rate {rate:.5f} per step -> {'stable' if rate < threshold else 'fast'}")
    print(f"threshold {threshold:.5f}")
    print(f"stable {[i for i, r in enumerate(rates) if r < threshold]}")
    print(f"fast {[i for i, r in enumerate(rates) if r >= threshold]}")


if __name__ == "__main__":
    main()
