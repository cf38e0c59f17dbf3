"""R@k change of each patch-storage codec on the test split (issue 4: "<= 16 KB per clip at <= 0.5 points R@10").

    python scripts/bench_codecs.py --index data/index --checkpoint backend/assets/default_model \
        [--split test] [--codecs fp16 int8 pq:64 pq:32] [--threads 2] [--out docs/codecs.md]

For every codec the index is re-stored with that codec (``backend.index.transcode``: the PQ codebook is trained
on a sample of the whole library's patches, as ``index build --codec pq`` does), and the evaluation protocols of
``python -m backend evaluate`` are run on the re-stored embeddings: every caption and held-out phrasing of the
split's clips is a query (2,357 on our test split), the gallery is the split's clips, and a clip's score is its
best window's exact MaxSim (every window the index holds, not one centre crop). Rows: the *All* protocol
(positive = identical caption) and the label-level protocols, both directions, and the change against the
index as built (fp16). Queries are many, so one query moves R@k by
100 / 2,357 ~ 0.04 points.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backend.evaluation.protocols import build_eval_set
from backend.evaluation.run import run_protocols
from backend.index.store import MotionIndex
from backend.index.transcode import transcode_index
from backend.library.captions import captions_for
from backend.model.scoring import maxsim
from backend.search.build import load_model

__all__ = ["codec_rows", "main"]

#: (label, protocol, queries, direction, metric) columns of the table
COLUMNS = [
    ("T2M R@1", "all", "all", "t2m", "R@1"),
    ("T2M R@10", "all", "all", "t2m", "R@10"),
    ("M2T R@1", "all", "all", "m2t", "R@1"),
    ("M2T R@10", "all", "all", "m2t", "R@10"),
    ("held-out T2M R@10", "all", "heldout", "t2m", "R@10"),
    ("action+style T2M R@1", "action+style", "all", "t2m", "R@1"),
    ("action+style T2M R@10", "action+style", "all", "t2m", "R@10"),
]


def _encode_texts(
    model: object, texts: list[str], batch: int = 128
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    out = []
    with torch.inference_mode():
        for a in range(0, len(texts), batch):
            enc = model.encode_text(texts[a : a + batch])
            out.append((enc.emb.float(), enc.mask.bool()))
    return out


def _clip_scores(
    index: MotionIndex, positions: np.ndarray, queries: list[tuple[torch.Tensor, torch.Tensor]]
) -> np.ndarray:
    """``(Nt, Nc)`` best-window exact MaxSim of every query against the clips at ``positions``."""
    per_clip = [index.clip_windows(int(p)) for p in positions]
    rows = np.concatenate(per_clip)
    owner = np.concatenate([np.full(len(r), i) for i, r in enumerate(per_clip)])
    emb, mask = index.window_patches(rows)
    d, dm = torch.from_numpy(np.asarray(emb, np.float32)), torch.from_numpy(np.asarray(mask, bool))
    win = torch.cat([maxsim(q, qm, d, dm, chunk_size=128) for q, qm in queries]).numpy()
    out = np.full((win.shape[0], len(positions)), -np.inf, dtype=np.float32)
    np.maximum.at(out.T, owner, win.T)  # best window per clip
    return out


def codec_rows(
    index_dir: Path, checkpoint: Path, codecs: list[str], split: str, work: Path
) -> tuple[list[dict[str, object]], dict[str, int]]:
    """One result dict per codec (``codec``, ``bytes_per_clip``, ``metrics``) plus the query counts."""
    model = load_model(checkpoint)
    src = MotionIndex.open(index_dir, expected_checksum=model.checksum())
    positions = np.array(
        [
            i
            for i, r in enumerate(src.clips)
            if r.meta.split == split and any(c.strip() for c in r.meta.captions)
        ]
    )
    if not len(positions):
        raise SystemExit(f"{index_dir}: no captioned clip of split {split!r}")
    metas = [src.clips[int(p)].meta for p in positions]
    labels = [{str(k): str(v) for k, v in m.labels.items()} for m in metas]
    heldout = [captions_for(lab, m.id, heldout=True) for lab, m in zip(labels, metas, strict=True)]
    ev = build_eval_set(
        [m.id for m in metas],
        [[c for c in m.captions if c.strip()] for m in metas],
        labels=labels,
        heldout=heldout if any(heldout) else None,
    )
    queries = _encode_texts(model, list(ev.texts))
    counts = {"clips": len(positions), **{kind: int(ev.rows(kind).size) for kind in ("seen", "heldout")}}
    results: list[dict[str, object]] = []
    for spec in ["stored", *codecs]:
        name, _, m = spec.partition(":")
        t0 = time.perf_counter()
        if spec == "stored":
            index = src
        else:
            index = transcode_index(src.path, work / spec.replace(":", "-"), name, pq_m=int(m) if m else None)
        disk = index.disk_bytes()
        per_clip = sum(v for k, v in disk.items() if k != "joints") / len(index)
        scores = _clip_scores(index, positions, queries)
        table = run_protocols(scores, ev, ("all", "labels"), model, 0, 0.95, (1, 5, 10))
        metrics = {
            label: next(
                float(r[metric])
                for r in table
                if (r["protocol"], r["queries"], r["direction"]) == (protocol, qs, direction)
            )
            for label, protocol, qs, direction, metric in COLUMNS
        }
        if spec == "stored":
            spec = f"{src.header.codec} (as built)"
        results.append({"codec": spec, "bytes_per_clip": per_clip, "metrics": metrics})
        print(f"{spec}: {per_clip:,.0f} B/clip, {metrics} ({time.perf_counter() - t0:.0f} s)", flush=True)
    return results, counts


def markdown(results: list[dict[str, object]], counts: dict[str, int], split: str) -> str:
    base = results[0]["metrics"]
    head = "| storage | bytes / clip | " + " | ".join(c[0] for c in COLUMNS) + " |"
    lines = [head, "|---|---:|" + "---:|" * len(COLUMNS)]
    for r in results:
        cells = []
        for label, *_ in COLUMNS:
            v, d = r["metrics"][label], r["metrics"][label] - base[label]
            cells.append(f"{v:.2f}" if r is results[0] else f"{v:.2f} ({d:+.2f})")
        name = r["codec"].replace(":", ", m = ")
        lines.append(f"| {name} | {r['bytes_per_clip']:,.0f} | " + " | ".join(cells) + " |")
    return (
        f"Split `{split}`: {counts['clips']} clips, {counts['seen']} caption + {counts['heldout']} held-out queries; "
        "R@k in %, change against the index as built in brackets.\n\n" + "\n".join(lines)
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--index", type=Path, required=True, help="an fp16 index built by `index build`")
    ap.add_argument("--checkpoint", type=Path, required=True)
    ap.add_argument("--split", default="test")
    ap.add_argument("--codecs", nargs="+", default=["int8", "pq:64", "pq:32"],
                    help="codec[:pq_m] list, compared with the index as built (default int8 pq:64 pq:32)")  # fmt: skip
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--out", type=Path, default=None, help="also write the markdown table here")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-codecs-") as tmp:
        results, counts = codec_rows(args.index, args.checkpoint, args.codecs, args.split, Path(tmp))
    md = markdown(results, counts, args.split)
    print(md)
    if args.out:
        args.out.write_text(md + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
