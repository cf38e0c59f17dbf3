"""Text-motion pairs for training and validation: a built library, HumanML3D or KIT-ML.

Loading happens once: every clip of a split is read (:func:`backend.evaluation.data.load_split`), turned into per-frame features (``model.featurize``:
features + the model's z-score statistics) and cached in memory as a :class:`MotionItem`. The statistics
are fit on the **train split only** (:func:`fit_feature_stats`) and set on the model before any item is
featurized. :class:`TextMotionDataset` then serves ``(crop, caption)`` samples:

* training: a random caption of the clip and, for clips longer than ``window_frames``, a random crop of
  ``window_frames`` frames; both drawn from ``(seed, epoch, index)`` so an epoch is reproducible and every
  epoch differs (call :meth:`TextMotionDataset.set_epoch`);
* evaluation: the first caption and the centre crop.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from torch.utils.data import Dataset, DistributedSampler, Sampler

from backend.errors import InvalidInputError
from backend.evaluation.data import ClipRecord, crop_bounds

if TYPE_CHECKING:
    from backend.training.sampling import BalancedSampler

__all__ = [
    "MotionItem",
    "ResumableSampler",
    "TextMotionDataset",
    "featurize_records",
    "fit_feature_stats",
    "mirror_joints",
    "swap_sides",
]

_SIDE_WORD = re.compile(r"\b(left|right)(?=(wards?|ward)?\b)", re.IGNORECASE)


def swap_sides(text: str) -> str:
    """The caption of the left/right mirrored motion: ``left`` <-> ``right`` (also in ``leftward(s)``), case kept.

    >>> swap_sides("A person raises the Left hand, then turns right and walks leftwards")
    'A person raises the Right hand, then turns left and walks rightwards'
    >>> swap_sides("a bright light")   # whole words only
    'a bright light'
    """

    def repl(m: re.Match[str]) -> str:
        word = "right" if m.group(1).lower() == "left" else "left"
        if m.group(1).isupper():
            return word.upper()
        return word.capitalize() if m.group(1)[0].isupper() else word

    return _SIDE_WORD.sub(repl, text)


def mirror_joints(joints: np.ndarray) -> np.ndarray:
    """Left/right mirror of canonical ``(T, 22, 3)`` joints: x -> -x and each joint swapped with its twin.

    >>> j = np.zeros((1, 22, 3)); j[0, 1, 0] = 0.1   # left hip at x = 0.1
    >>> m = mirror_joints(j); float(m[0, 2, 0]), float(m[0, 1, 0])   # right hip at x = -0.1
    (-0.1, -0.0)
    """
    from backend.motion.kinematics.skeleton import MIRROR_JOINTS

    arr = np.asarray(joints)
    return arr[:, list(MIRROR_JOINTS)] * np.array([-1.0, 1.0, 1.0], dtype=arr.dtype)


@dataclass
class MotionItem:
    """A featurized clip.

    Attributes:
        clip_id: clip id.
        features: ``(T, C)`` float32 z-scored features.
        captions: its captions.
        labels: label dict.
        group: negatives group (see :class:`~backend.evaluation.data.ClipRecord`).
        mirrored: ``(T, C)`` features of the left/right mirrored clip (:func:`mirror_joints`), or None.
        terse: terse keyword captions (``data.terse_prob``; :mod:`backend.training.caption_forms`).
    """

    clip_id: str
    features: np.ndarray
    captions: list[str]
    labels: dict[str, str] = field(default_factory=dict)
    group: str = ""
    mirrored: np.ndarray | None = None
    terse: list[str] = field(default_factory=list)


def fit_feature_stats(records: Sequence[ClipRecord], representation: str) -> Any:
    """Fit z-score statistics on (train-split!) records.

    Args:
        records: the **train** split's records.
        representation: ``angles`` / ``positions`` (the model config's).

    Returns:
        :class:`backend.motion.kinematics.normalize.FeatureStats`.
    """
    from backend.motion.kinematics.features import compute_features
    from backend.motion.kinematics.normalize import fit_stats

    return fit_stats((compute_features(r.joints, representation) for r in records), representation)


def featurize_records(
    records: Sequence[ClipRecord], featurize: Callable[[np.ndarray], np.ndarray], mirror: bool = False
) -> list[MotionItem]:
    """Featurize every record once (cache in memory).

    Args:
        records: loaded clips.
        featurize: ``(T, 22, 3) -> (T, C)`` z-scored features (``model.featurize``).
        mirror: also featurize each clip's left/right mirror (:attr:`MotionItem.mirrored`).

    Returns:
        One :class:`MotionItem` per record.
    """

    def feats(joints: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(featurize(joints), dtype=np.float32)

    return [
        MotionItem(
            r.clip_id,
            feats(r.joints),
            r.captions,
            r.labels,
            r.group,
            feats(mirror_joints(r.joints)) if mirror else None,
        )
        for r in records
    ]


class TextMotionDataset(Dataset):
    """``(motion crop, caption)`` samples over featurized clips.

    Args:
        items: featurized clips.
        window_frames: maximum frames per sample (the model's ``window_frames``).
        train: random caption + random crop (True) or first caption + centre crop (False).
        seed: base seed of the per-(epoch, index) random choices.
        mirror_prob: in training, the chance that a sample is the clip's left/right mirror with ``left`` and
            ``right`` swapped in its caption (:func:`swap_sides`); needs items featurized with ``mirror=True``.
        terse_prob: in training, the chance that the caption is one of the item's ``terse`` forms (items
            without any keep their sentences).
    """

    def __init__(
        self,
        items: Sequence[MotionItem],
        window_frames: int,
        train: bool = True,
        seed: int = 0,
        mirror_prob: float = 0.0,
        terse_prob: float = 0.0,
    ) -> None:
        if not 0.0 <= mirror_prob <= 1.0 or not 0.0 <= terse_prob <= 1.0:
            raise InvalidInputError(
                f"mirror_prob / terse_prob must be in [0, 1], got {mirror_prob} / {terse_prob}"
            )
        self.terse_prob = terse_prob
        if mirror_prob > 0 and any(it.mirrored is None for it in items):
            raise InvalidInputError("mirror_prob > 0 needs items featurized with mirror=True")
        self.mirror_prob = mirror_prob
        if not items:
            raise InvalidInputError("TextMotionDataset needs at least one clip")
        if window_frames < 1:
            raise InvalidInputError(f"window_frames must be >= 1, got {window_frames}")
        self.items = list(items)
        self.window_frames = window_frames
        self.train = train
        self.seed = seed
        self.epoch = 0
        groups = {g: i for i, g in enumerate(dict.fromkeys(it.group or it.clip_id for it in self.items))}
        self.group_index = [groups[it.group or it.clip_id] for it in self.items]

    def set_epoch(self, epoch: int) -> None:
        """Select the random captions / crops of ``epoch`` (call before iterating)."""
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, index: int) -> dict[str, Any]:
        """One sample ``{"motion": (t, C) float32, "text", "clip_id", "group": int}`` with ``t <= window``."""
        item = self.items[index]
        features = item.features
        if self.train:
            rng = np.random.default_rng((self.seed, self.epoch, index))
            text = item.captions[int(rng.integers(len(item.captions)))]
            if self.terse_prob > 0 and item.terse and rng.random() < self.terse_prob:
                text = item.terse[int(rng.integers(len(item.terse)))]
            if self.mirror_prob > 0 and item.mirrored is not None and rng.random() < self.mirror_prob:
                features, text = item.mirrored, swap_sides(text)
        else:
            rng, text = None, item.captions[0]
        start, end = crop_bounds(features.shape[0], self.window_frames, rng)
        return {
            "motion": features[start:end],
            "text": text,
            "clip_id": item.clip_id,
            "group": self.group_index[index],
        }


class ResumableSampler(Sampler[int]):
    """A training sampler whose epoch can start after its first ``skip`` indices (mid-epoch resume)."""

    def __init__(self, sampler: DistributedSampler | BalancedSampler) -> None:
        self.sampler = sampler
        self.skip = 0

    def set_epoch(self, epoch: int, skip: int = 0) -> None:
        self.sampler.set_epoch(epoch)
        self.skip = skip

    def __iter__(self) -> Iterator[int]:
        return itertools.islice(iter(self.sampler), self.skip, None)

    def __len__(self) -> int:
        return max(0, len(self.sampler) - self.skip)
