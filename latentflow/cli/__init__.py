"""The ``latentflow`` console script: a small dispatcher over subcommands.

The commands sit here, above the library they drive: ``latentflow.cli.separate``,
``.evaluate``, ``.train_fixture``, ``.make_test_model`` and ``.bench`` (the benchmark
dispatcher) import the pipeline, the model and the training code; nothing in the library
imports this package. A few commands whose whole job belongs to one layer keep their ``main``
there (``check-parity`` in ``latentflow.model.parity``, ``gate`` in ``latentflow.gate``, each
benchmark beside what it measures). To add one, give a module a function
``main(argv: list[str]) -> int`` (build an ``argparse.ArgumentParser(prog="latentflow NAME")``
inside it) and add one line to ``SUBCOMMANDS`` below. The module is imported only when its
subcommand runs, so ``latentflow --help`` never pays for importing torch.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from importlib import metadata

from latentflow import __version__


@dataclass(frozen=True)
class Subcommand:
    """One ``latentflow NAME`` entry: where its ``main(argv) -> int`` lives, and a help line."""

    name: str
    target: str  # "package.module:function"
    help: str

    @property
    def module(self) -> str:
        return self.target.partition(":")[0]


SUBCOMMANDS: tuple[Subcommand, ...] = (
    Subcommand("version", "latentflow.cli:version_main", "print the latentflow version"),
    Subcommand("check-parity", "latentflow.model.parity:main", "compare the model with an official parity vector"),
    Subcommand("bench", "latentflow.cli.bench:main", "run a benchmark (forward, lsac, specs, load): table + JSON"),
    Subcommand("train-fixture", "latentflow.cli.train_fixture:main",
               "retrain the bundled fixture model from its recipe"),
    Subcommand("separate", "latentflow.cli.separate:main", "separate a prompted sound from a mixture file"),
    Subcommand("evaluate", "latentflow.cli.evaluate:main", "measure separation quality on a tier"),
    Subcommand("gate", "latentflow.gate:main", "compare two results files and fail on regressions"),
    Subcommand("make-test-model", "latentflow.cli.make_test_model:main",
               "write a random-weight SAM Audio folder (tests)"),
)

_BY_NAME = {command.name: command for command in SUBCOMMANDS}

# Distributions whose versions decide whether two runs are comparable.
_REPORTED_DEPENDENCIES = ("torch", "torchaudio", "transformer-lens", "numpy", "scipy")


def available_subcommands() -> tuple[str, ...]:
    """Names of registered subcommands whose module can be found (imports parent packages)."""
    names = []
    for command in SUBCOMMANDS:
        try:
            found = importlib.util.find_spec(command.module) is not None
        except ModuleNotFoundError:
            found = False
        if found:
            names.append(command.name)
    return tuple(names)


def _load(command: Subcommand) -> Callable[[list[str]], int]:
    module_name, _, function_name = command.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name != module_name:
            raise  # a dependency of the module is missing: show the real cause
        raise SystemExit(
            f"latentflow: subcommand {command.name!r} is registered to {command.target!r} "
            f"but module {module_name!r} does not exist"
        ) from error
    function = getattr(module, function_name, None)
    if not callable(function):
        raise SystemExit(
            f"latentflow: subcommand {command.name!r} is registered to {command.target!r} "
            f"but {module_name!r} has no callable {function_name!r}"
        )
    return function


def _build_parser() -> argparse.ArgumentParser:
    width = max(len(c.name) for c in SUBCOMMANDS) + 2  # two spaces after the longest name
    listing = "\n".join(f"  {c.name:<{width}}{c.help}" for c in SUBCOMMANDS)
    parser = argparse.ArgumentParser(
        prog="latentflow",
        usage="latentflow [-h] [--version] COMMAND [ARGS ...]",
        description="Mechanistic-interpretability test suites for a SAM Audio-style separator.",
        epilog=f"subcommands:\n{listing}\n\n'latentflow COMMAND --help' shows a subcommand's options.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"latentflow {__version__}")
    parser.add_argument(
        "command",
        metavar="COMMAND",
        choices=[c.name for c in SUBCOMMANDS],
        help="one of: " + ", ".join(c.name for c in SUBCOMMANDS),
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``latentflow COMMAND [ARGS...]``; returns the process exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    # Only the first word belongs to this parser (it is -h, --version or the subcommand);
    # everything after it is the subcommand's to parse.
    args = _build_parser().parse_args(argv[:1])
    status = _load(_BY_NAME[args.command])(argv[1:])
    return int(status or 0)


def version_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="latentflow version", description="Print the version.")
    parser.add_argument(
        "--dependencies",
        action="store_true",
        help="also list the installed versions of torch, torchaudio, transformer-lens, numpy, scipy",
    )
    args = parser.parse_args(argv)
    print(f"latentflow {__version__}")
    if args.dependencies:
        for name in _REPORTED_DEPENDENCIES:
            try:
                installed = metadata.version(name)
            except metadata.PackageNotFoundError:
                installed = "not installed"
            print(f"{name} {installed}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
