"""``latentflow bench lsac``: LSAC, its adaptive variant and the baselines, side by side.

For every method the benchmark reports

* self-attention FLOPs saved and total FLOPs saved, from the analytic count of what each run
  actually computed (:mod:`latentflow.acceleration.flops`), relative to the full run;
* wall-clock speedup: the full run's median time over the method's median time, each the
  median of ``repeats`` timed passes over all examples, all in the same process; within a
  pass the methods take turns example by example in a rotating order, so a busy spell of the
  machine is shared out among them instead of landing on one method;
* quality vs the full run, per example, with the mean and a 95% t-interval;
* the quality-retention ratio vs naive truncation *at matched self-attention compute*: the
  truncation run whose step count k gives the self-attention saving (N - k) / N nearest to the
  method's (ties go to the larger k, i.e. the truncation that saves less, the conservative
  comparison); that truncation is run for the comparison if it is not in the table. The
  ratio is (truncation's mean degradation) / (method's mean degradation). A method that saves
  less than half a step's worth has no truncation to compare with (k = N); its ratio is empty.

Quality is pluggable (:class:`QualityMeasure`). Two references exist:

* ``"target"``: the measure scores an output against the true source (dB, higher is
  better); degradation = score(full run) - score(method), per example.
* ``"full_run"``: no true source is available (random weights); the measure scores the method's
  output against the full run's, e.g. SI-SNR of the target latent (:class:`LatentFidelity`).
  The table then shows that SI-SNR (higher is better; +inf = identical) instead of a
  degradation, and the retention ratio becomes the ratio of the mean relative error powers
  vs the full run, ``mean 10^(-F_trunc/10) / mean 10^(-F_method/10)``.

Workloads: by default the bundled model (``--model fixture``, or any name ``latentflow.model_names``
accepts: a checkpoint path, ``random:<preset>[:<seed>]``, ``counter:<name>``) on
``n`` held-out examples of the audio bench's ``--tier``, prompted with text, scored with
:class:`DecodedTargetSISNR`; tuning uses examples of the training split. ``--model
random`` benchmarks the fixture-sized architecture with seeded random weights on seeded random
conditioning (the machinery and the compute numbers are real; the quality numbers say how far
a method moves a random network's output, nothing about separation).

Every method runs once, untimed, before the timed passes, so one-off costs (allocations, RoPE
tables) land on no method. ``full-explicit`` is the full run with every self-attention pattern
materialised: the path LSAC's caching layers take, so speedups can be read apart from the
difference between the fused and the explicit attention kernels.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from latentflow.metrics.attention import DEFAULT_STABLE_THRESHOLD
from latentflow.metrics.separation import si_snr
from latentflow.model import CheckpointError, Conditioning, SamAudioModel, build_model, initial_noise, preset
from latentflow.model.random_inputs import random_conditioning
from latentflow.model_names import MODEL_NAME_FORMS
from latentflow.stats.paired import mean_interval_t
from latentflow.vocabulary import SAMPLER_METHODS, TIERS

from .adaptive import AdaptiveConfig, sample_adaptive
from .baselines import DeepCacheConfig, sample_deepcache, sample_truncated
from .flops import RunFlops, count_for
from .lsac import AcceleratedSample, LSACPlan, sample_lsac
from .tuning import LSACTuning, measure_entropy_profile, tune_drift_threshold, tune_lsac


@dataclass(frozen=True, eq=False)
class BenchCase:
    """One example: batch-1 conditioning, its noise seed, and (audio workloads) its waveforms."""

    cond: Conditioning
    seed: int
    mixture: Tensor | None = None  # (1, S) waveform
    target: Tensor | None = None  # (1, S) waveform of the true target source


class QualityMeasure(Protocol):
    """Scores one output in dB (higher is better); ``reference`` says against what."""

    @property
    def name(self) -> str: ...

    @property
    def reference(self) -> str: ...  # "target" or "full_run"

    def __call__(self, final: Tensor, case: BenchCase, full_final: Tensor) -> float: ...


class TargetDecoder(Protocol):
    """What target-referenced quality needs of a ``latentflow.pipeline.Separator`` (the bench
    sits below the pipeline and does not import it)."""

    def decode(
        self, final_state: Tensor, mixture_waveforms: Tensor, *, seeds: Sequence[int] | None = None
    ) -> tuple[Tensor, Tensor]: ...


@dataclass(frozen=True)
class LatentFidelity:
    """SI-SNR (dB) of the target latent ``final[..., :C]`` against the full run's, real frames only."""

    latent_channels: int
    name: str = "latent SI-SNR vs full run"
    reference: str = "full_run"

    def __call__(self, final: Tensor, case: BenchCase, full_final: Tensor) -> float:
        C = self.latent_channels
        estimate, reference = final[0, :, :C], full_final[0, :, :C]
        if case.cond.audio_mask is not None:
            real = case.cond.audio_mask[0]
            estimate, reference = estimate[real], reference[real]
        value = si_snr(estimate.reshape(1, -1).double().numpy(), reference.reshape(1, -1).double().numpy())[0]
        return float(value)


