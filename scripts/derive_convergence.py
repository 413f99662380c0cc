"""Print the stable/fast split that specs/async_convergence.yaml derives on the TRAIN split.

The spec derives it itself (`derive: convergence`, latentflow.derivation.convergence): each
layer's self-attention entropy rate (per example and head, the mean |step-to-step change| of the
normalised entropy, averaged: the spec's measure; 16 Euler steps, Noisy tier, train split) and
the split at the threshold: by default the median of the rates rounded to 2 significant digits,
so that about half the layers are "stable" (the paper does not give its threshold). This script
prints the same derivation for reading; the spec is tested on held-out test mixtures.

    .venv/bin/python scripts/derive_convergence.py [--model fixture] [--n 16] [--threshold T]
"""

from __future__ import annotations

import argparse

from latentflow.derivation.convergence import derive_convergence
from latentflow.pipeline import Separator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="fixture")
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--threshold", type=float, default=None, help="default: the median rate (2 digits)")
    args = parser.parse_args()
    separator = Separator.load(args.model)
    settings = {"tier": "noisy", "n": args.n, "seed": 123, "steps": 16, "sampler": "euler",
                "threshold": "median" if args.threshold is None else args.threshold, "digits": 2}
    made = derive_convergence(separator, separator.model.eval(), "cpu", settings)
    values = made["values"]
    for layer, rate in enumerate(values["rates"]):
        kind = "stable" if layer in values["stable_layers"] else "fast"
        print(f"layer {layer}: entropy rate {rate:.5f} per step -> {kind}")
    print(f"median rate {made['measured']['median_rate']:.6f}")
    print(f"threshold {values['threshold']:.5f}")
    print(f"stable {values['stable_layers']}")
    print(f"fast {values['fast_layers']}")


if __name__ == "__main__":
    main()
