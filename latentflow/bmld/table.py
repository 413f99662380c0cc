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

import numpy as np

from latentflow.bmld.probe import BmldResult, probe_bmld
from latentflow.bmld.references import REFERENCE_MODELS, ec_bmld_closed_form
from latentflow.bmld.stimuli import StimulusConfig, make_pair, with_config

# The abstract's claims, and the rule by which a row supports one (margins are defaults here).
CLAIMS = {
    "ec_baseline": "an EC model is the analytical baseline "
                   "(rule: interval above 0 and within 3 dB of Durlach's closed form)",
    "gcc_positive_control": "a GCC-PHAT front end is a positive control (rule: interval above 0)",
    "monaural_zero": "monaural models yield zero BMLD (rule: interval covers 0)",
    "dedicated_near_ec": "dedicated binaural spatial models reach a BMLD close to the analytical baseline "
                         "(rule: interval overlaps the EC row's interval on the same stimuli)",
    "phase_blind_little": "general-purpose binaural models show little phase sensitivity; here the "
                          "magnitude-only model stands in (rule: interval below the EC row's interval)",
    "textures_not_phase": "with the interaural phase removed (per-ear magnitudes kept), a model relying on "
                          "interference textures keeps its BMLD (rule: interval above 0 = textures; "
                          "covers 0 = it used phase)",
    "target_ipd_control": "ablation check: with the target's IPD randomised in both conditions no BMLD "
                          "can remain (rule: interval covers 0)",
    "speech_envelopes": "speech detection reflects broadband envelopes, not phase "
                        "(rule: N0S0 threshold with envelope-only speech within 3 dB of real speech's)",
}


@dataclass(frozen=True)
class RowSpec:
    model: str
    target: str  # "tone" or "speech"
    ablation: str | None
    claim: str


TONE_MODELS = ("ec", "gcc_phat", "logmel", "sam_audio", "silero_vad", "binaural_phase", "binaural_magnitude")
BINAURAL_MODELS = ("ec", "gcc_phat", "binaural_phase", "binaural_magnitude")
_BASE_CLAIM = {"ec": "ec_baseline", "gcc_phat": "gcc_positive_control", "binaural_phase": "dedicated_near_ec",
               "binaural_magnitude": "phase_blind_little"}


def _base_claim(model: str) -> str:
    return _BASE_CLAIM.get(model, "monaural_zero")


