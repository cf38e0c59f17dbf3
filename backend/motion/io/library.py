"""The library folder: canonical clips plus a metadata / caption table.

Layout (``docs/architecture.md``, "Library folder")::

    DIR/library.json   {"format": "motion-search-library", "version": 1, "num_clips": N, "sources": {...},
                        "skipped": [{"file", "reason"}], "created": iso8601, ...}
    DIR/clips.jsonl    one ClipMeta.to_dict() per line, sorted by id
    DIR/clips/<id>.npy (T, 22, 3) float32 canonical joints

Crash safety: every file is written to a temporary name in the same folder and renamed into place, so a file
under its final name is always complete. :class:`LibraryWriter` builds a whole library in the sibling folder
``DIR.partial`` and swaps it into ``DIR`` only in :meth:`LibraryWriter.close`, after ``clips.jsonl`` and
``library.json``; a killed build leaves ``DIR`` as it was. :func:`add_clip` / :func:`remove_clip` edit a
library in place under a file lock (clip file first, then the table, then ``library.json``).
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import re
import shutil
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

import numpy as np

from backend.atomic import atomic_write, atomic_write_text
from backend.errors import DatasetError, InvalidInputError, MotionDataError, NotFoundError
from backend.motion.clip import Clip, ClipMeta

__all__ = [
    "LIBRARY_FORMAT",
    "LIBRARY_VERSION",
    "Library",
    "LibraryWriter",
    "add_clip",
    "remove_clip",
    "validate_clip_id",
]

log = logging.getLogger(__name__)

LIBRARY_FORMAT = "motion-search-library"
LIBRARY_VERSION = 1
_INFO, _TABLE, _CLIPS = "library.json", "clips.jsonl", "clips"
_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,199}$")


def validate_clip_id(clip_id: str) -> str:
    """Return ``clip_id`` if it is a safe file name (letters, digits, ``_ . -``; at most 200 characters).

    Raises:
        InvalidInputError: names the bad id.
    """
    if not isinstance(clip_id, str) or not _ID.match(clip_id):
        raise InvalidInputError(
            f"clip id {clip_id!r} is not a safe file name (letters, digits, '_', '.', '-')"
        )
    return clip_id


def _now() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def _check_joints(joints: np.ndarray, what: str) -> np.ndarray:
    arr = np.asarray(joints)
    if arr.ndim != 3 or arr.shape[1:] != (22, 3) or arr.shape[0] < 1:
        raise MotionDataError(f"{what}: joints must have shape (T>=1, 22, 3), got {arr.shape}")
    if not np.isfinite(arr).all():
        raise MotionDataError(f"{what}: joints contain NaN or inf")
    return np.ascontiguousarray(arr, dtype=np.float32)


def _save_npy(path: Path, joints: np.ndarray) -> None:
    atomic_write(path, lambda fh: np.save(fh, joints, allow_pickle=False), mkdir=False)


def _write_table(path: Path, metas: Iterable[ClipMeta]) -> None:
    lines = "".join(json.dumps(m.to_dict(), ensure_ascii=False) + "\n" for m in metas)
    atomic_write_text(path, lines, mkdir=False)


def _write_info(path: Path, info: Mapping[str, Any]) -> None:
    text = json.dumps(dict(info), indent=1, ensure_ascii=False) + "\n"
    atomic_write_text(path, text, mkdir=False)


def _read_info(root: Path) -> dict[str, Any]:
    if not root.is_dir():
        raise DatasetError(f"{root}: no such library folder")
    path = root / _INFO
    if not path.is_file():
        hint = (
            f" (an interrupted build leaves {root.name}.partial instead)"
            if root.with_name(root.name + ".partial").exists()
            else ""
        )
        raise DatasetError(f"{root}: not a library folder, {_INFO} is missing{hint}")
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: unreadable library header ({exc})") from exc
    if not isinstance(info, dict) or info.get("format") != LIBRARY_FORMAT:
        raise DatasetError(f"{path}: 'format' must be {LIBRARY_FORMAT!r}")
    if info.get("version") != LIBRARY_VERSION:
        raise DatasetError(
            f"{path}: unsupported library version {info.get('version')!r} (expected {LIBRARY_VERSION})"
        )
    return info


def _read_table(root: Path) -> dict[str, ClipMeta]:
    path = root / _TABLE
    metas: dict[str, ClipMeta] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read the clip table ({exc})") from exc
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            meta = ClipMeta.from_dict(json.loads(line))
        except (ValueError, TypeError) as exc:
            raise DatasetError(f"{path}:{number}: not a clip record ({exc})") from exc
        if meta.id in metas:
            raise DatasetError(f"{path}:{number}: duplicate clip id {meta.id!r}")
        metas[meta.id] = meta
    return metas


class Library:
    """A library folder opened for reading (see the module docstring).

    Attributes:
        root: the folder.
        info: the parsed ``library.json``.
    """

    def __init__(self, root: Path, info: dict[str, Any], metas: dict[str, ClipMeta]) -> None:
        self.root = Path(root)
        self.info = info
        self._metas = metas

    @classmethod
    def open(cls, root: str | os.PathLike) -> Library:
        """Open a library folder.

        Raises:
            DatasetError: missing folder, missing or foreign ``library.json``, malformed ``clips.jsonl`` (each
                message names the file and line).
        """
        root = Path(root)
        info = _read_info(root)
        metas = _read_table(root)
        if info.get("num_clips") != len(metas):
            log.warning(
                "%s: num_clips %s but %s lists %d clips",
                root / _INFO,
                info.get("num_clips"),
                _TABLE,
                len(metas),
            )
        return cls(root, info, metas)

    @property
    def ids(self) -> list[str]:
        """Clip ids in table order (sorted)."""
        return list(self._metas)

    @property
    def sources(self) -> dict[str, Any]:
        """Per-source provenance from ``library.json``."""
        return dict(self.info.get("sources", {}))

    @property
    def skipped(self) -> list[dict[str, str]]:
        """Clips the build skipped: ``[{"file", "reason"}]``."""
        return list(self.info.get("skipped", []))

    def __len__(self) -> int:
        return len(self._metas)

    def __contains__(self, clip_id: object) -> bool:
        return clip_id in self._metas

    def meta(self, clip_id: str) -> ClipMeta:
        """Metadata of one clip.

        Raises:
            NotFoundError: unknown id (names it and the library).
        """
        try:
            return self._metas[clip_id]
        except KeyError:
            raise NotFoundError(f"{self.root}: no clip {clip_id!r}") from None

    def joints(self, clip_id: str, *, mmap: bool = False) -> np.ndarray:
        """``(T, 22, 3)`` float32 canonical joints of one clip (memory-mapped, read-only, when ``mmap``).

        Raises:
            NotFoundError: unknown id. DatasetError: missing or malformed ``.npy`` file (names it).
        """
        self.meta(clip_id)
        path = self.root / _CLIPS / f"{clip_id}.npy"
        try:
            arr = np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise DatasetError(f"{path}: cannot load clip joints ({exc})") from exc
        if arr.ndim != 3 or arr.shape[1:] != (22, 3) or arr.dtype != np.float32:
            raise DatasetError(f"{path}: expected (T, 22, 3) float32, got {arr.shape} {arr.dtype}")
        return arr

    def clip(self, clip_id: str) -> Clip:
        """One :class:`Clip` (joints + metadata)."""
        return Clip(joints=self.joints(clip_id), meta=self.meta(clip_id))

    def metas(self, split: str | None = None) -> list[ClipMeta]:
        """Metadata of every clip, or of one split (``"train"``, ``"val"``, ``"test"``)."""
        return [m for m in self._metas.values() if split is None or m.split == split]

    def clips(self, split: str | None = None) -> Iterator[Clip]:
        """Iterate over the clips (of one split), loading joints lazily, in id order."""
        for meta in self.metas(split):
            yield Clip(joints=self.joints(meta.id), meta=meta)


class LibraryWriter:
    """Write a new library folder (replacing any library already at ``root`` on :meth:`close`).

    Clips go to ``<root>.partial`` as they are added; ``close`` writes the table and header there and renames
    the folder into place. Use as a context manager: an exception discards the partial folder.

    Raises:
        DatasetError: ``root`` exists and is not a library folder (it is never deleted).
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        if self.root.exists() and any(self.root.iterdir()) and not (self.root / _INFO).is_file():
            raise DatasetError(f"{self.root}: exists and is not a library folder; refusing to replace it")
        self.partial = self.root.with_name(self.root.name + ".partial")
        if self.partial.exists():
            shutil.rmtree(self.partial)  # left by an interrupted build
        (self.partial / _CLIPS).mkdir(parents=True)
        self._metas: dict[str, ClipMeta] = {}
        self._closed = False

    def __len__(self) -> int:
        return len(self._metas)

    def add(self, clip: Clip) -> None:
        """Write ``clips/<id>.npy`` (temp + rename) and remember the metadata.

        Raises:
            InvalidInputError: unsafe or duplicate id. MotionDataError: joints not ``(T, 22, 3)`` finite.
        """
        if self._closed:
            raise InvalidInputError(f"{self.root}: library writer is closed")
        clip_id = validate_clip_id(clip.meta.id)
        if clip_id in self._metas:
            raise InvalidInputError(f"{self.root}: duplicate clip id {clip_id!r}")
        joints = _check_joints(clip.joints, f"clip {clip_id!r}")
        _save_npy(self.partial / _CLIPS / f"{clip_id}.npy", joints)
        self._metas[clip_id] = clip.meta

    def close(
        self,
        skipped: Iterable[Mapping[str, str]] = (),
        sources: Mapping[str, Any] | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> Path:
        """Write ``clips.jsonl`` and ``library.json``, then move the library into ``root``.

        Args:
            skipped: ``{"file", "reason"}`` records of clips that could not be converted.
            sources: per-source provenance (licence, attribution, upstream, clip counts).
            extra: further header fields (e.g. build statistics).

        Returns:
            ``root``.
        """
        if self._closed:
            return self.root
        metas = [self._metas[k] for k in sorted(self._metas)]
        _write_table(self.partial / _TABLE, metas)
        info = {
            "format": LIBRARY_FORMAT,
            "version": LIBRARY_VERSION,
            "num_clips": len(metas),
            "sources": dict(sources or {}),
            "skipped": [{"file": str(s["file"]), "reason": str(s["reason"])} for s in skipped],
            "created": _now(),
            **dict(extra or {}),
        }
        _write_info(self.partial / _INFO, info)
        old = None
        if self.root.exists():
            old = self.root.with_name(f".{self.root.name}.old-{os.getpid()}")
            os.rename(self.root, old)
        os.rename(self.partial, self.root)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
        self._closed = True
        return self.root

    def abort(self) -> None:
        """Discard the partial folder (``root`` is untouched)."""
        self._closed = True
        shutil.rmtree(self.partial, ignore_errors=True)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:
            self.abort()
        else:
            self.close()


@contextmanager
def _locked(root: Path) -> Iterator[None]:
    with open(root / ".lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def add_clip(root: str | os.PathLike, clip: Clip, *, replace: bool = False) -> None:
    """Add one clip to an existing library in place (clip file, then table, then header; each atomic).

    Raises:
        DatasetError: not a library. InvalidInputError: bad id, or the id exists and ``replace`` is False.
        MotionDataError: bad joints.
    """
    root = Path(root)
    _read_info(root)
    clip_id = validate_clip_id(clip.meta.id)
    joints = _check_joints(clip.joints, f"clip {clip_id!r}")
    with _locked(root):
        info, metas = _read_info(root), _read_table(root)
        if clip_id in metas and not replace:
            raise InvalidInputError(
                f"{root}: clip {clip_id!r} already exists (pass replace=True to overwrite)"
            )
        (root / _CLIPS).mkdir(exist_ok=True)
        _save_npy(root / _CLIPS / f"{clip_id}.npy", joints)
        metas[clip_id] = clip.meta
        _write_table(root / _TABLE, [metas[k] for k in sorted(metas)])
        _write_info(root / _INFO, {**info, "num_clips": len(metas), "modified": _now()})


def remove_clip(root: str | os.PathLike, clip_id: str) -> None:
    """Remove one clip from a library in place (table, then header, then the clip file).

    Raises:
        DatasetError: not a library. NotFoundError: no such clip.
    """
    root = Path(root)
    _read_info(root)
    with _locked(root):
        info, metas = _read_info(root), _read_table(root)
        if clip_id not in metas:
            raise NotFoundError(f"{root}: no clip {clip_id!r}")
        del metas[clip_id]
        _write_table(root / _TABLE, [metas[k] for k in sorted(metas)])
        _write_info(root / _INFO, {**info, "num_clips": len(metas), "modified": _now()})
        (root / _CLIPS / f"{clip_id}.npy").unlink(missing_ok=True)
