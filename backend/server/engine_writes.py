"""The library write path of :class:`~backend.server.engine.SearchEngine`: add (a file or joints) and remove.

Writes are serialised by the engine's write lock, committed atomically by the index writer, and then a new
searcher is swapped in. A retried add of the same content under the same id answers the existing clip, so a
client can retry safely after a dropped connection.
"""

from __future__ import annotations

import logging
import re
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from backend.errors import BvhError, InvalidInputError, MotionDataError, NotFoundError, RigMappingError
from backend.motion.clip import Clip
from backend.motion.limits import MAX_CANONICAL_FRAMES, MAX_CLIP_SECONDS, MOTION_FILE_SUFFIXES
from backend.server.errors import ConflictError

if TYPE_CHECKING:
    from backend.model.retrieval import MotionTextRetrieval
    from backend.search.searcher import Searcher

__all__ = ["CLIP_ID_PATTERN", "LibraryWrites", "safe_name"]

log = logging.getLogger("backend.server.engine")

#: ids accepted for new clips (``POST /library``)
CLIP_ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")


def safe_name(text: str) -> str:
    """A file-name-safe form of a clip id or file stem (at most 80 characters)."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("._-")[:80] or "clip"


class LibraryWrites:
    """Add and remove clips (mixed into ``SearchEngine``, which provides the attributes below)."""

    model: MotionTextRetrieval
    index_dir: Path
    preview_cache_dir: Path
    _write_lock: threading.Lock
    _searcher: Searcher

    def _open(self) -> Searcher:  # provided by SearchEngine
        raise NotImplementedError

    def add_bvh(self, path: Path | str, *, clip_id: str | None = None, caption: str | None = None,
                source: str | None = None, display_name: str | None = None,
                asf: Path | str | None = None, asf_name: str | None = None, tags: list[str] | None = None,
                licence: str | None = None, commercial_use: bool = False) -> dict[str, Any]:  # fmt: skip
        """Add one motion file (BVH, or Acclaim AMC with its ASF) to the index.

        Args:
            path: the ``.bvh`` / ``.amc`` file on disk.
            asf: the ASF skeleton of an ``.amc`` (default: the ``.asf`` beside it).
            asf_name: how to name the ASF in error messages (default: its file name).
            tags: tags stored with the clip (label ``tags``; ``/search`` filters on them).
            licence: licence stored with the clip; ``commercial_use`` declares that it allows commercial use.
            clip_id: id for the clip; default: the file name's stem (suffixed ``_2``, ``_3``... if taken).
            caption: optional description (stored with the clip and added to the caption bank).
            source: source path stored in the metadata (default: the file name).
            display_name: how to name the file in error messages.

        Returns:
            ``{"id": str, "duration": float}``.

        Raises:
            InvalidInputError: missing path / not a .bvh file / invalid id or caption.
            ConflictError: ``clip_id`` already exists with other joints or caption (the same content
                answers the existing clip: a retry after a dropped connection is safe).
            BvhError, RigMappingError, MotionDataError: the file cannot be converted.
        """
        from backend.motion.convert import file_to_clip

        p = Path(path)
        shown = display_name or str(p)
        try:
            if not p.is_file():
                raise InvalidInputError(f"path not found or not a file: {shown}")
        except OSError as exc:  # e.g. a name over 255 characters
            raise InvalidInputError(f"path cannot be read ({exc.strerror}): {shown}") from None
        if p.suffix.lower() not in MOTION_FILE_SUFFIXES:
            raise InvalidInputError(f"path must be a {' or '.join(MOTION_FILE_SUFFIXES)} file: {shown}")
        clip_id, caption = self._check_add_fields(clip_id, caption)
        stem = safe_name(Path(source or p.name).stem)[:100]
        try:
            extra: dict[str, Any] = {"asf": asf} if p.suffix.lower() == ".amc" else {"up_axis": "auto"}
            clip = file_to_clip(p, clip_id=clip_id or stem, dataset="user", source=source or p.name, **extra)
        except (BvhError, RigMappingError, MotionDataError) as exc:  # name the user's file, not a temp path
            message = str(exc).replace(str(p), shown)
            if asf is not None:
                message = message.replace(str(asf), asf_name or Path(asf).name)
            raise type(exc)(message) from None
        if clip.joints.shape[0] > MAX_CANONICAL_FRAMES:
            raise InvalidInputError(
                f"{shown}: clip is {clip.meta.duration:.1f} s; the limit is {MAX_CLIP_SECONDS:g} s"
            )
        return self._commit(
            clip, clip_id, caption, shown, tags=tags, licence=licence, commercial_use=commercial_use
        )

    def add_joints(self, joints: np.ndarray, fps: float, *, clip_id: str | None = None, caption: str | None = None,
                   tags: list[str] | None = None, licence: str | None = None,
                   commercial_use: bool = False) -> dict[str, Any]:  # fmt: skip
        """Add a motion given as SMPL-22 joints (``POST /library`` joints body; the add-on's own animations).

        Args:
            joints: ``(T, 22, 3)`` positions in HumanML3D order, metres, Y up, at ``fps`` (at most 600 s).
            clip_id: id for the clip; default ``blender_clip`` (suffixed ``_2``, ``_3``... if taken).
            caption, tags, licence, commercial_use: stored with the clip (see :meth:`add_bvh`).

        Raises:
            InvalidInputError, ConflictError, MotionDataError: as :meth:`add_bvh`.
        """
        from backend.motion.convert import joints_to_clip

        clip_id, caption = self._check_add_fields(clip_id, caption)
        clip = joints_to_clip(joints, fps, clip_id=clip_id or "blender_clip", dataset="user",
                              source="joints upload")  # fmt: skip
        if clip.joints.shape[0] > MAX_CANONICAL_FRAMES:
            raise InvalidInputError(
                f"clip is {clip.meta.duration:.1f} s; the limit is {MAX_CLIP_SECONDS:g} s"
            )
        return self._commit(clip, clip_id, caption, "joints upload", tags=tags, licence=licence,
                            commercial_use=commercial_use)  # fmt: skip

    @staticmethod
    def _check_add_fields(clip_id: str | None, caption: str | None) -> tuple[str | None, str | None]:
        if clip_id is not None and not CLIP_ID_PATTERN.match(clip_id):
            raise InvalidInputError(
                f"id {clip_id!r} is invalid: use 1-128 letters, digits, '_', '-' or '.', starting with a letter or digit"
            )
        if caption is not None:
            caption = " ".join(caption.split())
            if len(caption) > 1000:
                raise InvalidInputError(f"caption is too long: {len(caption)} characters (at most 1000)")
        return clip_id, caption

    def _commit(self, clip: Clip, clip_id: str | None, caption: str | None, shown: str, *,
                tags: list[str] | None, licence: str | None, commercial_use: bool) -> dict[str, Any]:  # fmt: skip
        """Store caption, tags and licence with the clip and add it (an identical retry answers the same)."""
        if caption:
            clip.meta.captions = [caption]
        clean = [" ".join(t.split()) for t in tags or [] if t.strip()]
        if any("," in t or len(t) > 64 for t in clean) or len(clean) > 32:
            raise InvalidInputError("tags: at most 32, each at most 64 characters and without commas")
        if clean:
            clip.meta.labels["tags"] = ",".join(clean)
        if licence:
            if len(licence) > 200:
                raise InvalidInputError(f"licence is too long: {len(licence)} characters (at most 200)")
            clip.meta.licence = " ".join(licence.split())
        if commercial_use:
            clip.meta.labels["commercial_use"] = "yes"
        from backend.search.build import add_to_index

        with self._write_lock:
            if clip_id is not None and clip_id in self._searcher.index:
                if self._is_retry(clip_id, clip):  # a retried add (the client lost the answer): same result
                    return {
                        "id": clip_id,
                        "duration": float(self._searcher.index.record(clip_id).meta.duration),
                    }
                raise ConflictError(
                    f"clip id {clip_id!r} already exists with other content; DELETE /library/{clip_id} first"
                )
            added = add_to_index(
                self.index_dir,
                clips=[clip],
                model=self.model,
                on_conflict="error" if clip_id is not None else "rename",
                progress=False,
            )
            clip.meta.id = added[0]
            self._searcher = self._open()
        log.info("added clip %s (%.1f s) from %s", clip.meta.id, clip.meta.duration, shown)
        return {"id": clip.meta.id, "duration": float(clip.meta.duration)}

    def _is_retry(self, clip_id: str, clip: Clip) -> bool:
        """Whether live clip ``clip_id`` holds exactly ``clip``'s joints and captions (an idempotent retry)."""
        index = self._searcher.index
        old = index.joints(clip_id)
        same_caption = index.record(clip_id).caption == (clip.meta.captions[0] if clip.meta.captions else "")
        return same_caption and old.shape == clip.joints.shape and bool(np.array_equal(old, clip.joints))

    def remove(self, clip_id: str) -> None:
        """Remove a clip (raises :class:`NotFoundError` for an unknown id)."""
        from backend.index.maintenance import remove_from_index

        with self._write_lock:
            if clip_id not in self._searcher.index:
                raise NotFoundError(f"unknown clip id {clip_id!r}")
            remove_from_index(self.index_dir, [clip_id])
            self._searcher = self._open()
        own = re.compile(re.escape(safe_name(clip_id)) + r"-[0-9a-f]{24}\.png")
        for f in self.preview_cache_dir.glob("*.png"):
            if own.fullmatch(f.name):
                f.unlink(missing_ok=True)
