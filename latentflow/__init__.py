"""latentflow: claims about a flow-matching audio-separation transformer, tested as code.

The package holds a hookable SAM Audio-style separation model (``latentflow.model``), the
data and metrics that exercise it, and a pytest plugin that turns YAML claims in
``specs/`` into statistical tests. The ``latentflow`` console script
(``latentflow.cli``) is the command-line entry point.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
