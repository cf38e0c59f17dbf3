"""``python -m backend index build|add|remove|compact|info|verify``.

Examples::

    python -m backend index build --library data/library --checkpoint backend/assets/default_model \\
        --out data/index [--codec fp16|int8|pq] [--extra-captions captions.txt ...]
    python -m backend index add --index data/index walk.bvh more_bvh_folder/ clip.npy
    python -m backend index create --out my_index --licence "studio-owned" --commercial-use my_mocap/
    python -m backend index remove --index data/index clip_id_1 clip_id_2
    python -m backend index info --index data/index
    python -m backend index verify --index data/index [--sampled]
"""

from __future__ import annotations

import argparse
import json
from typing import Any, Literal

__all__ = ["add_parser", "run"]


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    """Register the ``index`` command and its sub-commands."""
    p = subparsers.add_parser(
        "index",
        help="build and maintain a search index",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="index_command", metavar="SUBCOMMAND")

    b = sub.add_parser("build", help="encode a library folder into a new index")
    b.add_argument("--library", required=True, help="library folder (data build-library)")
    b.add_argument("--checkpoint", required=True, help="model checkpoint folder")
    b.add_argument("--out", required=True, help="index folder to create")
    b.add_argument(
        "--codec", choices=("fp16", "int8", "pq"), default="fp16", help="patch storage (default fp16)"
    )
    b.add_argument("--pq-m", type=int, default=None, help="PQ bytes per patch (default embed_dim / 4)")
    b.add_argument(
        "--extra-captions",
        nargs="*",
        default=[],
        metavar="FILE",
        help="extra caption files (.txt / .json / .jsonl) for describe",
    )
    b.add_argument("--stride", type=int, default=None, help="window stride in frames (default half a window)")
    b.add_argument("--batch-size", type=int, default=32)
    b.add_argument("--overwrite", action="store_true", help="replace an existing index")

    a = sub.add_parser("add", help="add BVH / AMC files, folders of them, canonical .npy clips")
    a.add_argument("--index", required=True)
    a.add_argument("paths", nargs="+", metavar="PATH")
    a.add_argument("--checkpoint", default=None, help="default: the checkpoint recorded in the index")
    a.add_argument("--replace", action="store_true", help="replace clips whose id is already indexed")
    a.add_argument("--rename", action="store_true", help="rename new clips whose id is already indexed")
    a.add_argument(
        "--skip-errors",
        action="store_true",
        help="also skip unreadable files named directly (files in folders are always skipped)",
    )
    a.add_argument(
        "--asf", default=None, help="ASF skeleton of the .amc files (default: the .asf beside each)"
    )

    n = sub.add_parser("create", help="a new index of your own motion files only (no bundled dataset)")
    n.add_argument("--out", required=True, help="index folder to create")
    n.add_argument("paths", nargs="+", metavar="FILE_OR_FOLDER", help=".bvh, .amc (+ .asf), canonical .npy")
    n.add_argument("--checkpoint", default=None, help="model checkpoint folder (default: the shipped model)")
    n.add_argument("--licence", default="", help="licence stored with every clip")
    n.add_argument(
        "--commercial-use",
        action="store_true",
        help="that licence allows commercial use (the clips pass search's commercial_safe filter)",
    )
    n.add_argument("--tag", action="append", default=[], help="tag stored with every clip (repeatable)")
    n.add_argument("--dataset", default="user", help="dataset name stored with the clips")
    n.add_argument(
        "--asf", default=None, help="ASF skeleton of the .amc files (default: the .asf beside each)"
    )
    n.add_argument("--codec", choices=("fp16", "int8", "pq"), default="fp16")
    n.add_argument("--extra-captions", nargs="*", default=[], help="text files of captions for describe")
    n.add_argument("--overwrite", action="store_true", help="replace an existing index")

    r = sub.add_parser("remove", help="remove clips by id")
    r.add_argument("--index", required=True)
    r.add_argument("ids", nargs="+", metavar="ID")

    c = sub.add_parser("compact", help="rewrite live clips into one segment")
    c.add_argument("--index", required=True)

    i = sub.add_parser("info", help="print a summary of an index (JSON)")
    i.add_argument("--index", required=True)
    i.add_argument("--verify", action="store_true", help="also decode every clip and check consistency")
    v = sub.add_parser(
        "verify", help="check every array against the checksums written with it (exit 1 if not)"
    )
    v.add_argument("--index", required=True)
    v.add_argument("--sampled", action="store_true", help="only the sampled checksums (what opening checks)")
    p.set_defaults(_index_parser=p)
    return p


