"""The BMLD table: every reference model, stimulus and ablation, and which claim each row speaks to.

    python -m latentflow.bmld.table            # prints the table, writes docs/benchmarks/bmld.json

Each row probes one registered reference model on one (N0S0, N0Spi) stimulus pair
(:mod:`latentflow.bmld.stimuli`, seed 0, the default protocol) and reports the BMLD with its
bootstrap interval, both thresholds, and a verdict against one of the abstract's claims by
a rule written next to the claim in :data:`CLAIMS`. Features are computed once per (model,
stimulus set) and every stimulus set once (see ``references._FEATURE_CACHE``).
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from latentflow.bmld.probe import BmldResult, percentile_interval, probe_bmld
from latentflow.bmld.references import REFERENCE_MODELS, ec_bmld_closed_form
from latentflow.bmld.stimuli import StimulusConfig, make_pair, with_config


@dataclass(frozen=True)
class VerdictRules:
    """The margins the verdict rules use: documented defaults, overridable (``--zero-margin`` ...)."""

    # A BMLD counts as zero when its whole interval lies inside +-zero_margin_db (an interval
    # that merely covers 0 is absence of evidence). 3 dB: about a quarter of the EC baseline
    # and above the half-width of a well-measured row's interval here.
    zero_margin_db: float = 3.0
    # An EC row agrees with Durlach's closed form within this many dB.
    ec_margin_db: float = 3.0
    # After IPD removal a model "keeps" its BMLD when it keeps more than this share of it.
    keep_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not (self.zero_margin_db > 0 and self.ec_margin_db > 0 and 0 < self.keep_fraction < 1):
            raise ValueError(f"verdict rules need zero_margin_db > 0, ec_margin_db > 0 and 0 < keep_fraction < 1; "
                             f"got {self}")


def claims(rules: VerdictRules = VerdictRules()) -> dict[str, str]:
    """The abstract's claims, each with the rule by which a row speaks to it."""
    zero = f"+-{rules.zero_margin_db:g} dB"
    return {
        "ec_baseline": "an EC model is the analytical baseline "
                       f"(rule: interval above 0 and within {rules.ec_margin_db:g} dB of Durlach's closed form)",
        "gcc_positive_control": "a GCC-PHAT front end is a positive control (rule: interval above 0)",
        "monaural_zero": "monaural models yield zero BMLD (rule: a front end reading one ear is zero by "
                         "construction: verdict 'by construction', a kept test not counted as support, "
                         f"failing unless its BMLD is exactly 0 or its interval lies inside {zero}; any other "
                         f"model supports it only with its interval inside {zero})",
        "dedicated_near_ec": "dedicated binaural spatial models reach a BMLD close to the analytical baseline "
                             "(rule: interval overlaps the EC row's interval on the same stimuli)",
        "phase_blind_little": "general-purpose binaural models show little phase sensitivity; here the "
                              "magnitude-only model stands in (rule: interval below the EC row's interval)",
        "textures_not_phase": "with the interaural phase removed (per-ear magnitudes kept), a model relying on "
                              "interference textures keeps its BMLD (rule, the same for every model: paired "
                              f"interval of BMLD(ablated) - {rules.keep_fraction:g} x BMLD(intact) above 0 = keeps "
                              "it (supports), below 0 = loses it, it used phase (does not support), else not "
                              "judged. The ablation leaves a magnitude cue, |L| - |R|, which phase readers such "
                              "as EC also use, so 'keeps' shows a magnitude cue suffices, not that phase is unused)",
        "target_ipd_control": "ablation check: with the target's IPD randomised in both conditions no BMLD "
                              "can remain (zero by construction: verdict 'by construction', a kept test, failing "
                              f"unless its BMLD is exactly 0 or its interval lies inside {zero})",
        "speech_envelopes": "speech detection reflects broadband envelopes, not phase (rule, testing the "
                            "'envelopes' half only: paired interval of the N0S0 threshold with envelope-only "
                            f"speech minus real speech's inside {zero} supports, wholly outside it does not, "
                            "else not judged: not testable at this resolution. Envelope-only speech keeps the "
                            "RMS, so any energy detector passes; its noise carrier is still antiphasic in N0Spi, "
                            "so 'not phase' is not tested)",
    }


CLAIMS = claims()


@dataclass(frozen=True)
class RowSpec:
    model: str
    target: str  # "tone" or "speech"
    ablation: str | None
    claim: str
    # Zero BMLD by construction (a front end reading one ear, identical in both conditions; or
    # both conditions made alike by the ablation): a kept test, never counted as support.
    by_construction: bool = False