ROWS: tuple[RowSpec, ...] = (
    *(RowSpec(m, "tone", None, _base_claim(m)) for m in TONE_MODELS),
    *(RowSpec(m, "tone", "mixture_ipd_removed", "textures_not_phase") for m in BINAURAL_MODELS),
    *(RowSpec(m, "tone", "target_ipd_scrambled", "target_ipd_control") for m in BINAURAL_MODELS),
    *(RowSpec(m, "speech", None, _base_claim(m)) for m in ("ec", "gcc_phat", "logmel", "binaural_phase",
                                                           "binaural_magnitude")),
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
    verdict: str  # "supports", "does not support"
    why: str


def stimulus_config(target: str, base: StimulusConfig | None = None) -> StimulusConfig:
    return with_config(base, target=target)


def compute(rows: tuple[RowSpec, ...] = ROWS, *, seed: int = 0, n_resamples: int = 200,
            base: StimulusConfig | None = None, skip_missing: bool = True) -> tuple[list[TableRow], list[str]]:
    """Probe every row; returns the rows and the ones skipped (with why)."""
    pairs: dict = {}
    results: dict[RowSpec, BmldResult] = {}
    skipped = []
    for spec in rows:
        key = (spec.target, spec.ablation)
        if key not in pairs:
            pairs[key] = make_pair(stimulus_config(spec.target, base), seed=seed, ablation=spec.ablation)
        params = {"centres_hz": SPEECH_EC_CENTRES_HZ} if spec.model == "ec" and spec.target == "speech" else {}
        try:
            results[spec] = probe_bmld(spec.model, *pairs[key], seed=seed, n_resamples=n_resamples, **params)
        except ImportError as error:
            if not skip_missing:
                raise
            skipped.append(f"{spec.model} ({spec.target}, {spec.ablation or 'no ablation'}): {error}")
    table = [
        TableRow(spec, REFERENCE_MODELS.get(spec.model).role, result, *_verdict(spec, result, results))
        for spec, result in results.items()
    ]
    return table, skipped


def _verdict(spec: RowSpec, result: BmldResult, results: dict) -> tuple[str, str]:
    low, high = result.confidence_interval
    above_zero, covers_zero = low > 0, result.interval_covers_zero
    ec = results.get(RowSpec("ec", spec.target, None, "ec_baseline"))
    if spec.claim == "ec_baseline":
        closed = ec_bmld_closed_form(REFERENCE_MODELS.get("ec").params["centres_hz"][0])
        if spec.target == "tone":
            ok = above_zero and abs(result.bmld_db - closed) <= 3.0
            return _says(ok, f"closed form {closed:.1f} dB at 500 Hz")
        return _says(above_zero, "no closed form for speech; interval above 0" if above_zero else "interval reaches 0")
    if spec.claim in ("gcc_positive_control",):
        return _says(above_zero, "interval above 0" if above_zero else "interval reaches 0")
    if spec.claim in ("monaural_zero", "target_ipd_control"):
        return _says(covers_zero, "interval covers 0" if covers_zero else "interval excludes 0")
    if spec.claim == "dedicated_near_ec":
        if ec is None:
            return "not judged", "no EC row on these stimuli"
        overlap = low <= ec.confidence_interval[1] and ec.confidence_interval[0] <= high
        return _says(overlap, f"EC {ec.bmld_db:.1f} dB [{ec.confidence_interval[0]:.1f}, {ec.confidence_interval[1]:.1f}]")
    if spec.claim == "phase_blind_little":
        if ec is None:
            return "not judged", "no EC row on these stimuli"
        below = high < ec.confidence_interval[0]
        return _says(below, f"EC interval starts at {ec.confidence_interval[0]:.1f} dB")
    if spec.claim == "textures_not_phase":
        keeps = above_zero
        if spec.model == "binaural_magnitude":
            return _says(keeps, "interval above 0 after IPD removal (textures)" if keeps
                         else "interval reaches 0 after IPD removal")
        return ("relies on phase" if not keeps else "keeps BMLD without IPD",
                "interval reaches 0 after IPD removal" if not keeps else "interval above 0 after IPD removal")
    if spec.claim == "speech_envelopes":
        speech = results.get(RowSpec(spec.model, "speech", None, _base_claim(spec.model)))
        if speech is None:
            return "not judged", "no real-speech row for this model"
        delta = result.threshold_n0s0_db - speech.threshold_n0s0_db
        return _says(abs(delta) <= 3.0, f"N0S0 threshold {delta:+.1f} dB vs real speech")
    raise ValueError(f"row {spec}: unknown claim {spec.claim!r}; claims: {sorted(CLAIMS)}")


def _says(ok: bool, why: str) -> tuple[str, str]:
    return ("supports" if ok else "does not support"), why


def _threshold(value: float, censored: str | None) -> str:
    mark = {"above": ">", "below": "<"}.get(censored or "", "")
    return f"{mark}{value:.1f}"


def markdown(table: list[TableRow]) -> str:
    lines = [
        "| model | role | target | ablation | BMLD dB | 95% interval | threshold N0S0 | threshold N0Spi | claim | verdict | why |",
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
            base: StimulusConfig | None) -> dict:
    def curve(c):
        return {"tnr_db": list(c.tnr_db), "accuracy": list(c.accuracy), "n_trials": list(c.n_trials)}

    return {
        "benchmark": "bmld",
        "machine": {"platform": platform.platform(), "python": platform.python_version()},
        "seed": seed,
        "n_resamples": n_resamples,
        "stimulus_config": asdict(base or StimulusConfig()),
        "claims": CLAIMS,
        "seconds": round(seconds, 1),
        "skipped": skipped,
        "rows": [
            {
                "model": row.spec.model, "role": row.role, "site": row.result.site, "target": row.spec.target,
                "ablation": row.spec.ablation, "bmld_db": _finite(row.result.bmld_db),
                "interval": [_finite(v) for v in row.result.confidence_interval],
                "threshold_n0s0_db": row.result.threshold_n0s0_db, "censored_n0s0": row.result.censored_n0s0,
                "threshold_n0spi_db": row.result.threshold_n0spi_db, "censored_n0spi": row.result.censored_n0spi,
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
    parser.add_argument("--json", type=Path, default=Path("docs/benchmarks/bmld.json"),
                        help="where to write the JSON (default docs/benchmarks/bmld.json)")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    table, skipped = compute(seed=args.seed, n_resamples=args.resamples)
    seconds = time.perf_counter() - started
    print(markdown(table))
    for line in skipped:
        print(f"skipped: {line}")
    print(f"\n{len(table)} rows in {seconds:.0f} s (seed {args.seed}, {args.resamples} bootstrap resamples)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(to_json(table, skipped, seconds, args.seed, args.resamples, None), indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
