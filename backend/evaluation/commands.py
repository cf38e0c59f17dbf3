"""``python -m backend evaluate``: a checkpoint on one split -> table (stdout Markdown, optional JSON/MD file).

Example::

    python -m backend evaluate --checkpoint runs/default/best --dataset library --data-root data/library \\
        --split test --out runs/default/test.md

Held-out phrasings (``backend.library.captions.captions_for(..., heldout=True)``) are added as extra queries
for ``--dataset library`` unless ``--no-heldout``; the table reports ``seen`` and ``heldout`` queries separately.

The issue-11 protocols (``breakdown`` per source / macro over actions, ``queries`` = the held-out natural and
terse query sets of ``backend/evaluation/queries.yaml`` or ``--queries FILE``, ``grounding`` + pointing game,
``calibration`` fitted on the val split) run with the others; ``--calibration-out`` saves the fitted confidence.
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from backend.atomic import atomic_write_text

__all__ = ["add_parser", "run", "write_table"]

_PROTOCOLS = (
    "all",
    "batch32",
    "threshold",
    "labels",
    "contrasts",
    "breakdown",
    "queries",
    "grounding",
    "calibration",
)  # = evaluation.run.PROTOCOLS (import-free)


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``evaluate`` sub-command."""
    p = subparsers.add_parser(
        "evaluate", help="evaluate a checkpoint on a split (R@k, MedR, both directions)"
    )
    p.add_argument("--checkpoint", required=True, help="checkpoint folder (config.json + model.safetensors)")
    p.add_argument("--data-root", required=True, help="library folder or HumanML3D / KIT-ML root")
    p.add_argument("--dataset", default="library", choices=("library", "humanml3d", "kitml"))
    p.add_argument("--split", default="test", help="split to evaluate (default: test)")
    p.add_argument(
        "--protocol",
        action="append",
        choices=_PROTOCOLS,
        help="protocol(s) to run (repeatable; default: all of them). 'all' = the All protocol",
    )
    p.add_argument(
        "--out", help="write the table to this .json or .md file (both formats for other suffixes)"
    )
    p.add_argument("--batch-size", type=int, default=128, help="encoding batch size")
    p.add_argument("--device", default="auto", help="auto | cpu | cuda | cuda:N")
    p.add_argument("--max-clips", type=int, help="evaluate a seeded subset of at most this many clips")
    p.add_argument("--seed", type=int, default=0, help="seed of the batches-of-32 protocol and the subset")
    p.add_argument("--no-heldout", action="store_true", help="do not add held-out phrasings as queries")
    p.add_argument("--queries", help="held-out query set YAML (default: backend/evaluation/queries.yaml)")
    p.add_argument(
        "--calibration-out", help="write the fitted 'no close match' calibration to this JSON file"
    )
    p.add_argument(
        "--expansion",
        type=int,
        default=None,
        help="search each text query with this many bank captions, as the server does (backend/model/expansion.py; "
        "the bank = the train split's captions; default: 1 for --dataset library, else 0; 0 = the query alone)",
    )
    return p


def _markdown(table: dict[str, Any]) -> str:
    from backend.evaluation.run import table_to_markdown

    head = (
        f"Evaluation of `{table['checkpoint']}` (sha256 {table['checksum'][:12]}) on {table['dataset']} / "
        f"{table['split']}: {table['n_clips']} clips, {table['n_texts']['seen']} seen-template texts, "
        f"{table['n_texts']['heldout']} held-out phrasings, {table['n_texts'].get('terse', 0)} held-out terse "
        f"forms; scoring {table['scoring']}, padding patches "
        f"{'masked' if table['mask_padding_patches'] else 'scored'}; "
        + (
            f"text queries expanded with {table['expansion']} caption(s) of a bank of {table['expansion_bank']} "
            "train-split captions"
            if table.get("expansion")
            else "text queries alone (no expansion)"
        )
        + ". R@k in %, MedR = median rank (ties counted pessimistically).\n\n"
    )
    return head + table_to_markdown(table) + "\n"


def write_table(table: dict[str, Any], out: str | os.PathLike[str]) -> list[Path]:
    """Write ``table`` as JSON (``.json``), Markdown (``.md``) or both (any other name: ``<out>.json`` and
    ``<out>.md``). Returns the written paths."""
    out = Path(out)
    if out.suffix == ".json":
        targets = [(out, "json")]
    elif out.suffix == ".md":
        targets = [(out, "md")]
    else:
        targets = [(out.with_name(out.name + ".json"), "json"), (out.with_name(out.name + ".md"), "md")]
    for path, kind in targets:
        text = json.dumps(table, indent=1) + "\n" if kind == "json" else _markdown(table)
        atomic_write_text(path, text)
    return [p for p, _ in targets]


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the Markdown table; returns 0."""
    import torch

    from backend.errors import InvalidInputError
    from backend.evaluation.run import PROTOCOLS, evaluate_checkpoint
    from backend.model.expansion import EXPANSION_CAPTIONS

    if args.batch_size < 1:
        raise InvalidInputError(f"--batch-size must be >= 1, got {args.batch_size}")
    device = args.device
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    heldout_fn = terse_fn = None
    if args.dataset == "library" and not args.no_heldout:
        from backend.library.captions import captions_for

        def heldout_fn(labels: Mapping[str, str], clip_id: str) -> list[str]:
            return captions_for(labels, clip_id, heldout=True)

        def terse_fn(labels: Mapping[str, str], clip_id: str) -> list[str]:
            return captions_for(labels, clip_id, heldout=True, form="terse")

    query_set = None
    if args.queries:
        from backend.evaluation.query_sets import load_query_set

        query_set = load_query_set(args.queries)
    table = evaluate_checkpoint(
        args.checkpoint,
        args.dataset,
        args.data_root,
        split=args.split,
        protocols=tuple(args.protocol) if args.protocol else PROTOCOLS,
        heldout_fn=heldout_fn,
        batch_size=args.batch_size,
        device=device,
        max_clips=args.max_clips,
        seed=args.seed,
        query_set=query_set,
        terse_fn=terse_fn,
        expansion=(EXPANSION_CAPTIONS if args.dataset == "library" else 0)
        if args.expansion is None
        else args.expansion,
    )
    print(_markdown(table), end="")
    if args.calibration_out and table.get("calibration"):
        atomic_write_text(
            Path(args.calibration_out), json.dumps(table["calibration"]["calibration"], indent=1) + "\n"
        )
        print(f"wrote {args.calibration_out}")
    if args.out:
        for path in write_table(table, args.out):
            print(f"wrote {path}")
    return 0
