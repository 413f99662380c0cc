"""Speech for the tiers: espeak-ng voices, the sentence list, synthesis, and the committed pool.

The pool is a fixed set of utterances synthesised once by ``scripts/make_bench_fixtures.py``
and committed as FLAC under ``fixtures/audio/`` with ``manifest.json``; loading it never needs
espeak-ng. Held-out split (fixed): the ``train`` pool uses voices m01-m06, f01-f06 and
sentences 0-71; the ``test`` pool uses voices m07-m10, f07-f10 and sentences 72-95. Train and
test voices use different espeak-ng variants (timbre presets), so a test voice is not a train
voice at another pitch.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile
import torch

from latentflow.audio.io import fixtures_root, resample
from latentflow.vocabulary import SPLITS

SAMPLE_RATE = 16000
GENDERS = ("male", "female")
POOL_FOLDER = "audio"
MANIFEST_NAME = "manifest.json"
MANIFEST_VERSION = 1

# Loudness at which utterances are stored (gated RMS, dBFS); the tiers re-normalise anyway.
STORED_LEVEL_DBFS = -30.0


@dataclass(frozen=True)
class Voice:
    """One espeak-ng speaker: a language voice plus a variant (``en-us+m1``), pitch and speed."""

    id: str
    gender: str
    espeak_voice: str
    pitch: int  # espeak-ng -p, 0-99 (50 = the variant's own pitch)
    speed: int  # espeak-ng -s, words per minute
    split: str


# "en-gb+variant" silently ignores the variant in espeak-ng 1.51, so British voices use "en".
# The fixture script checks that every voice's audio differs from every other voice's.
VOICES: tuple[Voice, ...] = (
    Voice("m01", "male", "en-us+m1", 45, 170, "train"),
    Voice("m02", "male", "en+m2", 40, 180, "train"),
    Voice("m03", "male", "en-gb-scotland+m3", 50, 165, "train"),
    Voice("m04", "male", "en-029+m4", 45, 185, "train"),
    Voice("m05", "male", "en-gb-x-rp+m6", 35, 175, "train"),
    Voice("m06", "male", "en-us-nyc+m7", 50, 190, "train"),
    Voice("f01", "female", "en-us+f1", 55, 175, "train"),
    Voice("f02", "female", "en+f2", 50, 185, "train"),
    Voice("f03", "female", "en-gb-scotland+f3", 45, 170, "train"),
    Voice("f04", "female", "en-029+f4", 60, 180, "train"),
    Voice("f05", "female", "en-gb-x-rp+f5", 50, 190, "train"),
    Voice("f06", "female", "en-us-nyc+steph", 55, 170, "train"),
    Voice("m07", "male", "en-us+m5", 40, 175, "test"),
    Voice("m08", "male", "en+m8", 50, 170, "test"),
    Voice("m09", "male", "en-gb-x-gbclan+travis", 45, 185, "test"),
    Voice("m10", "male", "en-gb-x-gbcwmd+norbert", 40, 165, "test"),
    Voice("f07", "female", "en-us+linda", 50, 180, "test"),
    Voice("f08", "female", "en+aunty", 55, 170, "test"),
    Voice("f09", "female", "en-gb-x-gbclan+grandma", 50, 165, "test"),
    Voice("f10", "female", "en-gb-x-gbcwmd+Alicia", 45, 185, "test"),
)

# Short sentences (about 1-2 s of speech each): the tiers chain several for full-clip speech.
SENTENCES: tuple[str, ...] = (
    # 0-71: training sentences
    "The kettle is boiling again.",
    "Please close the garden gate.",
    "My train leaves at seven.",
    "She painted the door bright red.",
    "We need more milk and bread.",
    "The dog slept by the fire.",
    "Turn left at the old church.",
    "He forgot his umbrella today.",
    "The meeting starts after lunch.",
    "Rain is expected this evening.",
    "Can you pass me the salt?",
    "The children laughed at the clown.",
    "I lost my keys in the park.",
    "The river flooded last spring.",
    "Her sister plays the violin.",
    "Put the books on the shelf.",
    "The bus was late this morning.",
    "Lemons make the tea taste sharp.",
    "Our neighbours bought a new car.",
    "The library closes at nine.",
    "Bring a coat, it is cold.",
    "He fixed the bike himself.",
    "The soup needs a little salt.",
    "They walked along the quiet beach.",
    "Water the plants on Sunday.",
    "The clock in the hall stopped.",
    "I will call you tomorrow.",
    "The bakery sells fresh rolls.",
    "A small boat crossed the lake.",
    "Keep the window open tonight.",
    "The printer is out of paper.",
    "She found a coin on the path.",
    "Winter came early this year.",
    "The cat chased a yellow leaf.",
    "Dinner will be ready soon.",
    "He reads the news every day.",
    "The shop on the corner closed.",
    "Take the stairs to the roof.",
    "The orchestra tuned their instruments.",
    "We planted tomatoes in May.",
    "The road was covered in snow.",
    "Her phone rang during the film.",
    "The farmer counted his sheep.",
    "Leave your shoes by the door.",
    "The museum opens at ten.",
    "A gentle wind moved the curtains.",
    "I prefer coffee without sugar.",
    "The baby finally fell asleep.",
    "They painted the fence white.",
    "The stars were bright last night.",
    "Check the oil before the trip.",
    "The teacher wrote on the board.",
    "Our flight was cancelled twice.",
    "The garden smells of roses.",
    "He whistled a cheerful tune.",
    "The pasta is in the cupboard.",
    "She rides her horse at dawn.",
    "The bridge was built in stone.",
    "Fold the towels after drying.",
    "The market is busy on Fridays.",
    "A parcel arrived for you.",
    "The candle burned all night.",
    "We watched the sun go down.",
    "The fridge is making a noise.",
    "He sharpened the kitchen knives.",
    "The hill was steep and muddy.",
    "Send me the photos later.",
    "The owl called from the barn.",
    "Her jacket has silver buttons.",
    "The train passed through the tunnel.",
    "Mix the flour with the eggs.",
    "The harbour was full of ships.",
    # 72-95: held-out test sentences
    "The lamp flickered and went out.",
    "Grandfather told us a long story.",
    "The pilot checked the weather.",
    "Mend the hole in the sock.",
    "The students cheered at the news.",
    "A robin sat on the wall.",
    "The doctor will see you now.",
    "We ran out of firewood.",
    "The streets were wet and shiny.",
    "He carved a spoon from wood.",
    "The soup was far too hot.",
    "Our team won the final match.",
    "The ferry leaves every hour.",
    "She knitted a scarf for winter.",
    "The old mill still grinds corn.",
    "Lock the shed before you go.",
    "The lights in the square glowed.",
    "A fox crossed the frozen field.",
    "The mirror hung above the sink.",
    "They sang songs around the camp.",
    "The pears are not yet ripe.",
    "His watch was ten minutes fast.",
    "The wind blew the hat away.",
    "Fresh paint dries in an hour.",
)
TRAIN_SENTENCES = range(72)
TEST_SENTENCES = range(72, 96)
# Sentences each voice speaks: train voices 18 of 72, test voices 9 of 24, assigned
# cyclically so that every sentence is spoken by exactly three voices of its split.
SENTENCES_PER_VOICE = {"train": 18, "test": 9}


def voices(split: str | None = None, gender: str | None = None) -> tuple[Voice, ...]:
    """The tier voices, optionally only one split's and/or one gender's."""
    if split is not None:
        check_choice(split, SPLITS, "split")
    if gender is not None:
        check_choice(gender, GENDERS, "gender")
    return tuple(
        v
        for v in VOICES
        if (split is None or v.split == split) and (gender is None or v.gender == gender)
    )


def sentence_ids(split: str) -> range:
    check_choice(split, SPLITS, "split")
    return TRAIN_SENTENCES if split == "train" else TEST_SENTENCES


def pool_plan(split: str) -> tuple[tuple[Voice, int], ...]:
    """The (voice, sentence id) pairs of a split's pool, in storage order."""
    ids = list(sentence_ids(split))
    # Alternate genders (m, f, m, f, ...) so that each sentence is spoken by both genders.
    males, females = voices(split, "male"), voices(split, "female")
    split_voices = [v for pair in zip(males, females, strict=True) for v in pair]
    per_voice = SENTENCES_PER_VOICE[split]
    # Voice k's run of sentences starts at k * step: runs of ``per_voice`` = 3 * step overlap
    # so that each sentence falls in exactly three voices' runs.
    step = len(ids) // len(split_voices)
    plan = []
    for k, voice in enumerate(split_voices):
        for j in range(per_voice):
            plan.append((voice, ids[(k * step + j) % len(ids)]))
    return tuple(plan)


