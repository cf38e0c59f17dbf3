"""Run-directory I/O of the trainer: file names, JSONL log, atomic ``torch.save``, RNG and trainable state.

The resume state (``last.pt``) stores only the weights that train plus every buffer: frozen text-encoder
layers are rebuilt from ``text_model`` when the model is constructed, exactly as ``save_pretrained``'s
``trainable-only`` mode does for checkpoints.
"""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from backend.atomic import atomic_path
from backend.errors import CheckpointError

__all__ = [
    "BEST_DIR",
    "CONFIG_FILE",
    "LAST_STATE",
    "LOG_FILE",
    "append_jsonl",
    "atomic_torch_save",
    "frozen_names",
    "get_rng_state",
    "load_trainable_state_dict",
    "seed_everything",
    "set_rng_state",
    "trainable_state_dict",
]

LAST_STATE = "last.pt"
BEST_DIR = "best"
LOG_FILE = "log.jsonl"
CONFIG_FILE = "config.yaml"


def append_jsonl(path: Path, record: dict[str, Any]) -> None:
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(record) + "\n")


def atomic_torch_save(obj: Any, path: Path) -> None:
    """``torch.save`` through :func:`backend.atomic.atomic_path` (a reader never sees half a file)."""
    with atomic_path(path) as tmp:
        torch.save(obj, tmp)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def get_rng_state() -> dict[str, Any]:
    """Python, numpy, torch CPU and CUDA generator states."""
    return {
        "python": random.getstate(),
        "numpy": np.random.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Inverse of :func:`get_rng_state` (CUDA states only when CUDA is available)."""
    random.setstate(state["python"])
    np.random.set_state(state["numpy"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


def frozen_names(model: nn.Module) -> set[str]:
    """State-dict names of the frozen parameters (tied aliases included)."""
    return {n for n, p in model.named_parameters(remove_duplicate=False) if not p.requires_grad}


def trainable_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """``model.state_dict()`` without the frozen parameters."""
    frozen = frozen_names(model)
    return {k: v for k, v in model.state_dict().items() if k not in frozen}


def load_trainable_state_dict(model: nn.Module, state: dict[str, torch.Tensor], path: Path) -> None:
    """Load a :func:`trainable_state_dict`; every non-frozen key must be present.

    Raises:
        CheckpointError: missing or unexpected keys (names ``path`` and the first keys).
    """
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = sorted(set(missing) - frozen_names(model))
    if missing or unexpected:
        raise CheckpointError(f"{path}: missing keys {missing[:5]} / unexpected keys {list(unexpected)[:5]}")
