"""Build a tiny real backend (checkpoint + index) for the add-on's Blender tests and demo.

Runs under the *main* venv (torch); the bpy venvs have no torch, so ``tests/addon/blender/conftest.py``
calls this file as a subprocess and then starts ``python -m backend serve`` on loopback with the result.

The checkpoint is the shipped default model (``backend/assets/default_model``, trained), so the tests can
check that search and describe find the right clips and words; the index holds real Bandai-Namco-1 clips (converted from BVH with ``backend.motion.convert``) and a
caption bank. Everything goes through the backend's public Python APIs.

Usage::

    .venv/bin/python tests/addon/backend_fixture.py --bandai1 <extracted bandai-namco-1> --out <dir>

Writes ``<dir>/checkpoint``, ``<dir>/index`` and ``<dir>/fixture.json`` (clip ids, captions, BVH files).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

#: Bandai-Namco-1 clip stem -> caption (written from its action label)
CLIPS: dict[str, str] = {
    "dataset-1_byebye_normal_001": "a person waves goodbye with one hand",
    "dataset-1_bow_normal_001": "a person bows politely",
    "dataset-1_kick_normal_001": "a person kicks with the right leg",
    "dataset-1_dash_normal_001": "a person dashes forward",
    "dataset-1_walk-back_normal_001": "a person walks backwards",
}
EXTRA_CAPTIONS = ("a person sits down", "someone jumps in place", "a person raises both arms")


def build(bandai1: Path, out: Path) -> dict:
    """Build checkpoint + index under ``out``; returns the fixture description (also saved as JSON)."""
    import torch

    from backend.index.format import IndexHeader
    from backend.index.windows import default_stride
    from backend.index.writer import CaptionPart, IndexWriter, create_index
    from backend.model.retrieval import MotionTextRetrieval
    from backend.motion.convert import bvh_to_clip
    from backend.search.ingest import encode_captions, encode_clips

    torch.set_num_threads(1)
    torch.manual_seed(0)
    folder = bandai1 / "dataset" / "Bandai-Namco-Research-Motiondataset-1" / "data"
    clips, files = [], {}
    for stem, caption in CLIPS.items():
        path = folder / f"{stem}.bvh"
        clip = bvh_to_clip(path, dataset="bandai-namco-1", source=str(path.relative_to(bandai1)))
        clip.meta.captions = [caption]
        clips.append(clip)
        files[clip.meta.id] = str(path)
    from backend.model.config import DEFAULT_MODEL_DIR

    model = MotionTextRetrieval.from_pretrained(DEFAULT_MODEL_DIR).eval()
    ckpt = DEFAULT_MODEL_DIR
    window = model.config.window_frames
    stride = default_stride(window)
    header = IndexHeader(
        model_checksum=model.checksum(), embed_dim=model.config.embed_dim, codec="fp16", window_frames=window,
        stride=stride, n_time=model.config.n_windows, model_name="default-model-addon-test",
    )  # fmt: skip
    create_index(out / "index", header)
    captions = [c.meta.captions[0] for c in clips] + list(EXTRA_CAPTIONS)
    with IndexWriter(out / "index") as writer:
        writer.add(list(encode_clips(model, clips, stride=stride)),
                   captions=CaptionPart(captions, encode_captions(model, captions)))  # fmt: skip
    info = {
        "checkpoint": str(ckpt),
        "index": str(out / "index"),
        "clips": {c.meta.id: c.meta.captions[0] for c in clips},
        "frames": {c.meta.id: int(c.joints.shape[0]) for c in clips},
        "files": files,
        "captions": captions,
    }
    (out / "fixture.json").write_text(json.dumps(info, indent=2), encoding="utf-8")
    return info


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--bandai1", type=Path, required=True, help="extracted bandai-namco-1 archive root")
    parser.add_argument("--out", type=Path, required=True, help="output folder (created)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    info = build(args.bandai1, args.out)
    print(json.dumps({"clips": list(info["clips"])}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
