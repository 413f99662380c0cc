"""pytest plugin for latentflow, registered through the ``pytest11`` entry point.

It adds the ``latentflow`` option group that spec runs are configured with. Values are
checked while the command line is parsed, so a typo fails before any model is loaded.
Read them with ``config.getoption("latentflow_device")`` and friends.
"""

from __future__ import annotations

import argparse
import re

import pytest

DEVICE_CHOICES = "auto, cpu, cuda, cuda:N (N = GPU index)"
_DEVICE_PATTERN = re.compile(r"auto|cpu|cuda(:\d+)?")


def parse_device(value: str) -> str:
    """Accept ``auto``, ``cpu``, ``cuda`` or ``cuda:N``; anything else is a usage error."""
    if _DEVICE_PATTERN.fullmatch(value) is None:
        raise argparse.ArgumentTypeError(f"device {value!r} is not one of: {DEVICE_CHOICES}")
    return value


def parse_seed(value: str) -> int:
    """A seed is a non-negative integer (torch.Generator.manual_seed and numpy both accept it)."""
    try:
        seed = int(value)
    except ValueError:
        seed = -1
    if seed < 0:
        raise argparse.ArgumentTypeError(f"seed {value!r} is not a non-negative integer")
    return seed


def _path_with_suffix(*suffixes: str):
    def parse(value: str) -> str:
        if not value.lower().endswith(suffixes):
            raise argparse.ArgumentTypeError(
                f"path {value!r} must end in {' or '.join(suffixes)}"
            )
        return value

    return parse


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("latentflow", "latentflow claims (specs/*.yaml)")
    group.addoption(
        "--latentflow-model",
        metavar="MODEL",
        default=None,
        help="model the claims run on: a preset name or a checkpoint path "
        "(default: the model each spec names)",
    )
    group.addoption(
        "--latentflow-device",
        metavar="DEVICE",
        type=parse_device,
        default="auto",
        help=f"where the model runs: {DEVICE_CHOICES} (default: auto)",
    )
    group.addoption(
        "--latentflow-seed",
        metavar="SEED",
        type=parse_seed,
        default=None,
        help="base seed for every random draw (default: each spec's own seed)",
    )
    group.addoption(
        "--latentflow-results",
        metavar="PATH.json",
        type=_path_with_suffix(".json"),
        default=None,
        help="write every verdict with its numbers to this JSON file",
    )
    group.addoption(
        "--latentflow-report",
        metavar="PATH.html",
        type=_path_with_suffix(".html", ".htm"),
        default=None,
        help="write a self-contained HTML report to this file",
    )
