"""On-disk layout of an index folder and its manifest (``header.json``).

::

    INDEX/header.json            the manifest: the only file ever overwritten (temp + fsync + os.replace)
    INDEX/clips.sqlite           clip metadata, one row per (segment, clip); rows of segments the manifest
                                 does not list are invisible (and garbage-collected by the next writer)
    INDEX/pq_codebook.npy        (M, K, D/M) float32, codec "pq" only (written before the first manifest)
    INDEX/segments/<name>/       immutable once renamed into place:
        windows.npy              (Nw, 5) int64 rows [clip_row, start_frame, length, patch_offset, n_valid]
        masks.npy                (Nw, P) bool, True = valid patch (row-major: patch = band * n_time + column)
        pooled.npy               (Nw, D) float16, the model's pooled vector of each window
        patches.npy / scales.npy / codes.npy    codec arrays of the valid patches, (sum n_valid, ...)
        joints.npy               (sum T, 22, 3) float32 canonical joints of the segment's clips, concatenated
    INDEX/tombstones/<name>.json ["<segment>/<clip id>", ...] removed clips (immutable)
    INDEX/captions/<name>/       immutable caption-bank part:
        texts.json               [caption, ...]
        offsets.npy              (Nc + 1,) int64 token offsets
        tokens.npy               (sum L, D) float16 valid token embeddings
    INDEX/index.lock             writers' lock (fcntl), never read
    INDEX/candidates/            readers' cache of the centroid first stage (``candidate_cache``); optional,
                                 never read by writers, safe to delete

The header records ``format``/``version``, the ``model_checksum`` of the checkpoint that built the index,
``embed_dim``, ``codec`` (+ ``pq_m``), ``window_frames``, ``stride``, ``patch_frames``, ``num_bands``,
``n_time`` (patch columns per window), ``fps``, a ``generation`` counter and the lists of live
``segments`` / ``tombstones`` / ``caption_parts``. Each segment and caption part lists the digest (size,
sha256, sampled sha256) of every array written with it: open checks sizes and sampled hashes,
``python -m backend index verify`` the full hashes.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from backend.atomic import atomic_write_text
from backend.errors import IndexError_
from backend.index.integrity import file_digest
from backend.model.config import PATCH_FRAMES
from backend.motion.clip import CANONICAL_FPS

__all__ = [
    "CAPTIONS_DIR",
    "CODEBOOK_FILE",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "HEADER_FILE",
    "LOCK_FILE",
    "SEGMENTS_DIR",
    "SQLITE_FILE",
    "TOMBSTONES_DIR",
    "WINDOW_COLUMNS",
    "IndexHeader",
    "SegmentInfo",
    "crash_point",
    "fsync_dir",
    "read_header",
    "save_npy",
    "write_header",
    "write_json_atomic",
]

FORMAT_NAME = "motion-search-index"
FORMAT_VERSION = 1
HEADER_FILE = "header.json"
SQLITE_FILE = "clips.sqlite"
CODEBOOK_FILE = "pq_codebook.npy"
SEGMENTS_DIR = "segments"
TOMBSTONES_DIR = "tombstones"
CAPTIONS_DIR = "captions"
LOCK_FILE = "index.lock"
#: column meaning of ``windows.npy``
WINDOW_COLUMNS = ("clip_row", "start_frame", "length", "patch_offset", "n_valid")


@dataclass
class SegmentInfo:
    """A live segment as listed in the manifest."""

    name: str
    num_clips: int
    num_windows: int
    num_patches: int
    #: file name -> digest written with it (:func:`backend.index.integrity.file_digest`); empty in old indexes
    files: dict[str, dict[str, Any]] = field(default_factory=dict)


@dataclass
class IndexHeader:
    """The manifest of an index folder (``header.json``).

    Attributes:
        model_checksum: ``MotionTextRetrieval.checksum()`` of the checkpoint that built the index.
        embed_dim: embedding size ``D``.
        codec: ``fp16`` | ``int8`` | ``pq``.
        window_frames: frames per index window (the model's window).
        stride: frames between window starts of a long clip.
        n_time: patch columns per window (``window_frames / patch_frames``).
        num_bands: body-part bands (rows of the motion image).
        pq_m: PQ sub-quantisers (0 unless codec is ``pq``).
        patch_frames: frames per patch column (16).
        fps: canonical frame rate (20).
        generation: incremented by every committed change.
        segments: live segments, in order.
        tombstones: names of tombstone files (``tombstones/<name>.json``).
        caption_parts: names of caption-bank parts (``captions/<name>/``).
        caption_files: per caption part, file name -> digest written with it (checked at open).
        model_name: free-form name of the model (for ``/health``).
        checkpoint_path: absolute path of the checkpoint folder used at build time (default model of
            ``index add``; its checksum is verified before use).
        format: always :data:`FORMAT_NAME`.
        version: :data:`FORMAT_VERSION`.
    """

    model_checksum: str
    embed_dim: int
    codec: str
    window_frames: int
    stride: int
    n_time: int
    num_bands: int = 14
    pq_m: int = 0
    patch_frames: int = PATCH_FRAMES
    fps: float = CANONICAL_FPS
    generation: int = 0
    segments: list[SegmentInfo] = field(default_factory=list)
    tombstones: list[str] = field(default_factory=list)
    caption_parts: list[str] = field(default_factory=list)
    caption_files: dict[str, dict[str, dict[str, Any]]] = field(default_factory=dict)
    model_name: str = ""
    checkpoint_path: str = ""
    format: str = FORMAT_NAME
    version: int = FORMAT_VERSION

    @property
    def num_patches(self) -> int:
        """Patches per window ``P = num_bands * n_time``."""
        return self.num_bands * self.n_time

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any], path: Path | str = HEADER_FILE) -> IndexHeader:
        """Parse and validate a manifest dict (``path`` only names the file in errors)."""
        if d.get("format") != FORMAT_NAME:
            raise IndexError_(f"{path}: 'format' is {d.get('format')!r}, expected {FORMAT_NAME!r}")
        if d.get("version") != FORMAT_VERSION:
            raise IndexError_(
                f"{path}: unsupported 'version' {d.get('version')!r} (this code reads {FORMAT_VERSION})"
            )
        try:
            known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
            known["segments"] = [SegmentInfo(**s) for s in d.get("segments", [])]
            return cls(**known)
        except TypeError as exc:
            raise IndexError_(f"{path}: malformed manifest ({exc})") from exc


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename inside it is durable (no-op where unsupported)."""
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def save_npy(path: Path, array: np.ndarray) -> dict[str, Any]:
    """Write ``array`` to ``path``, fsync it and return its digest (the caller renames the folder into place).

    Returns:
        :func:`backend.index.integrity.file_digest` of the written file (recorded in the manifest).
    """
    with open(path, "wb") as f:
        np.save(f, np.ascontiguousarray(array), allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    return file_digest(path)


def write_json_atomic(path: Path, obj: Any) -> None:
    """Write JSON atomically (:func:`backend.atomic.atomic_write_text`: temp file, fsync, ``os.replace``), then
    fsync the folder."""
    path = Path(path)
    atomic_write_text(path, json.dumps(obj, indent=1), mkdir=False)
    fsync_dir(path.parent)


def read_header(index_dir: Path | str) -> IndexHeader:
    """Read and validate ``INDEX/header.json``.

    Raises:
        IndexError_: missing folder/file or malformed manifest (names the file).
    """
    path = Path(index_dir) / HEADER_FILE
    if not path.is_file():
        raise IndexError_(f"not an index folder (no {HEADER_FILE}): {Path(index_dir)}")
    try:
        d = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise IndexError_(f"{path}: unreadable manifest ({exc})") from exc
    if not isinstance(d, dict):
        raise IndexError_(f"{path}: manifest must be a JSON object")
    return IndexHeader.from_dict(d, path)


def write_header(index_dir: Path | str, header: IndexHeader) -> None:
    """Atomically switch the manifest (the commit point of every change)."""
    crash_point("before-manifest")
    write_json_atomic(Path(index_dir) / HEADER_FILE, header.to_dict())
    crash_point("after-manifest")


def crash_point(name: str) -> None:
    """Test hook for crash-safety tests: pause at named points of a write.

    When the environment variable ``MOTION_SEARCH_INDEX_PAUSE`` is set (seconds, float), every write
    step sleeps that long at each point and prints ``crash-point <name>`` to stderr, so a test can
    SIGKILL the writer between steps. Unset (always, in production) it does nothing.
    """
    delay = os.environ.get("MOTION_SEARCH_INDEX_PAUSE")
    if not delay:
        return
    import sys
    import time

    print(f"crash-point {name}", file=sys.stderr, flush=True)
    time.sleep(float(delay))
