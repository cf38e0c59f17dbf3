"""MotionIndex: a read-only, memory-mapped view of one committed generation of an index folder.

Opening reads the manifest, memory-maps every live segment's arrays (:mod:`backend.index.segments`), loads
the metadata rows of live segments and drops tombstoned clips. If a writer commits (or garbage-collects)
while a reader is opening, the reader notices the generation change and retries, so it always sees one
consistent generation. Writes go through :mod:`backend.index.writer`.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from backend.errors import IndexError_, IndexMismatchError, NotFoundError
from backend.index.captions import check_caption_bank
from backend.index.codecs import Codec
from backend.index.format import SEGMENTS_DIR, IndexHeader, read_header
from backend.index.metadata import ClipRecord, connect, load_records
from backend.index.segments import SegmentArrays, load_codec, load_segment, read_tombstones

if TYPE_CHECKING:
    from backend.index.captions import CaptionBank

__all__ = ["MotionIndex"]


class MotionIndex:
    """One consistent generation of an index folder, memory-mapped.

    Attributes:
        path: the index folder.
        header: its manifest.
        clips: live clips, in segment order.
        window_clip: ``(Nw,)`` int64 clip position (into :attr:`clips`) of every live window.
        window_start: ``(Nw,)`` int64 first frame of every live window within its clip.
        window_length: ``(Nw,)`` int64 real frames of every live window.
    """

    def __init__(
        self,
        path: Path,
        header: IndexHeader,
        segments: list[SegmentArrays],
        tombstones: set[str],
        records: dict[str, list[ClipRecord]],
        codec: Codec,
    ) -> None:
        self.path = path
        self.header = header
        self.codec = codec
        self._segments = segments
        self.clips: list[ClipRecord] = []
        wclip, wseg, wloc = [], [], []
        for s_i, seg in enumerate(segments):
            recs = records[seg.name]
            if len(recs) != header.segments[s_i].num_clips:
                raise IndexError_(
                    f"{path}: segment {seg.name} has {len(recs)} metadata rows, manifest says "
                    f"{header.segments[s_i].num_clips}"
                )
            row_to_clip = np.full(len(recs), -1, dtype=np.int64)
            for r in recs:
                if r.key not in tombstones:
                    row_to_clip[r.row] = len(self.clips)
                    self.clips.append(r)
            if len(seg.windows):
                gc = row_to_clip[seg.windows[:, 0]]
                live = np.nonzero(gc >= 0)[0]
                wclip.append(gc[live])
                wseg.append(np.full(len(live), s_i, dtype=np.int64))
                wloc.append(live.astype(np.int64))
        cat = lambda xs: np.concatenate(xs) if xs else np.zeros(0, dtype=np.int64)
        self.window_clip, self._wseg, self._wloc = cat(wclip), cat(wseg), cat(wloc)
        self.window_start = np.zeros(len(self._wloc), dtype=np.int64)
        self.window_length = np.zeros(len(self._wloc), dtype=np.int64)
        for s_i, seg in enumerate(segments):
            sel = self._wseg == s_i
            self.window_start[sel] = seg.windows[self._wloc[sel], 1]
            self.window_length[sel] = seg.windows[self._wloc[sel], 2]
        #: why the caption bank cannot be used (set by :meth:`open`), ``None`` when it is sound
        self.caption_problem: str | None = None
        self._by_id = {r.id: i for i, r in enumerate(self.clips)}
        if len(self._by_id) != len(self.clips):
            raise IndexError_(f"{path}: duplicate live clip ids")
        order = np.argsort(self.window_clip, kind="stable")
        self._clip_win_order = order
        self._clip_win_bounds = np.searchsorted(self.window_clip[order], np.arange(len(self.clips) + 1))

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls, path: Path | str, *, expected_checksum: str | None = None, retries: int = 20
    ) -> MotionIndex:
        """Open the current generation of an index folder.

        Args:
            path: index folder.
            expected_checksum: the serving model's ``checksum()``; a different one in the header raises.
            retries: how often to retry when a writer commits while opening.

        Raises:
            IndexError_: not an index / inconsistent files (names the file).
            IndexMismatchError: the index was built by another checkpoint (names both checksums).
        """
        path = Path(path)
        last_exc: Exception | None = None
        for attempt in range(retries):
            header = read_header(path)
            if expected_checksum is not None and header.model_checksum != expected_checksum:
                raise IndexMismatchError(
                    f"index {path} was built by model checksum {header.model_checksum}, but the loaded model "
                    f"has checksum {expected_checksum}; rebuild the index with this checkpoint"
                )
            try:
                index = cls._load(path, header)
            except IndexError_ as exc:
                if read_header(path).generation == header.generation:
                    raise  # a real inconsistency, not a concurrent commit
                last_exc = exc
            else:
                if read_header(path).generation == header.generation:
                    return index
            time.sleep(0.01 * (attempt + 1))
        raise IndexError_(f"{path}: the index kept changing while opening ({last_exc})")

    @classmethod
    def _load(cls, path: Path, header: IndexHeader) -> MotionIndex:
        codec = load_codec(path, header)
        segments = [load_segment(path, info, header, codec) for info in header.segments]
        tombstones = read_tombstones(path, header.tombstones)
        con = connect(path)
        try:
            records = load_records(con, [s.name for s in header.segments])
        finally:
            con.close()
        index = cls(path, header, segments, tombstones, records, codec)
        index.caption_problem = check_caption_bank(
            path, header.caption_parts, header.caption_files, header.embed_dim
        )
        return index

    def check_model(self, checksum: str) -> None:
        """Raise :class:`IndexMismatchError` unless ``checksum`` is the one that built this index."""
        if checksum != self.header.model_checksum:
            raise IndexMismatchError(
                f"index {self.path} was built by model checksum {self.header.model_checksum}, but the loaded "
                f"model has checksum {checksum}; rebuild the index with this checkpoint"
            )

    # ------------------------------------------------------------------ clips
    def __len__(self) -> int:
        return len(self.clips)

    def __contains__(self, clip_id: object) -> bool:
        return clip_id in self._by_id

    @property
    def ids(self) -> list[str]:
        """Live clip ids, in index order."""
        return [r.id for r in self.clips]

    @property
    def num_windows(self) -> int:
        return len(self.window_clip)

    def position(self, clip_id: str) -> int:
        """Position of a clip in :attr:`clips`; raises :class:`NotFoundError` naming the id."""
        try:
            return self._by_id[clip_id]
        except KeyError:
            raise NotFoundError(f"unknown clip id {clip_id!r} in index {self.path}") from None

    def record(self, clip_id: str) -> ClipRecord:
        """Metadata of one clip (raises :class:`NotFoundError`)."""
        return self.clips[self.position(clip_id)]

    def joints(self, clip_id: str) -> np.ndarray:
        """``(T, 22, 3)`` float32 canonical joints of a clip (a copy)."""
        rec = self.record(clip_id)
        seg = self._segments[[s.name for s in self._segments].index(rec.segment)]
        out = np.array(seg.joints[rec.joints_offset : rec.joints_offset + rec.num_frames], dtype=np.float32)
        if out.shape[0] != rec.num_frames:
            raise IndexError_(f"{self.path / rec.joints_path}: clip {clip_id!r} frames out of range")
        return out

    def clip_windows(self, position: int) -> np.ndarray:
        """Window rows (into the ``window_*`` arrays) of the clip at ``position``, in time order."""
        a, b = self._clip_win_bounds[position], self._clip_win_bounds[position + 1]
        rows = self._clip_win_order[a:b]
        return rows[np.argsort(self.window_start[rows], kind="stable")]

    # ------------------------------------------------------------------ embeddings
    def pooled(self) -> np.ndarray:
        """``(Nw, D)`` float32 pooled vector of every live window."""
        out = np.empty((self.num_windows, self.header.embed_dim), dtype=np.float32)
        for s_i, seg in enumerate(self._segments):
            sel = np.nonzero(self._wseg == s_i)[0]
            out[sel] = seg.pooled[self._wloc[sel]]
        return out

    def segment_windows(self) -> list[tuple[str, np.ndarray, np.ndarray]]:
        """Per live segment: ``(name, rows, local)``: its live windows' rows (into the ``window_*``
        arrays) and their positions in the segment's own window table, both ``(n,)`` int64, ascending."""
        out = []
        for s_i, seg in enumerate(self._segments):
            rows = np.nonzero(self._wseg == s_i)[0]
            out.append((seg.name, rows, self._wloc[rows]))
        return out

    def masks(self) -> np.ndarray:
        """``(Nw, P)`` bool scoring mask of every live window (no decoding)."""
        out = np.zeros((self.num_windows, self.header.num_patches), dtype=bool)
        for s_i, seg in enumerate(self._segments):
            sel = np.nonzero(self._wseg == s_i)[0]
            out[sel] = seg.masks[self._wloc[sel]]
        return out

    def _segment_runs(
        self, rows: np.ndarray
    ) -> Iterator[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]:
        """Per segment holding some of ``rows``: ``(pos, mask (n, P), {array: its valid patches' rows})``."""
        seg_of = self._wseg[rows]
        for s_i in np.unique(seg_of):
            seg = self._segments[int(s_i)]
            pos = np.nonzero(seg_of == s_i)[0]
            loc = self._wloc[rows[pos]]
            offs, lens = seg.windows[loc, 3], seg.windows[loc, 4]
            flat = np.repeat(offs - np.concatenate([[0], np.cumsum(lens)[:-1]]), lens) + np.arange(lens.sum())
            yield pos, np.asarray(seg.masks[loc]), {n: np.asarray(a[flat]) for n, a in seg.codes.items()}

    def window_patches(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Decode the patches of some live windows.

        Args:
            rows: ``(n,)`` window rows.

        Returns:
            ``emb (n, P, D)`` float32 (zeros at padding patches) and ``mask (n, P)`` bool.
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        p, dim = self.header.num_patches, self.header.embed_dim
        emb = np.empty((len(rows), p, dim), dtype=np.float32)  # all written below (np.zeros: ~4x the decode)
        mask = np.zeros((len(rows), p), dtype=bool)
        for pos, m, codes in self._segment_runs(rows):
            mask[pos] = m
            if pos[-1] - pos[0] + 1 == len(pos):  # a run of the answer's rows (sorted rows): decoded in place
                target = emb[pos[0] : pos[-1] + 1]
                if m.all():
                    self.codec.decode(codes, out=target.reshape(-1, dim))
                else:
                    target[~m] = 0.0
                    target[m] = self.codec.decode(codes)
            else:
                block = np.zeros((len(pos), p, dim), dtype=np.float32)
                block[m] = self.codec.decode(codes)
                emb[pos] = block
        return emb, mask

    def window_codes(self, rows: np.ndarray) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """The stored codec arrays of some live windows' patches, undecoded (e.g. int8 codes and scales).

        Returns: ``{name: (n, P, ...)}`` (zeros at padding patches) and ``mask (n, P)`` bool.
        """
        rows = np.asarray(rows, dtype=np.int64).reshape(-1)
        p, out = self.header.num_patches, {}
        mask = np.zeros((len(rows), p), dtype=bool)
        for pos, m, codes in self._segment_runs(rows):
            mask[pos] = m
            run = pos[-1] - pos[0] + 1 == len(pos)
            for name, a in codes.items():
                if name not in out:  # every row is written below (np.empty: no zeroed pages to fault in)
                    out[name] = np.empty((len(rows), p, *a.shape[1:]), dtype=a.dtype)
                if run and m.all():
                    out[name][pos[0] : pos[-1] + 1].reshape(a.shape)[...] = a
                else:
                    block = np.zeros((len(pos), p, *a.shape[1:]), dtype=a.dtype)
                    block[m] = a
                    out[name][pos] = block
        return out, mask

    def iter_decoded(self, chunk: int = 2048) -> Iterator[tuple[int, np.ndarray, np.ndarray]]:
        """Yield ``(first_row, emb (n, P, D) float32, mask (n, P))`` over all live windows in row order."""
        for a in range(0, self.num_windows, chunk):
            emb, mask = self.window_patches(np.arange(a, min(a + chunk, self.num_windows)))
            yield a, emb, mask

    # ------------------------------------------------------------------ checks
    def verify(self) -> None:
        """Full consistency check: every clip has windows, embeddings decode finite, joints load.

        Raises:
            IndexError_: naming the first inconsistency.
        """
        for pos, rec in enumerate(self.clips):
            rows = self.clip_windows(pos)
            if not len(rows):
                raise IndexError_(f"{self.path}: clip {rec.id!r} has no windows")
            emb, mask = self.window_patches(rows)
            if not mask.any(axis=1).all() or not np.isfinite(emb).all():
                raise IndexError_(f"{self.path}: clip {rec.id!r} has empty or non-finite embeddings")
            if self.joints(rec.id).shape != (rec.num_frames, 22, 3):
                raise IndexError_(f"{self.path}: clip {rec.id!r} joints have the wrong shape")

    def disk_bytes(self) -> dict[str, int]:
        """Bytes on disk of live segments per array kind (``patches``/``scales``/``codes``/``pooled``/...)."""
        out: dict[str, int] = {}
        for info in self.header.segments:
            for f in (self.path / SEGMENTS_DIR / info.name).glob("*.npy"):
                out[f.stem] = out.get(f.stem, 0) + f.stat().st_size
        return out

    def caption_bank(self) -> CaptionBank:
        """The caption bank (texts + token embeddings) listed in the manifest."""
        from backend.index.captions import load_caption_bank

        return load_caption_bank(self.path, self.header.caption_parts, self.header.embed_dim)
