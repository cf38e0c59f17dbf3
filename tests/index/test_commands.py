"""Contract of ``python -m backend index build|add|remove|compact|info`` (run in-process through
backend.cli.main; the crash-safety test runs the same command in a real subprocess)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backend.cli import main
from backend.index.store import MotionIndex


def test_index_cli_round_trip(
    tmp_path: Path,
    library_dir: Path,
    checkpoint_dir: Path,
    extra_bvh: list[Path],
    extra_captions_file: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    out = tmp_path / "idx"
    rc = main(
        [
            "index",
            "build",
            "--library",
            str(library_dir),
            "--checkpoint",
            str(checkpoint_dir),
            "--out",
            str(out),
            "--codec",
            "int8",
            "--extra-captions",
            str(extra_captions_file),
        ]
    )
    assert rc == 0
    index = MotionIndex.open(out)
    n = len(index)
    assert index.header.codec == "int8" and index.header.checkpoint_path == str(checkpoint_dir.absolute())
    assert "a person jumps in place" in index.caption_bank().texts
    capsys.readouterr()

    assert main(["index", "add", "--index", str(out), str(extra_bvh[0]), str(extra_bvh[1])]) == 0
    assert "added 2 clip(s)" in capsys.readouterr().out
    assert main(["index", "remove", "--index", str(out), extra_bvh[0].stem]) == 0
    assert main(["index", "compact", "--index", str(out)]) == 0
    capsys.readouterr()
    assert main(["index", "info", "--index", str(out), "--verify"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["clips"] == n + 1 and info["verified"] is True and info["segments"] == 1
    assert info["codec"] == "int8" and info["window_frames"] == 32

    # errors name the problem and give exit code 1
    assert main(["index", "remove", "--index", str(out), "no_such_clip"]) == 1
    assert "no_such_clip" in capsys.readouterr().err
    assert main(["index", "info", "--index", str(tmp_path / "nothing")]) == 1
    assert "header.json" in capsys.readouterr().err
    assert (
        main(
            [
                "index",
                "build",
                "--library",
                str(library_dir),
                "--checkpoint",
                str(checkpoint_dir),
                "--out",
                str(out),
            ]
        )
        == 1
    )
    assert "not empty" in capsys.readouterr().err


def test_index_add_folder_takes_amc_and_goes_past_bad_files(
    tmp_path: Path, index_copy: Path, hdm05: Path, cmu_daz: Path, cmu_samples: Path, capsys
) -> None:
    """`index add FOLDER`: AMC files beside their ASF, a Daz BVH, and files that cannot be read or mapped are
    skipped with their reasons while the rest is added."""
    import shutil

    folder = tmp_path / "mocap"
    (folder / "hdm").mkdir(parents=True)
    for rel in ("train/6/HDM_bd.asf", "train/6/HDM_bd_kickLFront1Reps_001_120.amc",
                "train/10/HDM_bd_squat1Reps_004_120.amc"):  # fmt: skip
        shutil.copy(hdm05 / rel, folder / "hdm" / Path(rel).name)
    shutil.copy(cmu_daz / "data/13/13_10.bvh", folder / "13_10.bvh")
    # a real BVH whose joints were renamed so no rig profile fits (arms gone), and a truncated one
    text = (cmu_samples / "TMoCo/InverseKinematics/bvh/02_01.bvh").read_text()
    (folder / "no_arms.bvh").write_text(text.replace("LeftArm", "Wing1").replace("RightArm", "Wing2"))
    (folder / "cut.bvh").write_text(text[: len(text) // 3])
    before = len(MotionIndex.open(index_copy))
    assert main(["index", "add", "--index", str(index_copy), str(folder)]) == 0
    out = capsys.readouterr().out
    assert "added 3 clip(s)" in out and "skipped 2 file(s):" in out
    assert "no_arms.bvh: " in out and "left_shoulder" in out and "cut.bvh: " in out
    index = MotionIndex.open(index_copy)
    assert len(index) == before + 3
    assert {"HDM_bd_kickLFront1Reps_001_120", "HDM_bd_squat1Reps_004_120", "13_10"} <= set(index.ids)
    # a folder where nothing can be read is an error naming every file
    bad = tmp_path / "bad"
    bad.mkdir()
    shutil.copy(folder / "cut.bvh", bad / "cut.bvh")
    assert main(["index", "add", "--index", str(index_copy), str(bad)]) == 1
    assert "no motion could be read; skipped 1 file(s)" in capsys.readouterr().err


def test_index_create_of_own_files_only(
    tmp_path: Path, checkpoint_dir: Path, hdm05: Path, cmu_cgspeed: Path, capsys
):
    """`index create`: an index of the user's files alone, each clip with its licence, commercial flag and tags."""
    import shutil

    from backend.library.licences import commercial_use_allowed

    mocap = tmp_path / "studio"
    mocap.mkdir()
    for rel in ("data/08/08_01.bvh", "data/09/09_01.bvh"):
        shutil.copy(cmu_cgspeed / rel, mocap / Path(rel).name)
    shutil.copy(hdm05 / "train/6/HDM_bd.asf", mocap / "HDM_bd.asf")
    shutil.copy(hdm05 / "train/6/HDM_bd_kickLFront1Reps_001_120.amc", mocap / "kick.amc")
    (mocap / "broken.bvh").write_text("HIERARCHY\nROOT Hips\n{\n")
    out = tmp_path / "own_index"
    argv = ["index", "create", "--out", str(out), str(mocap), "--checkpoint", str(checkpoint_dir),
            "--licence", "studio-owned", "--commercial-use", "--tag", "studio", "--tag", "day 1"]  # fmt: skip
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "created index" in text and "3 clips" in text and "skipped" in text and "broken.bvh" in text
    index = MotionIndex.open(out)
    assert sorted(index.ids) == ["08_01", "09_01", "kick"]
    for clip_id in index.ids:
        meta = index.record(clip_id).meta
        assert meta.licence == "studio-owned" and meta.dataset == "user"
        assert meta.labels == {"commercial_use": "yes", "tags": "studio,day 1"}
        assert commercial_use_allowed(meta.licence, meta.labels)
    assert index.header.checkpoint_path == str(checkpoint_dir.absolute())
    assert not any(p.name.startswith(".own_index.") for p in tmp_path.iterdir())  # no staging left behind
    # an existing index is not overwritten by accident; nothing readable is an error naming the files
    assert main(argv) == 1 and "is not empty" in capsys.readouterr().err
    empty = tmp_path / "nothing"
    empty.mkdir()
    shutil.copy(mocap / "broken.bvh", empty / "broken.bvh")
    assert (
        main(
            ["index", "create", "--out", str(tmp_path / "x"), str(empty), "--checkpoint", str(checkpoint_dir)]
        )
        == 1
    )
    assert "no motion could be read" in capsys.readouterr().err and not (tmp_path / "x").exists()
