"""SAM Audio model folders (config.json + checkpoint.pt / model.safetensors) end to end on CPU.

The folder comes from ``latentflow make-test-model``: tiny widths, real DAC-VAE at 48 kHz and
hop 1920, a tiny random T5 saved inside it. Its verdicts mean nothing; the path is the test.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from latentflow.loading import load_separator_parts
from latentflow.model import CheckpointError
from latentflow.pipeline import Separator
from latentflow.random_folder import TEXT_ENCODER_NAME, make_test_model

ROOT = Path(__file__).resolve().parents[2]
DACVAE_48K = {"name": "dacvae", "sample_rate": 48_000, "hop": 1920, "latent_channels": 8}


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return make_test_model(tmp_path_factory.mktemp("sam") / "model", seed=0)


@pytest.fixture(scope="module")
def separator(folder):
    return Separator.load(folder)


def _copy(folder: Path, tmp_path: Path) -> Path:
    target = tmp_path / "copy"
    shutil.copytree(folder, target)
    return target


def _edit_config(folder: Path, edit) -> None:
    config = json.loads((folder / "config.json").read_text())
    edit(config)
    (folder / "config.json").write_text(json.dumps(config))


def test_the_generator_is_deterministic(folder, tmp_path):
    again = make_test_model(tmp_path / "again", seed=0)
    assert (again / "config.json").read_text() == (folder / "config.json").read_text()
    a, b = (torch.load(f / "checkpoint.pt", weights_only=True) for f in (folder, again))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


def test_folder_builds_dit_codec_and_t5_and_reports_the_skipped_parts(folder, separator):
    assert separator.describe() == {
        "codec": DACVAE_48K,
        "text_encoder": {"name": str(folder / TEXT_ENCODER_NAME), "dim": 32},
    }
    parts = load_separator_parts(folder)
    assert parts.report.skipped_submodules == {"vision_encoder": 1, "visual_ranker": 1}
    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    name = "decoder.model.0.weight_v"
    assert torch.equal(parts.codec.state_dict()[name], state[f"audio_codec.{name}"])
    assert torch.equal(parts.model.state_dict()["proj.weight"], state["proj.weight"])
    assert (parts.model.cfg.dim, parts.model.cfg.n_heads, parts.model.cfg.latent_channels) == (64, 4, 8)


def test_t5_runs_as_the_official_code(separator):
    encoder = separator.text_encoder
    out = encoder.encode(["a man speaking", "a dog barking loud in the rain"])
    assert out.features.shape == (2, 8, 32)  # longest padding: 7 words + </s>
    assert out.mask.tolist() == [[True] * 4 + [False] * 4, [True] * 8]
    encoder.max_length = 5
    encoder._batches.clear()
    assert encoder.encode(["a dog barking loud in the rain"]).features.shape == (1, 5, 32)  # truncated
    encoder.max_length = 64
    encoder._batches.clear()


def test_separation_at_48k_comes_back_at_the_bench_rate_and_is_repeatable(separator):
    from latentflow.audio.tiers import make_examples

    examples = make_examples("clean", "test", 2)
    before = torch.random.get_rng_state()
    first = separator.separate(examples, steps=2, seeds=[5, 6])
    again = separator.decode(first.state, torch.stack([e.mixture for e in examples]), seeds=[5, 6])
    assert torch.equal(torch.random.get_rng_state(), before)
    assert first.target.shape == (2, 64_000) and first.state.shape == (2, 100, 16)
    assert torch.equal(again[0], first.target) and torch.equal(again[1], first.residual)


def test_baseline_and_an_identity_intervention_give_identical_estimates(folder, tmp_path):
    from latentflow.execution import SpecSession

    spec = tmp_path / "identity.yaml"
    spec.write_text(
        "latentflow: 1\nclaim: {id: identity, title: identity, source: a test}\nmodel: fixture\n"
        "data: {tier: clean, n: 2, seed: 0}\nsampler: {method: euler, steps: 2}\n"
        "hypotheses:\n  - id: scale_one\n    title: scaling by one changes nothing\n"
        "    interventions:\n      - {site: hook_text_proj, op: scale, args: {factor: 1.0}}\n"
        "    measure: {metric: si_snr, compare: target}\n"
        "    expect: {direction: decrease, test: paired_t}\n"
    )
    session = SpecSession(model=str(folder), batch_variants=False)
    plan = session.plan(spec)
    (case,) = plan.cases
    base = session.runner.run(case.model, case.data, case.sampler)
    treated = session.runner.run(case.model, case.data, case.sampler, case.interventions)
    assert base is not treated and torch.equal(base.estimate, treated.estimate)
    verdict = session.verdict(plan, case).to_dict()
    assert verdict["x_mean"] == verdict["y_mean"]


def _error(folder, match):
    with pytest.raises((CheckpointError, ValueError, FileNotFoundError)) as info:
        load_separator_parts(folder)
    message = str(info.value)
    assert "\n" not in message, message
    assert match in message, message
    return message


def test_folder_without_config_json(folder, tmp_path):
    copy = _copy(folder, tmp_path)
    (copy / "config.json").unlink()
    _error(copy, f"{copy}: no config.json")


def test_unknown_config_field(folder, tmp_path):
    copy = _copy(folder, tmp_path)
    _edit_config(copy, lambda c: c["transformer"].update(n_heeds=4))
    _error(copy, "config.json: unknown field transformer.n_heeds")


def test_width_not_dividing_into_heads(folder, tmp_path):
    copy = _copy(folder, tmp_path)
    _edit_config(copy, lambda c: c["transformer"].update(n_heads=5))
    _error(copy, "transformer.dim=64 does not divide into transformer.n_heads=5")


def test_missing_and_misshapen_codec_weights(folder, tmp_path):
    copy = _copy(folder, tmp_path)
    state = torch.load(copy / "checkpoint.pt", weights_only=True)
    state["audio_codec.encoder.block.0.bias"] = torch.zeros(5)
    torch.save(state, copy / "checkpoint.pt")
    _error(copy, "audio_codec.encoder.block.0.bias: checkpoint (5,) vs model (4,)")
    torch.save({k: v for k, v in state.items() if not k.startswith("audio_codec.")}, copy / "checkpoint.pt")
    _error(copy, f"{copy / 'checkpoint.pt'}: no audio_codec.* tensors")


def test_t5_narrower_than_the_config_says(folder, tmp_path):
    copy = _copy(folder, tmp_path)
    _edit_config(copy, lambda c: c["text_encoder"].update(dim=48))
    # the DiT's memory_proj is built 48 wide from the same field, so give it matching weights
    state = torch.load(copy / "checkpoint.pt", weights_only=True)
    state["memory_proj.weight"] = torch.zeros(64, 48)
    torch.save(state, copy / "checkpoint.pt")
    _error(copy, "config.json: text_encoder.dim=48, but the text encoder")


def test_missing_t5_says_what_to_download_and_where(folder, tmp_path, monkeypatch):
    monkeypatch.delenv("LATENTFLOW_TEXT_ENCODER", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    copy = _copy(folder, tmp_path)
    shutil.rmtree(copy / TEXT_ENCODER_NAME)
    message = _error(copy, f"the text encoder {TEXT_ENCODER_NAME!r} is not available offline")
    assert "--text-encoder" in message and "LATENTFLOW_TEXT_ENCODER" in message
    monkeypatch.setenv("LATENTFLOW_TEXT_ENCODER", str(folder / TEXT_ENCODER_NAME))
    assert load_separator_parts(copy).text_encoder.dim == 32


def test_single_file_checkpoint_with_the_codec(folder, tmp_path):
    from safetensors.torch import save_file

    state = torch.load(folder / "checkpoint.pt", weights_only=True)
    path = tmp_path / "sam.safetensors"
    save_file(state, str(path))
    parts = load_separator_parts(path, text_encoder=folder / TEXT_ENCODER_NAME)
    assert parts.codec.describe() == DACVAE_48K  # widths read from the audio_codec.* shapes
    with pytest.raises(ValueError, match=r"needs the codec dacvae .* but the codec given is mel"):
        Separator.load(path, text_encoder=folder / TEXT_ENCODER_NAME, codec=__import__(
            "latentflow.audio.codecs", fromlist=["MelCodec"]).MelCodec())


def test_codec_width_mismatch_names_both(separator):
    from latentflow.fixture import load_fixture_model

    with pytest.raises(ValueError, match=r"codec dacvae \(48000 Hz, hop 1920, C=8\) has 8 latent channels but the "
                                         r"model 'fixture' expects C=64"):
        Separator(load_fixture_model(), separator.codec)


def test_pt_without_memory_proj_is_named(tmp_path):
    # issue 12: a .pt missing memory_proj.weight gave "TypeError: 'NoneType' object is not subscriptable"
    from latentflow.model import build_model, preset

    state = build_model(preset("parity"), seed=0).state_dict()
    del state["memory_proj.weight"]
    torch.save(state, tmp_path / "m.pt")
    _error(tmp_path / "m.pt", f"{tmp_path / 'm.pt'}: no tensor 'memory_proj.weight'")


def test_bad_latentflow_config_json_is_named(tmp_path):
    from safetensors.torch import save_file

    from latentflow.model import build_model, preset

    state = build_model(preset("parity"), seed=0).state_dict()
    save_file(state, str(tmp_path / "m.safetensors"), metadata={"latentflow_config": "{not json"})
    _error(tmp_path / "m.safetensors", "metadata 'latentflow_config' is not valid JSON")


def _cli(*args, cwd=ROOT):
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    env.pop("LATENTFLOW_TEXT_ENCODER", None)
    return subprocess.run(
        [sys.executable, *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900, check=False
    )


def test_pytest_runs_a_spec_on_the_folder(folder, tmp_path):
    results = tmp_path / "results.json"
    done = _cli("-m", "pytest", "specs/dual_pathway_perceptual.yaml", f"--latentflow-model={folder}", "--latentflow-n=2",
                "-k", "text_projection_zero and clean and stoi", "-q", "-p", "no:cacheprovider",
                f"--latentflow-results={results}")
    assert "1 failed" in done.stdout or "1 passed" in done.stdout, done.stdout[-3000:] + done.stderr[-3000:]
    data = json.loads(results.read_text())
    assert data["model_override"] == str(folder)
    assert data["model"]["kind"] == "model folder"
    assert set(data["model"]["sha256"]) == {"config.json", "checkpoint.pt"}  # one checksum per file
    from latentflow.results import model_label

    assert model_label(data).startswith(f"{folder} (sha256 checkpoint.pt ")
    assert data["codec"] == DACVAE_48K  # the results name the DAC-VAE codec at 48 kHz
    assert data["text_encoder"]["dim"] > 0
    (verdict,) = data["verdicts"]
    assert verdict["case_id"] == "dual_pathway::text_projection_zero[clean-stoi]"
    assert verdict["x_mean"] == verdict["x_mean"] and verdict["y_mean"] == verdict["y_mean"]  # not NaN


def test_separate_and_evaluate_cli_on_the_folder(folder, tmp_path):
    import soundfile

    from latentflow.audio.tiers import make_examples

    example = make_examples("clean", "test", 1)[0]
    mix = tmp_path / "mix.wav"
    soundfile.write(mix, example.mixture.numpy(), 16_000)
    out = tmp_path / "out.wav"
    done = _cli("-m", "latentflow.cli", "separate", "--mix", str(mix), "--prompt", "a man speaking", "--out", str(out),
                "--model", str(folder), "--steps", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    target, rate = soundfile.read(out)
    assert rate == 16_000 and target.shape == (example.mixture.shape[-1],)
    report = tmp_path / "eval.json"
    done = _cli("-m", "latentflow.cli", "evaluate", "--tier", "clean", "--n", "2", "--model", str(folder),
                "--steps", "2", "--json", str(report))
    assert done.returncode == 0, done.stderr[-3000:]
    data = json.loads(report.read_text())
    assert data["separator"]["codec"] == DACVAE_48K


def test_editing_loaded_weights_never_writes_the_checkpoint(folder, tmp_path):
    # weights are memory-mapped copy-on-write: a counter-model's in-place edit stays in memory
    copy = _copy(folder, tmp_path)
    before = (copy / "checkpoint.pt").read_bytes()
    parts = load_separator_parts(copy)
    with torch.no_grad():
        for tensor in [*parts.model.parameters(), *parts.codec.parameters()]:
            tensor.add_(1.0)
    assert (copy / "checkpoint.pt").read_bytes() == before
    again = load_separator_parts(copy)
    stored = torch.load(folder / "checkpoint.pt", weights_only=True)["proj.weight"]
    assert torch.equal(again.model.state_dict()["proj.weight"], stored)
    assert not torch.equal(parts.model.state_dict()["proj.weight"], stored)


def test_t5_found_in_the_offline_hugging_face_cache(folder, tmp_path, monkeypatch):
    # the layout huggingface_hub writes: models--<id>/refs/main -> snapshots/<revision>/
    cache = tmp_path / "hub"
    snapshot = cache / f"models--{TEXT_ENCODER_NAME}" / "snapshots" / "0123abc"
    shutil.copytree(folder / TEXT_ENCODER_NAME, snapshot)
    (cache / f"models--{TEXT_ENCODER_NAME}" / "refs").mkdir()
    (cache / f"models--{TEXT_ENCODER_NAME}" / "refs" / "main").write_text("0123abc")
    monkeypatch.delenv("LATENTFLOW_TEXT_ENCODER", raising=False)
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(cache))
    copy = _copy(folder, tmp_path)
    shutil.rmtree(copy / TEXT_ENCODER_NAME)
    encoder = load_separator_parts(copy).text_encoder
    assert Path(encoder.name) == snapshot and encoder.dim == 32


def test_the_plugin_option_reaches_the_loader_without_touching_the_environment(folder, tmp_path, monkeypatch):
    # --latentflow-text-encoder travels through SpecSession to the world, not through os.environ
    from latentflow.execution import SpecSession

    monkeypatch.delenv("LATENTFLOW_TEXT_ENCODER", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    copy = _copy(folder, tmp_path)
    shutil.rmtree(copy / TEXT_ENCODER_NAME)
    world = SpecSession(text_encoder=str(folder / TEXT_ENCODER_NAME)).runner.world(str(copy))
    assert world.separator.text_encoder.dim == 32
    assert "LATENTFLOW_TEXT_ENCODER" not in os.environ


def test_load_gives_the_dit_of_a_folder_without_its_t5(folder, tmp_path, monkeypatch):
    """``latentflow.load(folder)`` returns only the DiT, so it needs neither T5 nor the codec."""
    import latentflow

    copy = _copy(folder, tmp_path)
    shutil.rmtree(copy / TEXT_ENCODER_NAME)
    monkeypatch.delenv("LATENTFLOW_TEXT_ENCODER", raising=False)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    _error(copy, f"the text encoder {TEXT_ENCODER_NAME!r} is not available offline")  # a separator needs it
    model = latentflow.load(str(copy))
    expected = Separator.load(folder).model
    assert model.cfg.name == "copy" and replace(model.cfg, name="model") == expected.cfg and not model.training
    state, reference = model.state_dict(), expected.state_dict()
    assert state.keys() == reference.keys() and all(torch.equal(state[k], reference[k]) for k in state)


def test_an_unknown_top_level_config_field_lists_the_known_ones_and_says_it_may_be_new(folder, tmp_path):
    copy = _copy(folder, tmp_path)
    _edit_config(copy, lambda c: c.update(audio_judge={"dim": 8}))
    message = _error(copy, "config.json: unknown field audio_judge; known fields: built ['transformer', "
                           "'audio_codec', 'text_encoder', 'num_anchors', 'anchor_embedding_dim', 'in_channels'], "
                           "skipped (parts latentflow does not run) ['vision_encoder', ")
    assert "the field may be new" in message and "SKIPPED_FIELDS in latentflow/model/official_config.py" in message


def test_the_official_codec_hop_length_is_accepted_and_checked(folder, tmp_path):
    copy = _copy(folder, tmp_path)
    _edit_config(copy, lambda c: c["audio_codec"].update(hop_length=1920))
    assert load_separator_parts(copy).codec.hop == 1920
    _edit_config(copy, lambda c: c["audio_codec"].update(hop_length=960))
    _error(copy, "config.json: audio_codec.hop_length=960 must be 1920, the product of audio_codec.encoder_rates")
