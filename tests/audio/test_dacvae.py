"""DAC-VAE reproduces the official codec (fixtures/parity/dacvae_parity.safetensors)."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import pytest
import torch

from latentflow.audio.dacvae import DACVAE, DACVAEConfig, separation_outputs, watermark_message
from latentflow.audio.dacvae_parity import codec_output_errors
from latentflow.model.checkpoint import CheckpointError, read_tensors
from latentflow.model.parity import main as check_parity_main

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures" / "parity"
VECTOR = FIXTURES / "dacvae_parity.safetensors"
KEYS_FULL = FIXTURES / "dacvae_keys_full.json"
OUTPUTS = [
    "output.audio_features",
    "output.decoded",
    "output.decoded_from_random_latent",
    "output.encoded",
    "output.separation_residual.0",
    "output.separation_residual.1",
    "output.separation_target.0",
    "output.separation_target.1",
]


@pytest.fixture(scope="module")
def vector():
    return read_tensors(VECTOR)


@pytest.fixture(scope="module")
def codec(vector):
    tensors, metadata = vector
    model = DACVAE(DACVAEConfig.from_dict(json.loads(metadata["codec_config"]))).eval()
    model.load_official_state_dict(tensors, prefix="param.audio_codec.", source=str(VECTOR))
    return model


def test_every_output_within_1e5(vector):
    errors = dict(codec_output_errors(*vector, source=str(VECTOR)))
    assert sorted(errors) == OUTPUTS
    for name, err in errors.items():
        assert err < 1e-5, (name, err)


def test_check_parity_cli_on_the_committed_vector(capsys):
    status = check_parity_main([str(VECTOR)])
    out = capsys.readouterr().out.strip().splitlines()
    assert status == 0, out
    last = re.fullmatch(r"max_abs_err=(\S+)", out[-1])
    assert last and float(last[1]) < 1e-5, out


def test_full_size_codec_names_and_shapes_match_the_official_list():
    listing = json.loads(KEYS_FULL.read_text())
    with torch.device("meta"):
        model = DACVAE(DACVAEConfig())
    state = model.state_dict()
    ours = [(f"audio_codec.{k}", list(v.shape)) for k, v in state.items()]
    official = [(e["name"], e["shape"]) for e in listing["entries"]]
    assert ours == official
    assert len(ours) == 317 == listing["num_entries"]
    assert sum(math.prod(s) for _, s in ours) == 107_671_171 == listing["num_parameters"]
    assert not list(model.buffers())


def test_same_seed_same_waveform_other_seed_differs(codec, vector):
    latent = vector[0]["input.latent"]
    with torch.no_grad():
        a = codec.decode(latent, seed=7)
        b = codec.decode(latent, seed=7)
        c = codec.decode(latent, seed=8)
    assert torch.equal(a, b)
    assert (a - c).abs().max() > 1e-2
    assert torch.equal(watermark_message(7, 2), watermark_message(7, 2))


def test_decode_without_message_leaves_the_global_rng_alone(codec, vector):
    before = torch.get_rng_state()
    with torch.no_grad():
        codec.decode(vector[0]["input.latent"])
    assert torch.equal(torch.get_rng_state(), before)


def test_separation_outputs_are_whole_frames(codec, vector):
    tensors = vector[0]
    pairs = separation_outputs(codec, tensors["input.separation_state"], [4, 3], tensors["input.separation_message"])
    assert [t.shape[0] for t, _ in pairs] == [7680, 5760]


def test_missing_key_and_wrong_shape_are_named(vector):
    tensors = {k: v for k, v in vector[0].items() if k.startswith("param.audio_codec.")}
    model = DACVAE(DACVAEConfig.from_dict(json.loads(vector[1]["codec_config"])))
    missing = dict(tensors)
    del missing["param.audio_codec.quantizer.out_proj.bias"]
    with pytest.raises(CheckpointError, match=r"missing keys.*\n.*quantizer\.out_proj\.bias"):
        model.load_official_state_dict(missing, prefix="param.audio_codec.", source="ckpt.safetensors")
    wrong = dict(tensors)
    wrong["param.audio_codec.encoder.block.0.bias"] = torch.zeros(5)
    with pytest.raises(CheckpointError, match=re.escape("encoder.block.0.bias: checkpoint (5,) vs model (4,)")):
        model.load_official_state_dict(wrong, prefix="param.audio_codec.", source="ckpt.safetensors")


def test_clip_too_short_for_the_reflect_pad(codec):
    with pytest.raises(ValueError, match="960 samples is too short"):
        codec.encode(torch.zeros(1, 1, 960))
    assert codec.encode(torch.zeros(1, 1, 961)).shape == (1, 8, 1)


def test_check_parity_names_a_file_that_is_no_vector(tmp_path, capsys):
    from safetensors.torch import save_file

    path = tmp_path / "model.safetensors"
    save_file({"proj.weight": torch.zeros(2, 2)}, str(path))
    assert check_parity_main([str(path)]) == 2
    out = capsys.readouterr().out
    assert str(path) in out and "not a parity vector" in out


def test_check_parity_names_a_missing_transformer_key(tmp_path, capsys):
    from safetensors.torch import save_file

    path = tmp_path / "vector.safetensors"
    metadata = {"transformer_config": json.dumps({"n_heads": 2})}
    save_file({"param.proj.weight": torch.zeros(2, 2)}, str(path), metadata=metadata)
    assert check_parity_main([str(path)]) == 2
    out = capsys.readouterr().out
    assert str(path) in out and "'dim'" in out


def test_both_codecs_follow_the_protocol(codec):
    from latentflow.audio.codec_protocol import AudioCodec
    from latentflow.audio.codecs import MelCodec

    assert isinstance(codec, AudioCodec)
    assert codec.describe() == {"name": "dacvae", "sample_rate": 48_000, "hop": 1920, "latent_channels": 8}
    assert (codec.samples_to_frames(8914), codec.frames_to_samples(5)) == (5, 9600)
    mel = MelCodec()
    assert isinstance(mel, AudioCodec)
    assert mel.describe() == {"name": "mel", "sample_rate": 16_000, "hop": 640, "latent_channels": 64}
    assert (mel.samples_to_frames(641), mel.frames_to_samples(2)) == (2, 1280)
    wave = torch.randn(1, 1600, generator=torch.Generator().manual_seed(0))
    assert mel.encode(wave).shape == (1, 64, 3)
    with pytest.raises(ValueError, match="no watermark"):
        mel.decode(mel.encode(wave), mixture=wave, message=torch.zeros(1, 16))
    with pytest.raises(ValueError, match="through the mixture"):
        mel.decode(mel.encode(wave))


def test_separation_decode_is_bitwise_repeatable_and_leaves_the_global_rng_alone(codec, vector):
    from latentflow.audio.dacvae import separation_messages

    state = vector[0]["input.separation_state"]
    before = torch.random.get_rng_state()
    first = codec.decode_separation(state, messages=separation_messages([3, 4]))
    second = codec.decode_separation(state, messages=separation_messages([3, 4]))
    assert torch.equal(torch.random.get_rng_state(), before)
    assert all(torch.equal(a, b) for a, b in zip(first, second, strict=True))
    # item 1 alone gets the same message, so the same waveform, as inside the batch of two
    alone = codec.decode_separation(state[1:], messages=separation_messages([4]))
    torch.testing.assert_close(alone[0], first[0][1:], rtol=0, atol=1e-5)
    other = codec.decode_separation(state, messages=separation_messages([3, 5]))
    assert torch.equal(other[0][0], first[0][0]) and not torch.equal(other[0][1], first[0][1])


def test_check_parity_reproduces_a_vector_of_another_batch_size(vector, tmp_path, capsys):
    # the vector's second item alone (batch 1): every output must still be reproduced
    from safetensors.torch import save_file

    tensors, metadata = vector
    one = {}
    for name, value in tensors.items():
        if name.startswith("param."):
            one[name] = value
        elif name == "input.separation_message":  # rows 2b, 2b+1 belong to item b
            one[name] = value[2:].contiguous()
        elif name.startswith("output.separation_"):
            if name.endswith(".1"):
                one[name[:-2] + ".0"] = value
        elif name.startswith(("input.", "output.", "intermediate.")):
            one[name] = value[1:].contiguous()
    path = tmp_path / "batch1.safetensors"
    save_file(one, str(path), metadata=metadata)
    assert check_parity_main([str(path)]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    assert float(re.fullmatch(r"max_abs_err=(\S+)", out[-1])[1]) < 1e-5
