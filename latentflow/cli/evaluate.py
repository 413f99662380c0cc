"""``latentflow evaluate``: separation quality of a model on one tier, with 95% intervals.

    latentflow evaluate --tier clean|noisy|env --n N [--model MODEL] [--json OUT]
                        [--steps 16] [--method euler] [--prompt-kind text] [--seed 0]

Runs the model on held-out (``test`` split) tier examples 0..N-1 and reports, per metric,
the mean over examples with a 95% Student-t interval: SI-SNR, SI-SNR improvement over the
mixture, SAR (BSS Eval, interference = the true residual), STOI and wideband PESQ. On the
Clean tier it also measures prompt following: each mixture is separated twice, once with
the target speaker's description and once with the other speaker's (``alt_prompt``); a
prompt is followed when the output's SI-SNR to the prompted speaker exceeds its SI-SNR to the
other one. Reported: the share of mixtures where both prompts are followed (the headline),
and the share of single prompts, each with a 95% Wilson interval.

Values that are NaN (a metric undefined for an example, e.g. PESQ without detected speech)
are left out of that metric's mean; ``n_valid`` says how many counted, and the JSON's
``nan_reasons`` counts why the others are NaN.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from latentflow.model_names import MODEL_NAME_FORMS
from latentflow.vocabulary import PROMPT_KINDS, REPORT_METRICS, SAMPLER_METHODS, TIERS

METRIC_LABELS = {
    "si_snr": ("SI-SNR", "dB"),
    "si_snr_improvement": ("SI-SNR improvement", "dB"),
    "sar": ("SAR", "dB"),
    "stoi": ("STOI", ""),
    "pesq": ("PESQ (wb)", ""),
    "mixture_si_snr": ("SI-SNR of the mixture", "dB"),
    "oracle_si_snr_improvement": ("codec oracle improvement", "dB"),
}
# Reference rows: the unprocessed mixture, and the codec's ceiling (true latents decoded).
REFERENCE_ORDER = ("mixture_si_snr", "oracle_si_snr_improvement")
JSON_VERSION = 1


@dataclass(frozen=True)
class MeanInterval:
    """Mean of the finite values with a two-sided 95% Student-t interval."""

    mean: float
    low: float
    high: float
    n_valid: int
    n_total: int

    @classmethod
    def of(cls, values: ArrayLike) -> MeanInterval:
        array = np.asarray(values, dtype=np.float64)
        finite = array[np.isfinite(array)]
        n = int(finite.size)
        if n == 0:
            return cls(math.nan, math.nan, math.nan, 0, int(array.size))
        mean = float(finite.mean())
        if n == 1:
            return cls(mean, math.nan, math.nan, 1, int(array.size))
        from latentflow.stats.paired import mean_interval_t

        return cls(mean, *mean_interval_t(finite, 0.95), n, int(array.size))

    def as_dict(self) -> dict:
        return {"mean": _num(self.mean), "ci95": [_num(self.low), _num(self.high)],
                "n_valid": self.n_valid, "n": self.n_total}


@dataclass(frozen=True)
class Proportion:
    """A share of successes with a 95% Wilson score interval."""

    successes: int
    trials: int
    low: float
    high: float

    @classmethod
    def of(cls, outcomes: ArrayLike) -> Proportion:
        array = np.asarray(outcomes, dtype=bool)
        n, k = int(array.size), int(array.sum())
        if n == 0:
            return cls(0, 0, math.nan, math.nan)
        # scipy's Wilson score interval (measured equal to the former hand-written formula
        # to 1e-16 for k/n = 0/5, 3/10, 10/10, 7/40).
        from scipy.stats import binomtest

        interval = binomtest(k, n).proportion_ci(confidence_level=0.95, method="wilson")
        return cls(k, n, float(interval.low), float(interval.high))

    @property
    def value(self) -> float:
        return self.successes / self.trials if self.trials else math.nan

    def as_dict(self) -> dict:
        return {"value": _num(self.value), "ci95": [_num(self.low), _num(self.high)],
                "successes": self.successes, "trials": self.trials}


@dataclass(frozen=True)
class PromptFollowing:
    """Clean tier: did the output follow the prompt (target's and other speaker's descriptions)?"""

    per_mixture: Proportion  # both prompts of a mixture followed
    per_prompt: Proportion  # single prompts followed (2 per mixture)


@dataclass(frozen=True)
class Evaluation:
    """The result of :func:`evaluate_separator` on one tier."""

    tier: str
    n: int
    model: str
    steps: int
    method: str
    prompt_kind: str
    seed: int
    metrics: dict  # name -> MeanInterval (REPORT_METRICS, then REFERENCE_ORDER)
    values: dict  # name -> tuple of per-example values (NaN kept)
    prompt_following: PromptFollowing | None
    nan_reasons: dict = field(default_factory=dict)  # metric -> {reason: count} for NaN values
    separator: dict = field(default_factory=dict)  # Separator.describe(): the codec and text encoder

    def as_dict(self) -> dict:
        following = None
        if self.prompt_following is not None:
            following = {"per_mixture": self.prompt_following.per_mixture.as_dict(),
                         "per_prompt": self.prompt_following.per_prompt.as_dict()}
        return {
            "version": JSON_VERSION,
            "tier": self.tier,
            "split": "test",
            "n": self.n,
            "model": self.model,
            "steps": self.steps,
            "method": self.method,
            "prompt_kind": self.prompt_kind,
            "seed": self.seed,
            "metrics": {
                name: {**interval.as_dict(), "values": [_num(v) for v in self.values[name]],
                       "nan_reasons": self.nan_reasons.get(name, {})}
                for name, interval in self.metrics.items()
            },
            "prompt_following": following,
            "separator": self.separator,
        }

    def table(self) -> str:
        head = (
            f"{self.tier} tier, {self.n} held-out examples, {self.steps}-step {self.method}, prompt {self.prompt_kind}"
        )
        rows = [head, f"{'metric':<28}{'mean':>9}  {'95% interval':<20}{'n':>5}"]
        for name, interval in self.metrics.items():
            label, unit = METRIC_LABELS[name]
            label = f"{label} ({unit})" if unit else label
            rows.append(f"{label:<28}{interval.mean:>9.3f}  [{interval.low:7.3f}, {interval.high:7.3f}]  "
                        f"{interval.n_valid:>4}")
        if self.prompt_following is not None:
            for label, share in (("prompt following (mix)", self.prompt_following.per_mixture),
                                 ("prompt following (each)", self.prompt_following.per_prompt)):
                rows.append(f"{label:<28}{share.value:>9.3f}  [{share.low:7.3f}, {share.high:7.3f}]  {share.trials:>4}")
        return "\n".join(rows)


def evaluate_separator(
    separator,
    tier: str,
    n: int,
    *,
    steps: int = 16,
    method: str = "euler",
    prompt_kind: str = "text",
    seed: int = 0,
    batch_size: int = 8,
    workers: int = 1,
    model_name: str = "fixture",
    progress: Callable[[int], None] | None = None,
) -> Evaluation:
    """Separate test examples 0..n-1 of ``tier`` and measure them (see the module docstring).

    ``progress(k)`` is called after each batch with the number of examples it finished.
    """
    import torch

    from latentflow.audio.tiers import make_example
    from latentflow.metrics import separation_report, si_snr

    if tier not in TIERS:
        raise ValueError(f"unknown tier {tier!r}; allowed: {', '.join(TIERS)}")
    if n < 1 or batch_size < 1:
        raise ValueError(f"n={n} and batch_size={batch_size} must be positive")
    columns: dict[str, list[float]] = {name: [] for name in (*REPORT_METRICS, *REFERENCE_ORDER)}
    nan_reasons: dict[str, list[str]] = {name: [] for name in REPORT_METRICS}
    followed_target: list[bool] = []
    followed_other: list[bool] = []
    for first in range(0, n, batch_size):
        examples = [make_example(tier, "test", i, seed) for i in range(first, min(n, first + batch_size))]
        target = torch.stack([e.target for e in examples])
        residual = torch.stack([e.residual for e in examples])
        mixture = torch.stack([e.mixture for e in examples])
        run = dict(prompt_kind=prompt_kind, steps=steps, method=method)
        out = separator.separate(examples, **run)
        report = separation_report(out.target, target, mixture, interference=residual, workers=workers)
        for name in REPORT_METRICS:
            columns[name].extend(float(v) for v in getattr(report, name))
        mixture_score = si_snr(mixture, target)
        columns["mixture_si_snr"].extend(float(v) for v in mixture_score)
        oracle = separator.oracle(mixture, target, residual)
        columns["oracle_si_snr_improvement"].extend(float(v) for v in si_snr(oracle, target) - mixture_score)
        for name in REPORT_METRICS:
            nan_reasons[name].extend(r for r in report.reasons[name] if r is not None)
        if tier == "clean":
            # The other speaker of a Clean mixture fills the whole clip: that is its span.
            whole = [(0.0, e.mixture.shape[-1] / e.sample_rate) for e in examples]
            other = separator.separate(examples, prompts=[e.alt_prompt for e in examples], spans=whole, **run)
            followed_target.extend(bool(v) for v in si_snr(out.target, target) > si_snr(out.target, residual))
            followed_other.extend(bool(v) for v in si_snr(other.target, residual) > si_snr(other.target, target))
        if progress is not None:
            progress(len(examples))
    following = None
    if tier == "clean":
        both = np.logical_and(followed_target, followed_other)
        following = PromptFollowing(Proportion.of(both), Proportion.of(followed_target + followed_other))
    return Evaluation(
        tier=tier, n=n, model=model_name, steps=steps, method=method, prompt_kind=prompt_kind, seed=seed,
        separator=separator.describe(),
        metrics={name: MeanInterval.of(values) for name, values in columns.items()},
        values={name: tuple(values) for name, values in columns.items()},
        prompt_following=following,
        nan_reasons={name: dict(Counter(reasons)) for name, reasons in nan_reasons.items() if reasons},
    )


def _num(value: float):
    return None if value is None or not math.isfinite(value) else float(value)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latentflow evaluate",
        description="Measure separation quality on held-out tier examples of one tier.",
    )
    parser.add_argument("--tier", required=True, choices=TIERS, help="tier")
    parser.add_argument("--n", required=True, type=int, help="number of held-out examples (0..N-1)")
    parser.add_argument("--model", default="fixture", help=f"{MODEL_NAME_FORMS}; default fixture")
    parser.add_argument("--text-encoder", default=None, metavar="PATH",
                        help="local T5 folder for a SAM Audio model (default: $LATENTFLOW_TEXT_ENCODER, "
                             "<model>/<name>, or the offline Hugging Face cache)")
    parser.add_argument("--json", type=Path, default=None, help="also write the results as JSON here")
    parser.add_argument("--steps", type=int, default=16, help="sampler steps (default 16)")
    parser.add_argument("--method", default="euler", choices=SAMPLER_METHODS, help="sampler (default euler)")
    parser.add_argument("--prompt-kind", default="text", choices=PROMPT_KINDS,
                        help="prompt given to the model (default text)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the tier draw (default 0)")
    parser.add_argument("--batch-size", type=int, default=8, help="examples per model call (default 8)")
    parser.add_argument("--workers", type=int, default=1, help="processes for STOI / PESQ (default 1)")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    problems = [f"--{name} {value}: must be a positive integer"
                for name, value in (("n", args.n), ("steps", args.steps), ("batch-size", args.batch_size),
                                    ("workers", args.workers)) if value < 1]
    if args.seed < 0:
        problems.append(f"--seed {args.seed}: must be a non-negative integer")
    if args.json is not None and not args.json.parent.is_dir():
        problems.append(f"--json {args.json}: folder {args.json.parent} does not exist")
    if problems:
        print("latentflow evaluate: " + "; ".join(problems), file=sys.stderr)
        return 2

    from tqdm import tqdm

    from latentflow.model import CheckpointError
    from latentflow.model_names import load_separator

    try:
        separator = load_separator(args.model, text_encoder=args.text_encoder)
    except (FileNotFoundError, CheckpointError, ValueError) as error:
        print(f"latentflow evaluate: --model {args.model!r}: {error}", file=sys.stderr)
        return 2
    with tqdm(total=args.n, unit="example", file=sys.stderr) as bar:
        result = evaluate_separator(
            separator, args.tier, args.n, steps=args.steps, method=args.method, prompt_kind=args.prompt_kind,
            seed=args.seed, batch_size=args.batch_size, workers=args.workers, model_name=args.model,
            progress=bar.update,
        )
    print(result.table())
    if args.json is not None:
        args.json.write_text(json.dumps(result.as_dict(), indent=2) + "\n")
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
