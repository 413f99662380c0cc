"""One resolver for model names: latentflow.load, the plugin, SpecSession and every --model."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

import latentflow
from latentflow.cli.separate import main as separate_main
from latentflow.fixture import fixture_model_path
from latentflow.model import SamAudioModel, build_model, preset, read_tensors
from latentflow.model_names import load_separator, parse_model_name


def test_load_fixture_is_the_trained_bundled_model():
    model = latentflow.load("fixture")
    assert isinstance(model, SamAudioModel) and not model.training
    stored, _ = read_tensors(fixture_model_path())
    assert torch.equal(model.memory_proj.weight, stored["memory_proj.weight"])
    random = build_model(preset("fixture"), seed=0)
    assert not torch.equal(model.memory_proj.weight, random.memory_proj.weight)
    assert latentflow.load("fixture") is not model  # a fresh copy each call
    assert torch.equal(latentflow.load(fixture_model_path()).proj.weight, model.proj.weight)  # a path


def test_load_random_and_counter_names():
    expected = build_model(preset("parity"), seed=3).proj.weight
    assert torch.equal(latentflow.load("random:parity:3").proj.weight, expected)
    assert torch.equal(latentflow.load("random:parity").proj.weight, build_model(preset("parity"), seed=0).proj.weight)
    broken = latentflow.load("counter:no_text_injection")
    assert broken.memory_proj.weight.abs().max() == 0 and broken.counter_model == "no_text_injection"
    assert latentflow.load("fixture").memory_proj.weight.abs().max() > 0  # the fixture is untouched


@pytest.mark.parametrize("name, message", [
    ("random:tiny", r"unknown preset 'tiny'; allowed: \['base', 'fixture'"),
    ("random:fixture:x", "random:<preset>:<seed>"),
    ("random:", "unknown preset ''"),
    ("counter:nope", "no_text_injection"),
    ("", "'fixture' \\(the bundled trained model\\)"),
])
def test_bad_names_say_what_is_allowed(name, message):
    with pytest.raises(ValueError, match=message):
        parse_model_name(name)


def test_separator_for_a_counter_model_breaks_only_its_copy():
    separator = load_separator("counter:no_cross_attention")
    assert all(b.cross_attention.wo.weight.abs().max() == 0 for b in separator.model.blocks)
    assert separator.text_encoder is not None


@pytest.mark.parametrize(
    "name, message", [("random:tiny", "unknown preset 'tiny'"), ("counter:nope", "no_text_injection")]
)
def test_cli_model_option_uses_the_resolver(tmp_path, capsys, name, message):
    mix = tmp_path / "mix.wav"
    soundfile.write(mix, np.random.default_rng(0).normal(0, 0.1, 16000).astype("float32"), 16000)
    argv = ["--mix", str(mix), "--prompt", "a man", "--out", str(tmp_path / "o.wav"), "--model", name]
    assert separate_main(argv) == 2
    err = capsys.readouterr().err
    assert f"--model {name!r}" in err and message in err


def test_cli_help_names_the_accepted_forms(capsys):
    with pytest.raises(SystemExit):
        separate_main(["--help"])
    assert "random:<preset>[:<seed>]" in capsys.readouterr().out


def test_a_random_preset_without_the_bundled_widths_has_no_separator_and_says_why():
    from latentflow.model_names import load_separator

    with pytest.raises(ValueError, match=r"model 'random:small': random weights run with the bundled mel codec "
                                         r"\(C=64\) .* has C=128 and text_dim=768; use random:fixture, or "
                                         r".*make-test-model"):
        load_separator("random:small")


@pytest.mark.parametrize("name, fixture", [("fixture", True), (" Fixture ", True), ("counter:no_anchor_path", False),
                                           ("random:fixture", False), ("fixture.safetensors", False)])
def test_which_names_stand_for_the_bundled_fixture(name, fixture):
    from latentflow.model_names import is_fixture

    assert parse_model_name(name).fixture is fixture
    assert is_fixture(name) is fixture
