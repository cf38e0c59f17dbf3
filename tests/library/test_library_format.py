"""Contract of the library folder (``backend.motion.io.library``).

* What :class:`LibraryWriter` writes, :class:`Library` reads back unchanged (joints bit-exact, metadata equal).
* Nothing half-written: a build killed with SIGKILL leaves the target untouched and every ``.npy`` under its
  final name complete; the next writer cleans up.
* ``add_clip`` / ``remove_clip`` edit a library in place.
* Errors name the folder, file (and line) or id.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from backend.errors import DatasetError, InvalidInputError, MotionDataError, NotFoundError
from backend.motion.clip import Clip, ClipMeta
from backend.motion.convert import bvh_to_clip
from backend.motion.io.library import Library, LibraryWriter, add_clip, remove_clip

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def real_clip(cmu_samples: Path) -> Clip:
    clip = bvh_to_clip(cmu_samples / "TMoCo/InverseKinematics/bvh/02_01.bvh", clip_id="cmusamples_02_01",
                       dataset="cmu-bvh-samples", source="TMoCo/InverseKinematics/bvh/02_01.bvh", licence="CMU")  # fmt: skip
    clip.meta.labels = {"trial": "02_01", "description": "walk"}
    clip.meta.captions = ["walk", "a person walks"]
    clip.meta.performer, clip.meta.split = "cmu:02", "test"
    return clip


def _variant(clip: Clip, clip_id: str, split: str) -> Clip:
    meta = ClipMeta.from_dict({**clip.meta.to_dict(), "id": clip_id, "split": split})
    return Clip(joints=clip.joints[::2].copy(), meta=meta)


def test_round_trip(real_clip: Clip, tmp_path: Path):
    out = tmp_path / "lib"
    with LibraryWriter(out) as writer:
        writer.add(real_clip)
        writer.add(_variant(real_clip, "b_clip", "train"))
        assert not out.exists()  # nothing visible before close
    lib = Library.open(out)
    assert lib.ids == ["b_clip", "cmusamples_02_01"] and len(lib) == 2 and "b_clip" in lib
    assert lib.meta("cmusamples_02_01") == real_clip.meta
    np.testing.assert_array_equal(lib.joints("cmusamples_02_01"), real_clip.joints)
    assert lib.joints("b_clip", mmap=True).shape == (len(real_clip.joints[::2]), 22, 3)
    assert [c.meta.id for c in lib.clips(split="train")] == ["b_clip"]
    assert lib.info["num_clips"] == 2 and lib.info["format"] == "motion-search-library"
    lines = (out / "clips.jsonl").read_text().splitlines()
    assert [json.loads(line)["id"] for line in lines] == ["b_clip", "cmusamples_02_01"]
    assert sorted(p.name for p in out.iterdir()) == ["clips", "clips.jsonl", "library.json"]


def test_rebuild_replaces_atomically_and_refuses_foreign_folders(real_clip: Clip, tmp_path: Path):
    out = tmp_path / "lib"
    with LibraryWriter(out) as w:
        w.add(real_clip)
    with LibraryWriter(out) as w:
        w.add(_variant(real_clip, "only_new", "val"))
        assert Library.open(out).ids == ["cmusamples_02_01"]  # the old one stays readable during the build
    assert Library.open(out).ids == ["only_new"] and not (out / "clips" / "cmusamples_02_01.npy").exists()
    foreign = tmp_path / "photos"
    foreign.mkdir()
    (foreign / "cat.jpg").write_bytes(b"x")
    with pytest.raises(DatasetError, match="photos: exists and is not a library folder"):
        LibraryWriter(foreign)
    assert (foreign / "cat.jpg").exists()


def test_exception_inside_writer_discards_partial(real_clip: Clip, tmp_path: Path):
    out = tmp_path / "lib"
    with pytest.raises(RuntimeError), LibraryWriter(out) as w:
        w.add(real_clip)
        raise RuntimeError("boom")
    assert not out.exists() and not (tmp_path / "lib.partial").exists()


_KILL_SCRIPT = """
import sys, numpy as np
from backend.motion.clip import Clip, ClipMeta
from backend.motion.io.library import LibraryWriter
joints = np.load(sys.argv[2])
w = LibraryWriter(sys.argv[1])
for i in range(100000):
    w.add(Clip(joints=joints, meta=ClipMeta(id=f"clip_{i:06d}")))
