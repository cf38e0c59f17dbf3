"""One committed segment of an index folder: its files memory-mapped and checked against the manifest.

The layer under :class:`backend.index.store.MotionIndex` (and the writer's codec): a segment's arrays (see
:mod:`backend.index.format`) are opened as plain ndarray views of their memory maps after their sizes and
sampled checksums match what the manifest recorded; tombstone files list the clips removed since.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from backend.errors import IndexError_
from backend.index.codecs import Codec, make_codec
from backend.index.format import CODEBOOK_FILE, SEGMENTS_DIR, TOMBSTONES_DIR, IndexHeader, SegmentInfo
from backend.index.integrity import check_file

__all__ = ["SegmentArrays", "load_codec", "load_segment", "read_tombstones"]


@dataclass
class SegmentArrays:
    """Memory-mapped arrays of one segment (see :mod:`backend.index.format`)."""

    name: str
    windows: np.ndarray  # (Nw, 5) int64
    masks: np.ndarray  # (Nw, P) bool
    pooled: np.ndarray  # (Nw, D) float16
    codes: dict[str, np.ndarray]  # codec arrays, (Npatch, ...) each
    joints: np.ndarray  # (sum T, 22, 3) float32


def load_codec(index_dir: Path, header: IndexHeader) -> Codec:
    """The codec of an index (reads the PQ codebook when needed)."""
    centroids = None
    if header.codec == "pq":
        path = index_dir / CODEBOOK_FILE
        if not path.is_file():
            raise IndexError_(f"{path}: missing PQ codebook of a 'pq' index")
        centroids = np.load(path)
    return make_codec(header.codec, centroids)


def _load(path: Path, mmap: bool = True) -> np.ndarray:
    if not path.is_file():
        raise IndexError_(f"{path}: missing index file")
    try:  # a plain ndarray view of the map: numpy.memmap's per-index wrapping cost ~35 us a gather
        return np.asarray(np.load(path, mmap_mode="r" if mmap else None, allow_pickle=False))
    except (OSError, ValueError, EOFError) as exc:  # a 0-byte file is an EOFError
        raise IndexError_(f"{path}: unreadable array ({type(exc).__name__}: {exc})") from exc


def load_segment(index_dir: Path, info: SegmentInfo, header: IndexHeader, codec: Codec) -> SegmentArrays:
    """Memory-map one segment and check its shapes against the manifest entry.

    Raises:
        IndexError_: a file is missing or its shape disagrees with ``info`` (names the file).
    """
    d = index_dir / SEGMENTS_DIR / info.name
    for fname, digest in info.files.items():  # sizes and sampled checksums written with the arrays
        problem = check_file(d / fname, digest)
        if problem is not None:
            raise IndexError_(f"{problem}; run 'python -m backend index verify --index {index_dir}'")
    windows = np.asarray(_load(d / "windows.npy", mmap=False), dtype=np.int64)
    masks = _load(d / "masks.npy")
    pooled = _load(d / "pooled.npy")
    joints = _load(d / "joints.npy")
    codes = {n: _load(d / f"{n}.npy") for n in codec.array_names()}
    p, dim = header.num_patches, header.embed_dim
    checks: list[tuple[str, tuple[int, ...], tuple[int, ...]]] = [
        ("windows.npy", windows.shape, (info.num_windows, 5)),
        ("masks.npy", masks.shape, (info.num_windows, p)),
        ("pooled.npy", pooled.shape, (info.num_windows, dim)),
    ]
    for name, arr in codes.items():
        checks.append((f"{name}.npy", arr.shape[:1], (info.num_patches,)))
    for fname, got, want in checks:
        if tuple(got) != tuple(want):
            raise IndexError_(f"{d / fname}: shape {tuple(got)} disagrees with the manifest {tuple(want)}")
    if joints.ndim != 3 or joints.shape[1:] != (22, 3):
        raise IndexError_(f"{d / 'joints.npy'}: expected (T, 22, 3) joints, got {joints.shape}")
    if info.num_windows and int(windows[:, 4].sum()) != info.num_patches:
        raise IndexError_(
            f"{d / 'windows.npy'}: n_valid sums to {int(windows[:, 4].sum())}, not {info.num_patches}"
        )
    return SegmentArrays(info.name, windows, masks, pooled, codes, joints)


def read_tombstones(index_dir: Path, names: list[str]) -> set[str]:
    """Union of the ``"<segment>/<id>"`` keys of the given tombstone files."""
    out: set[str] = set()
    for name in names:
        path = index_dir / TOMBSTONES_DIR / f"{name}.json"
        try:
            out.update(json.loads(path.read_text(encoding="utf-8")))
        except (OSError, ValueError) as exc:
            raise IndexError_(f"{path}: unreadable tombstone file ({exc})") from exc
    return out
