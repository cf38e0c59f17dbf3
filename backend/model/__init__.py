"""The late-interaction text <-> motion retrieval model (torch starts here).

Public names are re-exported lazily, so ``import backend.model.config`` stays free of torch.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "BandProjector",
    "MotionEncoder",
    "MotionEncoding",
    "MotionTextRetrieval",
    "RetrievalConfig",
    "RetrievalOutput",
    "TextEncoder",
    "TextEncoding",
    "export_fp16",
    "maxsim",
    "maxsim_paired",
    "mean_pool",
    "part_window_to_patch",
    "patch_mask_from_frames",
    "patch_to_part_window",
    "pooled_scores",
    "token_patch_similarity",
    "window_seconds",
]

_WHERE = {
    "RetrievalConfig": "config",
    "MotionTextRetrieval": "retrieval",
    "export_fp16": "retrieval",
    "MotionEncoder": "motion_encoder",
    "TextEncoder": "text_encoder",
    "BandProjector": "motion_image",
    "TextEncoding": "outputs",
    "MotionEncoding": "outputs",
    "RetrievalOutput": "outputs",
    "maxsim": "scoring",
    "maxsim_paired": "scoring",
    "pooled_scores": "scoring",
    "mean_pool": "scoring",
    "token_patch_similarity": "scoring",
    "patch_to_part_window": "motion_image",
    "part_window_to_patch": "motion_image",
    "window_seconds": "motion_image",
    "patch_mask_from_frames": "motion_image",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"backend.model.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'backend.model' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