@dataclass(frozen=True, eq=False)
class DecodedTargetSISNR:
    """SI-SNR (dB) of the decoded target waveform against the true target (the bench's metric).

    Decoding uses the separator's codec on the example's mixture, as ``latentflow separate`` does.
    """

    separator: TargetDecoder
    name: str = "SI-SNR of the decoded target vs the true target"
    reference: str = "target"

    def __call__(self, final: Tensor, case: BenchCase, full_final: Tensor) -> float:
        if case.target is None or case.mixture is None:
            raise ValueError("target-referenced quality needs each case's mixture and target waveforms")
        # the watermark message (DAC-VAE) comes from the case's noise seed, as in the bench world
        target, _ = self.separator.decode(final, case.mixture, seeds=[case.seed] * final.shape[0])
        return float(si_snr(target.double().numpy(), case.target.double().numpy())[0])


@dataclass(frozen=True)
class Workload:
    name: str
    cases: tuple[BenchCase, ...]
    tuning: tuple[Conditioning, ...]
    n_frames: int
    quality: QualityMeasure


def random_workload(
    model: SamAudioModel, *, n: int, n_frames: int = 100, n_text: int = 8, n_tuning: int = 4, seed: int = 0
) -> Workload:
    """Seeded random conditioning (``latentflow.model.random_inputs``: a random mixture latent
    concatenated twice, random text features); tuning examples come from a separate stream."""
    cfg = model.cfg
    parameter = next(model.parameters())

    def make(stream: int, index: int) -> Conditioning:
        return random_conditioning(
            cfg, 1, n_frames, n_text, seed=1_000_003 * seed + 7919 * stream + index,
            video=False, anchors=False, audio_mask=False, dtype=parameter.dtype, device=parameter.device,
        )

    cases = tuple(BenchCase(cond=make(0, i), seed=100_000 * seed + i) for i in range(n))
    tuning = tuple(make(1, i) for i in range(n_tuning))
    return Workload(
        name="random",
        cases=cases,
        tuning=tuning,
        n_frames=n_frames,
        quality=LatentFidelity(cfg.latent_channels),
    )


def audio_workload(
    tier: str, n: int, model: str = "fixture", *, n_tuning: int = 4, seed: int = 0, prompt_kind: str = "text"
) -> tuple[SamAudioModel, Workload]:
    """The bundled bench: ``n`` held-out ("test") examples of ``tier``, tuning on the
    training split (never the evaluated examples), conditioning and decoding through
    :class:`latentflow.pipeline.Separator` (codec + the checkpoint's text encoder)."""
    from latentflow.audio import make_examples
    from latentflow.model_names import load_separator

    separator = load_separator(model)
    cases = tuple(
        BenchCase(
            cond=separator.conditioning([example], prompt_kind=prompt_kind),
            seed=100_000 * seed + index,
            mixture=example.mixture[None],
            target=example.target[None],
        )
        for index, example in enumerate(make_examples(tier, "test", n, seed))
    )
    tuning = tuning_conditioning(separator, tier, n_tuning, seed, prompt_kind=prompt_kind)
    workload = Workload(
        name=f"bench:{tier}",
        cases=cases,
        tuning=tuning,
        n_frames=cases[0].cond.n_frames,
        quality=DecodedTargetSISNR(separator),
    )
    return separator.model, workload


