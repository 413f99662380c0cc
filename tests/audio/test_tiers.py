"""The three-tier bench: exact mixtures, SNR, gender pairing, determinism, split, spans, classes."""

from __future__ import annotations

import itertools
import re
import shutil

import numpy as np
import pytest
import torch

from latentflow.audio import environmental, speech, tiers
from latentflow.audio.tiers import MixtureSampler, TierConfig, make_example, make_examples
from latentflow.vocabulary import SPLITS, TIERS

CFG = TierConfig()
N = 24


@pytest.fixture(scope="module")
def examples() -> dict[tuple[str, str], list[tiers.MixtureExample]]:
    return {(tier, split): make_examples(tier, split, N, seed=3) for tier in TIERS for split in SPLITS}


def _db(power_ratio: float) -> float:
    return 10.0 * np.log10(power_ratio)


def test_every_example_is_an_exact_float32_sum(examples):
    for (tier, split), exs in examples.items():
        for e in exs:
            assert e.tier == tier and e.split == split
            for wave in (e.mixture, e.target, e.residual):
                assert wave.dtype == torch.float32 and wave.shape == (CFG.n_samples,)
                assert torch.isfinite(wave).all()
            assert torch.equal(e.mixture, e.target + e.residual)
            assert e.mixture.abs().max() <= CFG.peak_limit
            # Neither source is silent: both contribute to every mixture.
            assert e.target.pow(2).sum() > 0 and e.residual.pow(2).sum() > 0


def test_noisy_is_clean_plus_white_noise_at_5_db(examples):
    for split in SPLITS:
        for clean, noisy in zip(examples["clean", split], examples["noisy", split], strict=True):
            assert torch.equal(noisy.target, clean.target)
            noise = (noisy.mixture.double() - clean.mixture.double())
            speech_mix = clean.mixture.double()
            snr = _db(float(speech_mix.pow(2).sum() / noise.pow(2).sum()))
            assert abs(snr - 5.0) < 0.1, snr
            assert noisy.noise_snr_db == 5.0 and clean.noise_snr_db is None
            # Steady and white: equal power in both clip halves and a flat spectrum.
            halves = noise.reshape(2, -1).pow(2).mean(dim=1)
            assert abs(_db(float(halves[0] / halves[1]))) < 0.5
            spectrum = torch.fft.rfft(noise).abs().pow(2)
            bands = spectrum[1:].reshape(8, -1).mean(dim=1)
            assert float(bands.max() / bands.min()) < 1.5


def test_noisy_snr_follows_config():
    config = TierConfig(noisy_snr_db=-3.0)
    clean = make_example("clean", "test", 5, 0, config)
    noisy = make_example("noisy", "test", 5, 0, config)
    noise = noisy.mixture.double() - clean.mixture.double()
    assert abs(_db(float(clean.mixture.double().pow(2).sum() / noise.pow(2).sum())) + 3.0) < 0.1


def _active(e: tiers.MixtureExample, wave: torch.Tensor) -> np.ndarray:
    start, end = (int(round(s * e.sample_rate)) for s in e.span)
    return wave[start:end].numpy()


def test_clean_pairs_a_male_and_a_female_voice(examples):
    genders = {v.id: v.gender for v in speech.VOICES}
    for split in SPLITS:
        targets = set()
        for e in examples["clean", split]:
            t, r = e.target_info, e.residual_info
            assert {t.category, r.category} == {"male", "female"}
            assert genders[t.voice] == t.category and genders[r.voice] == r.category
            assert e.prompt in tiers.SPEECH_PROMPTS[t.category]
            assert e.alt_prompt in tiers.SPEECH_PROMPTS[r.category]
            assert not set(t.sentence_ids) & set(r.sentence_ids)
            targets.add(t.category)
            # The audio agrees with the labels: the male source has the lower pitch.
            f0_target = speech.estimate_f0(_active(e, e.target), e.sample_rate)
            f0_residual = speech.estimate_f0(e.residual.numpy(), e.sample_rate)
            male, female = (f0_target, f0_residual) if t.category == "male" else (f0_residual, f0_target)
            assert male < 140.0 < female, (e.index, male, female)
        assert targets == {"male", "female"}  # the seed picks either speaker as target