MONAURAL_MODELS = ("logmel", "sam_audio", "silero_vad", "crepe")
TONE_MODELS = ("ec", "gcc_phat", "logmel", "sam_audio", "silero_vad", "crepe", "binaural_phase", "binaural_magnitude")
BINAURAL_MODELS = ("ec", "gcc_phat", "binaural_phase", "binaural_magnitude")
_BASE_CLAIM = {"ec": "ec_baseline", "gcc_phat": "gcc_positive_control", "binaural_phase": "dedicated_near_ec",
               "binaural_magnitude": "phase_blind_little"}


def _base_claim(model: str) -> str:
    return _BASE_CLAIM.get(model, "monaural_zero")


def _intact(model: str, target: str) -> RowSpec:
    return RowSpec(model, target, None, _base_claim(model), model in MONAURAL_MODELS)


ROWS: tuple[RowSpec, ...] = (
    *(_intact(m, "tone") for m in TONE_MODELS),
    *(RowSpec(m, "tone", "mixture_ipd_removed", "textures_not_phase") for m in BINAURAL_MODELS),
    *(RowSpec(m, "tone", "target_ipd_scrambled", "target_ipd_control", True) for m in BINAURAL_MODELS),
    *(_intact(m, "speech") for m in ("ec", "gcc_phat", "logmel", "binaural_phase", "binaural_magnitude")),
    *(RowSpec(m, "speech", "mixture_ipd_removed", "textures_not_phase") for m in BINAURAL_MODELS),
    *(RowSpec(m, "speech", "envelope_only", "speech_envelopes") for m in ("ec", "gcc_phat", "logmel",
                                                                          "binaural_phase", "binaural_magnitude")),
)

# Speech spreads over the whole band: the EC model listens through a bank of channels there.
SPEECH_EC_CENTRES_HZ = (250.0, 500.0, 1000.0, 2000.0)


@dataclass(frozen=True)
class TableRow:
    spec: RowSpec
    role: str
    result: BmldResult
    verdict: str  # "supports", "does not support", "by construction", "not judged"
    why: str


def stimulus_config(target: str, base: StimulusConfig | None = None) -> StimulusConfig:
    return with_config(base, target=target)


def compute(rows: tuple[RowSpec, ...] = ROWS, *, seed: int = 0, n_resamples: int = 200,
            base: StimulusConfig | None = None, skip_missing: bool = True,
            rules: VerdictRules = VerdictRules()) -> tuple[list[TableRow], list[str]]:
    """Probe every row; returns the rows and the ones skipped (with why)."""
    pairs: dict = {}
    results: dict[RowSpec, BmldResult] = {}
    skipped = []
    for spec in rows:
        key = (spec.target, spec.ablation)
        if key not in pairs:
            pairs[key] = make_pair(stimulus_config(spec.target, base), seed=seed, ablation=spec.ablation)
        # the reference model's own keyword arguments (probe_bmld passes them on)
        params: dict[str, Any] = {}
        if spec.model == "ec" and spec.target == "speech":
            params["centres_hz"] = SPEECH_EC_CENTRES_HZ
        try:
            results[spec] = probe_bmld(spec.model, *pairs[key], seed=seed, n_resamples=n_resamples, **params)
        except ImportError as error:
            if not skip_missing:
                raise
            skipped.append(f"{spec.model} ({spec.target}, {spec.ablation or 'no ablation'}): {error}")
    table = [
        TableRow(spec, REFERENCE_MODELS.get(spec.model).role, result, *_verdict(spec, result, results, rules))
        for spec, result in results.items()
    ]
    return table, skipped


