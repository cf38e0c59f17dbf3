"""Contract of ``data build-library`` on a handful of real clips of every source.

* Every good clip is converted and written with its labels, captions, performer group and split, which read
  back equal to what the caption / split rules give.
* A corrupt BVH (a real file cut short), a corrupt AMC (a real one with a bone renamed) and a clip whose BVH is
  missing upstream are skipped with the file and the reason, in the report and in ``library.json``, while the
  rest is written.
* A CMU trial held by several sources (here 02_01 in cgspeed and the samples, 07_04 in Daz and iClone) is
  written once, from the preferred conversion, and the copies left out are listed as duplicates.
* The CLI works end to end in a real process; ``--help`` works.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from backend.library.build import build_library
from backend.library.captions import captions_for
from backend.library.splits import bandai_split, cmu_group, group_split
from backend.motion.io.library import Library

REPO = Path(__file__).resolve().parents[2]
BN1 = "dataset/Bandai-Namco-Research-Motiondataset-1"
BN2 = "dataset/Bandai-Namco-Research-Motiondataset-2"


def _copy(src_root: Path, dst_root: Path, rel: str) -> Path:
    target = dst_root / src_root.name / rel
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src_root / rel, target)
    return target


@pytest.fixture(scope="module")
def small_sources(
    tmp_path_factory, bandai1, bandai2, cmu_iclone, cmu_samples, reactidle, cmu_index, kitml_annotations,
    hdm05, cmu_cgspeed, cmu_daz,
):  # fmt: skip
    """A sources folder with a few real clips of each source, one corrupt BVH and one missing BVH."""
    root = tmp_path_factory.mktemp("sources")
    for bn, sub, stems in (
        (bandai1, BN1, ["dataset-1_walk_old_001", "dataset-1_bye_feminine_001"]),
        (bandai2, BN2, ["dataset-2_wave-left-hand_feminine_001", "dataset-2_walk_elderly_002"]),
    ):
        for cfg in ("content_label.txt", "style_label.txt"):
            _copy(bn, root, f"{sub}/cfg/{cfg}")
        for stem in stems:
            _copy(bn, root, f"{sub}/data/{stem}.json")
            _copy(bn, root, f"{sub}/data/{stem}.bvh")
    # a real BVH cut short (as a failed copy leaves it), with its real label file
    corrupt = _copy(bandai1, root, f"{BN1}/data/dataset-1_walk_old_002.bvh")
    corrupt.write_bytes(corrupt.read_bytes()[: corrupt.stat().st_size * 2 // 3])
    _copy(bandai1, root, f"{BN1}/data/dataset-1_walk_old_002.json")
    # upstream has this clip's labels but the snapshot lacks the BVH (>= 4 MiB)
    _copy(bandai1, root, f"{BN1}/data/dataset-1_dance-long_normal_001.json")
    _copy(cmu_iclone, root, "All_BVH/subjects/007/007_04.bvh")
    _copy(cmu_samples, root, "yuki-koyama/bvh11/resources/131_03.bvh")
    _copy(cmu_samples, root, "TMoCo/InverseKinematics/bvh/02_01.bvh")
    _copy(reactidle, root, "genuine/000_genuine.bvh")
    _copy(cmu_cgspeed, root, "data/02/02_01.bvh")
    _copy(cmu_daz, root, "data/07/07_04.bvh")
    _copy(cmu_daz, root, "data/13/13_10.bvh")
    for rel in (
        "train/6/HDM_bd.asf",
        "train/6/HDM_bd_kickLFront1Reps_001_120.amc",
        "test/10/HDM_tr.asf",
        "test/10/HDM_tr_squat1Reps_048_120.amc",
    ):
        _copy(hdm05, root, rel)
    bad_amc = _copy(hdm05, root, "train/6/HDM_bd_kickLFront1Reps_002_120.amc")
    bad_amc.write_bytes(bad_amc.read_bytes().replace(b"\nlfemur ", b"\nlthigh ", 1))
    _copy(cmu_index, root, "cmu-mocap-index-text.txt")
    _copy(kitml_annotations, root, "datasets/annotations/kitml/annotations.json")
    return root


@pytest.fixture(scope="module")
def built(small_sources: Path, tmp_path_factory):
    out = tmp_path_factory.mktemp("out") / "library"
    report = build_library(small_sources, out, workers=2, progress=False)
    return report, Library.open(out)


def test_good_clips_written_bad_ones_reported(built):
    report, lib = built
    assert report.per_source == {"bandai-namco-1": 2, "bandai-namco-2": 2, "cmu-cgspeed-s01-09": 1,
                                 "cmu-daz-s02-16": 2, "hdm05-cuts": 2, "cmu-iclone": 0, "cmu-bvh-samples": 1,
                                 "reactidle": 1}  # fmt: skip
    assert lib.ids == sorted([
        "bandai1_bye_feminine_001", "bandai1_walk_old_001", "bandai2_walk_elderly_002",
        "bandai2_wave-left-hand_feminine_001", "cmu_02_01", "cmu_07_04", "cmu_131_03", "cmu_13_10",
        "hdm05_bd_kickLFront1Reps_001", "hdm05_tr_squat1Reps_048", "reactidle_genuine_000",
    ])  # fmt: skip
    assert {d["file"]: d["kept"] for d in report.duplicates} == {
        "cmu-bvh-samples/TMoCo/InverseKinematics/bvh/02_01.bvh": "cmu_02_01 (cmu-cgspeed-s01-09)",
        "cmu-iclone/All_BVH/subjects/007/007_04.bvh": "cmu_07_04 (cmu-daz-s02-16)",
    }
    assert lib.info["duplicates"] == report.duplicates and "duplicate takes left out: 2" in report.summary()
    skipped = {s["file"]: s["reason"] for s in report.skipped}
    assert skipped.keys() == {
        f"bandai-namco-1/{BN1}/data/dataset-1_walk_old_002.bvh",
        f"bandai-namco-1/{BN1}/data/dataset-1_dance-long_normal_001.bvh",
        "hdm05-cuts/train/6/HDM_bd_kickLFront1Reps_002_120.amc",
    }
    assert "unknown bone 'lthigh'" in skipped["hdm05-cuts/train/6/HDM_bd_kickLFront1Reps_002_120.amc"]
    assert "dataset-1_walk_old_002.bvh" in skipped[f"bandai-namco-1/{BN1}/data/dataset-1_walk_old_002.bvh"]
    assert "BVH file missing" in skipped[f"bandai-namco-1/{BN1}/data/dataset-1_dance-long_normal_001.bvh"]
    assert lib.skipped == report.skipped
    assert "skipped: 3" in report.summary() and report.clips_per_second > 0


def test_metadata_round_trips(built):
    _, lib = built
    for meta in lib.metas():
        joints = lib.joints(meta.id)
        assert joints.dtype == np.float32 and joints.shape[1:] == (22, 3) and np.isfinite(joints).all()
        assert meta.duration == pytest.approx(len(joints) / 20)
        kit = [c for c in meta.captions if c not in captions_for(meta.labels, meta.id)]
        assert meta.captions[: len(meta.captions) - len(kit)] == captions_for(meta.labels, meta.id)
    old = lib.meta("bandai1_walk_old_001")
    assert old.labels == {
        "action": "walk",
        "style": "old",
        "take": "001",
        "group": "bandai-namco-1:walk:old:001",
    }
    assert old.source == f"{BN1}/data/dataset-1_walk_old_001.bvh" and old.fps_orig == 30.0
    assert old.licence == "CC BY-NC 4.0" and old.split == "train" and len(old.captions) == 6
    take2 = lib.meta("bandai2_walk_elderly_002")
    assert take2.split == bandai_split("bandai-namco-2", "walk", "elderly", 2)
    wave = lib.meta("bandai2_wave-left-hand_feminine_001")
    assert all("left" in c and "right" not in c for c in wave.captions)
    hop = lib.meta("cmu_131_03")
    assert hop.captions[:2] == ["Start Hop Stop", "a person starts, hops and stops"]
    assert "A person is dancing and jumping around." in hop.captions  # its KIT-ML sentence
    assert hop.performer == "cmu:131" and hop.split == group_split(cmu_group(131)) == "val"
    assert lib.meta("cmu_02_01").split == "test" and lib.meta("cmu_02_01").dataset == "cmu-cgspeed-s01-09"
    assert lib.meta("cmu_07_04").labels["description"] == "slow walk"
    kick = lib.meta("hdm05_bd_kickLFront1Reps_001")
    assert kick.labels == {
        "action": "kick-left-leg",
        "hdm05": "kickLFront1Reps",
        "actor": "bd",
        "take": "001",
    }
    assert kick.split == "train" and kick.performer == "hdm05:bd" and kick.fps_orig == 120.0
    assert kick.licence.startswith("HDM05 terms") and all("left" in c and "kick" in c for c in kick.captions)
    assert lib.meta("hdm05_tr_squat1Reps_048").split == "test"  # HDM05's test actors never train
    idle = lib.meta("reactidle_genuine_000")
    assert idle.labels == {"idle": "genuine"} and idle.performer == "reactidle:000" and idle.duration > 60
    sources = lib.sources
    assert sources["reactidle"]["licence"] == "MIT License" and sources["bandai-namco-2"]["clips"] == 2
    assert sources["kitml-annotations"]["used_for"] == "captions"


def test_limit_and_missing_sources(small_sources: Path, tmp_path: Path):
    report = build_library(
        small_sources, tmp_path / "lib", only=["bandai-namco-2"], limit=1, workers=1, progress=False
    )
    assert report.per_source == {"bandai-namco-2": 1} and report.skipped == []
    from backend.errors import DatasetError

    with pytest.raises(DatasetError, match=r"missing source folder\(s\) \['bandai-namco-1'\]"):
        build_library(tmp_path / "empty", tmp_path / "lib2", only=["bandai-namco-1"], progress=False)
    assert not (tmp_path / "lib2").exists()


def test_cli_build_and_help(small_sources: Path, tmp_path: Path):
    for args in (
        ["--help"],
        ["data", "--help"],
        ["data", "fetch", "--help"],
        ["data", "build-library", "--help"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "backend", *args],
            cwd=REPO,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0 and "usage:" in done.stdout, (args, done.stderr)
    out = tmp_path / "cli-lib"
    cmd = [sys.executable, "-m", "backend", "data", "build-library", "--sources", str(small_sources), "--out", str(out),
           "--only", "cmu-bvh-samples", "bandai-namco-1", "--workers", "1", "--no-progress"]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "skipped: 2" in done.stdout and "cmu-bvh-samples: 2 clips" in done.stdout
    info = json.loads((out / "library.json").read_text())
    assert info["num_clips"] == 4 and len(info["skipped"]) == 2
    bad = subprocess.run(
        [*cmd[:-4], "--limit", "0"], cwd=REPO, capture_output=True, text=True, timeout=60, check=False
    )
    assert bad.returncode == 1 and "--limit must be >= 1, got 0" in bad.stderr
