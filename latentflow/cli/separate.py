"""``latentflow separate``: separate one sound from a mixture file with a text and/or span prompt.

    latentflow separate --mix IN.wav [--prompt "a woman speaking"] [--span START:END]
                        --out OUT.wav [--model MODEL] [--steps 16] [--method euler]
                        [--window 4] [--overlap 1]

A prompt is a text (``--prompt``), a span (``--span``: where the target is active), or both, as
SAM Audio allows. Audio of any length is separated in overlapping windows (``--window`` seconds,
``--overlap`` seconds of crossfade; defaults and reasons in ``latentflow.audio.windows``) with a
progress bar, so a long file never needs one attention pattern over all of its frames. A span
that runs past the end of the mixture is clipped to it, with a warning.

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
import warnings
from pathlib import Path

from latentflow.audio.windows import DEFAULT_OVERLAP_SECONDS, DEFAULT_WINDOW_SECONDS
from latentflow.model_names import MODEL_NAME_FORMS
from latentflow.vocabulary import SAMPLER_METHODS

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
        return check_span((start, end), duration, where=f"--span {text!r}")  # an end past the clip: clipped
    except ValueError as error:
        raise UsageError(str(error)) from None


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="latentflow separate",
        description="Separate the sound described by a prompt from a mixture file.",
    )
    parser.add_argument("--mix", required=True, type=Path, help="mixture audio file (read with soundfile)")
    parser.add_argument("--prompt", default=None,
                        help='text description of the target, e.g. "a woman speaking" (--prompt, --span or both)')
    parser.add_argument("--span", default=None,
                        help="START:END seconds where the target is active (span anchors; --prompt, --span or both)")
    parser.add_argument("--out", required=True, type=Path, help="target output (.wav or .flac); residual beside it")
    parser.add_argument("--model", default="fixture", help=f"{MODEL_NAME_FORMS}; default fixture")
    parser.add_argument("--text-encoder", default=None, metavar="PATH",
                        help="local T5 folder for a SAM Audio model (default: $LATENTFLOW_TEXT_ENCODER, "
                             "<model>/<name>, or the offline Hugging Face cache)")
    parser.add_argument("--steps", type=int, default=16, help="sampler steps (default 16)")
    parser.add_argument("--method", default="euler", choices=SAMPLER_METHODS, help="sampler (default euler)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the starting noise (default 0)")
    parser.add_argument("--window", type=float, default=DEFAULT_WINDOW_SECONDS,
                        help=f"seconds per window for long audio (default {DEFAULT_WINDOW_SECONDS:g}: the bundled "
                        "model's training clip length)")
    parser.add_argument("--overlap", type=float, default=DEFAULT_OVERLAP_SECONDS,
                        help=f"seconds of crossfade between windows (default {DEFAULT_OVERLAP_SECONDS:g})")
    return parser


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    from latentflow.audio.codec import LATENT_HOP, SAMPLE_RATE
    from latentflow.audio.io import AudioFileError, read_audio, write_audio
    from latentflow.audio.windows import separate_long

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
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            span = None if args.span is None else parse_span(args.span, duration)
        for warning in caught:  # one plain line, not a warnings-module source listing
            print(f"latentflow separate: warning: {warning.message}", file=sys.stderr)
        separator = _load_separator(args.model, args.text_encoder)
        target, residual = separate_long(
            separator, mixture, prompt=args.prompt, span=span, window_seconds=args.window,
            overlap_seconds=args.overlap, steps=args.steps, method=args.method, seed=args.seed,
            show_progress=True,
        )
        subtype = "FLOAT" if args.out.suffix.lower() == ".wav" else None
        target_file = write_audio(args.out, target, SAMPLE_RATE, subtype=subtype)
        residual_file = write_audio(residual_path(args.out), residual, SAMPLE_RATE, subtype=subtype)
    except (UsageError, AudioFileError) as error:
        print(f"latentflow separate: {error}", file=sys.stderr)
        return 2
    print(f"target:   {target_file}\nresidual: {residual_file}")
    return 0


def _check_arguments(args: argparse.Namespace) -> None:
    if args.prompt is None and args.span is None:
        raise UsageError("give --prompt (a text description of the target), --span START:END, or both")
    if args.prompt is not None and not args.prompt.strip():
        raise UsageError(f"--prompt {args.prompt!r} is empty: describe the target sound, e.g. 'a woman speaking'")
    if args.out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise UsageError(f"--out {args.out}: unsupported extension {args.out.suffix!r}; allowed: "
                         f"{', '.join(OUTPUT_SUFFIXES)}")
    if not args.out.parent.is_dir():
        raise UsageError(f"--out {args.out}: folder {args.out.parent} does not exist")
    if args.out.resolve() == args.mix.resolve():
        raise UsageError(f"--out {args.out} would overwrite the mixture --mix {args.mix}")
    if args.steps < 1:
        raise UsageError(f"--steps {args.steps}: must be a positive integer")
    from latentflow.audio.codec import LATENT_HOP, SAMPLE_RATE

    frame = LATENT_HOP / SAMPLE_RATE
    if not args.window >= frame:
        raise UsageError(f"--window {args.window:g}: must be at least one latent frame ({frame:g} s)")
    if not 0 <= args.overlap <= args.window / 2:
        raise UsageError(f"--overlap {args.overlap:g}: must be between 0 and half the window ({args.window / 2:g} s)")


def _load_separator(model: str, text_encoder: str | None = None):
    from latentflow.model import CheckpointError
    from latentflow.model_names import load_separator

    try:
        return load_separator(model, text_encoder=text_encoder)
    except (FileNotFoundError, CheckpointError, ValueError) as error:
        raise UsageError(f"--model {model!r}: {error}") from None


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