def _verdict(spec: RowSpec, result: BmldResult, results: dict, rules: VerdictRules = VerdictRules()) -> tuple[str, str]:
    if spec.by_construction:
        return _by_construction(result, rules)
    if not result.judgeable:
        return "not judged", _unjudgeable(result)
    low, high = result.confidence_interval
    above_zero = low > 0
    ec = results.get(RowSpec("ec", spec.target, None, "ec_baseline"))
    if spec.claim == "ec_baseline":
        closed = ec_bmld_closed_form(REFERENCE_MODELS.get("ec").params["centres_hz"][0])
        if spec.target == "tone":
            ok = above_zero and abs(result.bmld_db - closed) <= rules.ec_margin_db
            return _says(ok, f"closed form {closed:.1f} dB at 500 Hz")
        return _says(above_zero, "no closed form for speech; interval above 0" if above_zero else "interval reaches 0")
    if spec.claim == "gcc_positive_control":
        return _says(above_zero, "interval above 0" if above_zero else "interval reaches 0")
    if spec.claim == "monaural_zero":
        inside = result.interval_within(rules.zero_margin_db)
        return _says(inside, f"interval {'inside' if inside else 'not inside'} +-{rules.zero_margin_db:g} dB")
    if spec.claim in ("dedicated_near_ec", "phase_blind_little"):
        if ec is None or not ec.judgeable:
            return "not judged", "no judgeable EC row on these stimuli"
        ec_low, ec_high = ec.confidence_interval
        if spec.claim == "dedicated_near_ec":
            return _says(low <= ec_high and ec_low <= high, f"EC {ec.bmld_db:.1f} dB [{ec_low:.1f}, {ec_high:.1f}]")
        return _says(high < ec_low, f"EC interval starts at {ec_low:.1f} dB")
    if spec.claim == "textures_not_phase":
        intact = results.get(_intact(spec.model, spec.target))
        if intact is None or not intact.judgeable or intact.confidence_interval[0] <= 0:
            return "not judged", "no intact row with a judgeable BMLD above 0 to keep"
        kept = percentile_interval(_bmld_replicates(result) - rules.keep_fraction * _bmld_replicates(intact),
                                result.confidence)
        detail = (f"BMLD {intact.bmld_db:.1f} -> {result.bmld_db:.1f} dB; ablated - {rules.keep_fraction:g} x intact: "
                  f"[{kept[0]:.1f}, {kept[1]:.1f}]")
        if kept[0] > 0:
            return "supports", f"keeps its BMLD without IPD ({detail})"
        if kept[1] < 0:
            return "does not support", f"loses its BMLD without IPD: used phase ({detail})"
        return "not judged", f"interval straddles {rules.keep_fraction:g} x intact ({detail})"
    if spec.claim == "speech_envelopes":
        speech = results.get(_intact(spec.model, "speech"))
        if speech is None or not speech.judgeable:
            return "not judged", "no judgeable real-speech row for this model"
        # Same seed, same ladder: both rows' replicates drew the same trial indices, and the two
        # stimulus sets share their noise trial by trial, so the difference is paired.
        moved = percentile_interval(np.asarray(result.replicates_n0s0_db) - np.asarray(speech.replicates_n0s0_db),
                                 result.confidence)
        delta = result.threshold_n0s0_db - speech.threshold_n0s0_db
        detail = f"N0S0 threshold {delta:+.1f} dB [{moved[0]:.1f}, {moved[1]:.1f}] vs real speech"
        if -rules.zero_margin_db <= moved[0] and moved[1] <= rules.zero_margin_db:
            return "supports", f"{detail}, inside +-{rules.zero_margin_db:g} dB (envelopes only; RMS kept)"
        if moved[0] > rules.zero_margin_db or moved[1] < -rules.zero_margin_db:
            return "does not support", f"{detail}, outside +-{rules.zero_margin_db:g} dB"
        return "not judged", f"{detail}: not testable at this resolution (+-{rules.zero_margin_db:g} dB)"
    raise ValueError(f"row {spec}: unknown claim {spec.claim!r}; claims: {sorted(CLAIMS)}")


def _by_construction(result: BmldResult, rules: VerdictRules) -> tuple[str, str]:
    if result.curve_n0s0 == result.curve_n0spi:
        return "by construction", "identical detection curves in both conditions: BMLD exactly 0"
    if result.judgeable and result.interval_within(rules.zero_margin_db):
        return "by construction", f"curves differ, interval inside +-{rules.zero_margin_db:g} dB"
    return "does not support", (f"zero by construction, yet the curves differ and the interval is not inside "
                                f"+-{rules.zero_margin_db:g} dB (or is not judgeable): the construction is broken")


def _unjudgeable(result: BmldResult) -> str:
    parts = []
    if result.censored:
        parts.append(f"threshold censored (N0S0 {result.censored_n0s0 or '-'}, N0Spi {result.censored_n0spi or '-'})")
    if not result.converged:
        parts.append(f"fit not converged (N0S0 {result.converged_n0s0}, N0Spi {result.converged_n0spi}, "
                     f"{result.n_failed_resamples}/{result.n_resamples} resamples failed)")
    return "; ".join(parts)


