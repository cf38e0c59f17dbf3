"""Build the whole library from the shared mirror and record the numbers in ``docs/benchmarks.md``.

Usage::

    .venv/bin/python scripts/bench_library.py [--mirror ../shared/datasets] [--work .cache/bench-library]
                                              [--workers 2] [--limit N] [--doc docs/benchmarks.md]

Fetches (mirror mode: copy, verify SHA-256, unpack; skipped when already done), builds the library, then
replaces the section ``## Library build`` of the benchmarks file (other sections are left as they are) with a
table: format, licence, clips, duplicate takes left out, frames and splits per source, clips/s, the duplicate CMU
takes and every skipped clip with its reason.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from _docs_section import write_section

SECTION = "## Library build"


def render(report, library, fetch_note: str, workers: int, limit: int | None) -> str:
    """The markdown section for one build."""
    from backend.library.plan import CMU_SOURCE_PRIORITY
    from backend.library.sources import get_source

    splits: dict[str, Counter] = {}
    for meta in library.metas():
        splits.setdefault(meta.dataset, Counter())[meta.split] += 1
    lines = [
        SECTION,
        "",
        (
            f"`python scripts/bench_library.py` on {time.strftime('%Y-%m-%d')}: {os.cpu_count()} CPU cores "
            f"({platform.processor() or platform.machine()}), Python {platform.python_version()}, {workers} worker "
            f"process(es){f', --limit {limit}' if limit else ''}. Fetch from the local mirror (copy + SHA-256 + "
            f"unpack): {fetch_note}."
        ),
        "",
        (
            f"**{report.num_clips} clips in {report.seconds:.1f} s = {report.clips_per_second:.1f} clips/s**; "
            f"{len(report.skipped)} skipped."
        ),
        "",
        "| source | format | licence | clips | duplicate takes left out | frames (20 fps) | hours | train / val / test |",
        "|---|---|---|---:|---:|---:|---:|---|",
    ]
    dropped = Counter(d["file"].split("/")[0] for d in report.duplicates)
    for name, count in report.per_source.items():
        frames = report.frames_per_source.get(name, 0)
        s = splits.get(name, Counter())
        source = get_source(name)
        fmt = "ASF/AMC" if name == "hdm05-cuts" else "BVH"
        commercial = (
            "commercial use allowed" if name.startswith("cmu") or name == "reactidle" else "non-commercial"
        )
        lines.append(
            f"| {name} | {fmt} | {source.licence} ({commercial}) | {count} | {dropped.get(name, 0)} | {frames:,} | "
            f"{frames / 20 / 3600:.2f} | {s['train']} / {s['val']} / {s['test']} |"
        )
    total_frames = sum(report.frames_per_source.values())
    total = Counter()
    for c in splits.values():
        total.update(c)
    lines.append(f"| **total** | | | **{report.num_clips}** | {len(report.duplicates)} | {total_frames:,} | "
                 f"{total_frames / 20 / 3600:.2f} | {total['train']} / {total['val']} / {total['test']} |")  # fmt: skip
    lines += [
        "",
        (
            "One clip per CMU trial (`backend/library/plan.py` `dedupe_trials`): a trial held by several conversions "
            f"is built from the first of {', '.join(CMU_SOURCE_PRIORITY)} that has it. Copies left out:"
        ),
        "",
    ]
    pairs: dict[tuple[str, str], list[str]] = {}
    for d in report.duplicates:
        kept_id, kept_source = d["kept"].rstrip(")").split(" (")
        pairs.setdefault((d["file"].split("/")[0], kept_source), []).append(kept_id.removeprefix("cmu_"))
    for (src, kept_source), trials in sorted(pairs.items()):
        lines.append(f"- {len(trials)} from {src}, kept from {kept_source}: {', '.join(sorted(trials))}")
    if not pairs:
        lines.append("- none")
    lines += [
        "",
        (
            "cmu-iclone is still fetched: its takes are used only where no preferred copy is built (e.g. "
            "`--only cmu-iclone`). The Daz rig's joint angles differ from the cgspeed copy of the same takes by 7.6 "
            "deg on average (iClone's: 8.2 deg; `tests/motion/test_retarget.py`); cgspeed's T-pose frames (1-5 per "
            "file) and the Daz files' blended T-pose starts are dropped (`leading_rest_frames`)."
        ),
    ]
    lines += ["", "Skipped clips:", ""]
    if report.skipped:
        lines += [f"- `{s['file']}`: {s['reason']}" for s in report.skipped]
    else:
        lines.append("- none")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Fetch, build, write the benchmark section; returns the exit code."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--mirror",
        type=Path,
        default=Path(os.environ.get("MOTION_SEARCH_MIRROR", REPO.parent / "shared" / "datasets")),
    )
    parser.add_argument("--work", type=Path, default=REPO / ".cache" / "bench-library")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--limit", type=int, default=None, help="clips per source (quick check; not for the record)"
    )
    parser.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = parser.parse_args(argv)

    from backend.library.build import build_library
    from backend.library.fetch import fetch_sources
    from backend.library.sources import MOTION_SOURCES
    from backend.motion.io.library import Library

    start = time.perf_counter()
    needed = [*MOTION_SOURCES, "cmu-index", "kitml-annotations"]
    fetched = fetch_sources(args.work / "sources", only=needed, mirror=args.mirror, progress=True)
    fetch_seconds = time.perf_counter() - start
    fetch_note = (
        "all sources already fetched and verified, skipped"
        if all(r.skipped for r in fetched)
        else f"{fetch_seconds:.1f} s"
    )
    report = build_library(
        args.work / "sources", args.work / "library", workers=args.workers, limit=args.limit
    )
    print(report.summary())
    section = render(report, Library.open(args.work / "library"), fetch_note, args.workers, args.limit)
    write_section(args.doc, section, SECTION)
    print(f"wrote {args.doc} ({SECTION})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