# --- synthesis (needs espeak-ng; only the fixture script calls it) -------------------------


def espeak_version() -> str:
    """``espeak-ng --version``'s first line, or a clear error when espeak-ng is missing."""
    exe = _espeak_executable()
    out = subprocess.run([exe, "--version"], capture_output=True, text=True, check=True)
    # "eSpeak NG text-to-speech: 1.51  Data at: /usr/..." -> keep the part before the path.
    return out.stdout.strip().splitlines()[0].split("  Data at:")[0].strip()


def synthesise(text: str, voice: Voice, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Speak ``text`` with ``voice``; float32 mono at ``sample_rate``, silence trimmed."""
    exe = _espeak_executable()
    cmd = [exe, "-v", voice.espeak_voice, "-p", str(voice.pitch), "-s", str(voice.speed), "--stdout", text]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0 or not proc.stdout:
        raise RuntimeError(
            f"espeak-ng failed for voice {voice.id} ({' '.join(cmd)}): "
            f"{proc.stderr.decode(errors='replace').strip() or 'no audio produced'}"
        )
    data, rate = soundfile.read(io.BytesIO(proc.stdout), dtype="float32")
    wave = resample(torch.from_numpy(np.ascontiguousarray(data)), rate, sample_rate).numpy()
    return trim_silence(wave, sample_rate)


def _espeak_executable() -> str:
    exe = shutil.which("espeak-ng")
    if exe is None:
        raise FileNotFoundError(
            "espeak-ng is not installed (Debian: apt-get install espeak-ng); it is needed only "
            "to regenerate fixtures/audio, never to use the committed pool"
        )
    return exe


# --- signal helpers shared with the tiers ---------------------------------------------------


def frame_powers(wave: np.ndarray, sample_rate: int, frame_s: float = 0.02) -> np.ndarray:
    """Mean power of consecutive non-overlapping frames (the last partial frame dropped)."""
    n = max(1, int(round(frame_s * sample_rate)))
    usable = (len(wave) // n) * n
    if usable == 0:
        return np.array([float(np.mean(np.square(wave, dtype=np.float64)))]) if len(wave) else np.zeros(1)
    return np.mean(np.square(wave[:usable].astype(np.float64)).reshape(-1, n), axis=1)


def gated_rms(wave: np.ndarray, sample_rate: int, gate_db: float = 30.0) -> float:
    """RMS over the frames within ``gate_db`` of the loudest frame.

    Gating (as in loudness meters) keeps pauses between words or knocks from making sparse
    sounds look quiet, so sources of different density come out equally loud.
    """
    powers = frame_powers(wave, sample_rate)
    top = float(powers.max())
    if top <= 0.0:
        return 0.0
    kept = powers[powers >= top * 10.0 ** (-gate_db / 10.0)]
    return float(np.sqrt(kept.mean()))


def trim_silence(wave: np.ndarray, sample_rate: int, threshold_db: float = 45.0, margin_s: float = 0.02) -> np.ndarray:
    """Cut leading/trailing frames more than ``threshold_db`` below the loudest, keeping a margin."""
    frame = int(0.01 * sample_rate)
    powers = frame_powers(wave, sample_rate, 0.01)
    loud = np.flatnonzero(powers >= powers.max() * 10.0 ** (-threshold_db / 10.0))
    if loud.size == 0:
        return wave[:0]
    margin = int(margin_s * sample_rate)
    start = max(0, loud[0] * frame - margin)
    end = min(len(wave), (loud[-1] + 1) * frame + margin)
    return np.ascontiguousarray(wave[start:end])


def estimate_f0(wave: np.ndarray, sample_rate: int, fmin: float = 60.0, fmax: float = 400.0) -> float:
    """Median fundamental frequency (Hz) over clearly voiced 40 ms frames (autocorrelation).

    A coarse estimator, good enough to tell a male from a female espeak-ng voice; NaN when no
    frame is voiced.
    """
    frame, hop = int(0.04 * sample_rate), int(0.01 * sample_rate)
    if len(wave) < frame:
        return float("nan")
    starts = np.arange(0, len(wave) - frame + 1, hop)
    frames = np.stack([wave[s : s + frame] for s in starts]).astype(np.float64)
    frames -= frames.mean(axis=1, keepdims=True)
    energy = np.sqrt(np.mean(frames**2, axis=1))
    frames = frames[energy >= 0.1 * energy.max()]
    spec = np.fft.rfft(frames, n=2 * frame, axis=1)
    ac = np.fft.irfft(np.abs(spec) ** 2, axis=1)[:, :frame]
    lo, hi = int(sample_rate / fmax), int(sample_rate / fmin)
    lags = lo + np.argmax(ac[:, lo:hi], axis=1)
    voiced = ac[np.arange(len(lags)), lags] >= 0.5 * ac[:, 0]
    if not voiced.any():
        return float("nan")
    return float(np.median(sample_rate / lags[voiced]))


# --- the committed pool ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Utterance:
    """One pooled utterance; ``audio`` is read-only float32 at the pool's sample rate."""

    id: str
    voice: Voice
    sentence_id: int
    text: str
    audio: np.ndarray

    @property
    def gender(self) -> str:
        return self.voice.gender


@dataclass(frozen=True, eq=False)
class SpeechPool:
    """All utterances of one split, with indices by gender for fast sampling."""

    split: str
    sample_rate: int
    utterances: tuple[Utterance, ...]
    by_gender: dict  # gender -> tuple of indices into ``utterances``
    by_voice: dict  # voice id -> tuple of indices into ``utterances``


def pool_folder() -> Path:
    return fixtures_root() / POOL_FOLDER


def load_pool(split: str) -> SpeechPool:
    """The committed utterance pool of ``split`` ("train" or "test"), cached per process."""
    check_choice(split, SPLITS, "split")
    return _load_pool_cached(str(pool_folder().resolve()), split)


@functools.lru_cache(maxsize=4)
def _load_pool_cached(folder: str, split: str) -> SpeechPool:
    folder_path = Path(folder)
    manifest = read_manifest(folder_path)
    entry = manifest["splits"][split]
    flac = folder_path / entry["file"]
    if not flac.exists():
        raise FileNotFoundError(f"{flac}: pool audio listed in {folder_path / MANIFEST_NAME} is missing")
    digest = hashlib.sha256(flac.read_bytes()).hexdigest()
    if digest != entry["sha256"]:
        # Typically a Git LFS pointer or a partial checkout instead of the real FLAC.
        raise ValueError(
            f"{flac}: sha256 {digest} does not match the manifest's {entry['sha256']}; "
            "re-checkout the file or rerun scripts/make_bench_fixtures.py"
        )
    data, rate = soundfile.read(str(flac), dtype="float32")
    if rate != manifest["sample_rate"]:
        raise ValueError(f"{flac}: sample rate {rate} Hz, manifest says {manifest['sample_rate']} Hz")
    voice_by_id = {v.id: v for v in VOICES}
    utterances = []
    for row in entry["utterances"]:
        voice = voice_by_id.get(row["voice"])
        if voice is None or voice.split != split:
            raise ValueError(
                f"{folder_path / MANIFEST_NAME}: utterance {row['id']} names voice {row['voice']!r}, "
                f"not a {split} voice of latentflow.audio.speech.VOICES"
            )
        start, length = row["offset"], row["length"]
        if start + length > len(data):
            raise ValueError(f"{flac}: utterance {row['id']} runs past the end of the file")
        audio = data[start : start + length]
        audio.flags.writeable = False
        utterances.append(Utterance(row["id"], voice, row["sentence"], SENTENCES[row["sentence"]], audio))
    by_gender = {g: tuple(i for i, u in enumerate(utterances) if u.gender == g) for g in GENDERS}
    by_voice = {v.id: tuple(i for i, u in enumerate(utterances) if u.voice.id == v.id) for v in voices(split)}
    return SpeechPool(split, rate, tuple(utterances), by_gender, by_voice)


def read_manifest(folder: Path | None = None) -> dict:
    """The pool manifest, checked against this module's voices and sentences."""
    folder = pool_folder() if folder is None else folder
    path = folder / MANIFEST_NAME
    if not path.exists():
        raise FileNotFoundError(
            f"{path}: bench pool manifest missing; run scripts/make_bench_fixtures.py (needs "
            f"espeak-ng) or point LATENTFLOW_FIXTURES at a checkout's fixtures/ folder"
        )
    try:
        manifest = json.loads(path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(f"{path}:{err.lineno}: invalid JSON ({err.msg})") from err
    if manifest.get("format_version") != MANIFEST_VERSION:
        raise ValueError(
            f"{path}: format_version {manifest.get('format_version')!r}, expected {MANIFEST_VERSION}"
        )
    texts = [s["text"] for s in manifest["sentences"]]
    if texts != list(SENTENCES):
        raise ValueError(f"{path}: sentence list differs from latentflow.audio.speech.SENTENCES; regenerate")
    return manifest


def check_choice(value: str, allowed: tuple[str, ...], name: str) -> None:
    """A ValueError naming ``name``, the bad value and the allowed ones."""
    if value not in allowed:
        raise ValueError(f"unknown {name} {value!r}; allowed: {', '.join(allowed)}")