def test_pool_voices_have_the_pitch_of_their_gender():
    for split in SPLITS:
        pool = speech.load_pool(split)
        for voice_id, indices in pool.by_voice.items():
            f0 = np.median([speech.estimate_f0(pool.utterances[i].audio, pool.sample_rate) for i in indices])
            gender = pool.utterances[indices[0]].gender
            assert (f0 < 140.0) if gender == "male" else (f0 > 160.0), (voice_id, gender, f0)


def test_same_seed_is_bitwise_identical_and_other_seeds_differ():
    for tier in TIERS:
        a = make_examples(tier, "train", 4, seed=11)
        b = make_examples(tier, "train", 4, seed=11)
        c = make_examples(tier, "train", 4, seed=12)
        for x, y, z in zip(a, b, c, strict=True):
            assert torch.equal(x.mixture, y.mixture) and torch.equal(x.target, y.target)
            assert (x.prompt, x.span, x.target_info, x.residual_info) == (
                y.prompt, y.span, y.target_info, y.residual_info
            )
            assert not torch.equal(x.mixture, z.mixture)
        # A longer bench extends a shorter one.
        longer = make_examples(tier, "train", 6, seed=11)
        assert all(torch.equal(x.mixture, y.mixture) for x, y in zip(a, longer, strict=False))


def test_held_out_split_shares_no_voice_sentence_or_variant():
    train, test = speech.load_pool("train"), speech.load_pool("test")
    assert not {u.voice.id for u in train.utterances} & {u.voice.id for u in test.utterances}
    assert not {u.sentence_id for u in train.utterances} & {u.sentence_id for u in test.utterances}
    variants = {
        s: {u.voice.espeak_voice.split("+")[1] for u in p.utterances} for s, p in (("train", train), ("test", test))
    }
    assert not variants["train"] & variants["test"]
    assert len(train.utterances) == 216 and len(test.utterances) == 72
    for pool in (train, test):
        for gender in speech.GENDERS:
            assert len({pool.utterances[i].voice.id for i in pool.by_gender[gender]}) >= 4


def test_examples_only_use_their_own_split(examples):
    for (_tier, split), exs in examples.items():
        allowed_voices = {v.id for v in speech.voices(split)}
        allowed_sentences = set(speech.sentence_ids(split))
        for e in exs:
            for info in (e.target_info, e.residual_info):
                if info.kind == "speech":
                    assert info.voice in allowed_voices
                    assert set(info.sentence_ids) <= allowed_sentences
                    assert all(u.startswith(split + "/") for u in info.utterance_ids)


def test_spans_lie_in_the_clip_on_the_frame_grid_with_no_target_outside():
    exs = [e for tier in TIERS for e in make_examples(tier, "test", 40, seed=5)]
    n_sub = 0
    for e in exs:
        start, end = e.span
        assert 0.0 <= start < end <= CFG.duration
        frames = np.array(e.span) * CFG.frame_rate
        assert np.allclose(frames, np.round(frames), atol=1e-6)
        a, b = (int(round(s * e.sample_rate)) for s in e.span)
        outside = torch.cat([e.target[:a], e.target[b:]])
        assert outside.abs().max() == 0 if outside.numel() else True
        inside = e.target[a:b].double().pow(2)
        assert inside.sum() > 0
        if e.sub_span:
            n_sub += 1
            assert end - start <= 0.61 * CFG.duration
            # The target really fills its span: speech to within one frame plus the fade at
            # each edge; environmental sounds start within 0.15 s (their first event).
            active = torch.nonzero(e.target.abs() > 1e-4).flatten()
            slack = CFG.hop + 0.02 * e.sample_rate
            if e.target_info.kind == "speech":
                assert active[0] - a < slack and b - active[-1] < slack
            else:
                assert active[0] - a < 0.15 * e.sample_rate + slack
        else:
            assert e.span == (0.0, CFG.duration)
        assert e.span_frames(CFG.frame_rate) == (round(start * 25), round(end * 25))
    # span_fraction = 0.5 over 120 examples: a binomial share well inside [0.35, 0.65].
    assert 0.35 < n_sub / len(exs) < 0.65


