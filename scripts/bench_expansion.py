"""Caption-bank query expansion (issue 11; ``backend/model/expansion.py``): the choice, its effect, its cost.

1. **Choice, on val** (decided before the test split was scored with expansion): the shipped model with 0-3
   bank captions joined to each query, bank = the train split's captions; the breakdown protocol's action macro
   R@1 over the val clips' library phrasings (held-out phrasings, seen captions, terse forms): the highest wins.
2. **Effect, on test** (reported, not selected on): the same model with no expansion and with the chosen one:
   the held-out query set (``backend/evaluation/queries.yaml``: natural and terse, macro over actions), the
   library phrasings, describe (motion -> text, bank captions alone: unchanged by design), calibration AUROC.
3. **Cost, on the real library** (``--index``): ``Searcher.search(text, k=10)`` with expansion 0 and 1
   (one shared text encoder, every text new, the two interleaved), and ``Searcher.expand`` alone.

Writes the "## Caption-bank query expansion" section of ``docs/benchmarks.md``.

    python scripts/bench_expansion.py --data-root data/library --index data/index
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from _docs_section import write_section

from backend.evaluation.run import evaluate_checkpoint
from backend.index.store import MotionIndex
from backend.library.captions import captions_for
from backend.model.config import DEFAULT_MODEL_DIR
from backend.search.build import load_model
from backend.search.searcher import Searcher

SECTION = "## Caption-bank query expansion"


def heldout(labels: Mapping[str, str], clip_id: str) -> list[str]:
    return captions_for(labels, clip_id, heldout=True)


def terse(labels: Mapping[str, str], clip_id: str) -> list[str]:
    return captions_for(labels, clip_id, heldout=True, form="terse")


def evaluate(args: argparse.Namespace, split: str, m: int, protocols: tuple[str, ...]) -> dict:
    return evaluate_checkpoint(args.checkpoint, "library", args.data_root, split=split, protocols=protocols,
                               heldout_fn=heldout, terse_fn=terse, expansion=m)  # fmt: skip


def row(table: dict, protocol: str, direction: str, group: str = "macro") -> dict:
    return next(
        r
        for r in table["breakdown"]
        if (r["protocol"], r["direction"], r["group"]) == (protocol, direction, group)
    )


def query_row(table: dict, form: str) -> dict:
    return next(
        r for r in table["queries"]["rows"] if (r["kind"], r["form"], r["group"]) == ("action", form, "macro")
    )


def latency(args: argparse.Namespace) -> dict[str, float]:
    model = load_model(args.checkpoint)
    index = MotionIndex.open(args.index)
    on = Searcher(index, model, query_cache=0)
    off = Searcher(index, model, query_cache=0, expansion=0, query_encoder=on.query_encoder)
    verbs = ["walks", "waves", "kicks", "bows", "runs", "jumps", "punches", "turns", "sits", "dances"]
    ways = ["slowly", "twice", "happily", "to the left", "to the right", "with energy", "carefully", "again",
            "like an old man", "in a hurry"]  # fmt: skip
    texts = [f"a person {v} {w}" for v in verbs for w in ways][: args.queries + 5]
    for t in texts[:5]:
        on.search(t, 10), off.search(t, 10)
    lat: dict[str, list[float]] = {"off": [], "on": [], "expand": []}
    for i, t in enumerate(texts[5:]):
        for name, s in (("off", off), ("on", on)) if i % 2 else (("on", on), ("off", off)):
            t0 = time.perf_counter()
            s.search(f"{t} ({name})", 10)
            lat[name].append(time.perf_counter() - t0)
        enc = on.encode_query(t)
        t0 = time.perf_counter()
        on.expand(enc)
        lat["expand"].append(time.perf_counter() - t0)
    out = {f"{k}_p50": 1e3 * float(np.median(v)) for k, v in lat.items()}
    out |= {f"{k}_p99": 1e3 * float(np.percentile(v, 99)) for k, v in lat.items()}
    out["bank"] = float(len(on.expansions.expander()))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--data-root", default="data/library")
    p.add_argument("--index", default="data/index")
    p.add_argument("--checkpoint", default=str(DEFAULT_MODEL_DIR))
    p.add_argument("--queries", type=int, default=60, help="timed searches per setting")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--no-write", action="store_true")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)
    started = datetime.now(UTC)

    val = {m: evaluate(args, "val", m, ("breakdown",)) for m in (0, 1, 2, 3)}
    for m, t in val.items():
        r = row(t, "action", "t2m")
        print(f"val m={m}: library phrasings action macro R@1 {r['R@1']:.1f} R@5 {r['R@5']:.1f}", flush=True)
    chosen = max(val, key=lambda m: (row(val[m], "action", "t2m")["R@1"], -m))
    test = {
        m: evaluate(args, "test", m, ("breakdown", "queries", "calibration")) for m in sorted({0, chosen})
    }
    speed = latency(args)
    print(speed, flush=True)

    lines = [
        (
            f"`python scripts/bench_expansion.py --data-root {args.data_root} --index {args.index}` on "
            f"{started:%Y-%m-%d %H:%M} UTC: {os.cpu_count()} CPU cores ({platform.machine()}), torch "
            f"{torch.__version__} with {args.threads} threads; shipped model (`{Path(args.checkpoint).name}`). "
            f"What it is and why: `backend/model/expansion.py`."
        ),
        "",
        (
            "**Choice on val** (bank = the train split's "
            f"{test[0].get('expansion_bank') or val[1]['expansion_bank']:,} distinct captions; library phrasings of the "
            f"{val[0]['n_clips']} val clips; decided on R@1):"
        ),
        "",
        "| bank captions joined to each query | library phrasings action macro R@1 | R@5 |",
        "|---:|---:|---:|",
    ]
    for m, t in val.items():
        r = row(t, "action", "t2m")
        mark = " (chosen)" if m == chosen else ""
        lines.append(f"| {m}{mark} | {r['R@1']:.1f} | {r['R@5']:.1f} |")
    lines += [
        "",
        (
            f"**Effect on test** ({test[0]['n_clips']} clips, reported, not selected on; the query set is the one the "
            "issue's targets use):"
        ),
        "",
        f"| metric (test split, macro = each action once) | query alone | joined with {chosen} caption(s) | target |",
        "|---|---:|---:|---:|",
    ]

    def at(r: dict, *ks: str) -> str:
        return " / ".join(f"{r[k]:.1f}" for k in ks)

    metrics = [  # label, the cell of one test table, target
        ("natural held-out queries, action@1 / @5", lambda t: at(query_row(t, "natural"), "R@1", "R@5"), "85 / 97"),
        ("terse held-out queries, action@1 / @5", lambda t: at(query_row(t, "terse"), "R@1", "R@5"), "80 / 95"),
        ("library phrasings, action T2M R@1 / @5", lambda t: at(row(t, "action", "t2m"), "R@1", "R@5"), "–"),
        ("describe: right action in the top 3 (M2T R@3, captions alone)",
         lambda t: at(row(t, "action", "m2t"), "R@3"), "85"),
        ("calibration AUROC, present vs absent actions (fitted)",
         lambda t: f"{100 * t['calibration']['auroc_absent']:.1f}", "95"),
        ("... present vs trained-but-not-in-gallery actions",
         lambda t: f"{100 * t['calibration']['auroc_known_absent']:.1f}", "–"),
    ]  # fmt: skip
    lines += [f"| {label} | {' | '.join(cell(test[m]) for m in sorted(test))} | {target} |"
              for label, cell, target in metrics]  # fmt: skip
    lines += [
        "",
        (
            f"**Cost on the real library** (`{args.index}`, {int(speed['bank']):,} bank captions, {args.queries} new "
            "texts each, interleaved): full search p50 / p99 "
            f"{speed['off_p50']:.1f} / {speed['off_p99']:.1f} ms alone, {speed['on_p50']:.1f} / {speed['on_p99']:.1f} ms "
            f"expanded ({speed['on_p50'] / speed['off_p50']:.2f}x); finding the caption (`Searcher.expand`) "
            f"{speed['expand_p50']:.1f} / {speed['expand_p99']:.1f} ms."
        ),
    ]
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(REPO / "docs" / "benchmarks.md", body, SECTION)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
