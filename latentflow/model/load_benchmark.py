"""``latentflow bench load``: peak memory while loading a SAM Audio folder on CPU.

Writes a random-weight folder of a published size (default ``large``: the 2.93 B DiT, the
full-size DAC-VAE, float32, about 12 GB) in the official layout, then loads it in a fresh
process with ``latentflow.loading.load_separator_parts`` and reports that process's peak RSS
against the checkpoint's size (target: at most 1.3x): right after loading (the weights are
memory-mapped, so pages become resident as they are read) and after reading every weight once
(the whole model resident: this shows there is no second copy). Both weight files of the official layout
are measured: ``model.safetensors`` and ``checkpoint.pt``. The folder is deleted afterwards
unless ``--keep``.

The checkpoint is written tensor by tensor (a streaming safetensors writer) so that writing it
never holds the whole model in memory: safetensors' own ``save_file`` needs every tensor at
once. The text encoder is a tiny random T5 of the config's width (768) inside the folder.
"""

from __future__ import annotations

import argparse
import json
import platform
import shutil
import struct
import subprocess
import sys
import time
from pathlib import Path

import torch

WEIGHT_FILES = ("model.safetensors", "checkpoint.pt")
POOL = 1 << 24


def write_random_folder(folder: Path, size: str = "large", seed: int = 0) -> dict:
    from latentflow.audio.dacvae import DACVAE, DACVAEConfig
    from latentflow.model.checkpoint import build_on_meta
    from latentflow.model.config import preset
    from latentflow.model.official_config import TextEncoderSpec, official_config_dict
    from latentflow.random_folder import write_tiny_t5

    folder.mkdir(parents=True, exist_ok=True)
    cfg = preset(size)
    codec_cfg = DACVAEConfig(codebook_dim=cfg.latent_channels)  # full size; C = 128 for the published sizes
    text = TextEncoderSpec(name="tiny-t5", dim=cfg.text_dim)
    with torch.device("meta"):
        codec = DACVAE(codec_cfg)
    shapes = {k: tuple(v.shape) for k, v in build_on_meta(cfg).state_dict().items()}
    shapes.update({f"audio_codec.{k}": tuple(v.shape) for k, v in codec.state_dict().items()})
    generator = torch.Generator().manual_seed(seed)
    _stream_safetensors(folder / "model.safetensors", shapes, generator)
    (folder / "config.json").write_text(json.dumps(official_config_dict(cfg, codec_cfg, text), indent=2))
    write_tiny_t5(folder / "tiny-t5", cfg.text_dim, seed)
    return {"parameters": sum(torch.Size(s).numel() for s in shapes.values()), "entries": len(shapes)}


def _stream_safetensors(path: Path, shapes: dict, generator: torch.Generator) -> None:
    header, offset = {}, 0
    for name, shape in shapes.items():
        size = 4 * torch.Size(shape).numel()
        header[name] = {"dtype": "F32", "shape": list(shape), "data_offsets": [offset, offset + size]}
        offset += size
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header to 8 bytes
    # Values do not matter for a memory measurement, and drawing 3 B normals costs minutes on a
    # shared CPU: every tensor is cut from one seeded pool of 2^24 normals, at its own offset.
    pool = (torch.randn(POOL, generator=generator) * 0.02).numpy()
    with open(path, "wb") as handle:
        handle.write(struct.pack("<Q", len(text)) + text)
        for index, shape in enumerate(shapes.values()):
            left, start = torch.Size(shape).numel(), (index * 7919) % POOL
            while left:
                take = min(left, POOL - start)
                handle.write(pool[start:start + take].data.cast("B"))
                left, start = left - take, 0


