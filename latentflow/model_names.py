"""The one place that turns a model name into a model: ``latentflow.load`` and every ``--model``.

Accepted names (``MODEL_NAME_FORMS``), the same for the pytest plugin (``--latentflow-model`` and a
spec's ``model:``), ``SpecSession``, and the ``separate`` / ``evaluate`` / ``bench`` commands:

* ``fixture``: the bundled trained model (``fixtures/model/fixture.safetensors``);
* a checkpoint path (``.safetensors`` / ``.pt``);
* ``random:<preset>[:<seed>]``: a preset's architecture with deterministic random weights
  (seed 0 by default), with the MiniLM text encoder;
* ``counter:<name>``: a fresh copy of the fixture with one mechanism broken
  (``latentflow.counter_models``); ``counter:<name>@<model>``: the same mechanism broken in a
  fresh copy of any other model name (a declared counter-model control is built this way from the
  model its case runs on).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

FIXTURE_NAME = "fixture"  # the bundled model's name: a spec's default `model:`
MODEL_NAME_FORMS = (
    "'fixture' (the bundled trained model), a checkpoint path, a SAM Audio model folder "
    "(config.json + checkpoint.pt or model.safetensors), 'random:<preset>[:<seed>]' "
    "(random weights) or 'counter:<name>[@<model>]' (the fixture, or that model, with one mechanism broken)"
)
COUNTER_BASE = "@"  # counter:<name>@<model>: the counter-model built from <model>


@dataclass(frozen=True)
class ModelName:
    """A parsed model name: exactly one of ``path``, ``preset`` (random) or ``counter`` is set."""

    text: str
    path: str | None = None  # "fixture" or a checkpoint path, as Separator.load takes it
    preset: str | None = None
    seed: int = 0
    counter: str | None = None
    base: str | None = None  # with counter: the model it is built from (None: the fixture)

    @property
    def fixture(self) -> bool:
        """Whether the name stands for the bundled fixture itself (not a counter-model of it)."""
        return self.path is not None and is_fixture(self.path)


def is_fixture(name: str | Path) -> bool:
    """Whether a model name (not a path object) stands for the bundled fixture; case-blind."""
    return isinstance(name, str) and name.strip().lower() == FIXTURE_NAME


def parse_model_name(name: str | Path) -> ModelName:
    """Check a model name's form (not whether its file exists); errors name what is allowed."""
    if isinstance(name, Path):
        return ModelName(str(name), path=str(name))
    if not isinstance(name, str) or not name.strip():
        raise ValueError(f"model {name!r}: give {MODEL_NAME_FORMS}")
    if name.startswith("random:"):
        from latentflow.model import preset_names

        parts = name.split(":")
        if len(parts) not in (2, 3) or (len(parts) == 3 and not parts[2].isdigit()):
            raise ValueError(f"model {name!r}: write random:<preset> or random:<preset>:<seed> (a whole number)")
        if parts[1] not in preset_names():
            raise ValueError(f"model {name!r}: unknown preset {parts[1]!r}; allowed: {preset_names()}")
        return ModelName(name, preset=parts[1], seed=int(parts[2]) if len(parts) == 3 else 0)
    if name.startswith("counter:"):
        from latentflow.counter_models import counter_name
        from latentflow.registry import UnknownNameError

        head, at, base = name.partition(COUNTER_BASE)
        if at and not base.strip():
            raise ValueError(f"model {name!r}: write counter:<name>@<model> with the model it is built from")
        if at:
            parse_model_name(base)  # the base's own form
        try:
            return ModelName(name, counter=counter_name(head), base=base or None)
        except UnknownNameError as error:
            raise ValueError(f"model {name!r}: {error}") from None
    return ModelName(name, path=name)


def load(name: str | Path = "fixture"):
    """The model a name stands for, in eval mode: ``latentflow.load("fixture")`` is the bundled,
    trained model (``build_model(preset("fixture"))`` has random weights). Every call gives a
    fresh copy, which the caller may hook or edit."""
    parsed = parse_model_name(name)
    if parsed.base is not None:
        return _broken(load(parsed.base), parsed.counter, parsed.base)
    if parsed.preset is not None:
        from latentflow.model import build_model, preset

        return build_model(preset(parsed.preset), seed=parsed.seed)
    from latentflow.fixture import model_path, resolve_model

    path = parsed.path or FIXTURE_NAME
    if model_path(path).is_dir():  # a SAM Audio folder: config.json decides the model; no codec, no T5
        from latentflow.loading import load_folder_model

        return _broken(load_folder_model(model_path(path)), parsed.counter)
    return _broken(resolve_model(path)[0], parsed.counter)


def load_separator(name: str | Path = "fixture", text_encoder=None):
    """A :class:`~latentflow.pipeline.Separator` (model, codec, text encoder) for a model name."""
    from latentflow.pipeline import Separator

    parsed = parse_model_name(name)
    if parsed.base is not None:
        separator = load_separator(parsed.base, text_encoder=text_encoder)
        _broken(separator.model, parsed.counter, parsed.base)
        return separator
    if parsed.preset is not None:
        from latentflow.audio.codecs import MelCodec
        from latentflow.audio.text import encoder_from_name

        model = load(parsed.text)
        codec = MelCodec()
        if (model.cfg.latent_channels, model.cfg.text_dim) != (codec.latent_channels, 384):
            # random weights pair with the bundled mel codec and MiniLM only at their widths
            raise ValueError(
                f"model {parsed.text!r}: random weights run with the bundled mel codec (C=64) and "
                f"MiniLM (384 wide), but preset {parsed.preset!r} has C={model.cfg.latent_channels} and "
                f"text_dim={model.cfg.text_dim}; use random:fixture, or write a random folder of SAM "
                "Audio's layout with `latentflow make-test-model DIR` and give DIR")
        encoder = text_encoder if text_encoder is not None else encoder_from_name("minilm")
        return Separator(model, codec, encoder)
    separator = Separator.load(parsed.path or FIXTURE_NAME, text_encoder=text_encoder)
    _broken(separator.model, parsed.counter)
    return separator


def _broken(model, counter: str | None, base: str = FIXTURE_NAME):
    if counter is None:
        return model
    from latentflow.counter_models import apply_counter

    return apply_counter(model, counter, base)  # a fresh copy: the counter edits only this one


__all__ = ["FIXTURE_NAME", "MODEL_NAME_FORMS", "ModelName", "is_fixture", "load", "load_separator", "parse_model_name"]
