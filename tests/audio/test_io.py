"""Audio file I/O: round trips, resampling, and errors that name the file and the problem."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile
import torch

from latentflow.audio.io import AudioFileError, fixtures_root, read_audio, resample, write_audio


def _sine(freq: float, rate: int, seconds: float, amp: float = 0.5) -> np.ndarray:
    return (amp * np.sin(2 * np.pi * freq * np.arange(int(rate * seconds)) / rate)).astype(np.float32)


@pytest.mark.parametrize("suffix", [".wav", ".flac"])
def test_write_then_read_round_trips_within_16_bit_precision(tmp_path, suffix):
    wave = torch.from_numpy(_sine(440.0, 16000, 0.5))
    path = write_audio(tmp_path / f"tone{suffix}", wave, 16000)
    back, rate = read_audio(path)
    assert rate == 16000 and back.dtype == torch.float32 and back.shape == wave.shape
    assert (back - wave).abs().max() <= 1.0 / 32767


def test_float_wav_round_trips_exactly(tmp_path):
    wave = torch.from_numpy(_sine(300.0, 16000, 0.1, amp=1.5))  # FLOAT may exceed 1.0
    back, _ = read_audio(write_audio(tmp_path / "f.wav", wave, 16000, subtype="FLOAT"))
    assert torch.equal(back, wave)


def test_read_resamples_to_the_requested_rate(tmp_path):
    path = tmp_path / "tone48k.wav"
    soundfile.write(str(path), _sine(1000.0, 48000, 1.0), 48000, subtype="PCM_16")
    wave, rate = read_audio(path, sample_rate=16000)
    assert rate == 16000 and wave.shape == (16000,)
    spectrum = torch.fft.rfft(wave[1000:-1000] * torch.hann_window(14000)).abs()
    peak_hz = float(spectrum.argmax()) * 16000 / 14000
    assert abs(peak_hz - 1000.0) < 2.0
    # Resampling keeps the tone's level (amplitude 0.5 -> RMS 0.354).
    assert abs(float(wave[1000:-1000].pow(2).mean().sqrt()) - 0.5 / np.sqrt(2)) < 0.005


def test_resample_shapes_identity_at_equal_rates_and_errors():
    x = torch.randn(2, 2205, generator=torch.Generator().manual_seed(0))
    assert resample(x, 22050, 22050) is x
    y = resample(x, 22050, 16000)
    assert y.shape == (2, 1600)
    with pytest.raises(ValueError, match="new_rate must be a positive integer"):
        resample(x, 22050, 0)


def test_stereo_is_averaged_to_mono_unless_asked(tmp_path):
    left, right = _sine(200.0, 8000, 0.2), _sine(500.0, 8000, 0.2, amp=0.25)
    path = tmp_path / "stereo.wav"
    soundfile.write(str(path), np.stack([left, right], axis=1), 8000, subtype="FLOAT")
    mono, _ = read_audio(path)
    both, _ = read_audio(path, mono=False)
    assert both.shape == (2, len(left))
    assert torch.allclose(mono, torch.from_numpy((left + right) / 2), atol=1e-7)


def test_unreadable_files_name_the_file_and_the_problem(tmp_path):
    missing = tmp_path / "missing.wav"
    with pytest.raises(AudioFileError, match=r"missing\.wav: no such file"):
        read_audio(missing)
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    with pytest.raises(AudioFileError, match=r"empty\.wav: file is empty \(0 bytes\)"):
        read_audio(empty)
    text = tmp_path / "notes.wav"
    text.write_text("these are not samples\n" * 20)
    with pytest.raises(AudioFileError, match=r"notes\.wav: not a readable audio file .*readable formats: .*WAV"):
        read_audio(text)
    with pytest.raises(AudioFileError, match="is a directory"):
        read_audio(tmp_path)
    with pytest.raises(AudioFileError) as raised:
        read_audio(missing)
    err = raised.value
    assert err.path == str(missing) and err.problem == "no such file"
    assert isinstance(err, ValueError)


def test_a_valid_file_without_samples_is_reported_as_empty(tmp_path):
    path = tmp_path / "silent.wav"
    soundfile.write(str(path), np.zeros((0,), dtype=np.float32), 16000, subtype="PCM_16")
    assert path.stat().st_size > 0  # a header, but no frames
    with pytest.raises(AudioFileError, match=r"silent\.wav: contains no audio samples"):
        read_audio(path)


def test_non_finite_samples_are_rejected_on_read_and_write(tmp_path):
    path = tmp_path / "nan.wav"
    soundfile.write(str(path), np.array([0.0, np.nan, 0.1], dtype=np.float32), 16000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match=r"nan\.wav: contains NaN or infinite samples"):
        read_audio(path)
    with pytest.raises(AudioFileError, match=r"out\.wav: waveform contains NaN or infinite"):
        write_audio(tmp_path / "out.wav", torch.tensor([0.0, float("inf")]), 16000)


def test_write_rejects_bad_formats_clipping_and_shapes(tmp_path):
    wave = torch.zeros(100)
    with pytest.raises(AudioFileError, match=r"x\.mp3: cannot write extension '\.mp3'; allowed: \.wav, \.flac"):
        write_audio(tmp_path / "x.mp3", wave, 16000)
    with pytest.raises(AudioFileError, match=r"subtype 'FLOAT' not allowed for FLAC; allowed: \['PCM_16', 'PCM_24'\]"):
        write_audio(tmp_path / "x.flac", wave, 16000, subtype="FLOAT")
    with pytest.raises(AudioFileError, match=r"loud\.wav: waveform peak 1\.2000 exceeds 1\.0 and would clip in PCM_16"):
        write_audio(tmp_path / "loud.wav", torch.full((10,), 1.2), 16000)
    with pytest.raises(AudioFileError, match=r"must be floating point; got dtype int16"):
        write_audio(tmp_path / "int.wav", np.zeros(10, dtype=np.int16), 16000)
    with pytest.raises(AudioFileError, match=r"got shape \(1, 2, 3\)"):
        write_audio(tmp_path / "cube.wav", np.zeros((1, 2, 3)), 16000)
    with pytest.raises(AudioFileError, match=r"folder .*no_such_dir does not exist"):
        write_audio(tmp_path / "no_such_dir" / "a.wav", wave, 16000)
    with pytest.raises(ValueError, match=r"sample_rate must be a positive integer \(Hz\); got 16000\.0"):
        write_audio(tmp_path / "a.wav", wave, 16000.0)
    assert not list(tmp_path.iterdir())  # nothing half-written


def test_channels_first_writes_as_stereo(tmp_path):
    wave = torch.stack([torch.full((50,), 0.25), torch.full((50,), -0.5)])
    path = write_audio(tmp_path / "st.flac", wave, 16000)
    info = soundfile.info(str(path))
    assert info.channels == 2 and info.frames == 50 and info.subtype == "PCM_16"
    back, _ = read_audio(path, mono=False)
    assert torch.allclose(back, wave, atol=1 / 32767)


def test_fixtures_root_honours_the_environment_override(tmp_path, monkeypatch):
    monkeypatch.delenv("LATENTFLOW_FIXTURES", raising=False)
    default = fixtures_root()
    assert (default / "audio" / "manifest.json").exists()
    monkeypatch.setenv("LATENTFLOW_FIXTURES", str(tmp_path))
    assert fixtures_root() == tmp_path
    monkeypatch.setenv("LATENTFLOW_FIXTURES", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match=r"LATENTFLOW_FIXTURES=.*absent.* is not a directory"):
        fixtures_root()