def tuning_conditioning(
    separator, tier: str, n_tuning: int, seed: int = 0, *, prompt_kind: str = "text"
) -> tuple[Conditioning, ...]:
    """The LSAC tuning examples of an audio workload: examples 0..n-1 of the tier's
    training split (never evaluated), one batch-1 conditioning each."""
    from latentflow.audio import make_examples

    return tuple(
        separator.conditioning([example], prompt_kind=prompt_kind)
        for example in make_examples(tier, "train", n_tuning, seed)
    )


# -- methods --------------------------------------------------------------------------------

Runner = Callable[[SamAudioModel, Conditioning, Tensor], AcceleratedSample]


@dataclass(frozen=True)
class MethodSpec:
    name: str
    run: Runner = field(repr=False)
    truncation_steps: int | None = None  # set for truncation methods
    settings: dict = field(default_factory=dict)
    note: str = ""  # replaces the retention comparison for reference rows


def bench_methods(
    model: SamAudioModel, tuning: LSACTuning, adaptive: AdaptiveConfig, steps: int, method: str
) -> list[MethodSpec]:
    """Full, full with materialised patterns, LSAC Safe/Balanced/Aggressive, adaptive,
    truncation (3/4 and 5/8 of N), Skip-2."""
    def full(m, cond, noise):
        return sample_truncated(m, cond, steps, method=method, noise=noise)

    def full_explicit(m, cond, noise):
        # The same computation as "full" with every self-attention pattern materialised (the
        # path LSAC's reusing layers take), to read speedups apart from attention-path effects.
        with contextlib.ExitStack() as stack:
            for attention in m.attention_modules("self"):
                stack.enter_context(attention.overriding_pattern(lambda compute, call: compute()))
            return sample_truncated(m, cond, steps, method=method, noise=noise)

    specs = [
        MethodSpec("full", full, truncation_steps=steps, settings={"steps": steps}),
        MethodSpec(
            "full-explicit",
            full_explicit,
            settings={"steps": steps, "patterns": "materialised"},
            note="timing reference: the full run with materialised self-attention patterns",
        ),
    ]

    def lsac(plan: LSACPlan) -> Runner:
        return lambda m, cond, noise: sample_lsac(m, cond, plan, noise=noise, steps=steps, method=method)

    for name in ("safe", "balanced", "aggressive"):
        plan = tuning.plan(name)
        specs.append(MethodSpec(f"lsac-{name}", lsac(plan), settings=plan.to_dict()))
    specs.append(
        MethodSpec(
            "adaptive",
            lambda m, cond, noise: sample_adaptive(m, cond, adaptive, noise=noise, steps=steps, method=method),
            settings=adaptive.to_dict(),
        )
    )
    for k in sorted({round(steps * 3 / 4), round(steps * 5 / 8)}, reverse=True):
        specs.append(truncation_spec(k, method))
    skip = DeepCacheConfig.deepest_half(model.cfg.n_layers)
    specs.append(
        MethodSpec(
            skip.name,
            lambda m, cond, noise: sample_deepcache(m, cond, skip, noise=noise, steps=steps, method=method),
            settings=skip.to_dict(),
        )
    )
    return specs


def truncation_spec(k: int, method: str) -> MethodSpec:
    return MethodSpec(
        f"truncation-{k}",
        lambda m, cond, noise: sample_truncated(m, cond, k, method=method, noise=noise),
        truncation_steps=k,
        settings={"steps": k},
    )


# -- results --------------------------------------------------------------------------------


@dataclass(frozen=True)
class MethodResult:
    name: str
    self_attention_saved: float
    total_saved: float
    median_seconds: float
    speedup: float
    quality: tuple[float, ...]  # per example, dB
    degradation: tuple[float, ...]  # per example, dB (target reference only; else empty)
    summary_mean: float  # mean degradation (target) or mean SI-SNR vs full run (full_run)
    summary_interval: tuple[float, float]
    matched_truncation_steps: int | None
    retention: float | None
    retention_note: str
    settings: dict

    def to_dict(self) -> dict:
        return {
            "name": self.name,
            "self_attention_flops_saved": self.self_attention_saved,
            "total_flops_saved": self.total_saved,
            "median_seconds": self.median_seconds,
            "speedup": self.speedup,
            "quality_db": [_number(q) for q in self.quality],
            "degradation_db": [_number(d) for d in self.degradation],
            "mean": _number(self.summary_mean),
            "interval95": [_number(v) for v in self.summary_interval],
            "matched_truncation_steps": self.matched_truncation_steps,
            "retention_ratio": _number(self.retention) if self.retention is not None else None,
            "retention_note": self.retention_note,
            "settings": self.settings,
        }


