"""``python -m backend pretrain``: masked-patch pre-training of the motion encoder (:mod:`backend.training.pretrain`).

Example::

    python -m backend pretrain --config configs/grounded.yaml --data-root data/library --out runs/mfm
    python -m backend train --config configs/grounded.yaml --data-root data/library --out runs/grounded-mfm \\
        --set model.motion_init=runs/mfm/motion_init.safetensors

The model section of ``--config`` (with ``--set`` overrides) names the encoder to pre-train; its data section
the dataset, root and train split whose motion is read.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``pretrain`` sub-command."""
    p = subparsers.add_parser(
        "pretrain", help="self-supervised masked-patch pre-training of the motion encoder"
    )
    p.add_argument("--config", help="experiment YAML (configs/*.yaml): its model and data sections")
    p.add_argument("--data-root", help="= --set data.root=...")
    p.add_argument("--out", required=True, help="output folder (motion_init.safetensors, pretrain_log.jsonl)")
    p.add_argument("--steps", type=int, default=400)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--mask-ratio", type=float, default=0.5, help="share of each window's patches hidden")
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a config value by dotted key (repeatable)")  # fmt: skip
    return p


def run(args: argparse.Namespace) -> int:
    """Pre-train and print where the weights are; returns 0."""
    from backend.training.config import load_train_config
    from backend.training.pretrain import pretrain

    overrides = list(args.overrides)
    if args.data_root:
        overrides.append(f"data.root={json.dumps(str(args.data_root))}")
    cfg = load_train_config(args.config, overrides)
    if cfg.threads > 0:
        import torch

        torch.set_num_threads(cfg.threads)
    res = pretrain(cfg.model, cfg.data.root, Path(args.out), dataset=cfg.data.dataset, split=cfg.data.train_split,
                   steps=args.steps, batch_size=args.batch_size, mask_ratio=args.mask_ratio, lr=args.lr,
                   seed=args.seed)  # fmt: skip
    print(f"pre-trained {res.steps} steps in {res.seconds:.0f} s: masked-feature loss {res.first_loss:.4f} -> "
          f"{res.last_loss:.4f}; weights: {res.path}")  # fmt: skip
    return 0
