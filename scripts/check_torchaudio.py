"""Check that torchaudio's transforms work in this environment, fixing the one known case.

The package registry only has a CUDA-linked torchaudio (2.11.0). Next to a CPU-only torch
its compiled libraries (torchaudio/lib/*.so) fail to load, and ``import torchaudio`` fails
with them. latentflow uses only torchaudio's pure-Python transforms (Spectrogram,
MelSpectrogram, Resample, ...), which do not need those libraries. So, on a CPU torch and
only when the import actually fails, this script deletes them, says which and why, and
checks the import again. On a CUDA torch it changes nothing: a failure there is a real
version mismatch and is reported as one.

Run it with the interpreter of the environment to check:
``.venv/bin/python scripts/check_torchaudio.py``. Exit status 0 means torchaudio works.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from importlib import metadata
from pathlib import Path

# A 1 s, 16 kHz signal through the transform the metrics use; 400-point FFT, hop 200.
_SMOKE_TEST = """
import torch, torchaudio
spectrum = torchaudio.transforms.Spectrogram(n_fft=400)(torch.zeros(1, 16000))
assert tuple(spectrum.shape) == (1, 201, 81), tuple(spectrum.shape)
"""


def _smoke_test_error() -> str | None:
    # A separate interpreter, because a failed import leaves torch half-registered here.
    result = subprocess.run(
        [sys.executable, "-c", _SMOKE_TEST], capture_output=True, text=True, check=False
    )
    if result.returncode == 0:
        return None
    return (result.stderr.strip().splitlines() or ["(no error output)"])[-1]


def _torch_build() -> str:
    import torch

    if torch.version.cuda:
        return f"CUDA {torch.version.cuda}"
    if getattr(torch.version, "hip", None):
        return f"ROCm {torch.version.hip}"
    return "CPU"


def _compiled_libraries() -> list[Path]:
    spec = importlib.util.find_spec("torchaudio")
    if spec is None or not spec.submodule_search_locations:
        return []
    package_dir = Path(next(iter(spec.submodule_search_locations)))
    return sorted((package_dir / "lib").glob("*.so"))


def main() -> int:
    if importlib.util.find_spec("torchaudio") is None:
        print("torchaudio check: torchaudio is not installed", file=sys.stderr)
        return 1
    torch_version = metadata.version("torch")
    torchaudio_version = metadata.version("torchaudio")
    build = _torch_build()
    error = _smoke_test_error()
    if error is None:
        print(f"torchaudio check: torchaudio {torchaudio_version} works with torch {torch_version} ({build})")
        return 0
    if build != "CPU":
        print(
            f"torchaudio check: torchaudio {torchaudio_version} does not work with torch "
            f"{torch_version} ({build}): {error}\nInstall the torchaudio release built for this "
            "torch; nothing was changed.",
            file=sys.stderr,
        )
        return 1
    libraries = _compiled_libraries()
    if not libraries:
        print(f"torchaudio check: torchaudio {torchaudio_version} fails to import: {error}", file=sys.stderr)
        return 1
    print(
        f"torchaudio check: torchaudio {torchaudio_version} is built against CUDA torch and fails "
        f"to import with torch {torch_version} (CPU):\n    {error}\n"
        "Its compiled libraries cannot load without CUDA; the pure-Python transforms latentflow "
        "uses do not need them. Removing:"
    )
    for library in libraries:
        print(f"    {library} ({library.stat().st_size:,} bytes)")
        library.unlink()
    error = _smoke_test_error()
    if error is not None:
        print(f"torchaudio check: still failing after the removal: {error}", file=sys.stderr)
        return 1
    print("torchaudio check: import torchaudio and transforms.Spectrogram now work")
    return 0


if __name__ == "__main__":
    sys.exit(main())