def run(args: argparse.Namespace) -> int:
    """Run the chosen ``index`` sub-command; returns the exit code."""
    import torch

    cmd = getattr(args, "index_command", None)
    if cmd is None:
        args._index_parser.print_help()
        return 2
    with torch.no_grad():  # scoped, not global: the command may run in-process (tests, the main job)
        return _run(args, cmd)


def _print_skipped(skipped: list[dict[str, str]]) -> None:
    """List the files an add / create left out, each with its reason."""
    if skipped:
        print(f"skipped {len(skipped)} file(s):")
        for s in skipped:
            print(f"  {s['file']}: {s['reason']}")


def _run(args: argparse.Namespace, cmd: str) -> int:
    from backend.errors import InvalidInputError
    from backend.index import maintenance
    from backend.model.config import DEFAULT_MODEL_DIR
    from backend.search import build

    if cmd == "build":
        index = build.build_index(
            args.library,
            args.checkpoint,
            args.out,
            codec=args.codec,
            pq_m=args.pq_m,
            extra_captions=args.extra_captions,
            stride=args.stride,
            batch_size=args.batch_size,
            overwrite=args.overwrite,
        )
        print(
            f"built index {index.path}: {len(index)} clips, {index.num_windows} windows, codec {index.header.codec}"
        )
    elif cmd == "add":
        if args.replace and args.rename:
            raise InvalidInputError("--replace and --rename exclude each other")
        mode: Literal["error", "replace", "rename"] = (
            "replace" if args.replace else "rename" if args.rename else "error"
        )
        skipped: list[dict[str, str]] = []
        ids = build.add_to_index(
            args.index,
            args.paths,
            checkpoint_dir=args.checkpoint,
            on_conflict=mode,
            skip_errors=args.skip_errors,
            asf=args.asf,
            skipped=skipped,
        )
        print(f"added {len(ids)} clip(s): {', '.join(ids)}")
        _print_skipped(skipped)
    elif cmd == "create":
        skipped = []
        index = build.create_index_from_files(
            args.out,
            args.paths,
            args.checkpoint or DEFAULT_MODEL_DIR,
            licence=args.licence,
            commercial_use=args.commercial_use,
            tags=args.tag,
            dataset=args.dataset,
            asf=args.asf,
            codec=args.codec,
            extra_captions=args.extra_captions,
            overwrite=args.overwrite,
            skipped=skipped,
        )
        print(f"created index {index.path}: {len(index)} clips, {index.num_windows} windows")
        _print_skipped(skipped)
        print(f"serve it with: python -m backend serve --index {index.path}")
    elif cmd == "remove":
        ids = maintenance.remove_from_index(args.index, args.ids)
        print(f"removed {len(ids)} clip(s): {', '.join(ids)}")
    elif cmd == "compact":
        maintenance.compact_index(args.index)
        print(f"compacted {args.index}")
    elif cmd == "info":
        info = maintenance.index_info(args.index)
        if args.verify:
            from backend.index.store import MotionIndex

            MotionIndex.open(args.index).verify()
            info["verified"] = True
        print(json.dumps(info, indent=1))
    elif cmd == "verify":
        from backend.index.verify import verify_index

        report = verify_index(args.index, full=not args.sampled)
        for problem in report.problems:
            print(f"damaged: {problem}")
        for folder in report.unchecked:
            print(f"no checksums recorded (written before checksums existed): {folder}")
        kind = "sampled checksums" if args.sampled else "sha256"
        print(f"{'ok' if report.ok else 'FAILED'}: {report.files} file(s) compared ({kind}), "
              f"{len(report.problems)} problem(s)")  # fmt: skip
        return 0 if report.ok else 1
    return 0
