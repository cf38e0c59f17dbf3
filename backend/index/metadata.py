"""Clip metadata in ``INDEX/clips.sqlite``: one row per (segment, clip row).

Rows are written in one transaction per segment before the manifest that lists the segment is switched
in; readers only load rows of segments the manifest lists (minus tombstones), so rows of a segment whose
commit never happened are invisible until the next writer deletes them.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from backend.errors import IndexError_
from backend.motion.clip import ClipMeta

__all__ = ["ClipRecord", "connect", "delete_segments", "insert_records", "load_records", "segments_in_db"]

_SCHEMA = """
CREATE TABLE IF NOT EXISTS clips (
    segment TEXT NOT NULL,
    row INTEGER NOT NULL,
    id TEXT NOT NULL,
    source TEXT NOT NULL DEFAULT '',
    dataset TEXT NOT NULL DEFAULT '',
    licence TEXT NOT NULL DEFAULT '',
    fps_orig REAL NOT NULL DEFAULT 0,
    duration REAL NOT NULL DEFAULT 0,
    caption TEXT NOT NULL DEFAULT '',
    captions TEXT NOT NULL DEFAULT '[]',
    labels TEXT NOT NULL DEFAULT '{}',
    performer TEXT NOT NULL DEFAULT '',
    split TEXT NOT NULL DEFAULT '',
    joints_path TEXT NOT NULL,
    joints_offset INTEGER NOT NULL,
    num_frames INTEGER NOT NULL,
    PRIMARY KEY (segment, row)
);
"""


@dataclass
class ClipRecord:
    """One indexed clip.

    Attributes:
        meta: the clip's :class:`ClipMeta` (id, source, dataset, licence, duration, captions, ...).
        caption: the display caption (first caption, or ``""``).
        segment: name of the segment holding its embeddings.
        row: row of the clip within that segment.
        joints_path: path of the segment's joints file, relative to the index folder.
        joints_offset: first frame of this clip in that file.
        num_frames: canonical frames (20 fps).
    """

    meta: ClipMeta
    caption: str
    segment: str
    row: int
    joints_path: str
    joints_offset: int
    num_frames: int

    @property
    def id(self) -> str:
        return self.meta.id

    @property
    def duration(self) -> float:
        return float(self.meta.duration)

    @property
    def key(self) -> str:
        """``"<segment>/<id>"``, the unit tombstones refer to."""
        return f"{self.segment}/{self.meta.id}"


def connect(index_dir: Path | str) -> sqlite3.Connection:
    """Open (creating if needed) the metadata database of an index folder."""
    path = Path(index_dir) / "clips.sqlite"
    try:
        con = sqlite3.connect(path, timeout=60.0)
        con.execute(_SCHEMA)
        con.commit()
    except sqlite3.Error as exc:
        raise IndexError_(f"{path}: cannot open clip metadata ({exc})") from exc
    return con


def insert_records(con: sqlite3.Connection, records: list[ClipRecord]) -> None:
    """Insert rows in one transaction (replacing rows with the same (segment, row))."""
    rows = [
        (
            r.segment,
            r.row,
            r.meta.id,
            r.meta.source,
            r.meta.dataset,
            r.meta.licence,
            float(r.meta.fps_orig),
            float(r.meta.duration),
            r.caption,
            json.dumps(list(r.meta.captions)),
            json.dumps(dict(r.meta.labels)),
            r.meta.performer,
            r.meta.split,
            r.joints_path,
            int(r.joints_offset),
            int(r.num_frames),
        )
        for r in records
    ]
    with con:
        con.executemany("INSERT OR REPLACE INTO clips VALUES (" + ",".join("?" * 16) + ")", rows)


def load_records(con: sqlite3.Connection, segments: list[str]) -> dict[str, list[ClipRecord]]:
    """Rows of the given segments, per segment, ordered by row."""
    out: dict[str, list[ClipRecord]] = {s: [] for s in segments}
    if not segments:
        return out
    marks = ",".join("?" * len(segments))
    cur = con.execute(
        "SELECT segment, row, id, source, dataset, licence, fps_orig, duration, caption, captions, labels, "
        f"performer, split, joints_path, joints_offset, num_frames FROM clips WHERE segment IN ({marks}) "
        "ORDER BY segment, row",
        segments,
    )
    for seg, row, cid, src, ds, lic, fps, dur, cap, caps, labels, perf, split, jp, jo, nf in cur:
        meta = ClipMeta(
            id=cid,
            source=src,
            dataset=ds,
            licence=lic,
            fps_orig=fps,
            duration=dur,
            labels=json.loads(labels),
            captions=json.loads(caps),
            performer=perf,
            split=split,
        )
        out[seg].append(ClipRecord(meta, cap, seg, int(row), jp, int(jo), int(nf)))
    return out


def segments_in_db(con: sqlite3.Connection) -> set[str]:
    """Every segment name that has rows."""
    return {r[0] for r in con.execute("SELECT DISTINCT segment FROM clips")}


def delete_segments(con: sqlite3.Connection, segments: set[str] | list[str]) -> None:
    """Delete all rows of the given segments (one transaction)."""
    segs = list(segments)
    if not segs:
        return
    with con:
        con.executemany("DELETE FROM clips WHERE segment = ?", [(s,) for s in segs])
