"""Two small binaural models trained here for the BMLD benchmark, and how to retrain them.

Both solve the same spatial task, lateralisation of noise bursts: a burst (Gaussian noise,
``band_hz``, random spectral tilt and level) is given an interaural time difference (ITD) and
a matching interaural level difference (ILD) from one of ``N_CLASSES`` positions, and the
model names the position. They differ only in what they see of the two ears' STFTs
(``n_fft`` 512, hop 160, Hann, bins up to ``max_hz``):

* ``binaural_phase``: log power of each ear plus cos/sin of the interaural phase difference
  (IPD) in every time-frequency bin;
* ``binaural_magnitude``: log power of each ear only (the ILD is there, the IPD is not).

Architecture (the same for both): a per-frame MLP (input -> 64 -> ``EMBED_DIM``, ReLU) whose
output is the embedding that the BMLD probe reads (``site = "embedding"``, mean over frames),
then a linear classifier on the time-averaged embedding.

Training is deterministic: one thread, the initial weights drawn under ``TrainConfig.seed``
inside ``torch.random.fork_rng`` (so the caller's global torch RNG is left as it was), batch
order from a seeded ``torch.Generator``, data from numpy Generators seeded by ``TrainConfig.seed``.
Retrain both with ``python -m latentflow.bmld.binaural``
(writes ``fixtures/bmld/binaural_{phase,magnitude}.safetensors``; the model card
``fixtures/bmld/MODEL_CARD.md`` records the recipe, the time and the accuracies).
"""

from __future__ import annotations

import argparse
import functools
import json
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import Tensor, nn

from latentflow.audio.io import fixtures_root
from latentflow.bmld.stimuli import band_noise

KINDS = ("phase", "magnitude")
N_CLASSES = 9
EMBED_DIM = 32
HIDDEN = 64
N_FFT = 512
HOP = 160
SAMPLE_RATE = 16000
MAX_HZ = 4000.0
ITD_MAX_S = 0.0006  # +-600 us, about the human head's range
ILD_MAX_DB = 6.0  # the ILD that goes with the largest ITD (a crude head-shadow, same at all frequencies)


@dataclass(frozen=True)
class TrainConfig:
    """The recipe (recorded in each checkpoint's metadata and in the model card)."""

    seed: int = 0
    n_train: int = 2400
    n_val: int = 600
    duration_s: float = 0.3
    band_hz: tuple[float, float] = (100.0, 4000.0)
    ild_jitter_db: float = 0.5  # ILD noise per burst, so the ILD alone is a good but imperfect cue
    epochs: int = 12
    batch_size: int = 64
    learning_rate: float = 2e-3


class LateralisationNet(nn.Module):
    def __init__(self, kind: str) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"binaural model kind must be one of {', '.join(KINDS)}; got {kind!r}")
        self.kind = kind
        n_bins = n_feature_bins()
        in_dim = (4 if kind == "phase" else 2) * n_bins
        self.frame_mlp = nn.Sequential(nn.Linear(in_dim, HIDDEN), nn.ReLU(), nn.Linear(HIDDEN, EMBED_DIM), nn.ReLU())
        self.classifier = nn.Linear(EMBED_DIM, N_CLASSES)

    def embed(self, frames: Tensor) -> Tensor:
        """(B, T, in_dim) -> (B, EMBED_DIM), the time-averaged embedding."""
        return self.frame_mlp(frames).mean(dim=1)

    def forward(self, frames: Tensor) -> Tensor:
        return self.classifier(self.embed(frames))


def n_feature_bins() -> int:
    return int(MAX_HZ / (SAMPLE_RATE / N_FFT)) + 1


def input_frames(waves: Tensor | np.ndarray, kind: str) -> Tensor:
    """(B, 2, S) binaural waves -> (B, T, in_dim) per-frame inputs of a ``kind`` model."""
    waves = torch.tensor(np.asarray(waves), dtype=torch.float32)  # a copy: stimulus arrays are read-only
    if waves.dim() != 3 or waves.shape[1] != 2:
        raise ValueError(f"binaural waves must be (B, 2, S), got shape {tuple(waves.shape)}")
    B, _, S = waves.shape
    spec = torch.stft(waves.reshape(2 * B, S), N_FFT, HOP, window=torch.hann_window(N_FFT), return_complex=True)
    spec = spec[:, : n_feature_bins()].reshape(B, 2, n_feature_bins(), -1)  # (B, ear, F, T)
    # log10 power with a floor 80 dB under a unit-RMS signal's bin power: silence stays finite.
    log_power = torch.log10(spec.abs().square() + 1e-4)
    parts = [log_power[:, 0], log_power[:, 1]]
    if kind == "phase":
        cross = spec[:, 0] * spec[:, 1].conj()
        ipd = torch.angle(cross)
        parts += [torch.cos(ipd), torch.sin(ipd)]
    elif kind != "magnitude":
        raise ValueError(f"binaural model kind must be one of {', '.join(KINDS)}; got {kind!r}")
    return torch.cat(parts, dim=1).transpose(1, 2).contiguous()  # (B, T, parts*F)


# --- the task --------------------------------------------------------------------------------


