"""Clips of one split with their captions and labels: a built library, HumanML3D or KIT-ML (numpy only).

Shared by evaluation and training (training imports it from here; evaluation may not import training).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backend.errors import DatasetError

__all__ = ["DATASETS", "ClipRecord", "crop_bounds", "load_split"]

#: datasets :func:`load_split` reads
DATASETS = ("library", "humanml3d", "kitml")

log = logging.getLogger(__name__)


@dataclass
class ClipRecord:
    """A clip of a split, as loaded (joints not yet featurized).

    Attributes:
        clip_id: clip id.
        joints: ``(T, 22, 3)`` float32 canonical joints.
        captions: its captions (at least one).
        labels: label dict (library clips; empty for HumanML3D / KIT-ML).
        group: clips of one group are never each other's negatives in training (the motion a HumanML3D /
            KIT-ML sub-segment was cut from; the clip id otherwise).
        source: the dataset it came from (a library clip's ``dataset``, e.g. ``bandai-namco-2``; the dataset
            name for HumanML3D / KIT-ML).
    """

    clip_id: str
    joints: np.ndarray
    captions: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    group: str = ""
    source: str = ""

    def __post_init__(self) -> None:
        if not self.group:
            self.group = self.clip_id


def _subset(records: list[ClipRecord], max_clips: int | None, seed: int) -> list[ClipRecord]:
    if max_clips is None or len(records) <= max_clips:
        return records
    keep = np.sort(np.random.default_rng(seed).choice(len(records), size=max_clips, replace=False))
    return [records[i] for i in keep]


def _library_records(root: Path, split: str) -> list[ClipRecord]:
    from backend.motion.io.library import Library

    lib = Library.open(root)
    out = []
    for clip in lib.clips(split):
        out.append(
            ClipRecord(
                clip.meta.id,
                np.asarray(clip.joints, dtype=np.float32),
                [c for c in clip.meta.captions if c.strip()],
                {str(k): str(v) for k, v in dict(clip.meta.labels).items()},
                source=str(clip.meta.dataset),
            )
        )
    return out


def _official_records(dataset: str, root: Path, split: str) -> list[ClipRecord]:
    if dataset == "humanml3d":
        from backend.motion.datasets.humanml3d import load_humanml3d as loader
    else:
        from backend.motion.datasets.kitml import load_kitml as loader
    out = []
    for item in loader(root, split):
        captions = [c for c in item.captions if c.strip()]
        joints = np.asarray(item.clip.joints, dtype=np.float32)
        out.append(ClipRecord(str(item.id), joints, captions, {}, str(item.motion_id or item.id), dataset))
    return out


def load_split(
    dataset: str, root: str | Path, split: str, max_clips: int | None = None, seed: int = 0
) -> list[ClipRecord]:
    """Read the clips (joints + captions + labels) of one split.

    Clips without any caption are skipped (logged).

    Args:
        dataset: ``library``, ``humanml3d`` or ``kitml``.
        root: the library / dataset folder.
        split: ``train`` / ``val`` / ``test``.
        max_clips: keep a seeded random subset of at most this many clips.
        seed: seed of that subset.

    Returns:
        The records, in the loader's order.

    Raises:
        DatasetError: unknown dataset, missing folder, or an empty split (names them).
    """
    root = Path(root)
    if not root.exists():
        raise DatasetError(f"data root {root} does not exist")
    if dataset == "library":
        records = _library_records(root, split)
    elif dataset in ("humanml3d", "kitml"):
        records = _official_records(dataset, root, split)
    else:
        raise DatasetError(f"unknown dataset {dataset!r}; valid: ['library', 'humanml3d', 'kitml']")
    uncaptioned = [r.clip_id for r in records if not r.captions]
    if uncaptioned:
        log.warning(
            "%s/%s: %d clips without captions skipped (e.g. %s)",
            root,
            split,
            len(uncaptioned),
            uncaptioned[0],
        )
    records = [r for r in records if r.captions]
    if not records:
        raise DatasetError(f"{dataset} at {root}: split {split!r} has no captioned clips")
    return _subset(records, max_clips, seed)


def crop_bounds(num_frames: int, window: int, rng: np.random.Generator | None = None) -> tuple[int, int]:
    """``(start, end)`` of a crop of at most ``window`` frames: random with ``rng``, centred without (evaluation).

    >>> crop_bounds(100, 160), crop_bounds(200, 160)
    ((0, 100), (20, 180))
    """
    if num_frames <= window:
        return 0, num_frames
    start = int(rng.integers(0, num_frames - window + 1)) if rng is not None else (num_frames - window) // 2
    return start, start + window
