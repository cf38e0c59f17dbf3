"""Command-line interface: ``python -m backend <command> ...``.

Each command lives in its own module (``backend/<package>/commands.py``) exposing
``add_parser(subparsers) -> argparse.ArgumentParser`` and ``run(args) -> int``. Those modules
import nothing heavy at module level (torch, transformers, ... are imported inside ``run``), so
``python -m backend --help`` is instant.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys

from backend.errors import MotionSearchError

# command name -> module providing add_parser()/run()
COMMANDS: dict[str, str] = {
    "data": "backend.library.commands",
    "train": "backend.training.commands",
    "pretrain": "backend.training.pretrain_commands",
    "evaluate": "backend.evaluation.commands",
    "index": "backend.search.commands",
    "serve": "backend.server.commands",
    "explain": "backend.render.commands",
    "main": "backend.mainjob",
}


def build_parser() -> argparse.ArgumentParser:
    """Build the top-level parser with one sub-parser per available command."""
    parser = argparse.ArgumentParser(prog="python -m backend", description="Motion Search backend")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module_name in COMMANDS.values():
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as exc:  # a command whose package is not there yet
            if exc.name and module_name.startswith(exc.name):
                continue
            raise
        p = module.add_parser(sub)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Parse ``argv`` and run the chosen command; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except MotionSearchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
