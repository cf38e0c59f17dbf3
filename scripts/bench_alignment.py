"""Where do the add-on's colours land, and do they follow the score? Strength sources side by side.

    python scripts/bench_alignment.py [--checkpoint DIR] [--library data/library] [--split test] [--write]

For every held-out query of a one-sided concept (``backend/evaluation/queries.yaml``: a left-hand wave, a
right-leg kick, ...) and every test clip of that concept, the query's alignment with the clip's centre window
is computed three ways:

* ``gradient``: gradient x input of the MaxSim score per (band, window) cell (``search.attribution``, what the
  server used so far);
* ``attention``: the cosine softmax attention of the score's own token x patch cosines
  (``search.alignment.relevance``, temperature 0.1);
* ``support``: MaxSim's exact decomposition -- each patch gets the cosines of the tokens whose best patch it
  is, so the cells sum to the score times the token count (the score itself, nothing estimated).

Each is compared with **occlusion** (the score drop when one band is replaced by the mean pose, i.e. 0 in the
z-scored image; the ground truth of "which body part did the score rest on"): Spearman rank correlation of the
14 band totals and agreement of the top band. **Named limb**: the share of (query, clip) pairs whose strongest
body part (``part_strength`` without the trajectory band, what colours the bones) is a band of the limb the
query names -- the README demo's criterion. ``--write`` records the table in ``docs/benchmarks.md``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch
from scipy.stats import spearmanr

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "scripts"))

from _docs_section import write_section

from backend.evaluation.data import load_split
from backend.evaluation.query_sets import concept_positives, load_query_set
from backend.model.config import DEFAULT_MODEL_DIR
from backend.model.lexicon import limb_bands
from backend.model.retrieval import MotionTextRetrieval
from backend.model.scoring import maxsim
from backend.motion.kinematics.skeleton import BAND_NAMES, NUM_BANDS, band_slices
from backend.search.alignment import TRAJECTORY_BAND, compute_alignment, relevance, word_similarity
from backend.search.attribution import cell_attribution

MODES = ("gradient", "attention", "support")
_TRAJ = BAND_NAMES.index(TRAJECTORY_BAND)


def support_cells(sim: torch.Tensor, valid: torch.Tensor, n_windows: int) -> np.ndarray:
    """``(14, n_windows)``: each valid patch's sum of the best cosines of the words that pick it."""
    s = sim.masked_fill(~valid[None, :], float("-inf"))
    best, arg = s.max(dim=1)
    out = torch.zeros(sim.shape[1], dtype=torch.float64)
    out.index_add_(0, arg, best.double().clamp(min=0.0))
    return out.numpy().reshape(NUM_BANDS, n_windows)


def pair_stats(model: MotionTextRetrieval, text: str, feat: np.ndarray, limb: tuple[str, str]) -> dict:
    """Band relevance of each mode and of occlusion for one (query, clip) pair."""
    x, fm = model.prepare_motion_batch([feat])
    enc = model.encode_text([text])
    n_win = model.config.n_windows
    slices = band_slices(model.config.band_channels)
    xs = x.repeat(NUM_BANDS + 1, 1, 1)
    for b, sl in enumerate(slices):
        xs[b + 1, :, sl] = 0.0
    mot = model.encode_motion(xs, fm.repeat(NUM_BANDS + 1, 1))
    scores = maxsim(enc.emb.float(), enc.mask, mot.emb.float(), mot.mask)[0].numpy()
    occlusion = scores[0] - scores[1:]
    patches, valid = mot.emb[0].float(), mot.mask[0].bool()
    _, sim = word_similarity(enc, 0, patches)
    cells = {
        "gradient": cell_attribution(model, enc, x, fm)[0].astype(np.float64),
        "attention": relevance(sim, valid).numpy().reshape(NUM_BANDS, n_win).astype(np.float64),
        "support": support_cells(sim, valid, n_win),
    }
    named = set(limb_bands(*limb))
    out = {"occlusion_top": int(np.argmax(occlusion))}
    for mode, r in cells.items():
        al = compute_alignment(enc, patches, valid, n_win, cell_relevance=r)
        part = np.array([al["part_strength"][n] for n in BAND_NAMES])
        body = part.copy()
        body[_TRAJ] = -1.0
        totals = r.sum(axis=1)
        rho = spearmanr(totals, occlusion).statistic if np.ptp(totals) > 0 else 0.0
        out[mode] = {
            "spearman": float(np.nan_to_num(rho)),
            "top_agrees": int(np.argmax(totals)) == out["occlusion_top"],
            "named_limb": int(np.argmax(body)) in named,
        }
    return out


def run(checkpoint: Path, library: Path, split: str, max_pairs: int) -> tuple[str, dict]:
    torch.set_grad_enabled(False)
    model = MotionTextRetrieval.from_pretrained(checkpoint).eval()
    records = load_split("library", library, split)
    labels = [r.labels for r in records]
    qs = load_query_set()
    pairs = []
    for name, concept in qs.concepts.items():
        if concept.limb is None:
            continue
        clips = np.flatnonzero(concept_positives(concept, labels))
        for q in (q for q in qs.queries if q.concept == name):
            pairs += [(q.text, int(c), concept.limb) for c in clips]
    rng = np.random.default_rng(0)
    if len(pairs) > max_pairs:
        pairs = [pairs[i] for i in sorted(rng.choice(len(pairs), max_pairs, replace=False))]
    t0 = time.perf_counter()
    feats: dict[int, np.ndarray] = {}
    stats = []
    for text, c, limb in pairs:
        if c not in feats:
            feats[c] = model.featurize(records[c].joints)
        stats.append(pair_stats(model, text, feats[c], limb))
    secs = time.perf_counter() - t0
    rows = {
        m: {
            "spearman": float(np.mean([s[m]["spearman"] for s in stats])),
            "top_agrees": float(np.mean([s[m]["top_agrees"] for s in stats])),
            "named_limb": float(np.mean([s[m]["named_limb"] for s in stats])),
        }
        for m in MODES
    }
    lines = [
        (
            f"`{checkpoint.name}` on library/{split}: {len(stats)} (query, clip) pairs of one-sided concepts "
            f"({len({p[1] for p in pairs})} clips), {secs:.0f} s."
        ),
        "",
        "| strength source | Spearman vs occlusion (14 bands) | top band = occlusion's | strongest body part on the named limb |",
        "|---|---:|---:|---:|",
    ]
    for m in MODES:
        r = rows[m]
        lines.append(
            f"| {m} | {r['spearman']:.2f} | {100 * r['top_agrees']:.1f} % | {100 * r['named_limb']:.1f} % |"
        )
    return "\n".join(lines), rows


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--checkpoint", type=Path, default=DEFAULT_MODEL_DIR)
    p.add_argument("--library", type=Path, default=REPO / "data" / "library")
    p.add_argument("--split", default="test")
    p.add_argument("--max-pairs", type=int, default=300)
    p.add_argument("--write", action="store_true", help="record the table in docs/benchmarks.md")
    args = p.parse_args()
    table, _ = run(args.checkpoint, args.library, args.split, args.max_pairs)
    print(table)
    if args.write:
        body = (
            "Which strength source colours the bones (`python scripts/bench_alignment.py --write`; "
            "see the script's docstring for the three sources and the occlusion reference).\n\n" + table
        )
        write_section(REPO / "docs" / "benchmarks.md", body, "## Alignment faithfulness")


if __name__ == "__main__":
    main()
