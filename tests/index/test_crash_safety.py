"""Crash safety of index writes: a writer process SIGKILLed at any moment leaves an index that opens as
either the previous or the new generation (never a mix): the clip count matches, every clip's embeddings
and joints load, no half-written clip or caption is visible; the next writer cleans up the leftovers.

Kills happen at every named step of add / remove / compact (``MOTION_SEARCH_INDEX_PAUSE`` makes the writer
pause and announce each step), after random delays, and in the real ``python -m backend index add`` CLI."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from backend.index.metadata import connect, segments_in_db
from backend.index.store import MotionIndex
from backend.index.writer import IndexWriter

REPO = Path(__file__).resolve().parents[2]
PROC = Path(__file__).with_name("_writer_proc.py")
ADD_POINTS = [
    "segment-partial",
    "segment-renamed",
    "metadata-committed",
    "captions-partial",
    "captions-written",
    "before-manifest",
    "after-manifest",
]


def _env(pause: float | None) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env.pop("MOTION_SEARCH_INDEX_PAUSE", None)
    if pause is not None:
        env["MOTION_SEARCH_INDEX_PAUSE"] = str(pause)
    return env


def _kill_at(cmd: list[str], point: str, timeout: float = 180.0) -> None:
    """Run ``cmd`` with pauses and SIGKILL it when it announces ``point``."""
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=_env(0.2), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    seen = []
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.startswith("crash-point "):
            seen.append(line.split()[1])
            if seen[-1] == point:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=timeout)
    assert proc.returncode == -signal.SIGKILL, f"never reached {point!r} (saw {seen}, rc {proc.returncode})"


def _state(path: Path) -> tuple[frozenset[str], frozenset[str]]:
    """(ids, caption texts) of a consistent index, after a full consistency check."""
    index = MotionIndex.open(path)
    index.verify()  # every clip has windows whose embeddings decode and joints that load
    assert len(index) == len(set(index.ids)) == len(index.clips)
    assert index.num_windows == sum(len(index.clip_windows(i)) for i in range(len(index)))
    return frozenset(index.ids), frozenset(index.caption_bank().texts)


def _assert_clean_after_next_write(path: Path) -> None:
    """A following write succeeds and leaves only files and rows the manifest lists."""
    with IndexWriter(path) as w:
        w.remove([MotionIndex.open(path).ids[0]])
        h = w.header
    assert h is not None
    assert sorted(p.name for p in (path / "segments").iterdir()) == sorted(s.name for s in h.segments)
    assert sorted(p.name for p in (path / "captions").iterdir()) == sorted(h.caption_parts)
    assert sorted(p.stem for p in (path / "tombstones").iterdir()) == sorted(h.tombstones)
    con = connect(path)
    try:
        assert segments_in_db(con) == {s.name for s in h.segments}
    finally:
        con.close()
    _state(path)


@pytest.fixture(scope="module")
def new_clips_npz(tmp_path_factory: pytest.TempPathFactory, built_index: Path) -> Path:
    """Two encoded clips (taken from the test index under new ids) for the writer process."""
    index = MotionIndex.open(built_index)
    arrays: dict[str, np.ndarray] = {"n": np.array(2)}
    for i, cid in enumerate(["dataset-1_kick_normal_001", "dataset-1_bow_active_001"]):
        pos = index.position(cid)
        rows = index.clip_windows(pos)
        emb, mask = index.window_patches(rows)
        p = f"c{i}_"
        arrays.update(
            {
                p + "id": np.array(f"new_{i}"),
                p + "caption": np.array(f"new caption {i}"),
                p + "joints": index.joints(cid),
                p + "starts": index.window_start[rows],
                p + "lengths": index.window_length[rows],
                p + "emb": emb,
                p + "mask": mask,
                p + "pooled": index.pooled()[rows],
            }
        )
    path = tmp_path_factory.mktemp("npz") / "clips.npz"
    np.savez(path, **arrays)
    return path


@pytest.mark.parametrize("point", ADD_POINTS)
def test_kill_add_at_each_step(index_copy: Path, new_clips_npz: Path, point: str) -> None:
    old = _state(index_copy)
    _kill_at([sys.executable, str(PROC), str(index_copy), "add", str(new_clips_npz)], point)
    ids, caps = _state(index_copy)
    if point == "after-manifest":
        assert ids == old[0] | {"new_0", "new_1"}
        assert caps == old[1] | {"crash test caption new_0", "crash test caption new_1"}
    else:
        assert (ids, caps) == old
    _assert_clean_after_next_write(index_copy)


@pytest.mark.parametrize(
    "op, point",
    [
        ("remove", "tombstone-written"),
        ("remove", "before-manifest"),
        ("remove", "after-manifest"),
        ("compact", "segment-partial"),
        ("compact", "segment-renamed"),
        ("compact", "before-manifest"),
        ("compact", "after-manifest"),
    ],
)
def test_kill_remove_and_compact(index_copy: Path, op: str, point: str) -> None:
    with IndexWriter(index_copy) as w:  # give compaction a tombstone to drop
        w.remove(["dataset-1_punch_normal_001"])
    old = _state(index_copy)
    gone = "dataset-1_kick_normal_001"
    args = ["remove", gone] if op == "remove" else ["compact"]
    _kill_at([sys.executable, str(PROC), str(index_copy), *args], point)
    ids, caps = _state(index_copy)
    assert caps == old[1]
    if op == "remove" and point == "after-manifest":
        assert ids == old[0] - {gone}
    else:
        assert ids == old[0]
    _assert_clean_after_next_write(index_copy)


def _start_writing(cmd: list[str]) -> subprocess.Popen:
    """Start the writer process and return once it has imported everything and begins writing."""
    proc = subprocess.Popen(
        cmd, cwd=REPO, env=_env(None), stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "writing"
    return proc


def test_kill_after_random_delays(index_copy: Path, new_clips_npz: Path) -> None:
    cmd = [sys.executable, str(PROC), str(index_copy), "add", str(new_clips_npz)]
    proc = _start_writing(cmd)
    t0 = time.perf_counter()
    proc.wait(timeout=60)
    write_time = time.perf_counter() - t0
    with IndexWriter(index_copy) as w:
        w.remove(["new_0", "new_1"])
    rng = random.Random(0)
    for _ in range(8):
        old = _state(index_copy)
        proc = _start_writing(cmd)
        time.sleep(rng.uniform(0.0, 1.2) * write_time)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        ids, _ = _state(index_copy)
        assert ids in (old[0], old[0] | {"new_0", "new_1"})
        if "new_0" in ids:
            with IndexWriter(index_copy) as w:
                w.remove(["new_0", "new_1"])
    _assert_clean_after_next_write(index_copy)


def test_kill_cli_index_add(index_copy: Path, extra_bvh: list[Path]) -> None:
    """The real ``python -m backend index add`` (model loaded from the checkpoint the header records), killed
    after its segment, metadata rows and caption part are on disk but before the manifest switch."""
    old = _state(index_copy)
    cmd = [sys.executable, "-m", "backend", "index", "add", "--index", str(index_copy), str(extra_bvh[0])]
    _kill_at(cmd, "before-manifest")
    assert _state(index_copy) == old
    _assert_clean_after_next_write(index_copy)
