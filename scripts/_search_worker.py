"""One searcher in a process of its own, driven over stdin / stdout (``scripts/bench_search_speed.py``).

The benchmark compares the search of two revisions in the same run: each configuration is one of these
workers, with the ``backend`` package of its revision first on ``sys.path`` (``--root``), and the driver sends
every query to each worker in turn (never two at once), so load changes on the shared machine hit them alike.
Only APIs that every compared revision has are used. Protocol: one JSON object per line each way.

* ``{"op": "open", "index": DIR, "model": DIR, "opts": {...}, "threads": 2}`` ->
  ``{"open_s", "float_cache", "approx_copy", "int8_copy"}`` (bytes held by the searcher);
* ``{"op": "search", "text": T, "k": 10}`` -> ``{"s": seconds, "ids": [...]}`` (``Searcher.search``);
* ``{"op": "searches", "texts": [...], "k": 10}`` -> ``{"s": [seconds, ...]}`` (back to back);
* ``{"op": "tokens", "path": NPY, "k": 10, "mode": M}`` -> ``{"s": [...], "positions": [[...]]}`` for
  token queries ``(Nq, L, D)`` (``Searcher.search_tokens``), clip positions in index order;
* ``{"op": "quit"}``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def _nbytes(obj: object, attr: str) -> int:
    value = getattr(obj, attr, None)
    if value is None:
        return 0
    if hasattr(value, "nbytes"):
        return int(value.nbytes)
    return int(value.numel() * value.element_size())


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", type=Path, required=True, help="folder holding the backend package to import")
    root = ap.parse_args().root.resolve()
    sys.path.insert(0, str(root))
    import numpy as np
    import torch

    from backend.index.store import MotionIndex
    from backend.model.retrieval import MotionTextRetrieval
    from backend.search.searcher import Searcher

    torch.set_grad_enabled(False)
    searcher = None
    out = sys.stdout
    sys.stdout = sys.stderr  # nothing but replies on the protocol stream
    for line in sys.stdin:
        msg = json.loads(line)
        op = msg["op"]
        if op == "quit":
            break
        if op == "open":
            torch.set_num_threads(int(msg["threads"]))
            model = MotionTextRetrieval.from_pretrained(msg["model"]).eval()
            index = MotionIndex.open(msg["index"])
            t0 = time.perf_counter()
            searcher = Searcher(index, model, query_cache=0, **msg["opts"])
            reply = {"open_s": time.perf_counter() - t0, "float_cache": _nbytes(searcher, "patches"),
                     "approx_copy": _nbytes(searcher, "approx"), "int8_copy": _nbytes(searcher, "codes")}  # fmt: skip
        elif op == "search":
            assert searcher is not None, "open first"
            t0 = time.perf_counter()
            hits = searcher.search(msg["text"], int(msg["k"]))
            reply = {"s": time.perf_counter() - t0, "ids": [h.clip_id for h in hits]}
        elif op == "searches":  # several texts back to back (the other workers idle meanwhile)
            assert searcher is not None, "open first"
            times = []
            for text in msg["texts"]:
                t0 = time.perf_counter()
                searcher.search(text, int(msg["k"]))
                times.append(time.perf_counter() - t0)
            reply = {"s": times}
        elif op == "tokens":
            assert searcher is not None, "open first"
            q = torch.from_numpy(np.load(msg["path"]))
            qm = torch.ones(q.shape[1], dtype=torch.bool)
            times, positions = [], []
            for x in q:
                t0 = time.perf_counter()
                hits = searcher.search_tokens(x, qm, int(msg["k"]), mode=msg["mode"])
                times.append(time.perf_counter() - t0)
                positions.append([searcher.index.position(h.clip_id) for h in hits])
            reply = {"s": times, "positions": positions}
        else:
            reply = {"error": f"unknown op {op!r}"}
        out.write(json.dumps(reply) + "\n")
        out.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main())
