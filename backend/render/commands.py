"""``python -m backend explain "TEXT" CLIP_ID --out FILE.png``: the explanation figure of one match."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from backend.atomic import atomic_write_bytes
from backend.model.config import DEFAULT_MODEL_DIR

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``explain`` sub-command."""
    p = subparsers.add_parser(
        "explain",
        help="render which words of a text matched which body parts of a clip, and when (PNG)",
        description="Render the poses over time, the motion image and the word x (body part, time window) "
        "score map of TEXT against the indexed clip CLIP_ID.",
    )
    p.add_argument("text", help="the query text")
    p.add_argument("clip_id", metavar="CLIP_ID", help="id of an indexed clip")
    p.add_argument("--out", type=Path, required=True, help="PNG file to write")
    p.add_argument("--index", type=Path, default=Path("index"), help="index folder (default ./index)")
    p.add_argument(
        "--checkpoint",
        type=Path,
        default=DEFAULT_MODEL_DIR,
        help="model folder (default backend/assets/default_model)",
    )
    p.add_argument("--width", type=int, default=1400, help="image width in pixels (default 1400)")
    return p


def run(args: argparse.Namespace) -> int:
    """Load the checkpoint and the index, render, write ``--out`` atomically."""
    from backend.errors import CheckpointError, InvalidInputError
    from backend.index.store import MotionIndex
    from backend.model.retrieval import MotionTextRetrieval
    from backend.render.match import explain_clip
    from backend.search.searcher import Searcher

    if not args.text.strip():
        raise InvalidInputError("TEXT is empty")
    if args.width < 400:
        raise InvalidInputError(f"--width must be at least 400 pixels, got {args.width}")
    if not Path(args.checkpoint).is_dir():
        raise CheckpointError(f"checkpoint folder not found: {args.checkpoint} (pass --checkpoint DIR)")
    model = MotionTextRetrieval.from_pretrained(args.checkpoint)
    index = MotionIndex.open(args.index, expected_checksum=model.checksum())
    png = explain_clip(Searcher(index, model), args.text, args.clip_id, width=args.width)
    out = Path(args.out)
    atomic_write_bytes(out, png)
    print(f"wrote {out} ({len(png)} bytes)")
    return 0
