"""latentflow: claims about a flow-matching audio-separation transformer, tested as code.

The package holds a hookable SAM Audio-style separation model (``latentflow.model``), the
data and metrics that exercise it, and a pytest plugin that turns YAML claims in
``specs/`` into statistical tests. The ``latentflow`` console script
(``latentflow.cli``) is the command-line entry point.
"""

from __future__ import annotations

__version__ = "0.1.0"



def load(name: str = "fixture"):
    """The model a name stands for, in eval mode, ready to hook: ``latentflow.load("fixture")`` is
    the bundled trained model; also a checkpoint path, ``random:<preset>[:<seed>]`` or
    ``counter:<name>`` (``latentflow.model_names``). Every call gives a fresh copy."""
    from latentflow.model_names import load as load_by_name

    return load_by_name(name)


__all__ = ["__version__", "load"]