def _bmld_replicates(result: BmldResult) -> np.ndarray:
    return np.asarray(result.replicates_n0s0_db) - np.asarray(result.replicates_n0spi_db)


def _says(ok: bool, why: str) -> tuple[str, str]:
    return ("supports" if ok else "does not support"), why


def _threshold(value: float, censored: str | None) -> str:
    mark = {"above": ">", "below": "<"}.get(censored or "", "")
    return f"{mark}{value:.1f}"


def markdown(table: list[TableRow]) -> str:
    lines = [
        "| model | role | target | ablation | BMLD dB | 95% interval | threshold N0S0 | threshold N0Spi "
        "| claim | verdict | why |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in table:
        r = row.result
        low, high = r.confidence_interval
        lines.append(
            f"| {row.spec.model} | {row.role} | {row.spec.target} | {row.spec.ablation or '-'} | {r.bmld_db:.1f} | "
            f"[{low:.1f}, {high:.1f}] | {_threshold(r.threshold_n0s0_db, r.censored_n0s0)} | "
            f"{_threshold(r.threshold_n0spi_db, r.censored_n0spi)} | {row.spec.claim} | {row.verdict} | {row.why} |"
        )
    return "\n".join(lines)


def to_json(table: list[TableRow], skipped: list[str], seconds: float, seed: int, n_resamples: int,
            base: StimulusConfig | None, rules: VerdictRules = VerdictRules()) -> dict:
    def curve(c):
        return {"tnr_db": list(c.tnr_db), "accuracy": list(c.accuracy), "n_trials": list(c.n_trials)}

    return {
        "benchmark": "bmld",
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "seed": seed,
        "n_resamples": n_resamples,
        "stimulus_config": asdict(base or StimulusConfig()),
        "verdict_rules": asdict(rules),
        "claims": claims(rules),
        "seconds": round(seconds, 1),
        "skipped": skipped,
        "rows": [
            {
                "model": row.spec.model, "role": row.role, "site": row.result.site, "target": row.spec.target,
                "ablation": row.spec.ablation, "bmld_db": _finite(row.result.bmld_db),
                "interval": [_finite(v) for v in row.result.confidence_interval],
                "threshold_n0s0_db": row.result.threshold_n0s0_db, "censored_n0s0": row.result.censored_n0s0,
                "threshold_n0spi_db": row.result.threshold_n0spi_db, "censored_n0spi": row.result.censored_n0spi,
                "converged_n0s0": row.result.converged_n0s0, "converged_n0spi": row.result.converged_n0spi,
                "n_failed_resamples": row.result.n_failed_resamples, "by_construction": row.spec.by_construction,
                "claim": row.spec.claim, "verdict": row.verdict, "why": row.why,
                "curve_n0s0": curve(row.result.curve_n0s0), "curve_n0spi": curve(row.result.curve_n0spi),
            }
            for row in table
        ],
    }


def _finite(value: float) -> float | None:
    return float(value) if math.isfinite(value) else None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m latentflow.bmld.table", description=__doc__.split("\n")[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--resamples", type=int, default=200, help="bootstrap resamples per row")
    defaults = VerdictRules()
    parser.add_argument("--zero-margin", type=float, default=defaults.zero_margin_db,
                        help="dB: a BMLD is zero when its interval lies inside +-this (default "
                             f"{defaults.zero_margin_db:g})")
    parser.add_argument("--ec-margin", type=float, default=defaults.ec_margin_db,
                        help=f"dB: the EC row's distance to Durlach's closed form (default {defaults.ec_margin_db:g})")
    parser.add_argument("--keep-fraction", type=float, default=defaults.keep_fraction,
                        help=f"share of its BMLD a model keeps after IPD removal (default {defaults.keep_fraction:g})")
    parser.add_argument("--json", type=Path, default=Path("docs/benchmarks/bmld.json"),
                        help="where to write the JSON (default docs/benchmarks/bmld.json)")
    args = parser.parse_args(argv)
    rules = VerdictRules(args.zero_margin, args.ec_margin, args.keep_fraction)
    started = time.perf_counter()
    table, skipped = compute(seed=args.seed, n_resamples=args.resamples, rules=rules)
    seconds = time.perf_counter() - started
    print(markdown(table))
    for line in skipped:
        print(f"skipped: {line}")
    print(f"\n{len(table)} rows in {seconds:.0f} s (seed {args.seed}, {args.resamples} bootstrap resamples)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    payload = to_json(table, skipped, seconds, args.seed, args.resamples, None, rules)
    args.json.write_text(json.dumps(payload, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