@dataclass(frozen=True)
class LsacBenchResult:
    settings: dict
    tuning: dict
    quality_name: str
    reference: str
    methods: tuple[MethodResult, ...]
    auxiliary: tuple[MethodResult, ...]  # matched truncations not in the main table

    def method(self, name: str) -> MethodResult:
        for result in self.methods + self.auxiliary:
            if result.name == name:
                return result
        raise KeyError(f"no method {name!r}; have {[r.name for r in self.methods + self.auxiliary]}")

    def to_dict(self) -> dict:
        return {
            "benchmark": "lsac",
            "settings": self.settings,
            "tuning": self.tuning,
            "quality": {"name": self.quality_name, "reference": self.reference},
            "methods": [m.to_dict() for m in self.methods],
            "auxiliary_truncations": [m.to_dict() for m in self.auxiliary],
        }

    def table(self) -> str:
        if self.reference == "target":
            quality_head = "SI-SNR loss dB [95% CI]"  # full - method: > 0 is worse
        else:
            quality_head = "SI-SNR vs full dB [95% CI]"
        head = (
            f"{'method':<18}{'SA saved':>9}{'tot saved':>10}{'speedup':>9}  "
            f"{quality_head:<30}{'retention (vs trunc k)':>24}"
        )
        lines = [head, "-" * len(head)]
        for r in self.methods:
            interval = f"{_fmt(r.summary_mean)} [{_fmt(r.summary_interval[0])}, {_fmt(r.summary_interval[1])}]"
            if r.retention is not None:
                retention = f"{_fmt(r.retention)} (k={r.matched_truncation_steps})"
            else:
                retention = "-"
            lines.append(
                f"{r.name:<18}{r.self_attention_saved:>9.1%}{r.total_saved:>10.1%}{r.speedup:>8.2f}x  "
                f"{interval:<30}{retention:>24}"
            )
        return "\n".join(lines)


def _fmt(value: float) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.3f}" if abs(value) < 100 else f"{value:.1f}"


def _number(value: float):
    """JSON has no inf/NaN: NaN -> null, +-inf -> the strings "inf" / "-inf"."""
    if value is None or math.isnan(value):
        return None
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return float(value)


def mean_interval(values: Sequence[float], confidence: float = 0.95) -> tuple[float, tuple[float, float]]:
    """Mean and t-interval; infinite or single values give a NaN interval (and inf mean if any inf)."""
    array = np.asarray(values, dtype=np.float64)
    mean = float(array.mean()) if array.size else math.nan
    if array.size < 2 or not np.isfinite(array).all():
        return mean, (math.nan, math.nan)
    return mean, mean_interval_t(array, confidence)


def matched_truncation_steps(saving: float, n_steps: int) -> int:
    """k whose truncation saving (N - k) / N is nearest to ``saving``; ties -> the larger k."""
    return min(range(1, n_steps + 1), key=lambda k: (abs((n_steps - k) / n_steps - saving), -k))


def retention_ratio(
    reference: str, method_quality, method_degradation, trunc_quality, trunc_degradation
) -> tuple[float | None, str]:
    if reference == "target":
        method_loss, trunc_loss = float(np.mean(method_degradation)), float(np.mean(trunc_degradation))
        if method_loss <= 0 or trunc_loss <= 0:
            return None, (
                f"ratio undefined: a degradation is <= 0 (method {method_loss:.4f} dB, truncation {trunc_loss:.4f} dB)"
            )
        return trunc_loss / method_loss, "mean degradation of truncation / mean degradation of method"
    method_error = float(np.mean(10.0 ** (-np.asarray(method_quality) / 10.0)))
    trunc_error = float(np.mean(10.0 ** (-np.asarray(trunc_quality) / 10.0)))
    if method_error == 0:
        return None, "method output identical to the full run: ratio undefined"
    return trunc_error / method_error, "mean relative error power vs full run: truncation / method"


