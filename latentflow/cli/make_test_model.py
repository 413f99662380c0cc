"""``latentflow make-test-model DIR``: write a random-weight SAM Audio folder (for tests)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from latentflow.random_folder import TEXT_ENCODER_NAME, make_test_model


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentflow make-test-model",
                                     description="write a random-weight SAM Audio folder in the official layout")
    parser.add_argument("folder", type=Path, help="where to write config.json, checkpoint.pt and the tiny T5")
    parser.add_argument("--seed", type=int, default=0, help="weights seed (default 0)")
    parser.add_argument("--latent-channels", type=int, default=8, help="codec latent channels C (default 8)")
    parser.add_argument("--layers", type=int, default=2, help="DiT blocks (default 2)")
    args = parser.parse_args(argv)
    if args.folder.exists() and any(args.folder.iterdir()):
        print(f"latentflow make-test-model: {args.folder} is not empty; give a new or empty folder", file=sys.stderr)
        return 2
    if args.layers < 1:
        print(f"latentflow make-test-model: --layers {args.layers}: give at least 1 block", file=sys.stderr)
        return 2
    folder = make_test_model(args.folder, seed=args.seed, codebook_dim=args.latent_channels, n_layers=args.layers)
    print(f"wrote {folder}: config.json, checkpoint.pt, {TEXT_ENCODER_NAME}/")
    return 0

