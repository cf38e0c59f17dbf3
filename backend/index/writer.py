"""Atomic changes to an index folder: create, add, remove, compact.

Every change follows the same protocol, under an exclusive ``fcntl`` lock on ``INDEX/index.lock``:

1. garbage-collect leftovers of interrupted writers (segment / caption folders, tombstone files and
   metadata rows that the current manifest does not list, temp files);
2. write new immutable files into a temp folder, fsync, rename it into place (``segments/<name>``);
3. insert the metadata rows of the new segment (one SQLite transaction);
4. write tombstone / caption-part files if any;
5. switch the manifest (``header.json``: temp + fsync + ``os.replace``): the single commit point.

A kill anywhere before step 5 leaves the previous manifest, which lists none of the new files, so readers
see the previous generation; after step 5 they see the new one. Nothing visible is ever half written.
"""

from __future__ import annotations

import fcntl
import os
import secrets
import shutil
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Self

import numpy as np

from backend.errors import IndexError_, InvalidInputError, NotFoundError
from backend.index.codecs import Codec
from backend.index.format import (
    CAPTIONS_DIR,
    CODEBOOK_FILE,
    HEADER_FILE,
    LOCK_FILE,
    SEGMENTS_DIR,
    TOMBSTONES_DIR,
    IndexHeader,
    SegmentInfo,
    crash_point,
    fsync_dir,
    read_header,
    save_npy,
    write_header,
    write_json_atomic,
)
from backend.index.metadata import ClipRecord, connect, delete_segments, insert_records, segments_in_db
from backend.index.segments import load_codec
from backend.index.store import MotionIndex
from backend.motion.clip import ClipMeta

__all__ = ["CaptionPart", "EncodedClip", "IndexWriter", "create_index"]


@dataclass
class EncodedClip:
    """A clip ready to be stored.

    Attributes:
        meta: clip metadata (``meta.id`` must be unique among live clips).
        joints: ``(T, 22, 3)`` float32 canonical joints.
        starts: ``(Nw,)`` first frame of each window.
        lengths: ``(Nw,)`` real frames of each window.
        emb: ``(Nw, P, D)`` float32 patch embeddings (padding patches ignored).
        mask: ``(Nw, P)`` bool, True = valid patch.
        pooled: ``(Nw, D)`` float32 pooled vector per window.
    """

    meta: ClipMeta
    joints: np.ndarray
    starts: np.ndarray
    lengths: np.ndarray
    emb: np.ndarray
    mask: np.ndarray
    pooled: np.ndarray


@dataclass
class CaptionPart:
    """New caption-bank entries: texts and their valid token embeddings ``(L_i, D)`` each."""

    texts: list[str]
    tokens: list[np.ndarray]


def _new_name(prefix: str, generation: int) -> str:
    return f"{prefix}-{generation:06d}-{secrets.token_hex(3)}"


def create_index(path: Path | str, header: IndexHeader, codebook: np.ndarray | None = None) -> None:
    """Create an empty index folder (no clips). The manifest is written last.

    Raises:
        IndexError_: ``path`` already holds an index.
    """
    path = Path(path)
    if (path / HEADER_FILE).exists():
        raise IndexError_(f"{path}: an index already exists here")
    for sub in (SEGMENTS_DIR, TOMBSTONES_DIR, CAPTIONS_DIR):
        (path / sub).mkdir(parents=True, exist_ok=True)
    if header.codec == "pq":
        if codebook is None:
            raise IndexError_(f"{path}: a 'pq' index needs a codebook")
        save_npy(path / CODEBOOK_FILE, np.asarray(codebook, dtype=np.float32))
    connect(path).close()
    fsync_dir(path)
    write_header(
        path, replace(header, segments=[], tombstones=[], caption_parts=[], caption_files={}, generation=0)
    )