def test_span_fraction_zero_and_one():
    assert not any(e.sub_span for e in make_examples("clean", "test", 6, 0, TierConfig(span_fraction=0.0)))
    assert all(e.sub_span for e in make_examples("env", "test", 6, 0, TierConfig(span_fraction=1.0)))


def test_sources_are_loudness_normalised_to_their_gain():
    for tier in ("clean", "env"):
        for e in make_examples(tier, "test", 8, seed=2):
            for wave, info in ((_active(e, e.target), e.target_info), (e.residual.numpy(), e.residual_info)):
                level = 20 * np.log10(speech.gated_rms(wave.astype(np.float64), e.sample_rate))
                assert abs(level - (CFG.level_dbfs + info.gain_db)) < 0.05
            assert CFG.sir_db_range[0] <= e.target_info.gain_db * 2 <= CFG.sir_db_range[1]


def test_env_prompts_name_the_target_class_and_backgrounds_vary():
    exs = make_examples("env", "train", 60, seed=1)
    backgrounds = set()
    for e in exs:
        assert e.target_info.kind == "env"
        assert e.prompt in environmental.ENV_CLASSES[e.target_info.category].labels
        assert e.alt_prompt in tiers.prompts_for(e.residual_info.category)
        assert e.residual_info.category != e.target_info.category
        backgrounds.add(e.residual_info.kind)
    assert backgrounds == {"speech", "env"}
    # every class but the clock: its 30 ms ticks never give STOI's 0.4 s of non-silent target
    # (latentflow.audio.validity), so the draw skips clock targets
    assert {e.target_info.category for e in exs} == set(environmental.ENV_CLASS_NAMES) - {"clock"}