def lateralised_bursts(config: TrainConfig, split: str) -> tuple[np.ndarray, np.ndarray]:
    """(N, 2, S) bursts and their position classes, balanced, deterministic per (seed, split)."""
    n = config.n_train if split == "train" else config.n_val
    rng = np.random.default_rng([config.seed, 0 if split == "train" else 1])
    S = int(round(config.duration_s * SAMPLE_RATE))
    labels = np.arange(n) % N_CLASSES
    rng.shuffle(labels)
    positions = np.linspace(-1.0, 1.0, N_CLASSES)
    freqs = np.fft.rfftfreq(S, 1 / SAMPLE_RATE)
    waves = np.empty((n, 2, S), dtype=np.float32)
    for i, label in enumerate(labels):
        burst = band_noise(rng, S, SAMPLE_RATE, config.band_hz)
        tilt_db_per_octave = rng.uniform(-6, 6)
        spectrum = np.fft.rfft(burst) * (np.maximum(freqs, 1.0) / 1000.0) ** (tilt_db_per_octave / 20 / np.log10(2))
        level = 0.05 * 10 ** (rng.uniform(-10, 10) / 20)
        itd = positions[label] * ITD_MAX_S
        ild = positions[label] * ILD_MAX_DB + rng.normal(0, config.ild_jitter_db)
        # The right ear leads for positive positions: the left ear is delayed by the ITD.
        left = np.fft.irfft(spectrum * np.exp(-2j * np.pi * freqs * max(itd, 0)), n=S)
        right = np.fft.irfft(spectrum * np.exp(-2j * np.pi * freqs * max(-itd, 0)), n=S)
        scale = level / np.sqrt(np.mean(burst**2))
        waves[i, 0] = left * scale * 10 ** (-ild / 40)
        waves[i, 1] = right * scale * 10 ** (ild / 40)
    return waves, labels.astype(np.int64)


# --- training, saving, loading ---------------------------------------------------------------


def train(kind: str, config: TrainConfig = TrainConfig()) -> tuple[LateralisationNet, dict]:
    """Train one model deterministically (one thread); returns it and its record."""
    started = time.perf_counter()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        # nn.Linear draws its initial weights from the global torch RNG and takes no generator:
        # seed it inside fork_rng, which restores the caller's RNG state on exit.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            model = LateralisationNet(kind)
        x_train, y_train = _frames_and_labels(config, "train", kind)
        x_val, y_val = _frames_and_labels(config, "val", kind)
        optimiser = torch.optim.Adam(model.parameters(), lr=config.learning_rate)
        order_rng = torch.Generator().manual_seed(config.seed)
        for _ in range(config.epochs):
            model.train()
            for batch in torch.randperm(len(y_train), generator=order_rng).split(config.batch_size):
                optimiser.zero_grad()
                loss = nn.functional.cross_entropy(model(x_train[batch]), y_train[batch])
                loss.backward()
                optimiser.step()
        model.eval()
        record = {
            "kind": kind,
            "train_accuracy": accuracy(model, x_train, y_train),
            "val_accuracy": accuracy(model, x_val, y_val),
            "train_seconds": round(time.perf_counter() - started, 1),
            "config": asdict(config),
        }
    finally:
        torch.set_num_threads(threads)
    return model, record


@torch.no_grad()
def accuracy(model: LateralisationNet, frames: Tensor, labels: Tensor) -> float:
    return float((model(frames).argmax(dim=1) == labels).float().mean())


def _frames_and_labels(config: TrainConfig, split: str, kind: str) -> tuple[Tensor, Tensor]:
    waves, labels = lateralised_bursts(config, split)
    return input_frames(waves, kind), torch.from_numpy(labels)


def checkpoint_path(kind: str, folder: Path | None = None) -> Path:
    return (fixtures_root() / "bmld" if folder is None else folder) / f"binaural_{kind}.safetensors"


def save(model: LateralisationNet, record: dict, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tensors = {k: v.detach().contiguous() for k, v in model.state_dict().items()}
    save_file(tensors, str(path), metadata={"latentflow_bmld_record": json.dumps(record, sort_keys=True)})


def load(kind: str, path: Path | None = None) -> tuple[LateralisationNet, dict]:
    """A trained model (eval mode) and its record (recipe, accuracies) from its safetensors file."""
    path = checkpoint_path(kind) if path is None else Path(path)
    return _load_cached(kind, str(path))


@functools.lru_cache(maxsize=4)
def _load_cached(kind: str, path: str) -> tuple[LateralisationNet, dict]:
    from safetensors import safe_open

    if not Path(path).is_file():
        raise FileNotFoundError(f"{path}: no trained binaural_{kind} model; retrain with `python -m "
                                "latentflow.bmld.binaural`")
    with safe_open(path, framework="pt") as handle:
        metadata = handle.metadata() or {}
    if "latentflow_bmld_record" not in metadata:
        raise ValueError(f"{path}: not a latentflow BMLD model (no latentflow_bmld_record metadata)")
    record = json.loads(metadata["latentflow_bmld_record"])
    if record.get("kind") != kind:
        raise ValueError(f"{path}: holds a {record.get('kind')!r} model, not {kind!r}")
    model = LateralisationNet(kind)
    model.load_state_dict(load_file(path), strict=True)
    model.eval()
    for parameter in model.parameters():
        parameter.requires_grad_(False)
    return model, record


def config_from_record(record: dict) -> TrainConfig:
    fields = dict(record["config"])
    fields["band_hz"] = tuple(fields["band_hz"])
    return TrainConfig(**fields)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m latentflow.bmld.binaural", description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=fixtures_root() / "bmld", help="folder for the two checkpoints")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    for kind in KINDS:
        model, record = train(kind, TrainConfig(seed=args.seed))
        save(model, record, checkpoint_path(kind, args.out))
        print(json.dumps(record, sort_keys=True))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