class IndexWriter:
    """Exclusive writer of one index folder; use as a context manager.

    >>> # with IndexWriter(dir) as w: w.add(encoded_clips); w.remove(["clip_a"])
    """

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self._lock: Any = None
        self.header: IndexHeader | None = None

    def __enter__(self) -> Self:
        self._lock = open(self.path / LOCK_FILE, "a+")
        fcntl.flock(self._lock.fileno(), fcntl.LOCK_EX)
        self.header = read_header(self.path)
        self._codec: Codec = load_codec(self.path, self.header)
        self.collect_garbage()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._lock is not None:
            fcntl.flock(self._lock.fileno(), fcntl.LOCK_UN)
            self._lock.close()
            self._lock = None

    # ------------------------------------------------------------------ helpers
    def _hdr(self) -> IndexHeader:
        if self.header is None:
            raise IndexError_("IndexWriter used outside its 'with' block")
        return self.header

    def collect_garbage(self) -> None:
        """Delete files and metadata rows that the current manifest does not list."""
        h = self._hdr()
        live_segs = {s.name for s in h.segments}
        for d in (self.path / SEGMENTS_DIR).iterdir() if (self.path / SEGMENTS_DIR).exists() else []:
            if d.name not in live_segs:
                shutil.rmtree(d, ignore_errors=True)
        for f in (self.path / TOMBSTONES_DIR).glob("*"):
            if f.suffix != ".json" or f.stem not in h.tombstones:
                f.unlink(missing_ok=True)
        for d in (self.path / CAPTIONS_DIR).glob("*"):
            if d.name not in h.caption_parts:
                shutil.rmtree(d, ignore_errors=True)
        for f in self.path.glob(f".{HEADER_FILE}.*.tmp"):
            f.unlink(missing_ok=True)
        con = connect(self.path)
        try:
            delete_segments(con, segments_in_db(con) - live_segs)
        finally:
            con.close()

    def _commit(self, header: IndexHeader) -> None:
        header = replace(header, generation=self._hdr().generation + 1)
        write_header(self.path, header)
        self.header = header

    def _write_segment(self, name: str, arrays: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
        tmp = self.path / SEGMENTS_DIR / f".tmp-{name}"
        tmp.mkdir(parents=True)
        digests: dict[str, dict[str, Any]] = {}
        for i, (fname, arr) in enumerate(arrays.items()):
            digests[f"{fname}.npy"] = save_npy(tmp / f"{fname}.npy", arr)
            if i == 1:
                crash_point("segment-partial")
        fsync_dir(tmp)
        os.rename(tmp, self.path / SEGMENTS_DIR / name)
        fsync_dir(self.path / SEGMENTS_DIR)
        crash_point("segment-renamed")
        return digests

    def _write_tombstone(self, keys: list[str]) -> str:
        name = _new_name("tomb", self._hdr().generation + 1)
        write_json_atomic(self.path / TOMBSTONES_DIR / f"{name}.json", sorted(keys))
        crash_point("tombstone-written")
        return name

    def _write_captions(self, part: CaptionPart) -> str:
        from backend.index.captions import write_caption_part

        name = _new_name("cap", self._hdr().generation + 1)
        self._caption_digests = write_caption_part(self.path / CAPTIONS_DIR, name, part.texts, part.tokens)
        crash_point("captions-written")
        return name

    def _live(self) -> MotionIndex:
        return MotionIndex._load(self.path, self._hdr())

    # ------------------------------------------------------------------ operations
    def add(
        self, clips: list[EncodedClip], *, replace_existing: bool = False, captions: CaptionPart | None = None
    ) -> list[str]:
        """Add clips as one new segment (and optionally new caption-bank entries), atomically.

        Args:
            clips: encoded clips; ids must be unique and, unless ``replace_existing``, not yet indexed.
            replace_existing: tombstone live clips with the same ids in the same commit.
            captions: caption-bank entries to add in the same commit.

        Returns:
            The added ids.

        Raises:
            InvalidInputError: duplicate ids (names them).
        """
        h = self._hdr()
        ids = [c.meta.id for c in clips]
        dup = sorted({i for i in ids if ids.count(i) > 1})
        if dup:
            raise InvalidInputError(f"duplicate clip ids in one add: {', '.join(dup[:10])}")
        live = self._live()
        existing = [i for i in ids if i in live]
        if existing and not replace_existing:
            raise InvalidInputError(
                f"clip ids already in index {self.path}: {', '.join(existing[:10])} (remove them first or replace)"
            )
        if not clips and captions is None:
            return []
        segments, tombstones, parts = list(h.segments), list(h.tombstones), list(h.caption_parts)
        if clips:
            name = _new_name("seg", h.generation + 1)
            arrays, records, info = self._pack(name, clips)
            info.files = self._store_segment(name, arrays, records)
            crash_point("metadata-committed")
            segments.append(info)
        if existing:
            tombstones.append(self._write_tombstone([live.record(i).key for i in existing]))
        caption_files = dict(h.caption_files)
        if captions is not None and captions.texts:
            parts.append(self._write_captions(captions))
            caption_files[parts[-1]] = self._caption_digests
        caption_files = {k: v for k, v in caption_files.items() if k in parts}
        self._commit(replace(h, segments=segments, tombstones=tombstones, caption_parts=parts,
                             caption_files=caption_files))  # fmt: skip
        return ids

    def _store_segment(
        self, name: str, arrays: dict[str, np.ndarray], records: list[ClipRecord]
    ) -> dict[str, dict[str, Any]]:
        """Write a segment's arrays, then its clip rows (invisible until a manifest lists the segment).

        Returns:
            The digest of every array file (for the manifest).
        """
        digests = self._write_segment(name, arrays)
        con = connect(self.path)
        try:
            insert_records(con, records)
        finally:
            con.close()
        return digests

    def remove(self, ids: list[str]) -> list[str]:
        """Remove clips by id (a tombstone file + manifest switch).

        Raises:
            NotFoundError: an id is not in the index (names it); nothing is removed then.
        """
        live = self._live()
        missing = [i for i in ids if i not in live]
        if missing:
            raise NotFoundError(f"unknown clip ids in index {self.path}: {', '.join(missing[:10])}")
        if not ids:
            return []
        h = self._hdr()
        name = self._write_tombstone([live.record(i).key for i in dict.fromkeys(ids)])
        self._commit(replace(h, tombstones=[*h.tombstones, name]))
        return list(dict.fromkeys(ids))

    def compact(self) -> None:
        """Rewrite all live clips into one segment and drop tombstones (no re-encoding)."""
        h = self._hdr()
        live = self._live()
        segments: list[SegmentInfo] = []
        if len(live):
            name = _new_name("seg", h.generation + 1)
            arrays, records, info = self._pack_from_index(name, live)
            info.files = self._store_segment(name, arrays, records)
            segments = [info]
        self._commit(replace(h, segments=segments, tombstones=[]))
        self.collect_garbage()

    # ------------------------------------------------------------------ packing
    def _pack(
        self, name: str, clips: list[EncodedClip]
    ) -> tuple[dict[str, np.ndarray], list[ClipRecord], SegmentInfo]:
        h = self._hdr()
        p, dim = h.num_patches, h.embed_dim
        win_rows, masks, pooled, patches, joints, records = [], [], [], [], [], []
        n_patch = n_frames = 0
        for row, c in enumerate(clips):
            nw = len(c.starts)
            emb, mask = np.asarray(c.emb, np.float32), np.asarray(c.mask, bool)
            if emb.shape != (nw, p, dim) or mask.shape != (nw, p) or np.asarray(c.pooled).shape != (nw, dim):
                raise InvalidInputError(
                    f"clip {c.meta.id!r}: embeddings {emb.shape} / mask {mask.shape} do not match the index "
                    f"(windows={nw}, P={p}, D={dim})"
                )
            if nw == 0 or not mask.any(axis=1).all() or not np.isfinite(emb[mask]).all():
                raise InvalidInputError(
                    f"clip {c.meta.id!r}: no windows, an empty window or non-finite embeddings"
                )
            nv = mask.sum(axis=1)
            offs = n_patch + np.concatenate([[0], np.cumsum(nv)[:-1]])
            win_rows.append(np.stack([np.full(nw, row), c.starts, c.lengths, offs, nv], axis=1))
            masks.append(mask)
            pooled.append(np.asarray(c.pooled, np.float32))
            patches.append(emb[mask])
            n_patch += int(nv.sum())
            j = np.asarray(c.joints, np.float32)
            joints.append(j)
            records.append(
                ClipRecord(
                    c.meta,
                    c.meta.captions[0] if c.meta.captions else "",
                    name,
                    row,
                    f"{SEGMENTS_DIR}/{name}/joints.npy",
                    n_frames,
                    int(j.shape[0]),
                )
            )
            n_frames += int(j.shape[0])
        arrays = {
            "windows": np.concatenate(win_rows).astype(np.int64),
            "masks": np.concatenate(masks),
            "pooled": np.concatenate(pooled).astype(np.float16),
            **self._codec.encode(np.concatenate(patches)),
            "joints": np.concatenate(joints).astype(np.float32),
        }
        info = SegmentInfo(name, len(clips), int(arrays["windows"].shape[0]), n_patch)
        return arrays, records, info

    def _pack_from_index(
        self, name: str, live: MotionIndex
    ) -> tuple[dict[str, np.ndarray], list[ClipRecord], SegmentInfo]:
        win_rows, masks, pooled, joints, records = [], [], [], [], []
        codes: dict[str, list[np.ndarray]] = {n: [] for n in self._codec.array_names()}
        segs = {s.name: s for s in live._segments}
        n_patch = n_frames = 0
        for row, rec in enumerate(live.clips):
            seg = segs[rec.segment]
            loc = np.nonzero(seg.windows[:, 0] == rec.row)[0]
            w = seg.windows[loc].copy()
            flat = np.concatenate([np.arange(o, o + n) for o, n in zip(w[:, 3], w[:, 4])])
            for n, arr in seg.codes.items():
                codes[n].append(np.asarray(arr[flat]))
            w[:, 0] = row
            w[:, 3] = n_patch + np.concatenate([[0], np.cumsum(w[:, 4])[:-1]])
            n_patch += int(w[:, 4].sum())
            win_rows.append(w)
            masks.append(np.asarray(seg.masks[loc]))
            pooled.append(np.asarray(seg.pooled[loc]))
            j = live.joints(rec.id)
            joints.append(j)
            records.append(
                replace(
                    rec,
                    segment=name,
                    row=row,
                    joints_path=f"{SEGMENTS_DIR}/{name}/joints.npy",
                    joints_offset=n_frames,
                )
            )
            n_frames += int(j.shape[0])
        arrays = {
            "windows": np.concatenate(win_rows).astype(np.int64),
            "masks": np.concatenate(masks),
            "pooled": np.concatenate(pooled).astype(np.float16),
            **{n: np.concatenate(v) for n, v in codes.items()},
            "joints": np.concatenate(joints).astype(np.float32),
        }
        return arrays, records, SegmentInfo(name, len(records), int(arrays["windows"].shape[0]), n_patch)
