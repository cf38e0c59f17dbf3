"""Write the "Model" section of docs/benchmarks.md from evaluation JSON files.

    python scripts/model_tables.py [--runs runs]                       # print the ablation table
    python scripts/model_tables.py --intro section.md [--doc docs/benchmarks.md]

Rows: one per ablation run folder ``runs/ablation-<row>-s<seed>/test.json`` (averaged over seeds, with the
seed count), plus the shipped default model's own table.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections import defaultdict
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from _docs_section import write_section

ROWS = {
    "paper": "(a) paper: angles + MaxSim + MLM",
    "pooled": "(b) global pooling",
    "positions": "(c) positions image",
    "no_mlm": "(d) no MLM",
    "masked": "(e) padding-masked MaxSim",
    "mirror": "(f) (a) + left/right mirror augmentation",
}
COLUMNS = [  # (header, protocol, queries, direction, metric)
    ("T2M R@1", "all", "all", "t2m", "R@1"),
    ("T2M R@5", "all", "all", "t2m", "R@5"),
    ("T2M R@10", "all", "all", "t2m", "R@10"),
    ("M2T R@1", "all", "all", "m2t", "R@1"),
    ("M2T R@10", "all", "all", "m2t", "R@10"),
    ("held-out T2M R@1", "all", "heldout", "t2m", "R@1"),
    ("held-out T2M R@10", "all", "heldout", "t2m", "R@10"),
    ("b32 T2M R@1", "batch32", "all", "t2m", "R@1"),
    ("action T2M R@1", "action", "all", "t2m", "R@1"),
    ("action+style T2M R@1", "action+style", "all", "t2m", "R@1"),
    ("action+style M2T R@1", "action+style", "all", "m2t", "R@1"),
]
CONTRASTS = [("left/right acc", "left/right"), ("style acc", "style")]


def _values(table: dict) -> dict[str, float]:
    out = {}
    for header, protocol, queries, direction, metric in COLUMNS:
        for r in table["rows"]:
            if (r["protocol"], r["queries"], r["direction"]) == (protocol, queries, direction):
                out[header] = float(r[metric])
    for header, kind in CONTRASTS:
        for c in table.get("contrasts", []):
            if c["kind"] == kind and c["queries"] == "all":
                out[header] = float(c["accuracy"])
    return out


def ablation_markdown(runs: Path) -> str:
    per_row: dict[str, list[dict[str, float]]] = defaultdict(list)
    for path in sorted(runs.glob("ablation-*-s*/test.json")):
        name = path.parent.name[len("ablation-") :].rsplit("-s", 1)[0]
        per_row[name].append(_values(json.loads(path.read_text())))
    headers = [h for h, *_ in COLUMNS] + [h for h, _ in CONTRASTS]
    lines = ["| row | seeds | " + " | ".join(headers) + " |", "|---|---:|" + "---:|" * len(headers)]
    for key, label in ROWS.items():
        vals = per_row.get(key)
        if not vals:
            lines.append(f"| {label} | 0 | " + " | ".join("not run" for _ in headers) + " |")
            continue
        cells = []
        for h in headers:
            xs = [v[h] for v in vals if h in v]
            if not xs:
                cells.append("–")
            elif len(xs) == 1:
                cells.append(f"{xs[0]:.1f}")
            else:
                cells.append(f"{statistics.mean(xs):.1f} ± {statistics.stdev(xs):.1f}")
        lines.append(f"| {label} | {len(vals)} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=Path, default=REPO / "runs")
    ap.add_argument(
        "--intro",
        type=Path,
        default=None,
        help="markdown with the section's prose ({{ABLATIONS}}, {{DEFAULT}} placeholders); "
        "given: replace the Model section of --doc; omitted: print the ablation table",
    )
    ap.add_argument("--default-table", type=Path, default=REPO / "backend/assets/default_model/eval_test.md")
    ap.add_argument("--doc", type=Path, default=REPO / "docs" / "benchmarks.md")
    args = ap.parse_args()
    if args.intro is None:
        print(ablation_markdown(args.runs))
        return
    body = args.intro.read_text(encoding="utf-8")
    body = body.replace("{{ABLATIONS}}", ablation_markdown(args.runs))
    if args.default_table.exists():
        body = body.replace("{{DEFAULT}}", args.default_table.read_text(encoding="utf-8"))
    write_section(args.doc, body, "## Model", append=False)


if __name__ == "__main__":
    main()