def _measure(folder: Path) -> dict:
    """Run in a fresh process: load the folder, report its peak RSS before and after loading.

    The peak is the kernel's VmHWM of the process (/proc/self/status), which starts afresh at
    exec; ``ru_maxrss`` would not: Linux carries the parent's peak over into a forked child."""
    code = (
        "import json, time, torch, latentflow.loading as L, transformers\n"
        "def hwm(): return int(open('/proc/self/status').read().split('VmHWM:')[1].split()[0])\n"
        "before = hwm()\n"
        "t = time.perf_counter()\n"
        f"parts = L.load_separator_parts({str(folder)!r})\n"
        "seconds = time.perf_counter() - t\n"
        "peak = hwm()\n"
        "params = [*parts.model.parameters(), *parts.codec.parameters()]\n"
        "with torch.no_grad(): checksum = sum(float(p.double().sum()) for p in params)  # reads every weight\n"
        "print(json.dumps({'peak_rss_kib': peak, 'rss_before_load_kib': before, 'peak_rss_after_reading_kib': hwm(),\n"
        "                  'load_s': seconds, 'parameters': sum(p.numel() for p in params)}))\n"
    )
    # check=False: the status is read below, to raise with the child's stderr
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"loading {folder} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="latentflow bench load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", default="large", help="model preset (default large)")
    parser.add_argument("--dir", type=Path, default=Path("/tmp/latentflow-load-bench"),
                        help="where to write the folder")
    parser.add_argument("--json", dest="json_out", type=Path, default=None, help="write the results here")
    parser.add_argument("--keep", action="store_true", help="keep the folder")
    args = parser.parse_args(argv)
    if args.dir.exists():
        print(f"latentflow bench load: {args.dir} exists; give a new folder", file=sys.stderr)
        return 2
    rows = []
    try:
        t = time.perf_counter()
        info = write_random_folder(args.dir, args.size)
        write_s = time.perf_counter() - t
        for name in WEIGHT_FILES:
            if name == "checkpoint.pt":  # the same tensors as a torch file, written from the memory map
                from safetensors.torch import load_file

                torch.save(load_file(str(args.dir / "model.safetensors")), args.dir / name)
                (args.dir / "model.safetensors").unlink()
            size = (args.dir / name).stat().st_size
            result = _measure(args.dir)
            rows.append({"weights": name, "checkpoint_bytes": size, **result,
                         "peak_over_checkpoint": 1024 * result["peak_rss_kib"] / size,
                         "peak_after_reading_over_checkpoint": 1024 * result["peak_rss_after_reading_kib"] / size,
                         "load_increase_over_checkpoint":
                             1024 * (result["peak_rss_kib"] - result["rss_before_load_kib"]) / size})
    finally:
        if not args.keep:
            shutil.rmtree(args.dir, ignore_errors=True)
    print(f"{args.size}: {info['parameters']:,} parameters in {info['entries']} tensors, written in {write_s:.0f} s")
    print(f"{'weights':<20}{'checkpoint GB':>15}{'before GB':>11}{'load peak GB':>14}{'/ckpt':>7}"
          f"{'read peak GB':>14}{'/ckpt':>7}{'load s':>8}")
    for r in rows:
        print(f"{r['weights']:<20}{r['checkpoint_bytes'] / 1e9:>15.2f}{1024 * r['rss_before_load_kib'] / 1e9:>11.2f}"
              f"{1024 * r['peak_rss_kib'] / 1e9:>14.2f}{r['peak_over_checkpoint']:>7.3f}"
              f"{1024 * r['peak_rss_after_reading_kib'] / 1e9:>14.2f}{r['peak_after_reading_over_checkpoint']:>7.3f}"
              f"{r['load_s']:>8.1f}")
    if args.json_out:
        payload = {"benchmark": "load", "size": args.size, "device": "cpu", "machine": platform.machine(),
                   "torch": torch.__version__, "target_peak_over_checkpoint": 1.3, **info, "rows": rows}
        args.json_out.parent.mkdir(parents=True, exist_ok=True)
        args.json_out.write_text(json.dumps(payload, indent=2) + "\n")
        print(f"wrote {args.json_out}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
