"""``latentflow separate``: separate one sound from a mixture file with a text (and span) prompt.

    latentflow separate --mix IN.wav --prompt "a woman speaking" [--span START:END]
                        --out OUT.wav [--model fixture|PATH] [--steps 16] [--method euler]

The mixture is read with soundfile (any format libsndfile reads; channels are averaged to
mono) and resampled to 16 kHz with torchaudio. Two files are written at 16 kHz mono: the
target to OUT and the residual (the mixture minus the target) next to it as
``OUT-stem.residual.OUT-suffix`` (``out.wav`` -> ``out.residual.wav``). WAV outputs are 32-bit
float (a separated source can peak slightly above the mixture, and float never clips); FLAC
outputs are 16-bit. Bad input (unreadable or undecodable file, empty prompt, malformed or
out-of-range span, unknown model) exits with status 2 and a message naming the file or value.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

OUTPUT_SUFFIXES = (".wav", ".flac")


class UsageError(ValueError):
    """A bad command-line value; the message names it and what is allowed."""


def residual_path(out: Path) -> Path:
    """Where the residual goes: ``out.wav`` -> ``out.residual.wav`` (same folder and format)."""
    return out.with_name(f"{out.stem}.residual{out.suffix}")


def parse_span(text: str, duration: float = float("inf")) -> tuple[float, float]:
    """``"START:END"`` in seconds -> (start, end); ``"1.5:3"`` -> (1.5, 3.0). The span is checked
    as the pipeline checks spans (against a mixture of ``duration`` seconds when given)."""
    from latentflow.pipeline import check_span

    parts = text.split(":")
    if len(parts) != 2:
        raise UsageError(f"--span {text!r}: expected START:END in seconds, e.g. 0.5:2.25")
    try:
        start, end = float(parts[0]), float(parts[1])
    except ValueError:
        raise UsageError(f"--span {text!r}: START and END must be numbers of seconds, e.g. 0.5:2.25") from None
    try:
        check_span((start, end), duration, where=f"--span {text!r}")
    except ValueError as error:
        raise UsageError(str(error)) from None
    return start, end


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latentflow separate",
        description="Separate the sound described by a prompt from a mixture file.",
    )
    parser.add_argument("--mix", required=True, type=Path, help="mixture audio file (read with soundfile)")
    parser.add_argument("--prompt", required=True, help='text description of the target, e.g. "a woman speaking"')
    parser.add_argument("--span", default=None, help="START:END seconds where the target is active (span anchors)")
    parser.add_argument("--out", required=True, type=Path, help="target output (.wav or .flac); residual beside it")
    parser.add_argument("--model", default="fixture", help="'fixture' (bundled), a checkpoint path or a SAM Audio folder")
    parser.add_argument("--text-encoder", default=None, metavar="PATH",
                        help="local T5 folder for a SAM Audio model (default: $LATENTFLOW_TEXT_ENCODER, "
                             "<model>/<name>, or the offline Hugging Face cache)")
    parser.add_argument("--steps", type=int, default=16, help="sampler steps (default 16)")
    parser.add_argument("--method", default="euler", choices=("euler", "midpoint"), help="sampler (default euler)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the starting noise (default 0)")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from latentflow.audio.codec import LATENT_HOP, SAMPLE_RATE
    from latentflow.audio.io import AudioFileError, read_audio, write_audio

    try:
        _check_arguments(args)
        if args.span is not None:
            parse_span(args.span)  # a malformed span fails before any audio is read
        try:
            mixture, _ = read_audio(args.mix, sample_rate=SAMPLE_RATE)
        except AudioFileError as error:
            raise UsageError(f"--mix {error}") from None
        duration = mixture.shape[-1] / SAMPLE_RATE
        if mixture.shape[-1] < LATENT_HOP:
            raise UsageError(f"--mix {args.mix}: {1000 * duration:.0f} ms of audio is too short; "
                             f"need at least {1000 * LATENT_HOP / SAMPLE_RATE:.0f} ms (one latent frame)")
        span = None if args.span is None else parse_span(args.span, duration)
        separator = _load_separator(args.model, args.text_encoder)
        kind = "text" if span is None else "text+span"
        result = separator.separate(
            mixtures=mixture[None],
            prompts=[args.prompt],
            spans=[span],
            prompt_kind=kind,
            steps=args.steps,
            method=args.method,
            seeds=[args.seed],
        )
        subtype = "FLOAT" if args.out.suffix.lower() == ".wav" else None
        target_file = write_audio(args.out, result.target[0], SAMPLE_RATE, subtype=subtype)
        residual_file = write_audio(residual_path(args.out), result.residual[0], SAMPLE_RATE, subtype=subtype)
    except (UsageError, AudioFileError) as error:
        print(f"latentflow separate: {error}", file=sys.stderr)
        return 2
    print(f"target:   {target_file}\nresidual: {residual_file}")
    return 0


def _check_arguments(args: argparse.Namespace) -> None:
    if not args.prompt.strip():
        raise UsageError(f"--prompt {args.prompt!r} is empty: describe the target sound, e.g. 'a woman speaking'")
    if args.out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"--out {args.out}: unsupported extension {args.out.suffix!r}; allowed: {', '.join(OUTPUT_SUFFIXES)}")
    if not args.out.parent.is_dir():
        raise UsageError(f"--out {args.out}: folder {args.out.parent} does not exist")
    if args.out.resolve() == args.mix.resolve():
        raise UsageError(f"--out {args.out} would overwrite the mixture --mix {args.mix}")
    if args.steps < 1:
        raise UsageError(f"--steps {args.steps}: must be a positive integer")


def _load_separator(model: str, text_encoder: str | None = None):
    from latentflow.model import CheckpointError
    from latentflow.pipeline import Separator

    try:
        return Separator.load(model, text_encoder=text_encoder)
    except (FileNotFoundError, CheckpointError, ValueError) as error:
        raise UsageError(f"--model {model!r}: {error}") from None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