"""


def test_kill_mid_build_leaves_no_partial_file_under_a_final_name(real_clip: Clip, tmp_path: Path):
    big = np.repeat(real_clip.joints, 40, axis=0)  # ~2 MB per clip: kills land inside writes too
    np.save(tmp_path / "joints.npy", big)
    out = tmp_path / "lib"
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILL_SCRIPT, str(out), str(tmp_path / "joints.npy")], cwd=REPO
    )
    partial = tmp_path / "lib.partial" / "clips"
    deadline = time.time() + 60
    while time.time() < deadline and len(list(partial.glob("*.npy")) if partial.exists() else []) < 15:
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not out.exists()
    finals = sorted(partial.glob("clip_*.npy"))
    assert len(finals) >= 15
    for path in finals:  # every file under its final name is complete
        np.testing.assert_array_equal(np.load(path), big)
    assert all(
        p.name.startswith(".") and p.name.endswith(".tmp") for p in partial.iterdir() if p not in finals
    )
    out.mkdir()  # an empty target folder: opening it points at the interrupted build
    with pytest.raises(
        DatasetError, match=r"library\.json is missing \(an interrupted build leaves lib\.partial"
    ):
        Library.open(out)
    out.rmdir()
    with LibraryWriter(out) as w:  # the next build starts clean
        w.add(real_clip)
    assert Library.open(out).ids == ["cmusamples_02_01"] and not (tmp_path / "lib.partial").exists()


def test_add_and_remove_in_place(real_clip: Clip, tmp_path: Path):
    out = tmp_path / "lib"
    with LibraryWriter(out) as w:
        w.add(real_clip)
    add_clip(out, _variant(real_clip, "user_take_1", ""))
    lib = Library.open(out)
    assert lib.ids == ["cmusamples_02_01", "user_take_1"] and lib.info["num_clips"] == 2
    with pytest.raises(InvalidInputError, match="'user_take_1' already exists"):
        add_clip(out, _variant(real_clip, "user_take_1", ""))
    add_clip(out, _variant(real_clip, "user_take_1", "val"), replace=True)
    assert Library.open(out).meta("user_take_1").split == "val"
    remove_clip(out, "cmusamples_02_01")
    lib = Library.open(out)
    assert lib.ids == ["user_take_1"] and not (out / "clips" / "cmusamples_02_01.npy").exists()
    with pytest.raises(NotFoundError, match="no clip 'cmusamples_02_01'"):
        remove_clip(out, "cmusamples_02_01")


def test_errors_name_the_problem(real_clip: Clip, tmp_path: Path):
    with pytest.raises(DatasetError, match="nowhere: no such library folder"):
        Library.open(tmp_path / "nowhere")
    out = tmp_path / "lib"
    with LibraryWriter(out) as w:
        with pytest.raises(InvalidInputError, match="clip id '../evil' is not a safe file name"):
            w.add(_variant(real_clip, "../evil", ""))
        bad = _variant(real_clip, "nan_clip", "")
        bad.joints[3, 4, 1] = np.nan
        with pytest.raises(MotionDataError, match="clip 'nan_clip': joints contain NaN"):
            w.add(bad)
        with pytest.raises(MotionDataError, match=r"shape \(T>=1, 22, 3\), got \(5, 21, 3\)"):
            w.add(Clip(joints=np.zeros((5, 21, 3), np.float32), meta=ClipMeta(id="short")))
        w.add(real_clip)
        with pytest.raises(InvalidInputError, match="duplicate clip id 'cmusamples_02_01'"):
            w.add(real_clip)
    lib = Library.open(out)
    with pytest.raises(NotFoundError, match="no clip 'missing'"):
        lib.joints("missing")
    (out / "clips" / "cmusamples_02_01.npy").write_bytes(b"not numpy")
    with pytest.raises(DatasetError, match=r"clips/cmusamples_02_01\.npy: cannot load"):
        lib.joints("cmusamples_02_01")
    with open(out / "clips.jsonl", "a") as fh:
        fh.write("{broken\n")
    with pytest.raises(DatasetError, match=r"clips\.jsonl:2: not a clip record"):
        Library.open(out)
    (out / "library.json").write_text(json.dumps({"format": "motion-search-library", "version": 9}))
    with pytest.raises(DatasetError, match="unsupported library version 9"):
        Library.open(out)
