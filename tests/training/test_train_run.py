"""End-to-end contract of ``python -m backend train`` / ``evaluate`` on a tiny library of real clips.

* A few steps of training on real clips decrease the loss, select on the val split, and write the resolved
  config, a JSONL log, a resume state and a ``best/`` checkpoint that loads with one call.
* The test split is never read by training.
* ``--resume`` continues from the saved step and reproduces an uninterrupted run exactly.
* ``evaluate`` on the checkpoint writes a table with every protocol, both directions, seen and held-out
  queries and all metrics.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.cli import main


def _train(config: Path, library: Path, out: Path, *overrides: str, resume: bool = False) -> int:
    argv = [
        "train",
        "--config",
        str(config),
        "--dataset",
        "library",
        "--data-root",
        str(library),
        "--out",
        str(out),
    ]
    for item in overrides:
        argv += ["--set", item]
    if resume:
        argv.append("--resume")
    return main(argv)


def _log(run: Path, kind: str) -> list[dict]:
    lines = (run / "log.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if r["kind"] == kind]


@pytest.fixture(scope="module")
def trained_run(tiny_library: Path, tiny_config_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "tiny"
    assert _train(tiny_config_path, tiny_library, out, "optim.epochs=4") == 0
    return out


def test_training_decreases_the_loss_and_writes_a_run(trained_run: Path) -> None:
    train = _log(trained_run, "train")
    assert [r["step"] for r in train] == list(range(1, 9))  # 16 clips // batch 6 = 2 steps x 4 epochs
    losses = np.array([r["loss"] for r in train])
    assert np.isfinite(losses).all()
    assert losses[-2:].mean() < losses[:2].mean()
    val = _log(trained_run, "val")
    assert [r["step"] for r in val] == [2, 4, 6, 8]
    assert max(r["score"] for r in val) == val[-1]["best"]
    for name in (
        "config.yaml",
        "last.pt",
        "best/config.json",
        "best/model.safetensors",
        "best/feature_stats.json",
    ):
        assert (trained_run / name).is_file(), name


def test_the_best_checkpoint_loads_and_matches_the_resolved_config(
    trained_run: Path, tiny_library: Path
) -> None:
    from backend.model.retrieval import MotionTextRetrieval
    from backend.motion.io.library import Library
    from backend.training.config import load_train_config

    cfg = load_train_config(trained_run / "config.yaml")
    assert cfg.data.root == str(tiny_library)
    model = MotionTextRetrieval.from_pretrained(trained_run / "best")
    assert model.config.to_dict() == cfg.model.to_dict()
    # z-score statistics: fit on the train split only
    lib = Library.open(tiny_library)
    train_feats = np.concatenate([model.featurize(c.joints) for c in lib.clips("train")])
    assert np.allclose(train_feats.mean(0), 0.0, atol=1e-3)
    test_feats = np.concatenate([model.featurize(c.joints) for c in lib.clips("test")])
    assert not np.allclose(test_feats.mean(0), 0.0, atol=1e-3)


def test_training_never_reads_the_test_split(
    tiny_library: Path, tiny_config_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from backend.motion.io.library import Library

    asked: list[str | None] = []
    real = Library.clips

    def spy(self: Library, split: str | None = None):
        asked.append(split)
        return real(self, split)

    monkeypatch.setattr(Library, "clips", spy)
    assert _train(tiny_config_path, tiny_library, tmp_path / "run", "optim.max_steps=1") == 0
    assert sorted(asked) == ["train", "val"]


def test_resume_continues_from_the_saved_step(
    tiny_library: Path, tiny_config_path: Path, tmp_path: Path
) -> None:
    common = ("optim.epochs=3", "optim.schedule=constant")
    straight, resumed = tmp_path / "straight", tmp_path / "resumed"
    assert _train(tiny_config_path, tiny_library, straight, *common) == 0
    assert _train(tiny_config_path, tiny_library, resumed, *common, "optim.max_steps=4") == 0
    assert torch.load(resumed / "last.pt", weights_only=False)["step"] == 4
    assert _train(tiny_config_path, tiny_library, resumed, *common, resume=True) == 0

    steps = [r["step"] for r in _log(resumed, "train")]
    assert steps == [1, 2, 3, 4, 5, 6]
    a = {r["step"]: r["loss"] for r in _log(straight, "train")}
    b = {r["step"]: r["loss"] for r in _log(resumed, "train")}
    assert b[5] == pytest.approx(a[5], rel=1e-5) and b[6] == pytest.approx(a[6], rel=1e-5)
    sa = torch.load(straight / "last.pt", weights_only=False)
    sb = torch.load(resumed / "last.pt", weights_only=False)
    assert sa["step"] == sb["step"] == 6
    for key, value in sa["model"].items():
        assert torch.allclose(value.float(), sb["model"][key].float(), atol=1e-6), key


def test_resume_without_config_uses_the_saved_one(
    trained_run: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = (trained_run / "log.jsonl").read_text()
    assert main(["train", "--out", str(trained_run), "--resume"]) == 0  # the 8 steps are done already
    assert "trained 8 steps" in capsys.readouterr().out
    assert (trained_run / "log.jsonl").read_text() == before


def test_resume_without_state_is_a_clear_error(
    tiny_library: Path, tiny_config_path: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _train(tiny_config_path, tiny_library, tmp_path / "fresh", resume=True) == 1
    assert "last.pt" in capsys.readouterr().err


def test_evaluate_cli_writes_a_full_table(trained_run: Path, tiny_library: Path, tmp_path: Path) -> None:
    out = tmp_path / "table.json"
    argv = [
        "evaluate",
        "--checkpoint",
        str(trained_run / "best"),
        "--data-root",
        str(tiny_library),
        "--dataset",
        "library",
        "--split",
        "test",
        "--out",
        str(out),
    ]
    assert main(argv) == 0
    table = json.loads(out.read_text())
    assert table["split"] == "test" and table["n_clips"] == 8
    assert table["n_texts"]["seen"] > 0 and table["n_texts"]["heldout"] > 0
    rows = {(r["protocol"], r["queries"], r["direction"]): r for r in table["rows"]}
    for protocol in ("all", "batch32", "threshold", "action", "action+style"):
        for queries in ("all", "seen", "heldout"):
            for direction in ("t2m", "m2t"):
                row = rows[(protocol, queries, direction)]
                for metric in ("R@1", "R@2", "R@3", "R@5", "R@10"):
                    assert 0.0 <= row[metric] <= 100.0
                assert 1.0 <= row["MedR"] <= row["n_gallery"]
    # label-level hits are a superset of caption hits
    assert rows[("action", "all", "t2m")]["R@1"] >= rows[("all", "all", "t2m")]["R@1"]
    contrasts = {(c["kind"], c["queries"]): c for c in table["contrasts"]}
    assert {"left/right", "style"} <= {k for k, _ in contrasts}
    assert 0.0 <= contrasts[("left/right", "heldout")]["accuracy"] <= 100.0
    md = tmp_path / "table.md"
    assert main([*argv[:-2], "--out", str(md), "--protocol", "all"]) == 0
    text = md.read_text()
    assert "| all | heldout | t2m |" in text and "batch32" not in text
