"""``python -m backend data build-library``: every clip of every fetched source -> one library folder.

Per clip: BVH or ASF/AMC -> canonical joints (:func:`backend.motion.convert.file_to_clip`), plus labels, captions
(:mod:`backend.library.captions`), performer group and split (:mod:`backend.library.splits`). Conversion runs
in a process pool; a clip that fails is skipped with its file and reason, the rest goes on, and the skipped
list is printed at the end and stored in ``library.json``. Long clips (ReActIdle's minutes-long idles) stay
whole: the index windows them, and training datasets crop windows of the model's length at load time, so the
library keeps the original takes and never duplicates frames. A CMU trial that several sources hold (other
conversions of the same take) is built once (:func:`backend.library.plan.dedupe_trials`); the copies left out
are listed as ``duplicates`` in the report and in ``library.json``.
"""

from __future__ import annotations

import logging
import multiprocessing
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from backend.errors import DatasetError, MotionSearchError
from backend.library.plan import ClipTask, TextTables, dedupe_trials, load_text_tables, plan_source
from backend.library.sources import MOTION_SOURCES, get_source
from backend.motion.clip import CANONICAL_FPS

__all__ = ["PLAN_VERSION", "BuildReport", "build_library", "convert_task"]

#: bumped when the clips a build makes change (v2: HDM05, cgspeed and Daz CMU, one clip per CMU trial); a
#: cached library of another version is rebuilt by the main job
PLAN_VERSION = 2

log = logging.getLogger(__name__)


@dataclass
class BuildReport:
    """Outcome of a library build.

    Attributes:
        out: the library folder.
        num_clips: clips written.
        per_source: clips written per source.
        frames_per_source: canonical (20 fps) frames written per source.
        skipped: ``{"file", "reason"}`` per skipped clip (paths relative to ``sources``).
        duplicates: ``{"file", "kept"}`` per copy of a CMU trial left out in favour of another source's.
        seconds: wall time of planning + conversion + writing.
        workers: worker processes used.
    """

    out: Path
    num_clips: int = 0
    per_source: dict[str, int] = field(default_factory=dict)
    frames_per_source: dict[str, int] = field(default_factory=dict)
    skipped: list[dict[str, str]] = field(default_factory=list)
    duplicates: list[dict[str, str]] = field(default_factory=list)
    seconds: float = 0.0
    workers: int = 1

    @property
    def clips_per_second(self) -> float:
        """Throughput over the whole build."""
        return self.num_clips / self.seconds if self.seconds > 0 else 0.0

    def summary(self) -> str:
        """Human-readable multi-line summary (counts, throughput, skipped clips and why)."""
        lines = [
            (
                f"library: {self.out} ({self.num_clips} clips, {self.seconds:.1f} s, "
                f"{self.clips_per_second:.1f} clips/s, {self.workers} worker(s))"
            )
        ]
        lines += [f"  {name}: {count} clips" for name, count in self.per_source.items()]
        lines.append(f"duplicate takes left out: {len(self.duplicates)} (one clip per CMU trial)")
        lines.append(f"skipped: {len(self.skipped)}")
        lines += [f"  {s['file']}: {s['reason']}" for s in self.skipped]
        return "\n".join(lines)


def _short(reason: str, task: ClipTask) -> str:
    """The reason with the absolute path shortened to the file name (the skip record names the file)."""
    return reason.replace(task.path, Path(task.path).name)


def convert_task(task: ClipTask) -> tuple[ClipTask, object, str]:
    """Convert one planned clip (runs in a worker process).

    Returns:
        ``(task, clip, "")`` on success, ``(task, None, reason)`` when the clip must be skipped; the reason
        names the problem (the task carries the file).
    """
    from backend.motion.convert import file_to_clip

    try:
        clip = file_to_clip(
            task.path, clip_id=task.clip_id, dataset=task.dataset, source=task.source, licence=task.licence
        )
    except MotionSearchError as exc:
        return task, None, _short(str(exc), task)
    except Exception as exc:  # one broken clip must not stop a 3,000-clip build; it is reported
        log.debug("unexpected error converting %s", task.path, exc_info=True)
        return task, None, _short(f"unexpected {type(exc).__name__}: {exc}", task)
    clip.meta.labels = dict(task.labels)
    clip.meta.captions = list(task.captions)
    clip.meta.performer = task.performer
    clip.meta.split = task.split
    return task, clip, ""


