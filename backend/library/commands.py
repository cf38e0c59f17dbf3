"""``python -m backend data ...``: ``fetch`` (get the pinned sources) and ``build-library`` (convert them).

Imports nothing heavy at module level; the work modules load inside :func:`run`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

__all__ = ["add_parser", "run"]


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Register ``data`` and its sub-commands on the top-level CLI."""
    parser = subparsers.add_parser("data", help="fetch data sources and build the motion library",
                                   description="Fetch the pinned data sources and build the motion library.")  # fmt: skip
    sub = parser.add_subparsers(dest="data_command", metavar="SUBCOMMAND")

    fetch = sub.add_parser(
        "fetch",
        help="download / copy the pinned sources, verify SHA-256, unpack",
        description=(
            "Get every source listed in shared/datasets/README.md: from a local mirror (--mirror), an HTTP "
            "mirror (--base-url), or by default from the upstream repositories at their pinned commits. "
            "Verifies SHA-256, resumes interrupted downloads, unpacks into DEST/<name>/."
        ),
    )
    fetch.add_argument("--mirror", type=Path, help="local folder holding <name>.tar.gz and SHA256SUMS")
    fetch.add_argument("--base-url", help="HTTP(S) URL serving the mirror folder (<URL>/<name>.tar.gz)")
    fetch.add_argument(
        "--dest", type=Path, default=Path("data/sources"), help="destination (default: data/sources)"
    )
    fetch.add_argument("--only", nargs="+", metavar="NAME", help="fetch only these sources")
    fetch.add_argument("--raw-url", default=None, help="base of raw file URLs for upstream mode "
                       "(default https://raw.githubusercontent.com)")  # fmt: skip
    fetch.add_argument("--api-url", default=None, help="base of the git tree API for upstream mode "
                       "(default https://api.github.com)")  # fmt: skip
    fetch.add_argument("--no-progress", action="store_true", help="no progress bars")
    fetch.add_argument("--list", action="store_true", help="list the pinned sources and exit")

    build = sub.add_parser(
        "build-library",
        help="convert every fetched clip into one canonical library folder",
        description=(
            "Convert every clip of the fetched sources into canonical form (22 SMPL joints, 20 fps, metres) "
            "with labels, captions and train/val/test splits, and write one library folder. Bad clips are "
            "skipped and reported."
        ),
    )
    build.add_argument(
        "--sources", type=Path, default=Path("data/sources"), help="fetched sources (default: data/sources)"
    )
    build.add_argument(
        "--out", type=Path, default=Path("data/library"), help="library folder (default: data/library)"
    )
    build.add_argument("--only", nargs="+", metavar="NAME", help="build only from these motion sources")
    build.add_argument("--limit", type=int, default=None, help="at most N clips per source (evenly spaced)")
    build.add_argument("--workers", type=int, default=2, help="conversion processes (default: 2)")
    build.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(_data_parser=parser)
    return parser


def _run_fetch(args: argparse.Namespace) -> int:
    from backend.library.fetch import fetch_sources
    from backend.library.sources import SOURCES
    from backend.library.upstream import GITHUB_API, GITHUB_RAW

    if args.list:
        for s in SOURCES:
            repos = ", ".join(f"{u.repo}@{u.commit[:10]}" for u in s.upstreams)
            print(f"{s.name:20s} {s.size:>12,d} B  {s.licence}  [{repos}]")
        return 0
    results = fetch_sources(
        args.dest,
        only=args.only,
        mirror=args.mirror,
        base_url=args.base_url,
        raw_url=args.raw_url or GITHUB_RAW,
        api_url=args.api_url or GITHUB_API,
        progress=not args.no_progress,
    )
    for r in results:
        print(f"{r.name}: {'already fetched' if r.skipped else 'fetched'} ({r.mode}) -> {r.path}")
    return 0


def _run_build(args: argparse.Namespace) -> int:
    from backend.errors import InvalidInputError
    from backend.library.build import build_library

    if args.limit is not None and args.limit < 1:
        raise InvalidInputError(f"--limit must be >= 1, got {args.limit}")
    if args.workers < 1:
        raise InvalidInputError(f"--workers must be >= 1, got {args.workers}")
    report = build_library(
        args.sources,
        args.out,
        only=args.only,
        limit=args.limit,
        workers=args.workers,
        progress=not args.no_progress,
    )
    print(report.summary())
    return 0


def run(args: argparse.Namespace) -> int:
    """Dispatch ``data fetch`` / ``data build-library``; returns the exit code."""
    command = getattr(args, "data_command", None)
    if command == "fetch":
        return _run_fetch(args)
    if command == "build-library":
        return _run_build(args)
    args._data_parser.print_help(sys.stderr)
    return 2
