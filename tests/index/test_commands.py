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
