"""HumanML3D's official folder layout -> canonical clips with captions.

Layout (as released by Guo et al., CVPR 2022; KIT-ML in the same release uses the same layout)::

    ROOT/new_joints/<id>.npy   (T, 22, 3) float joint positions, 20 fps, metres, Y up (HumanML3D)
    ROOT/texts/<id>.txt        one caption per line: ``caption#tok/POS tok/POS ...#from#to``
    ROOT/train.txt, val.txt, test.txt (also train_val.txt, all.txt): one id per line

``from``/``to`` are seconds; ``0.0#0.0`` (or NaN) means the whole motion. Captions with another range describe
a sub-segment, which becomes an item of its own: the frames ``int(from * fps) : int(to * fps)``, canonicalised
again (so it starts at the origin facing +Z), with the id ``<id>_<first>_<end>`` (frame numbers at the
dataset's fps). Captions sharing one range share one item. Segments that fall outside the motion or have fewer
than ``min_frames`` canonical frames are skipped, as HumanML3D's own loader skips them.

Note: these loaders canonicalise through :mod:`backend.motion.kinematics` (an exception to "io imports only
errors": they turn dataset files into canonical :class:`~backend.motion.clip.Clip` objects).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backend.errors import DatasetError, MotionDataError
from backend.motion.clip import CANONICAL_FPS, Clip, ClipMeta
from backend.motion.kinematics.canonical import canonicalise
from backend.motion.kinematics.skeleton import NUM_JOINTS

__all__ = [
    "HUMANML3D_FPS",
    "Annotation",
    "TextMotionItem",
    "load_humanml3d",
    "load_text_motion_folder",
    "read_split",
    "read_texts",
]

HUMANML3D_FPS = 20.0
_SPLIT_RE = re.compile(r"^[A-Za-z0-9_.-]+$")


@dataclass(frozen=True)
class Annotation:
    """One line of a ``texts/<id>.txt`` file.

    Attributes:
        caption: the sentence.
        tokens: ``word/POS`` tokens (may be empty).
        start: segment start in seconds (0 with ``end == 0`` = whole motion).
        end: segment end in seconds.
    """

    caption: str
    tokens: tuple[str, ...]
    start: float
    end: float

    @property
    def whole(self) -> bool:
        """True when the caption describes the whole motion."""
        return self.start == 0.0 and self.end == 0.0


@dataclass
class TextMotionItem:
    """A canonical motion with its captions: one training / evaluation example.

    Attributes:
        id: item id: the motion id, or ``<motion id>_<first frame>_<end frame>`` for a sub-segment.
        clip: canonical :class:`Clip` (``clip.meta.captions`` holds the captions too).
        captions: the captions describing ``clip`` (at least one).
        tokens: per caption, its ``word/POS`` tokens (empty tuples where the file had none).
        motion_id: id of the motion file the item was cut from (groups sub-segments of one motion, e.g. to
            keep them out of each other's negatives).
        start: start of the item in the motion, seconds.
        end: end of the item in the motion, seconds (``None``: to the end).
    """

    id: str
    clip: Clip
    captions: list[str]
    tokens: list[tuple[str, ...]] = field(default_factory=list)
    motion_id: str = ""
    start: float = 0.0
    end: float | None = None


def read_texts(path: str | Path) -> list[Annotation]:
    """Parse a ``texts/<id>.txt`` file (blank lines and lines with an empty caption are skipped).

    Args:
        path: the text file.

    Returns:
        Its annotations in file order.

    Raises:
        DatasetError: missing file, or a line without the four ``#`` fields (names file and line).
    """
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise DatasetError(f"{p}: cannot read caption file: {exc.strerror or exc}") from None
    out: list[Annotation] = []
    for line_no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        parts = line.strip().split("#")
        if len(parts) < 4:
            raise DatasetError(f"{p}:{line_no}: expected 'caption#tokens#from#to', got {line.strip()[:80]!r}")
        caption = "#".join(parts[:-3]).strip()
        try:
            start, end = float(parts[-2] or 0.0), float(parts[-1] or 0.0)
        except ValueError:
            raise DatasetError(
                f"{p}:{line_no}: malformed from/to seconds {parts[-2]!r}#{parts[-1]!r}"
            ) from None
        start = 0.0 if math.isnan(start) else start
        end = 0.0 if math.isnan(end) else end
        if caption:
            out.append(Annotation(caption, tuple(parts[-3].split()), start, end))
    return out


def read_split(root: str | Path, split: str) -> list[str]:
    """Ids listed in ``ROOT/<split>.txt``.

    Args:
        root: dataset folder.
        split: ``train``, ``val``, ``test``, ``train_val``, ``all`` ... (a file name without ``.txt``).

    Returns:
        The ids in file order (blank lines skipped).

    Raises:
        DatasetError: a bad split name or a missing split file.
    """
    if not _SPLIT_RE.match(split):
        raise DatasetError(f"invalid split name {split!r}")
    path = Path(root) / f"{split}.txt"
    if not path.is_file():
        raise DatasetError(f"{path}: split file not found (expected ROOT/{split}.txt)")
    return [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines() if ln.strip()]


def _load_joints(path: Path, num_joints: int) -> np.ndarray:
    try:
        arr = np.load(path, allow_pickle=False)
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read joints: {exc}") from None
    if arr.ndim != 3 or arr.shape[1:] != (num_joints, 3) or arr.shape[0] == 0:
        raise DatasetError(f"{path}: expected joints of shape (T, {num_joints}, 3), got {arr.shape}")
    return arr.astype(np.float64)


def load_text_motion_folder(
    root: str | Path,
    split: str,
    *,
    num_joints: int,
    fps: float,
    unit_scale: float,
    dataset: str,
    to_smpl: Callable[[np.ndarray], np.ndarray] | None = None,
    licence: str = "",
    min_frames: int = 1,
    skip_missing: bool = False,
) -> list[TextMotionItem]:
    """Load a HumanML3D-style folder (shared by :func:`load_humanml3d` and ``load_kitml``).

    Args:
        root: dataset folder with ``new_joints/``, ``texts/`` and split files.
        split: split name (``ROOT/<split>.txt``).
        num_joints: joints per frame in ``new_joints`` files.
        fps: frame rate of the ``new_joints`` files.
        unit_scale: metres per unit of the ``new_joints`` files.
        dataset: dataset key for :class:`ClipMeta`.
        to_smpl: maps ``(T, num_joints, 3)`` to SMPL-22 ``(T, 22, 3)`` (``None`` when already SMPL-22).
        licence: licence string for :class:`ClipMeta`.
        min_frames: drop items with fewer canonical (20 fps) frames.
        skip_missing: skip ids whose joints or text file is missing instead of raising.

    Returns:
        Items in split order (a motion's whole-clip item first, then its sub-segments).

    Raises:
        DatasetError: a missing folder / split file / id file (unless ``skip_missing``), malformed files.
    """
    base = Path(root)
    if not base.is_dir():
        raise DatasetError(f"{base}: dataset folder not found")
    for sub in ("new_joints", "texts"):
        if not (base / sub).is_dir():
            raise DatasetError(f"{base / sub}: folder not found (expected ROOT/{sub}/)")
    items: list[TextMotionItem] = []
    for mid in read_split(base, split):
        jpath, tpath = base / "new_joints" / f"{mid}.npy", base / "texts" / f"{mid}.txt"
        missing = [p for p in (jpath, tpath) if not p.is_file()]
        if missing:
            if skip_missing:
                continue
            raise DatasetError(f"{missing[0]}: file not found (listed in {base / (split + '.txt')})")
        raw = _load_joints(jpath, num_joints)
        groups: dict[tuple[float, float], list[Annotation]] = {}
        for ann in read_texts(tpath):
            groups.setdefault((ann.start, ann.end), []).append(ann)
        for (start, end), anns in sorted(groups.items(), key=lambda kv: kv[0] != (0.0, 0.0)):
            whole = start == 0.0 and end == 0.0
            first, stop = (
                (0, raw.shape[0]) if whole else (int(start * fps), min(int(end * fps), raw.shape[0]))
            )
            if stop - first < 1:
                continue
            seg = raw[first:stop]
            seg = to_smpl(seg) if to_smpl is not None else seg
            item_id = mid if whole else f"{mid}_{first}_{stop}"
            try:
                joints = canonicalise(seg, fps, unit_scale, what=str(jpath))
            except MotionDataError as exc:
                raise DatasetError(str(exc)) from None
            if joints.shape[0] < min_frames:
                continue
            captions = [a.caption for a in anns]
            meta = ClipMeta(
                id=item_id,
                source=f"new_joints/{mid}.npy",
                dataset=dataset,
                licence=licence,
                fps_orig=fps,
                duration=joints.shape[0] / CANONICAL_FPS,
                captions=list(captions),
            )
            items.append(
                TextMotionItem(
                    id=item_id,
                    clip=Clip(joints=joints, meta=meta),
                    captions=captions,
                    tokens=[a.tokens for a in anns],
                    motion_id=mid,
                    start=first / fps,
                    end=None if whole else stop / fps,
                )
            )
    return items


def load_humanml3d(
    root: str | Path, split: str, *, min_frames: int = 1, skip_missing: bool = False, licence: str = ""
) -> list[TextMotionItem]:
    """Load a split of HumanML3D (``new_joints`` (T, 22, 3) metres at 20 fps) as canonical items.

    Args:
        root: the ``HumanML3D`` folder (with ``new_joints/``, ``texts/``, ``<split>.txt``).
        split: ``train``, ``val``, ``test``, ``train_val`` or ``all``.
        min_frames: drop items shorter than this many 20 fps frames (HumanML3D's evaluation uses 40).
        skip_missing: skip listed ids without files instead of raising.
        licence: licence string stored in each clip's metadata.

    Returns:
        The split's :class:`TextMotionItem` objects (sub-segments as separate items).

    Raises:
        DatasetError: missing folder, split file or listed file; malformed caption lines or joint arrays.
    """
    return load_text_motion_folder(
        root,
        split,
        num_joints=NUM_JOINTS,
        fps=HUMANML3D_FPS,
        unit_scale=1.0,
        dataset="humanml3d",
        licence=licence,
        min_frames=min_frames,
        skip_missing=skip_missing,
    )