def _class_features(x: np.ndarray, sr: int) -> np.ndarray:
    """Log band energies (shape of the spectrum), temporal density and spectral centroid."""
    frame = 512
    spec = np.abs(np.fft.rfft(x[: len(x) // frame * frame].reshape(-1, frame) * np.hanning(frame), axis=1)) ** 2
    freqs = np.fft.rfftfreq(frame, 1 / sr)
    edges = np.geomspace(50, 8000, 13)
    bands = np.stack([spec[:, (freqs >= lo) & (freqs < hi)].sum(1) for lo, hi in itertools.pairwise(edges)], 1)
    energy_db = 10 * np.log10(spec.sum(1) + 1e-12)
    active = energy_db > energy_db.max() - 30
    log_bands = np.log10(bands[active].mean(0) + 1e-12)
    centroid = (spec * freqs).sum(1) / (spec.sum(1) + 1e-12)
    return np.concatenate([
        log_bands - log_bands.mean(),
        [np.mean(energy_db > energy_db.max() - 20), np.std(energy_db[active]) / 10, np.median(centroid[active]) / 1000],
    ])


def test_environmental_classes_are_distinguishable():
    sr, n = 16000, 32000
    names = environmental.ENV_CLASS_NAMES
    assert len(names) >= 6

    def feats(name, stream, k):
        return _class_features(environmental.generate_env(name, n, sr, np.random.default_rng([k, stream])), sr)

    train = {c: np.array([feats(c, 0, k) for k in range(10)]) for c in names}
    centres = {c: f.mean(0) for c, f in train.items()}
    scale = np.concatenate(list(train.values())).std(0)
    correct = total = 0
    for c in names:
        for k in range(10):
            f = feats(c, 1, k)
            guess = min(centres, key=lambda g: np.sum(((f - centres[g]) / scale) ** 2))
            correct += guess == c
            total += 1
    assert correct / total >= 0.9, correct / total
    # Spectral centroids put the low classes (engine, knocking) far below the high ones.
    centroid = {c: centres[c][-1] for c in names}
    low_sounds, high_sounds = ("engine", "knocking"), ("rain", "birds", "clock")
    assert max(centroid[c] for c in low_sounds) < 0.6 < min(centroid[c] for c in high_sounds)


def test_env_generation_is_seeded_and_checks_its_arguments():
    a = environmental.generate_env("siren", 4000, 16000, np.random.default_rng(1))
    b = environmental.generate_env("siren", 4000, 16000, np.random.default_rng(1))
    c = environmental.generate_env("siren", 4000, 16000, np.random.default_rng(2))
    assert np.array_equal(a, b) and not np.array_equal(a, c)
    with pytest.raises(ValueError, match="unknown environmental class 'thunder'; allowed: siren, engine"):
        environmental.generate_env("thunder", 4000, 16000, np.random.default_rng(1))
    # Even a short clip holds its sound (first event within 0.15 s).
    for name in environmental.ENV_CLASS_NAMES:
        clip = environmental.generate_env(name, 4000, 16000, np.random.default_rng(3))
        assert np.abs(clip).max() > 0


def test_bad_arguments_get_errors_listing_what_is_allowed():
    with pytest.raises(ValueError, match=r"unknown tier 'quiet'; allowed: clean, noisy, env"):
        make_examples("quiet", "test", 2)
    with pytest.raises(ValueError, match=r"unknown split 'dev'; allowed: train, test"):
        make_examples("clean", "dev", 2)
    with pytest.raises(ValueError, match="count must be a positive integer; got 0"):
        make_examples("clean", "test", 0)
    with pytest.raises(ValueError, match="seed must be a non-negative integer; got -1"):
        make_examples("clean", "test", 1, seed=-1)
    with pytest.raises(ValueError, match=r"TierConfig.duration=4.01 .* whole number"):
        TierConfig(duration=4.01)
    with pytest.raises(ValueError, match=r"TierConfig.span_fraction=1.5"):
        TierConfig(span_fraction=1.5)
    with pytest.raises(ValueError, match=r"TierConfig.sample_rate=8000 .* 16000"):
        TierConfig(sample_rate=8000)
    with pytest.raises(ValueError, match="unknown source category 'cat'"):
        tiers.prompts_for("cat")


def test_clip_length_is_a_parameter():
    config = TierConfig(duration=2.0)
    for tier in TIERS:
        for e in make_examples(tier, "train", 6, seed=0, config=config):
            assert e.mixture.shape == (32000,) and e.span[1] <= 2.0
            assert torch.equal(e.mixture, e.target + e.residual)


def test_sampler_is_reproducible_resumable_and_weighted():
    a = MixtureSampler("train", batch_size=4, seed=7)
    b = MixtureSampler("train", batch_size=2, seed=7)
    first = next(a)
    halves = [next(b), next(b)]
    assert torch.equal(first.mixture, torch.cat([h.mixture for h in halves]))
    assert first.prompts == halves[0].prompts + halves[1].prompts
    resumed = MixtureSampler("train", batch_size=2, seed=7, start=2)
    assert torch.equal(next(resumed).target, first.target[2:])
    assert first.mixture.shape == (4, CFG.n_samples) and first.spans.shape == (4, 2)
    assert torch.equal(first.mixture, first.target + first.residual)
    only_env = next(MixtureSampler("train", batch_size=8, tiers=("clean", "env"), weights=(0, 1), seed=0))
    assert set(only_env.tiers) == {"env"}
    mixed = MixtureSampler("train", batch_size=60, seed=0)
    drawn = [mixed.tier_of(k) for k in range(300)]
    assert all(70 < drawn.count(t) < 130 for t in TIERS)
    with pytest.raises(ValueError, match="weights must be 2 non-negative numbers"):
        MixtureSampler("train", tiers=("clean", "env"), weights=(1, -1))


def test_batch_span_mask_marks_the_span_frames():
    batch = next(MixtureSampler("test", batch_size=12, seed=4))
    mask = batch.span_mask(CFG.n_frames, CFG.frame_rate)
    for row, span, sub in zip(mask, batch.spans, batch.sub_span, strict=True):
        start, end = (int(round(float(s) * CFG.frame_rate)) for s in span)
        assert row.sum() == end - start and row[start:end].all()
        assert bool(sub) == (end - start < CFG.n_frames)


def test_missing_or_corrupt_pool_gives_clear_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("LATENTFLOW_FIXTURES", str(tmp_path))
    with pytest.raises(FileNotFoundError, match=re.escape("manifest.json: bench pool manifest missing")):
        speech.load_pool("test")
    monkeypatch.setenv("LATENTFLOW_FIXTURES", str(tmp_path / "nowhere"))
    with pytest.raises(FileNotFoundError, match=r"LATENTFLOW_FIXTURES=.*nowhere.* is not a directory"):
        speech.load_pool("test")
    monkeypatch.delenv("LATENTFLOW_FIXTURES")
    copy = tmp_path / "copy"
    shutil.copytree(speech.pool_folder(), copy / "audio")
    flac = copy / "audio" / "speech_test.flac"
    flac.write_bytes(b"version https://git-lfs.github.com/spec/v1\n")
    monkeypatch.setenv("LATENTFLOW_FIXTURES", str(copy))
    with pytest.raises(ValueError, match=r"speech_test.flac: sha256 .* does not match the manifest"):
        speech.load_pool("test")


@pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="espeak-ng not installed (only needed to regenerate)")
def test_committed_pool_matches_a_fresh_synthesis():
    pool = speech.load_pool("test")
    target_rms = 10.0 ** (speech.STORED_LEVEL_DBFS / 20.0)
    for utt in pool.utterances[::25]:
        fresh = speech.synthesise(utt.text, utt.voice).astype(np.float64)
        fresh = np.round(fresh * (target_rms / speech.gated_rms(fresh, speech.SAMPLE_RATE)) * 32767.0)
        stored = utt.audio.astype(np.float64) * 32768.0
        assert fresh.shape == stored.shape
        assert np.abs(fresh - stored).max() <= 2.0


def test_all_prompts_lists_every_text_the_bench_emits():
    prompts = tiers.all_prompts()
    assert len(prompts) == len(set(prompts)) == 8 + 4 * len(environmental.ENV_CLASS_NAMES)
    emitted = {e.prompt for tier in TIERS for e in make_examples(tier, "train", 12, seed=9)}
    emitted |= {e.alt_prompt for tier in TIERS for e in make_examples(tier, "train", 12, seed=9)}
    assert emitted <= set(prompts)


def test_partial_span_selection_takes_the_first_sub_span_examples_in_order():
    from latentflow.audio.tiers import make_example

    chosen = make_examples("env", "test", 5, seed=0, spans="partial")
    assert len(chosen) == 5 and all(e.sub_span for e in chosen)
    # the same examples as scanning the index order by hand
    expected, index = [], 0
    while len(expected) < 5:
        example = make_example("env", "test", index, 0)
        if example.sub_span:
            expected.append(example)
        index += 1
    assert [e.span for e in chosen] == [e.span for e in expected]
    assert all(torch.equal(a.mixture, b.mixture) for a, b in zip(chosen, expected, strict=True))


def test_an_unknown_span_selection_is_refused():
    with pytest.raises(ValueError, match="spans"):
        make_examples("env", "test", 2, spans="some")


def test_every_drawn_env_example_has_a_defined_stoi_on_seeds_0_to_4():
    # Sparse Env targets (clock ticks, a few barks) can lack STOI's 0.4 s of non-silent audio;
    # the draw skips them (latentflow.audio.validity), so STOI is defined on every example,
    # whatever the estimate: here the unseparated mixture.
    from latentflow.metrics.perceptual import stoi_result

    for seed in range(5):
        drawn = make_examples("env", "test", 24, seed=seed)
        mixtures = np.stack([e.mixture.numpy() for e in drawn]).astype(np.float64)
        targets = np.stack([e.target.numpy() for e in drawn]).astype(np.float64)
        scored = stoi_result(mixtures, targets)
        assert not np.isnan(scored.values).any(), (seed, scored.reasons)


def test_the_draw_skips_exactly_the_examples_stoi_is_undefined_on():
    from latentflow.metrics.perceptual import stoi_result

    drawn = [e.index for e in make_examples("env", "test", 24, seed=0)]
    skipped = sorted(set(range(drawn[-1] + 1)) - set(drawn))
    assert skipped == [13, 18, 25]  # a dog, birds and a clock with too little sound
    assert drawn[:12] == list(range(12))  # the bundled specs' seed-0 Env draw of 12 is unchanged
    for index in skipped:
        target = make_example("env", "test", index, 0).target.numpy().astype(np.float64)[None]
        result = stoi_result(target, target)
        assert np.isnan(result.values[0]) and "fewer than 30 STOI frames" in result.reasons[0]
