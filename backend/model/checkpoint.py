"""Checkpoint folder I/O: ``config.json`` + ``model.safetensors`` (+ ``feature_stats.json``).

Pure helpers used by :class:`backend.model.retrieval.MotionTextRetrieval`: turning a state dict into the
bytes we ship (tied tensors stored once, frozen text weights optionally left out, optional fp16), reading
them back with typed errors, and writing a folder atomically.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

import torch

from backend.errors import CheckpointError

__all__ = [
    "CONFIG_NAME",
    "FP32_KEYS",
    "STATS_NAME",
    "TEXT_ENCODER_MODES",
    "WEIGHTS_NAME",
    "dedupe_tied",
    "read_weights",
    "serialize_state",
    "tensor_fingerprint",
    "write_folder",
]

CONFIG_NAME = "config.json"
WEIGHTS_NAME = "model.safetensors"
STATS_NAME = "feature_stats.json"
#: how much of the text encoder a checkpoint holds
TEXT_ENCODER_MODES = ("trainable-only", "full")
#: small tensors kept in float32 even in an fp16 export
FP32_KEYS = ("logit_scale.log_scale", "feature_mean", "feature_std")


def dedupe_tied(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Keep one key per shared storage (tied weights); the first key in order wins.

    Args:
        state: a ``state_dict``.

    Returns:
        A new dict without the aliases.
    """
    seen: set[tuple[int, int, tuple[int, ...], tuple[int, ...]]] = set()
    out: dict[str, torch.Tensor] = {}
    for key, t in state.items():
        ident = (t.untyped_storage().data_ptr(), int(t.storage_offset()), tuple(t.shape), tuple(t.stride()))
        if t.numel() and ident in seen:
            continue
        seen.add(ident)
        out[key] = t
    return out


def tensor_fingerprint(named: Iterable[tuple[str, torch.Tensor]]) -> str:
    """SHA-256 over names and float32 values, in name order (detects a different frozen text model).

    >>> a = tensor_fingerprint([("w", torch.ones(2))])
    >>> a == tensor_fingerprint([("w", torch.ones(2))]), a == tensor_fingerprint([("w", torch.zeros(2))])
    (True, False)
    """
    h = hashlib.sha256()
    for name, t in sorted(named, key=lambda kv: kv[0]):
        h.update(name.encode())
        h.update(str(tuple(t.shape)).encode())
        h.update(t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return h.hexdigest()


def serialize_state(state: Mapping[str, torch.Tensor], fp16: bool, metadata: Mapping[str, str]) -> bytes:
    """safetensors bytes of ``state`` (CPU, contiguous; floats to fp16 except :data:`FP32_KEYS`).

    Args:
        state: tensors to store (already deduplicated).
        fp16: cast floating tensors to float16.
        metadata: string metadata stored in the header.

    Returns:
        The file content.
    """
    from safetensors.torch import save

    out: dict[str, torch.Tensor] = {}
    for key, t in state.items():
        t = t.detach().to("cpu")
        if t.is_floating_point():
            t = t.to(torch.float16 if fp16 and key not in FP32_KEYS else torch.float32)
        out[key] = t.contiguous()
    return save(out, metadata=dict(metadata))


def read_weights(path: str | os.PathLike[str]) -> tuple[dict[str, torch.Tensor], dict[str, str], str]:
    """Read a ``model.safetensors``.

    Args:
        path: the weights file.

    Returns:
        ``(state, metadata, sha256)``.

    Raises:
        CheckpointError: the file is missing, truncated or not safetensors (names the path).
    """
    from safetensors import safe_open
    from safetensors.torch import load

    path = Path(path)
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise CheckpointError(f"weights file not found: {path}") from None
    except OSError as exc:
        raise CheckpointError(f"cannot read weights file {path}: {exc}") from exc
    try:
        state = load(data)
        with safe_open(str(path), framework="pt") as f:
            metadata = dict(f.metadata() or {})
    except Exception as exc:  # safetensors raises its own SafetensorError / OSError flavours
        raise CheckpointError(f"corrupt weights file {path}: {exc}") from exc
    return state, metadata, hashlib.sha256(data).hexdigest()


def write_folder(directory: str | os.PathLike[str], files: Mapping[str, bytes]) -> Path:
    """Write ``files`` (name -> bytes) into ``directory`` atomically.

    All files are first written into a temporary sibling folder. A new ``directory`` is then created by
    one ``rename``; into an existing one each file is moved with ``os.replace`` (``config.json`` last, so
    a readable config means complete weights), keeping any other files there.

    Args:
        directory: target folder.
        files: file name -> content; names must be plain file names.

    Returns:
        The target folder.
    """
    target = Path(directory)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        os.chmod(tmp, 0o755)  # mkdtemp makes it private; the renamed folder should not be
        for name, content in files.items():
            with open(tmp / name, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
        if not target.exists():
            try:
                os.rename(tmp, target)
                return target
            except OSError:
                target.mkdir(parents=True, exist_ok=True)  # lost a race: fall through to per-file replace
        order = sorted(files, key=lambda n: n == CONFIG_NAME)
        for name in order:
            os.replace(tmp / name, target / name)
        return target
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