def _resolve_sources(sources_dir: Path, only: Sequence[str] | None) -> list[str]:
    names = list(only) if only else list(MOTION_SOURCES)
    for name in names:
        if get_source(name).kind != "motion":
            raise DatasetError(f"{name}: holds no motion clips; choose among {', '.join(MOTION_SOURCES)}")
    missing = [n for n in names if not (sources_dir / n).is_dir()]
    if missing:
        raise DatasetError(
            f"{sources_dir}: missing source folder(s) {missing}; run `python -m backend data fetch "
            f"--dest {sources_dir}` first (or pass --only for the ones you have)"
        )
    return names


def build_library(
    sources_dir: str | Path,
    out: str | Path,
    *,
    only: Sequence[str] | None = None,
    limit: int | None = None,
    workers: int = 2,
    progress: bool = True,
) -> BuildReport:
    """Build a library folder from fetched sources.

    Args:
        sources_dir: folder with the fetched sources (``<dest>`` of ``data fetch``: ``<name>/`` folders).
        out: library folder to write (replaced atomically when the build completes).
        only: source names to include (default: every motion source).
        limit: at most this many clips per source, evenly spaced over its sorted file list (quick builds).
        workers: conversion processes (``1`` converts in this process).
        progress: show a tqdm progress bar.

    Returns:
        A :class:`BuildReport`.

    Raises:
        DatasetError: a requested source folder is missing, or its label files are unreadable.
        InvalidInputError: an unknown source name.
    """
    from tqdm import tqdm

    from backend.motion.io.library import LibraryWriter

    start = time.perf_counter()
    sources_dir, out = Path(sources_dir), Path(out)
    names = _resolve_sources(sources_dir, only)
    tables: TextTables = load_text_tables(sources_dir, needs_cmu=any(n.startswith("cmu") for n in names))
    tasks: list[ClipTask] = []
    skipped: list[dict[str, str]] = []
    for name in names:
        planned, missing = plan_source(name, sources_dir / name, tables, limit=limit)
        tasks += planned
        skipped += missing
    tasks, duplicates = dedupe_trials(tasks)
    report = BuildReport(out=out, workers=max(1, int(workers)), duplicates=duplicates)
    counts: Counter[str] = Counter()
    frames: Counter[str] = Counter()
    with LibraryWriter(out) as writer:
        bar = tqdm(total=len(tasks), desc="build-library", unit="clip", disable=not progress)
        for task, clip, reason in _run(tasks, report.workers):
            bar.update(1)
            if clip is None:
                skipped.append({"file": f"{task.dataset}/{task.source}", "reason": reason})
                continue
            writer.add(clip)
            counts[task.dataset] += 1
            frames[task.dataset] += clip.num_frames
        bar.close()
        skipped.sort(key=lambda s: s["file"])
        report.per_source = {n: counts.get(n, 0) for n in names}
        report.frames_per_source = {n: frames.get(n, 0) for n in names}
        report.skipped = skipped
        report.num_clips = sum(counts.values())
        sources = {
            n: {**get_source(n).to_dict(), "clips": counts.get(n, 0), "frames": frames.get(n, 0)}
            for n in names
        }
        for n in ("cmu-index", "kitml-annotations"):
            if n in tables.used:
                sources[n] = {**get_source(n).to_dict(), "used_for": "captions"}
        report.seconds = time.perf_counter() - start
        writer.close(
            skipped=skipped,
            sources=sources,
            extra={
                "plan_version": PLAN_VERSION,
                "duplicates": duplicates,
                "build": {
                    "seconds": round(report.seconds, 2),
                    "clips_per_second": round(report.clips_per_second, 2),
                    "workers": report.workers,
                    "limit": limit,
                },
                "splits": "train/val/test by performer or take; rule in backend/library/splits.py",
                "fps": int(CANONICAL_FPS),
                "joints": "SMPL-22 (HumanML3D order), metres, Y up",
            },
        )
    return report


def _run(tasks: list[ClipTask], workers: int):
    """Yield ``convert_task`` results (unordered with a pool)."""
    if workers <= 1 or len(tasks) < 2:
        for task in tasks:
            yield convert_task(task)
        return
    context = multiprocessing.get_context(
        "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    )
    with context.Pool(processes=workers) as pool:
        yield from pool.imap_unordered(convert_task, tasks, chunksize=4)
