"""``python -m backend train``: train a model from an experiment config.

Example::

    python -m backend train --config configs/default.yaml --dataset library --data-root data/library \\
        --out runs/default
    torchrun --nproc-per-node 2 -m backend train --config configs/default.yaml --out runs/default

``--dataset`` / ``--data-root`` are shorthands for ``--set data.dataset=...`` / ``--set data.root=...``.
With ``--resume`` and no ``--config``, the run directory's saved ``config.yaml`` is used.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``train`` sub-command."""
    p = subparsers.add_parser("train", help="train a retrieval model (model selection on the val split)")
    p.add_argument("--config", help="experiment YAML (configs/*.yaml); default: built-in defaults")
    p.add_argument("--dataset", choices=("library", "humanml3d", "kitml"), help="= --set data.dataset=...")
    p.add_argument("--data-root", help="= --set data.root=...")
    p.add_argument("--out", default=None, help="run directory (default: runs/<config name>)")
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a config value by dotted key, e.g. --set optim.lr_text=1e-5 (repeatable)",
    )
    p.add_argument("--resume", action="store_true", help="continue from <out>/last.pt")
    return p


def run(args: argparse.Namespace) -> int:
    """Resolve the config, train, print where the best checkpoint is; returns 0."""
    from backend.errors import ConfigError
    from backend.training.config import load_train_config
    from backend.training.trainer import CONFIG_FILE, train

    name = Path(args.config).stem if args.config else "default"
    out = Path(args.out) if args.out else Path("runs") / name
    config_path = args.config
    if config_path is None and args.resume:
        if not (out / CONFIG_FILE).is_file():
            raise ConfigError(f"--resume without --config needs {out / CONFIG_FILE}")
        config_path = out / CONFIG_FILE
    overrides = list(args.overrides)
    if args.dataset:
        overrides.append(f"data.dataset={args.dataset}")
    if args.data_root:
        overrides.append(f"data.root={json.dumps(str(args.data_root))}")  # a quoted YAML string
    cfg = load_train_config(config_path, overrides)
    result = train(cfg, out, resume=args.resume)
    if not result.is_main:
        return 0
    print(
        f"trained {result.steps} steps; best val {cfg.select_metric} = {result.best_metric:.2f} "
        f"at step {result.best_step}; checkpoint: {result.best_dir}"
    )
    return 0
