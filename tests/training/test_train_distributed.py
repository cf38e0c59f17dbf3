"""Contract of multi-process training: ``torchrun --nproc-per-node 2 -m backend train`` on CPU (gloo).

* Two real processes join one gloo group, split the training clips (DistributedSampler), train in step and
  finish with exit code 0.
* Only rank 0 writes: the log has each step and each validation once, and the checkpoint loads.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_two_gloo_processes_train_and_only_rank0_writes(
    tiny_library: Path, tiny_config_path: Path, tmp_path: Path
) -> None:
    from backend.model.retrieval import MotionTextRetrieval

    out = tmp_path / "ddp"
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [
        str(torchrun), "--standalone", "--nnodes", "1", "--nproc-per-node", "2",
        "-m", "backend", "train", "--config", str(tiny_config_path), "--dataset", "library",
        "--data-root", str(tiny_library), "--out", str(out), "--set", "optim.epochs=2",
    ]  # fmt: skip
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=300, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    # the summary line is printed by rank 0 only
    assert proc.stdout.count("trained 2 steps") == 1, proc.stdout
    records = [json.loads(line) for line in (out / "log.jsonl").read_text().splitlines()]
    train_steps = [r["step"] for r in records if r["kind"] == "train"]
    val_steps = [r["step"] for r in records if r["kind"] == "val"]
    # 16 clips over 2 ranks = 8 per rank = 1 batch of 6 per epoch; 2 epochs
    assert train_steps == [1, 2]
    assert val_steps == [1, 2]
    model = MotionTextRetrieval.from_pretrained(out / "best")
    assert model.feature_stats is not None
