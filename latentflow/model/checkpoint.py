"""Loading and saving weights under SAM Audio's official parameter names.

Safetensors is read directly; PyTorch files only with ``weights_only=True`` (no pickled code).
A full SAM Audio checkpoint also holds submodules latentflow does not model (the DAC-VAE codec,
the T5 text encoder, the vision encoder, rankers, the span predictor): they are reported and
skipped. Within the modelled modules every key must match exactly, with its shape.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor

from .config import SamAudioConfig
from .dit import SamAudioModel

# Top-level modules of the wrapper that latentflow implements; everything else is skipped.
MODELLED_PREFIXES = ("proj.", "align_masked_video.", "embed_anchors.", "memory_proj.", "transformer.")
SAFETENSORS_SUFFIXES = (".safetensors",)
TORCH_SUFFIXES = (".pt", ".pth", ".bin", ".ckpt")


class CheckpointError(ValueError):
    """A checkpoint cannot be used; the message names the file and the offending keys."""


@dataclass(frozen=True)
class LoadReport:
    """What a load did: the keys it used and the unmodelled submodules it skipped."""

    source: str
    loaded: int
    skipped_submodules: dict[str, int] = field(default_factory=dict)  # prefix -> number of keys

    def __str__(self) -> str:
        skipped = ", ".join(f"{p} ({n} keys)" for p, n in sorted(self.skipped_submodules.items()))
        return f"{self.source}: loaded {self.loaded} tensors" + (f"; skipped unmodelled {skipped}" if skipped else "")


def read_tensors(path: str | Path, *, mmap: bool = False) -> tuple[dict[str, Tensor], dict[str, str]]:
    """All tensors of a safetensors or PyTorch file, with its metadata (empty for torch files).

    ``mmap``: PyTorch files are memory-mapped instead of read (their tensors then share the
    file's pages: a big checkpoint is not copied into memory a second time); safetensors files
    are always read tensor by tensor from a memory map.
    """
    path = Path(path)
    if not path.exists():
        raise CheckpointError(f"{path}: no such file")
    if not path.is_file():
        raise CheckpointError(f"{path}: not a file")
    suffix = path.suffix.lower()
    if suffix in SAFETENSORS_SUFFIXES:
        return _read_safetensors(path)
    if suffix in TORCH_SUFFIXES:
        return _read_torch(path, mmap=mmap), {}
    raise CheckpointError(
        f"{path}: unknown checkpoint type {suffix or '(no suffix)'!r}; allowed: "
        f"{list(SAFETENSORS_SUFFIXES + TORCH_SUFFIXES)}"
    )


def _read_safetensors(path: Path) -> tuple[dict[str, Tensor], dict[str, str]]:
    from safetensors import SafetensorError, safe_open

    size = path.stat().st_size
    if size < 8:
        raise CheckpointError(f"{path}: truncated safetensors file ({size} bytes; the header alone needs 8)")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = dict(handle.metadata() or {})
            tensors = {name: handle.get_tensor(name) for name in handle.keys()}  # noqa: SIM118 - safe_open is not iterable
    except (SafetensorError, OSError, RuntimeError, ValueError) as err:
        raise CheckpointError(f"{path}: not a readable safetensors file (corrupt or truncated?): {err}") from None
    return tensors, metadata


def _read_torch(path: Path, *, mmap: bool = False) -> dict[str, Tensor]:
    import pickle
    import zipfile

    # torch can memory-map only the zip format that torch.save writes since 1.6; an older
    # (legacy) file is still a valid checkpoint and is read into memory instead.
    mmap = mmap and zipfile.is_zipfile(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True, mmap=mmap)
    except (pickle.UnpicklingError, zipfile.BadZipFile, EOFError, RuntimeError, OSError) as err:
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise CheckpointError(
            f"{path}: cannot be read as a PyTorch weights file with weights_only=True "
            f"(corrupt, truncated, or it holds pickled objects other than tensors): {first_line}"
        ) from None
    if isinstance(obj, Mapping) and "state_dict" in obj and isinstance(obj["state_dict"], Mapping):
        obj = obj["state_dict"]
    if not isinstance(obj, Mapping) or not all(isinstance(v, Tensor) for v in obj.values()):
        raise CheckpointError(f"{path}: expected a mapping of parameter names to tensors, got {type(obj).__name__}")
    return dict(obj)


def load_state_dict_into(
    model: SamAudioModel,
    tensors: Mapping[str, Tensor],
    *,
    prefix: str = "",
    source: str = "<tensors>",
    assign: bool = False,
) -> LoadReport:
    """Copy ``tensors`` (names optionally behind ``prefix``) into the model, strictly.

    ``assign``: the model's parameters become the given tensors (for a model built on the meta
    device: nothing is copied). Raises CheckpointError listing every missing key, unexpected key
    and shape mismatch.
    """
    own = {k.removeprefix(prefix): v for k, v in tensors.items() if k.startswith(prefix)}
    # Tolerate the common wrappers around a state dict ("model.", "module.") when they wrap all keys.
    for wrapper in ("module.", "model."):
        if own and all(k.startswith(wrapper) for k in own):
            own = {k.removeprefix(wrapper): v for k, v in own.items()}
    modelled = {k: v for k, v in own.items() if k.startswith(MODELLED_PREFIXES)}
    if assign:
        modelled = {k: v.float() for k, v in modelled.items()}  # float32 as the model is built
    skipped: dict[str, int] = {}
    for key in own.keys() - modelled.keys():
        top = key.split(".", 1)[0]
        skipped[top] = skipped.get(top, 0) + 1

    problems = state_dict_problems(model.state_dict(), modelled)
    if problems:
        raise CheckpointError(
            f"{source}: weights do not fit the model config {model.cfg.name!r}:\n" + "\n".join(problems)
        )
    model.load_state_dict(modelled, strict=True, assign=assign)
    return LoadReport(source=source, loaded=len(modelled), skipped_submodules=skipped)


def state_dict_problems(expected: Mapping[str, Tensor], given: Mapping[str, Tensor]) -> list[str]:
    """Every missing key, unexpected key and shape mismatch (with both shapes), as listings."""
    missing = sorted(expected.keys() - given.keys())
    unexpected = sorted(given.keys() - expected.keys())
    mismatched = sorted(
        f"{k}: checkpoint {tuple(given[k].shape)} vs model {tuple(expected[k].shape)}"
        for k in expected.keys() & given.keys()
        if given[k].shape != expected[k].shape
    )
    problems = []
    if missing:
        problems.append(_listing("missing keys (in the model, not in the checkpoint)", missing))
    if unexpected:
        problems.append(_listing("unexpected keys (in the checkpoint, not in the model)", unexpected))
    if mismatched:
        problems.append(_listing("shape mismatches", mismatched))
    return problems


def _listing(title: str, items: list[str], limit: int = 12) -> str:
    shown = "\n".join(f"  - {item}" for item in items[:limit])
    more = f"\n  ... and {len(items) - limit} more" if len(items) > limit else ""
    return f"{title}: {len(items)}\n{shown}{more}"


def infer_config(tensors: Mapping[str, Tensor], metadata: Mapping[str, str] | None = None, *, prefix: str = "",
                 source: str = "checkpoint") -> SamAudioConfig:
    """The config of a checkpoint: from its metadata when present, else from its tensor shapes.

    Errors are CheckpointErrors naming ``source`` (the file) and the metadata key or tensor.
    """
    metadata = metadata or {}
    if "latentflow_config" in metadata:
        try:
            data = json.loads(metadata["latentflow_config"])
        except json.JSONDecodeError as err:
            raise CheckpointError(f"{source}: metadata 'latentflow_config' is not valid JSON "
                                  f"(line {err.lineno}, column {err.colno}): {err.msg}") from None
        if not isinstance(data, dict):
            raise CheckpointError(f"{source}: metadata 'latentflow_config' must be a JSON object, got "
                                  f"{type(data).__name__}")
        try:
            return SamAudioConfig.from_dict(data)
        except (TypeError, ValueError) as err:
            raise CheckpointError(f"{source}: metadata 'latentflow_config': {err}") from None
    if "transformer_config" in metadata:
        try:
            return SamAudioConfig.from_metadata(metadata, name=metadata.get("name", "checkpoint"))
        except (KeyError, TypeError, ValueError) as err:
            raise CheckpointError(f"{source}: metadata 'transformer_config': {err}") from None

    def shape(name: str) -> torch.Size | None:
        t = tensors.get(prefix + name)
        return None if t is None else t.shape

    def need(name: str) -> torch.Size:
        found = shape(name)
        if found is None:
            raise CheckpointError(f"{source}: no tensor {prefix + name!r}; the model config is read from it "
                                  "(a SAM Audio checkpoint holds it; or give a 'latentflow_config' metadata entry)")
        return found

    proj = shape("proj.weight")
    if proj is None:
        raise CheckpointError(
            f"{source}: cannot infer the model config: no 'proj.weight' and no 'transformer_config' metadata "
            f"(first keys: {sorted(tensors)[:5]})"
        )
    dim, in_features = int(proj[0]), int(proj[1])
    n_layers = 1 + max(
        (int(k[len(prefix) :].split(".")[2]) for k in tensors if k.startswith(prefix + "transformer.layers.")),
        default=-1,
    )
    q_norm = shape("transformer.layers.0.attention.q_norm.weight")
    if q_norm is None:
        raise CheckpointError(f"{source}: cannot infer the number of heads without qk-norm weights "
                              f"({prefix}transformer.layers.0.attention.q_norm.weight); give a transformer_config")
    hidden = shape("transformer.layers.0.feed_forward.w1.weight")
    if dim % int(q_norm[0]):
        raise CheckpointError(f"{source}: the qk-norm width {int(q_norm[0])} does not divide the model width {dim}")
    cfg = SamAudioConfig(
        dim=dim,
        n_heads=dim // int(q_norm[0]),
        n_layers=n_layers,
        latent_channels=in_features // 6,
        text_dim=int(need("memory_proj.weight")[1]),
        vision_dim=int(need("align_masked_video.conv.weight")[1]),
        num_anchors=int(need("embed_anchors.embed.weight")[0]) - 1,
        anchor_embedding_dim=int(need("embed_anchors.embed.weight")[1]),
        name="checkpoint",
    )
    if hidden is not None and int(hidden[0]) != cfg.ffn_hidden:
        # Recover the multiplier that gives the stored width (the configs round to multiple_of).
        cfg = cfg.replace(ffn_dim_multiplier=int(hidden[0]) / int(2 * cfg.ffn_exp * dim / 3))
        if cfg.ffn_hidden != int(hidden[0]):
            raise CheckpointError(f"{source}: cannot infer ffn_dim_multiplier for feed-forward width {int(hidden[0])}")
    return cfg


def load_model(
    path: str | Path,
    *,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
    prefix: str = "",
) -> SamAudioModel:
    """Build a model from a checkpoint file (config from its metadata or shapes), in eval mode."""
    tensors, metadata = read_tensors(path, mmap=True)
    cfg = infer_config(tensors, metadata, prefix=prefix, source=str(path))
    model = build_on_meta(cfg)
    load_state_dict_into(model, tensors, prefix=prefix, source=str(path), assign=True)
    materialise_buffers(model)
    return model.to(device=device, dtype=dtype).eval()


def build_on_meta(cfg: SamAudioConfig) -> SamAudioModel:
    """The model with no storage: loading then assigns the checkpoint's tensors (no second copy)."""
    with torch.device("meta"):
        return SamAudioModel(cfg)


def materialise_buffers(model: SamAudioModel) -> None:
    """Rebuild the non-persistent buffers (RoPE frequencies) of a model loaded by assignment."""
    model.transformer.layers.apply(_reset_rope_buffers)
    left = [n for n, t in [*model.named_parameters(), *model.named_buffers()] if t.device.type == "meta"]
    if left:
        raise CheckpointError(f"after loading, {len(left)} tensors have no data: {left[:5]}")


def _reset_rope_buffers(module: torch.nn.Module) -> None:
    # Non-persistent buffers are not in the state dict: rebuild them after to_empty().
    from .blocks import RotaryEmbedding

    if isinstance(module, RotaryEmbedding):
        module.reset_buffers()


def save_model(model: SamAudioModel, path: str | Path, metadata: Mapping[str, str] | None = None) -> None:
    """Save the modelled weights as safetensors, with the config in the metadata."""
    from safetensors.torch import save_file

    meta = {"latentflow_config": json.dumps(model.cfg.to_dict()), "format": "pt"}
    meta.update(metadata or {})
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, str(path), metadata=meta)
