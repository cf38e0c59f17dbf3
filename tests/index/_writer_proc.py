"""Helper process of test_crash_safety: one index write, so the test can SIGKILL it mid-way.

Usage: python _writer_proc.py INDEX add CLIPS.npz | remove ID... | compact
"""

from __future__ import annotations

import sys

import numpy as np

from backend.index.writer import CaptionPart, EncodedClip, IndexWriter
from backend.motion.clip import ClipMeta


def _clips(path: str) -> tuple[list[EncodedClip], CaptionPart]:
    data = np.load(path)
    out = []
    for i in range(int(data["n"])):
        p = f"c{i}_"
        out.append(
            EncodedClip(
                ClipMeta(
                    id=str(data[p + "id"]),
                    duration=float(data[p + "joints"].shape[0]) / 20,
                    captions=[str(data[p + "caption"])],
                ),
                data[p + "joints"],
                data[p + "starts"],
                data[p + "lengths"],
                data[p + "emb"],
                data[p + "mask"],
                data[p + "pooled"],
            )
        )
    tokens = [np.asarray(data[f"c{i}_emb"][0, :3]) for i in range(len(out))]
    return out, CaptionPart([f"crash test caption {c.meta.id}" for c in out], tokens)


def main(argv: list[str]) -> int:
    index, op, *rest = argv
    clips, caps = _clips(rest[0]) if op == "add" else ([], None)
    print("writing", flush=True)
    with IndexWriter(index) as w:
        if op == "add":
            w.add(clips, captions=caps)
        elif op == "remove":
            w.remove(rest)
        elif op == "compact":
            w.compact()
        else:
            raise SystemExit(f"unknown op {op}")
    print("done", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