# -- the benchmark --------------------------------------------------------------------------


def run_lsac_bench(
    tier: str = "noisy",
    n: int = 8,
    model_path: str | None = None,
    json_out: str | None = None,
    *,
    steps: int = 16,
    method: str = "euler",
    repeats: int = 3,
    n_frames: int = 100,
    n_text: int = 8,
    n_tuning: int = 4,
    seed: int = 0,
    stable_threshold: float = DEFAULT_STABLE_THRESHOLD,
    drift_threshold: float | None = None,
    adaptive_target: float = 0.35,
    device: str = "cpu",
    dtype: torch.dtype = torch.float32,
    model: SamAudioModel | None = None,
    workload: Workload | None = None,
    log: Callable[[str], None] = lambda message: None,
) -> LsacBenchResult:
    """Run the benchmark; ``model``/``workload`` override ``model_path``/``tier`` (for tests and notebooks).

    model_path: None / ``"fixture"`` (the bundled model) or any name ``latentflow.model_names``
    accepts, on the audio bench of ``tier``; or ``"random"`` (fixture-sized random weights on random conditioning).
    """
    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; allowed: {list(TIERS)}")
    if not isinstance(n, int) or n < 2:
        raise ValueError(f"n must be an integer >= 2 (an interval needs two examples), got {n!r}")
    if repeats < 1:
        raise ValueError(f"repeats must be >= 1, got {repeats}")
    if workload is None and model_path != "random":
        if str(device) != "cpu" or dtype != torch.float32:
            raise ValueError(
                "audio workloads run on the CPU in float32; use --model random for other devices and dtypes"
            )
        model, workload = audio_workload(tier, n, model_path or "fixture", n_tuning=n_tuning, seed=seed)
    if model is None:
        model = build_model(preset("fixture"), seed=0, device=device, dtype=dtype)
    if workload is None:
        workload = random_workload(model, n=n, n_frames=n_frames, n_text=n_text, n_tuning=n_tuning, seed=seed)

    log(f"tuning on {len(workload.tuning)} examples ({steps} {method} steps)")
    profile = measure_entropy_profile(model, list(workload.tuning), steps=steps, method=method)
    tuning = tune_lsac(profile, stable_threshold)
    if drift_threshold is None:
        log(f"tuning the adaptive drift threshold to save {adaptive_target:.0%} of self-attention")
        drift = tune_drift_threshold(
            model, list(workload.tuning), tuning.adaptive,
            target_saving=adaptive_target, steps=steps, method=method,
        )
        adaptive = drift.config
        adaptive_info = {
            "tuned": True,
            "target_saving": adaptive_target,
            "tuning_saving": drift.achieved_saving,
            "reached": drift.reached,
            "threshold": adaptive.threshold,
        }
    else:
        adaptive = AdaptiveConfig(tuning.adaptive.start_steps, drift_threshold, n_steps=steps)
        adaptive_info = {"tuned": False, "threshold": drift_threshold}
    specs = bench_methods(model, tuning, adaptive, steps, method)
    cfg = model.cfg
    noises = [
        initial_noise(
            (1, case.cond.n_frames, cfg.state_channels),
            seeds=[case.seed],
            device=case.cond.mixture.device,
            dtype=case.cond.mixture.dtype,
        )
        for case in workload.cases
    ]

    def run_all(spec: MethodSpec) -> tuple[list[Tensor], RunFlops]:
        finals, counts = [], []
        for case, noise in zip(workload.cases, noises, strict=True):
            run = spec.run(model, case.cond, noise)
            finals.append(run.final)
            counts.append(count_for(cfg, run.record, case.cond))
        return finals, sum(counts[1:], counts[0])

    synchronize = torch.cuda.synchronize if str(device).startswith("cuda") else (lambda: None)
    outputs: dict[str, list[Tensor]] = {spec.name: [] for spec in specs}
    flops: dict[str, RunFlops] = {}
    seconds: dict[str, list[float]] = {spec.name: [] for spec in specs}
    # One untimed run of every method first: one-off costs (allocator growth, RoPE tables,
    # lazy kernels) must not land on whichever method happens to be timed first.
    for spec in specs:
        spec.run(model, workload.cases[0].cond, noises[0])
    for repeat in range(repeats):
        elapsed = {spec.name: 0.0 for spec in specs}
        for index, (case, noise) in enumerate(zip(workload.cases, noises, strict=True)):
            # Methods take turns example by example, in a rotating order, so a busy spell of
            # the machine is shared out rather than landing on one method's pass.
            shift = (repeat * len(workload.cases) + index) % len(specs)
            for spec in specs[shift:] + specs[:shift]:
                synchronize()
                start = time.perf_counter()
                run = spec.run(model, case.cond, noise)
                synchronize()
                elapsed[spec.name] += time.perf_counter() - start
                if repeat == 0:
                    outputs[spec.name].append(run.final)
                    counted = count_for(cfg, run.record, case.cond)
                    flops[spec.name] = counted if spec.name not in flops else flops[spec.name] + counted
        for name, value in elapsed.items():
            seconds[name].append(value)
        log(f"timing pass {repeat + 1}/{repeats} done")

    quality_fn = workload.quality
    full_final = outputs["full"]

    def scores(finals: list[Tensor]) -> list[float]:
        return [quality_fn(f, case, ref) for f, case, ref in zip(finals, workload.cases, full_final, strict=True)]

    quality = {name: scores(finals) for name, finals in outputs.items()}
    by_steps = {spec.truncation_steps: spec.name for spec in specs if spec.truncation_steps is not None}
    auxiliary_specs = []
    saved = {name: flops[name].saved_vs(flops["full"]) for name in flops}
    for spec in specs:
        k = matched_truncation_steps(saved[spec.name][0], steps)
        if spec.truncation_steps is None and k not in by_steps:
            extra = truncation_spec(k, method)
            extra_finals, counted = run_all(extra)
            outputs[extra.name], flops[extra.name] = extra_finals, counted
            saved[extra.name] = counted.saved_vs(flops["full"])
            quality[extra.name] = scores(extra_finals)
            by_steps[k] = extra.name
            auxiliary_specs.append(extra)

    def degradation(name: str) -> list[float]:
        if quality_fn.reference != "target":
            return []
        return [q_full - q for q_full, q in zip(quality["full"], quality[name], strict=True)]

    def result_for(spec: MethodSpec, timed: bool) -> MethodResult:
        name = spec.name
        values = degradation(name) if quality_fn.reference == "target" else quality[name]
        mean, interval = mean_interval(values)
        k = matched_truncation_steps(saved[name][0], steps)
        retention, note = None, ""
        if spec.note:
            note = spec.note
        elif spec.truncation_steps is not None:
            note = "truncation baseline"
        elif k == steps:
            note = "saves less than half a step's self-attention: no truncation to match"
        else:
            trunc = by_steps[k]
            retention, note = retention_ratio(
                quality_fn.reference, quality[name], degradation(name), quality[trunc], degradation(trunc)
            )
        median = statistics.median(seconds[name]) if timed else math.nan
        full_median = statistics.median(seconds["full"])
        return MethodResult(
            name=name,
            self_attention_saved=saved[name][0],
            total_saved=saved[name][1],
            median_seconds=median,
            speedup=full_median / median if timed else math.nan,
            quality=tuple(quality[name]),
            degradation=tuple(degradation(name)),
            summary_mean=mean,
            summary_interval=interval,
            matched_truncation_steps=None if spec.truncation_steps is not None or k == steps else k,
            retention=retention,
            retention_note=note,
            settings=spec.settings,
        )

    settings = {
        "tier": tier if workload.name != "random" else f"{tier} (random conditioning)",
        "workload": workload.name,
        "n": len(workload.cases),
        "model": model_path or "fixture",
        "config": cfg.to_dict(),
        "steps": steps,
        "method": method,
        "repeats": repeats,
        "n_frames": workload.n_frames,
        "n_tuning": len(workload.tuning),
        "seed": seed,
        "stable_threshold": stable_threshold,
        "adaptive": adaptive_info,
        "device": str(device),
        "dtype": str(dtype).removeprefix("torch."),
        "threads": torch.get_num_threads(),
        "torch": torch.__version__,
    }
    result = LsacBenchResult(
        settings=settings,
        tuning=tuning.to_dict(),
        quality_name=quality_fn.name,
        reference=quality_fn.reference,
        methods=tuple(result_for(spec, True) for spec in specs),
        auxiliary=tuple(result_for(spec, False) for spec in auxiliary_specs),
    )
    if json_out is not None:
        Path(json_out).write_text(json.dumps(result.to_dict(), indent=2) + "\n")
    return result


