"""The int8 text graph on retrieval (issue 13): does ``text_runtime="onnx-int8"`` find what the float graph finds?

Both runtimes search the real library with the default two-stage search (this checkout, the shipped model):

* every test-split clip's first two captions: R@1 / R@5 / R@10 of the caption's own clip, whole library as
  gallery;
* the held-out query set (``backend/evaluation/queries.yaml``: natural sentences and terse queries per action,
  written apart from the captions; reported here, never selected on): macro action@1 / @5 over the concepts the
  library holds (a hit is right when its labels match the concept, ``concept_positives``);
* how much the two top-10 lists share, and the worst token cosine of :func:`check_quantized`.

Writes the "## The int8 text graph on retrieval" section of ``docs/benchmarks.md``.

    python scripts/bench_text_int8.py --index data/index
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from _docs_section import write_section

from backend.evaluation.query_sets import concept_positives, load_query_set
from backend.index.store import MotionIndex
from backend.model.config import DEFAULT_MODEL_DIR
from backend.model.text_onnx import check_quantized
from backend.search.build import load_model
from backend.search.searcher import Searcher

SECTION = "## The int8 text graph on retrieval"
RUNTIMES = ("onnx", "onnx-int8")


def own_clip_ranks(searchers: dict[str, Searcher], index: MotionIndex, n: int) -> dict[str, np.ndarray]:
    caps = [(r.id, c) for r in index.clips if r.meta.split == "test" for c in r.meta.captions[:2]][:n]
    ranks: dict[str, list[int]] = {name: [] for name in searchers}
    for clip_id, text in caps:
        for name, s in searchers.items():
            ids = [h.clip_id for h in s.search(text, 10)]
            ranks[name].append(ids.index(clip_id) if clip_id in ids else 10)
    return {name: np.array(r) for name, r in ranks.items()}


def held_out(searchers: dict[str, Searcher], index: MotionIndex, form: str) -> dict:
    qs = load_query_set()
    labels = [dict(r.meta.labels) for r in index.clips]
    pos = {r.id: i for i, r in enumerate(index.clips)}
    per: dict[str, dict[str, list[tuple[bool, bool]]]] = {name: defaultdict(list) for name in searchers}
    shared = []
    for q in qs.select(("action",), (form,)):
        right = concept_positives(qs.concepts[q.concept], labels)
        if not right.any():
            continue
        tops = {}
        for name, s in searchers.items():
            tops[name] = [pos[h.clip_id] for h in s.search(q.text, 10)]
            per[name][q.concept].append((bool(right[tops[name][0]]), bool(right[tops[name][:5]].any())))
        a, b = tops.values()
        shared.append(len(set(a) & set(b)) / max(len(a), 1))
    out = {"queries": len(shared), "shared": float(np.mean(shared))}
    for name, concepts in per.items():
        out[name] = tuple(
            100 * float(np.mean([np.mean([h[i] for h in v]) for v in concepts.values()])) for i in (0, 1)
        )
        out["concepts"] = len(concepts)
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, default=REPO / "data" / "index")
    ap.add_argument("--checkpoint", type=Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--captions", type=int, default=600, help="test-split captions")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-write", action="store_true")
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_grad_enabled(False)
    model = load_model(args.checkpoint)
    index = MotionIndex.open(args.index, expected_checksum=model.checksum())
    searchers = {rt: Searcher(index, model, query_cache=0, text_runtime=rt) for rt in RUNTIMES}
    worst = check_quantized(searchers["onnx"].query_encoder, searchers["onnx-int8"].query_encoder)
    ranks = own_clip_ranks(searchers, index, args.captions)
    forms = {form: held_out(searchers, index, form) for form in ("natural", "terse")}
    cmd = " ".join(["python scripts/bench_text_int8.py", *sys.argv[1:]])
    pct = lambda r, k: 100 * float((r < k).mean())
    lines = [
        (f"`{cmd}` on {datetime.now(UTC):%Y-%m-%d %H:%M} UTC: {os.cpu_count()} CPU cores ({platform.machine()}), "
         f"Python {platform.python_version()}. Real library `{args.index}` ({len(index):,} clips, "
         f"{index.num_windows:,} windows, shipped model, the whole library as gallery), default two-stage search "
         "(each text searched with its closest caption-bank caption, as served), "
         f"the float (`onnx`) and the int8 (`onnx-int8`) text graph; worst token cosine of the int8 graph to the "
         f"float one on the check texts: {worst:.4f}."),
        "",
        "| queries | measure | float graph | int8 graph |",
        "|---|---|---:|---:|",
        (f"| {len(ranks['onnx'])} test-split captions | own clip R@1 / R@5 / R@10 (%) | "
         + " | ".join(" / ".join(f"{pct(ranks[rt], k):.1f}" for k in (1, 5, 10)) for rt in RUNTIMES) + " |"),
    ]  # fmt: skip
    for form, r in forms.items():
        lines.append(f"| {r['queries']} held-out {form} queries ({r['concepts']} actions) | macro action@1 / @5 (%) | "
                     + " | ".join(f"{r[rt][0]:.1f} / {r[rt][1]:.1f}" for rt in RUNTIMES) + " |")  # fmt: skip
    lines += ["", "Top-10 shared by the two graphs: " + "; ".join(
        f"{form} {r['shared']:.2f}" for form, r in forms.items()) + "."]  # fmt: skip
    body = "\n".join(lines)
    print(body)
    if not args.no_write:
        write_section(args.doc, body, SECTION)
        print(f"updated {args.doc}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
