"""Checkpoint loading: strict keys, clear errors, weights_only torch files, skipped submodules."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from latentflow.model import CheckpointError, build_model, load_model, preset, read_tensors, save_model
from latentflow.model.checkpoint import infer_config, load_state_dict_into


@pytest.fixture(scope="module")
def state():
    return {k: v.clone() for k, v in build_model(preset("parity"), seed=2).state_dict().items()}


def test_roundtrip_through_safetensors(tmp_path, state):
    model = build_model(preset("parity"), seed=2)
    save_model(model, tmp_path / "m.safetensors")
    loaded = load_model(tmp_path / "m.safetensors")
    assert loaded.cfg == model.cfg
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in state.items())
    assert loaded.blocks[0].attention.rope.inv_freq.isfinite().all()


def test_config_is_inferred_from_shapes_alone(tmp_path, state):
    save_file(state, str(tmp_path / "bare.safetensors"))
    cfg = infer_config(*read_tensors(tmp_path / "bare.safetensors"))
    ref = preset("parity")
    assert (cfg.dim, cfg.n_heads, cfg.n_layers, cfg.latent_channels, cfg.text_dim, cfg.ffn_hidden) == (
        ref.dim, ref.n_heads, ref.n_layers, ref.latent_channels, ref.text_dim, ref.ffn_hidden)


def test_torch_file_loads_with_weights_only_and_unmodelled_parts_are_reported(tmp_path, state):
    full = dict(state)
    full["audio_codec.decoder.weight"] = torch.zeros(3)
    full["text_encoder.embed.weight"] = torch.zeros(2, 2)
    full["text_encoder.block.0.weight"] = torch.zeros(2, 2)
    torch.save(full, tmp_path / "full.pt")
    model = build_model(preset("parity"), seed=None)
    report = load_state_dict_into(model, read_tensors(tmp_path / "full.pt")[0], source="full.pt")
    assert report.skipped_submodules == {"audio_codec": 1, "text_encoder": 2}
    assert "skipped unmodelled audio_codec (1 keys), text_encoder (2 keys)" in str(report)
    assert all(torch.equal(model.state_dict()[k], v) for k, v in state.items())


def test_pickled_code_is_refused(tmp_path):
    torch.save({"weights": torch.zeros(1), "code": print}, tmp_path / "evil.pt")
    with pytest.raises(CheckpointError, match="weights_only=True"):
        read_tensors(tmp_path / "evil.pt")


def test_missing_unexpected_and_mismatched_keys_are_named(state):
    broken = dict(state)
    del broken["transformer.layers.1.attention.wq.weight"]
    broken["transformer.layers.9.attention.wq.weight"] = torch.zeros(1)
    broken["memory_proj.weight"] = torch.zeros(64, 7)
    model = build_model(preset("parity"), seed=None)
    with pytest.raises(CheckpointError) as info:
        load_state_dict_into(model, broken, source="broken.safetensors")
    message = str(info.value)
    assert "broken.safetensors" in message
    assert (
        "missing keys (in the model, not in the checkpoint): 1\n  - transformer.layers.1.attention.wq.weight" in message
    )
    assert (
        "unexpected keys (in the checkpoint, not in the model): 1\n  - transformer.layers.9.attention.wq.weight"
        in message
    )
    assert "memory_proj.weight: checkpoint (64, 7) vs model (64, 32)" in message


@pytest.mark.parametrize("cut", [4, 100, -50])
def test_truncated_safetensors_get_a_clear_error(tmp_path, state, cut):
    path = tmp_path / "m.safetensors"
    save_file(state, str(path))
    data = path.read_bytes()
    path.write_bytes(data[:cut])
    with pytest.raises(CheckpointError, match=r"m\.safetensors: (truncated|not a readable safetensors)"):
        read_tensors(path)


def test_corrupt_torch_file_and_unknown_suffix(tmp_path):
    (tmp_path / "junk.pt").write_bytes(b"not a zip at all")
    with pytest.raises(CheckpointError, match=r"junk\.pt: cannot be read"):
        read_tensors(tmp_path / "junk.pt")
    (tmp_path / "w.npz").write_bytes(b"")
    with pytest.raises(CheckpointError, match=r"unknown checkpoint type '\.npz'"):
        read_tensors(tmp_path / "w.npz")
    with pytest.raises(CheckpointError, match="no such file"):
        read_tensors(tmp_path / "absent.safetensors")
