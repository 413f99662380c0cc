"""``latentflow separate`` and ``latentflow evaluate``: outputs, errors, the JSON schema."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import soundfile

from latentflow.audio.tiers import make_example
from latentflow.cli.evaluate import MeanInterval, Proportion
from latentflow.cli.evaluate import main as evaluate_main
from latentflow.cli.separate import UsageError, parse_span, residual_path
from latentflow.cli.separate import main as separate_main
from latentflow.metrics import si_snr


@pytest.fixture(scope="module")
def clean_clip(tmp_path_factory):
    """A held-out Clean mixture written as a 44.1 kHz stereo 16-bit WAV (so reading resamples)."""
    import torchaudio.functional

    example = make_example("clean", "test", 1)
    folder = tmp_path_factory.mktemp("clip")
    stereo = torchaudio.functional.resample(example.mixture, 16000, 44100)
    path = folder / "mix.wav"
    soundfile.write(path, np.stack([stereo.numpy(), stereo.numpy()], 1), 44100, subtype="PCM_16")
    return example, path


def test_separate_writes_target_and_residual(clean_clip, tmp_path, capsys):
    example, mix = clean_clip
    out = tmp_path / "voice.wav"
    assert separate_main(["--mix", str(mix), "--prompt", example.prompt, "--out", str(out)]) == 0
    assert residual_path(out) == tmp_path / "voice.residual.wav"
    target, rate = soundfile.read(out, dtype="float32")
    residual, _ = soundfile.read(residual_path(out), dtype="float32")
    assert rate == 16000 and target.shape == residual.shape
    assert abs(len(target) - len(example.mixture)) <= 1
    n = min(len(target), len(example.mixture))
    truth = example.target[:n].numpy()
    mixture_score = si_snr(example.mixture[:n].numpy(), truth)[0]
    assert si_snr(target[:n], truth)[0] > mixture_score + 2.0
    assert "voice.residual.wav" in capsys.readouterr().out


def test_separate_with_a_span(clean_clip, tmp_path):
    example, mix = clean_clip
    out = tmp_path / "spanned.flac"
    assert separate_main(["--mix", str(mix), "--prompt", example.prompt, "--span", "0:4", "--out", str(out)]) == 0
    assert soundfile.info(str(out)).subtype == "PCM_16"


def test_separate_with_a_span_only_prompt_and_a_span_past_the_end(clean_clip, tmp_path, capsys):
    example, mix = clean_clip
    out = tmp_path / "span_only.wav"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # warned once, as a plain line, not again by the windows
        assert separate_main(["--mix", str(mix), "--span", "1:9", "--out", str(out), "--steps", "2"]) == 0
    err = capsys.readouterr().err
    assert "warning: --span '1:9': (1, 9) s runs past the end of the" in err and "clipped to (1, " in err
    target, _ = soundfile.read(out, dtype="float32")
    assert abs(len(target) - len(example.mixture)) <= 1 and np.abs(target).max() > 0
    assert "--prompt (a text description of the target), --span START:END, or both" in _error(
        capsys, ["--mix", str(mix), "--out", str(out)])
    assert "--overlap 3: must be between 0 and half the window (2 s)" in _error(
        capsys, ["--mix", str(mix), "--prompt", "a man", "--out", str(out), "--overlap", "3"])


@pytest.mark.parametrize(
    "text, span", [("1.5:3", (1.5, 3.0)), ("0:0.25", (0.0, 0.25))]
)
def test_parse_span(text, span):
    assert parse_span(text) == span


@pytest.mark.parametrize("text", ["1.5", "a:b", "3:1", "-1:2", "1:1", "1:2:3", "nan:1"])
def test_parse_span_rejects(text):
    with pytest.raises(UsageError, match=f"--span '{text}'"):
        parse_span(text)


def _error(capsys, argv) -> str:
    assert separate_main(argv) == 2
    return capsys.readouterr().err


def test_separate_errors_name_the_problem(clean_clip, tmp_path, capsys):
    _, mix = clean_clip
    out = str(tmp_path / "o.wav")
    missing = tmp_path / "nope.wav"
    assert f"{missing}: no such file" in _error(capsys, ["--mix", str(missing), "--prompt", "x", "--out", out])
    text_file = tmp_path / "notes.wav"
    text_file.write_text("this is not audio\n")
    assert "not a readable audio file" in _error(capsys, ["--mix", str(text_file), "--prompt", "x", "--out", out])
    assert "--prompt '  ' is empty" in _error(capsys, ["--mix", str(mix), "--prompt", "  ", "--out", out])
    assert "--span 'x:1'" in _error(capsys, ["--mix", str(mix), "--prompt", "a man", "--span", "x:1", "--out", out])
    err = _error(capsys, ["--mix", str(mix), "--prompt", "a man", "--span", "5:6", "--out", out])
    assert "--span '5:6': starts at 5 s, at or after the end of the 4 s mixture" in err
    mp3 = str(tmp_path / "o.mp3")
    assert "allowed: .wav, .flac" in _error(capsys, ["--mix", str(mix), "--prompt", "a", "--out", mp3])
    err = _error(capsys, ["--mix", str(mix), "--prompt", "a", "--out", out, "--model", str(tmp_path / "m.safetensors")])
    assert "m.safetensors" in err and "no such file" in err
    assert not (tmp_path / "o.wav").exists()


def test_separate_rejects_an_undecodable_sample_format(tmp_path, capsys):
    # A WAV header announcing a sample format libsndfile cannot decode (format tag 0x0055, MP3).
    import struct

    data = b"\x00" * 64
    fmt = struct.pack("<HHIIHH", 0x0055, 1, 16000, 32000, 2, 16)
    wav = b"RIFF" + struct.pack("<I", 4 + 8 + len(fmt) + 8 + len(data)) + b"WAVE"
    wav += b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    path = tmp_path / "odd.wav"
    path.write_bytes(wav)
    err = _error(capsys, ["--mix", str(path), "--prompt", "a dog", "--out", str(tmp_path / "o.wav")])
    assert str(path) in err


def test_interval_helpers():
    interval = MeanInterval.of([1.0, 2.0, 3.0, float("nan")])
    assert interval.mean == 2.0 and interval.n_valid == 3 and interval.n_total == 4
    # t(0.975, 2) = 4.3027; sd = 1; half width = 4.3027 / sqrt(3).
    assert interval.high - 2.0 == pytest.approx(4.302652729911275 / 3**0.5)
    share = Proportion.of([True] * 9 + [False])
    assert share.value == 0.9
    assert share.low == pytest.approx(0.5958, abs=1e-4) and share.high == pytest.approx(0.9821, abs=1e-4)


def test_evaluate_prints_a_table_and_writes_json(tmp_path, capsys):
    path = tmp_path / "clean.json"
    argv = ["--tier", "clean", "--n", "2", "--steps", "4", "--json", str(path)]
    assert evaluate_main(argv) == 0
    printed = capsys.readouterr().out
    for label in ("SI-SNR improvement (dB)", "SAR (dB)", "STOI", "PESQ (wb)", "prompt following (mix)"):
        assert label in printed
    result = json.loads(path.read_text())
    assert set(result) == {"version", "tier", "split", "n", "model", "steps", "method", "prompt_kind", "seed",
                           "metrics", "prompt_following", "separator"}
    assert result["separator"] == {"codec": {"name": "mel", "sample_rate": 16_000, "hop": 640, "latent_channels": 64},
                                   "text_encoder": {"name": "minilm", "dim": 384}}
    assert (result["tier"], result["n"], result["steps"], result["method"]) == ("clean", 2, 4, "euler")
    assert set(result["metrics"]) == {"si_snr", "si_snr_improvement", "sar", "stoi", "pesq", "mixture_si_snr",
                                         "oracle_si_snr_improvement"}
    for entry in result["metrics"].values():
        assert set(entry) == {"mean", "ci95", "n_valid", "n", "values", "nan_reasons"}
        assert len(entry["values"]) == 2 and entry["n"] == 2
    sisnr = result["metrics"]["si_snr"]
    assert sisnr["ci95"][0] <= sisnr["mean"] <= sisnr["ci95"][1]
    improvement = np.array(result["metrics"]["si_snr_improvement"]["values"])
    np.testing.assert_allclose(
        improvement, np.array(sisnr["values"]) - np.array(result["metrics"]["mixture_si_snr"]["values"]), atol=1e-9
    )
    oracle = np.array(result["metrics"]["oracle_si_snr_improvement"]["values"])
    assert (oracle > 5.0).all()  # true latents decoded on the mixture separate well
    following = result["prompt_following"]
    assert following["per_mixture"]["trials"] == 2 and following["per_prompt"]["trials"] == 4


def test_evaluate_env_has_no_prompt_following(tmp_path, capsys):
    path = tmp_path / "env.json"
    assert evaluate_main(["--tier", "env", "--n", "1", "--steps", "2", "--json", str(path)]) == 0
    assert json.loads(path.read_text())["prompt_following"] is None


def test_evaluate_usage_errors(tmp_path, capsys):
    assert evaluate_main(["--tier", "clean", "--n", "0"]) == 2
    assert "--n 0: must be a positive integer" in capsys.readouterr().err
    assert evaluate_main(["--tier", "clean", "--n", "1", "--json", str(tmp_path / "no" / "x.json")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert evaluate_main(["--tier", "env", "--n", "1", "--model", str(tmp_path / "w.pt")]) == 2
    assert "w.pt" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        evaluate_main(["--tier", "loud", "--n", "1"])