# -- command line ---------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--tier", choices=TIERS, default="noisy", help="bench tier (default noisy)")
    parser.add_argument("--n", type=int, default=8, help="number of evaluation examples (default 8)")
    parser.add_argument("--model", default=None,
                        help=f"on the audio bench: {MODEL_NAME_FORMS} (default fixture); or 'random' "
                        "(fixture-sized random weights on random conditioning, no audio)")
    parser.add_argument("--json", dest="json_out", default=None, help="write the results as JSON to this path")
    parser.add_argument("--steps", type=int, default=16, help="sampling steps of the full run (default 16)")
    parser.add_argument("--method", choices=SAMPLER_METHODS, default="euler",
                        help="sampler (default euler, as in the paper)")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed passes per method; the median is reported (default 3)")
    parser.add_argument("--frames", type=int, default=100, help="latent frames per random example (default 100 = 4 s)")
    parser.add_argument("--tuning", type=int, default=4, help="tuning examples (default 4)")
    # the flag's old name, refused with its new one (not argparse's bare "unrecognized arguments")
    parser.add_argument("--calibration", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--seed", type=int, default=0, help="seed of examples and noise (default 0)")
    parser.add_argument("--stable-threshold", type=float, default=DEFAULT_STABLE_THRESHOLD,
                        help=f"entropy rate at or below which a layer is stable (default {DEFAULT_STABLE_THRESHOLD})")
    parser.add_argument("--drift-threshold", type=float, default=None,
                        help="adaptive refresh: relative input change that triggers a refresh "
                        "(default: tuned on the tuning examples to --adaptive-target)")
    parser.add_argument("--adaptive-target", type=float, default=0.35,
                        help="self-attention saving the adaptive threshold is tuned to (default 0.35)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N (default cpu)")
    parser.add_argument("--dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for torch (default 1)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="latentflow bench lsac",
        description="LSAC vs truncation and Skip-2: FLOPs saved, speedup, quality, retention ratio.",
    )
    add_arguments(parser)
    args = parser.parse_args(argv)
    if args.calibration is not None:
        parser.error("--calibration was renamed --tuning (the number of tuning examples)")
    threads = torch.get_num_threads()
    torch.set_num_threads(args.threads)
    try:
        result = run_lsac_bench(
            args.tier,
            args.n,
            args.model,
            args.json_out,
            steps=args.steps,
            method=args.method,
            repeats=args.repeats,
            n_frames=args.frames,
            n_tuning=args.tuning,
            seed=args.seed,
            stable_threshold=args.stable_threshold,
            drift_threshold=args.drift_threshold,
            adaptive_target=args.adaptive_target,
            device=args.device,
            dtype=getattr(torch, args.dtype),
            log=lambda message: print(message, file=sys.stderr, flush=True),
        )
    except (ValueError, FileNotFoundError, CheckpointError) as error:
        print(f"latentflow bench lsac: error: {error}", file=sys.stderr)
        return 2
    finally:
        torch.set_num_threads(threads)
    summary = result.tuning["convergence"]
    print(f"quality: {result.quality_name}; model {result.settings['model']}; {result.settings['n']} examples; "
          f"{result.settings['steps']} {result.settings['method']} steps")
    print(f"stable layers {summary['stable_layers']}, fast layers {summary['fast_layers']} "
          f"(entropy-rate threshold {summary['threshold']})")
    for name, plan in result.tuning["presets"].items():
        print(f"  {name:<11} freeze steps {plan['freeze_steps']}")
    print(result.table())
    if args.json_out:
        print(f"wrote {args.json_out}")
    return 0
