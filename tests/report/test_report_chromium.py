"""The report renders in headless Chromium (Debian's ``chromium`` package): its embedded plots decode
and are drawn. Skipped where /usr/bin/chromium is absent (CI images do not ship a browser); the
command run is the one docs/ci-gating.md documents, read from that page."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
from pathlib import Path

import numpy as np
import pytest
from matplotlib import image

from latentflow.report import write_report

CHROMIUM = Path("/usr/bin/chromium")
needs_chromium = pytest.mark.skipif(not CHROMIUM.exists(), reason="headless check needs Debian's chromium at /usr/bin/chromium")

WIDTH, HEIGHT = 1200, 2600
# The two ends of the viridis colour map. Only the entropy heatmap draws them (its fixture data spans
# the whole colour range in large cells), and nothing in the HTML or CSS uses these colours: if the
# embedded PNGs did not decode, these pixels would be absent.
VIRIDIS_LOW = (68, 1, 84)
VIRIDIS_HIGH = (253, 231, 36)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "ci-gating.md"


def documented_command() -> list[str]:
    """The chromium command of docs/ci-gating.md, as arguments (backslash continuations joined)."""
    blocks = re.findall(r"```sh\n(.*?)```", DOCS.read_text(encoding="utf-8"), flags=re.S)
    (block,) = [b for b in blocks if b.lstrip().startswith("chromium --headless")]
    return shlex.split(block.replace("\\\n", " "))


def screenshot(html: Path, out: Path, profile: Path) -> np.ndarray:
    """Run the documented command with this test's paths; the screenshot's pixels as (H, W, 3) ints."""
    command = [str(CHROMIUM)]
    for arg in documented_command()[1:-1]:  # the program and the page are this test's
        if arg == "--no-sandbox" and os.geteuid() != 0:
            continue  # only needed as root
        if arg.startswith("--user-data-dir="):
            command.append(f"--user-data-dir={profile}")
        elif arg.startswith("--screenshot="):
            command.append(f"--screenshot={out}")
        elif arg.startswith("--window-size="):
            command.append(f"--window-size={WIDTH},{HEIGHT}")
        else:
            command.append(arg)
    command.append(html.resolve().as_uri())
    done = subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)
    assert done.returncode == 0 and out.exists(), done.stderr[-2000:]
    pixels = image.imread(out)
    return np.round(pixels[..., :3] * 255).astype(int)


def test_documented_command_is_headless_and_offline():
    args = documented_command()
    assert args[0] == "chromium" and args[-1] == "file://$PWD/out/report.html"
    for flag in ("--headless", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"):
        assert flag in args
    assert any(a.startswith("--screenshot=") for a in args) and any(a.startswith("--user-data-dir=") for a in args)


def count_near(pixels: np.ndarray, color: tuple[int, int, int], tolerance: int = 6) -> int:
    return int((np.abs(pixels - np.array(color)).max(axis=-1) <= tolerance).sum())


@needs_chromium
def test_report_renders_in_headless_chromium(tmp_path, verdicts):
    files = write_report(verdicts, tmp_path / "report.html")
    pixels = screenshot(files.html_path, tmp_path / "shot.png", tmp_path / "profile")
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    # Heatmap cells are tens of pixels wide: thousands of pixels of each end of the colour map.
    assert count_near(pixels, VIRIDIS_LOW) > 500
    assert count_near(pixels, VIRIDIS_HIGH) > 500
    # The page is not blank: a large share of it is not the white background.
    assert (pixels.min(axis=-1) < 200).mean() > 0.02


@needs_chromium
def test_a_report_without_plots_draws_no_heatmap(tmp_path, r):
    # The counter-check of the test above: the same measurement finds no viridis pixels when the
    # entropy plot is omitted, so that test can fail.
    files = write_report([r.make_verdict("dual_pathway::a")], tmp_path / "report.html")
    assert files.omitted.keys() == {"attention_entropy", "gate_sweep"}
    pixels = screenshot(files.html_path, tmp_path / "shot.png", tmp_path / "profile")
    assert count_near(pixels, VIRIDIS_LOW) == count_near(pixels, VIRIDIS_HIGH) == 0
