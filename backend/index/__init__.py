"""Token-level motion index: storage, text -> motion search, describe, alignment.

Public names are re-exported lazily (PEP 562), so importing ``backend.index`` (e.g. by the CLI) loads
neither torch nor numpy-heavy modules.

API for the server / renderer (all shapes documented in the modules)::

    from backend.index import MotionIndex, Searcher, build_index, describe, compute_alignment

    index = MotionIndex.open(dir, expected_checksum=model.checksum())   # IndexMismatchError if different
    len(index); index.ids; index.record(id) -> ClipRecord (meta: ClipMeta, caption, num_frames, ...)
    index.joints(id) -> (T, 22, 3) float32 canonical joints          # NotFoundError for unknown ids
    searcher = Searcher(index, model, exact_threshold=1024, candidates=256,
                        first_stage="auto"|"centroids"|"pooled", nprobe=8, query_cache=256)
    enc = searcher.encode_query(text)                                 # TextEncoding, batch of 1
    hits = searcher.search_encoded(enc, k, min_duration=None, max_duration=None)   # or .search(text, k, ...)
    hit: Hit(clip_id, score, start, end, record, window_row, window_start_frame, window_length,
             patches (P, D), patch_mask (P,), n_windows)
    searcher.align(enc, hit) -> Alignment dict (docs/api.md); align_many(searcher, enc, hits) batches them
    cell_attribution(model, enc, features (B, W, C), frame_mask (B, W)) -> (B, 14, n_windows) relevance
    d = describe(searcher, joints (T, 22, 3), fps, k) -> Description(captions: [CaptionHit(text, score,
             window, start, end)], similar: [Hit], clip, windows)
    caption_alignment(searcher, d, d.captions[i]) -> Alignment dict
    compute_alignment(text_encoding, motion_patches (P, D), patch_mask (P,), n_windows,
                      window_offset_seconds, row=0, valid_frames=None, cell_relevance=None) -> Alignment dict
    build_index(library_dir, checkpoint_dir, out_dir, codec="fp16", extra_captions=()) -> MotionIndex
    add_to_index(index_dir, paths, on_conflict="error"|"replace"|"rename") -> [ids]
    add_to_index(index_dir, clips=[Clip, ...], model=model) -> [ids]
    remove_from_index(index_dir, ids) -> [ids]; compact_index(index_dir); index_info(index_dir) -> dict

After ``add_to_index`` / ``remove_from_index`` re-open the index (``MotionIndex.open``) and build a new
``Searcher``: an opened index is one immutable generation. Modules:

* ``format``: on-disk layout and manifest (``header.json``); ``writer``: atomic add/remove/compact;
  ``metadata``: the SQLite clip table; ``store``: :class:`MotionIndex` (memory-mapped reader);
* ``codecs``: fp16 / int8 / PQ; ``windows``: long clips -> overlapping windows;
* ``ingest``: motions -> embeddings; ``build``: build/add/remove/compact/info; ``commands``: the CLI;
* ``search``: exact / two-stage MaxSim; ``candidates``: the token-level (centroid) first stage;
  ``description``: motion -> captions and similar clips;
  ``captions``: the caption bank; ``alignment``: token x part x window grids and strengths;
  ``attribution``: gradient x input relevance of (part, window) cells, the source of the strengths;
  ``candidate_cache`` / ``query_cache``: in-process caches (centroids per segment, recent query encodings).
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "CaptionHit",
    "ClipRecord",
    "Description",
    "EncodedClip",
    "Hit",
    "IndexHeader",
    "IndexWriter",
    "MotionIndex",
    "Searcher",
    "add_to_index",
    "align_many",
    "build_index",
    "caption_alignment",
    "cell_attribution",
    "compact_index",
    "compute_alignment",
    "describe",
    "encode_joints",
    "index_info",
    "load_model",
    "plan_windows",
    "remove_from_index",
]

_WHERE = {
    "MotionIndex": "store",
    "ClipRecord": "metadata",
    "IndexHeader": "format",
    "IndexWriter": "writer",
    "EncodedClip": "writer",
    "Searcher": "search",
    "Hit": "search",
    "describe": "description",
    "align_many": "attribution",
    "cell_attribution": "attribution",
    "caption_alignment": "description",
    "Description": "description",
    "CaptionHit": "description",
    "compute_alignment": "alignment",
    "build_index": "build",
    "add_to_index": "build",
    "remove_from_index": "build",
    "compact_index": "build",
    "index_info": "build",
    "load_model": "build",
    "plan_windows": "windows",
    "encode_joints": "ingest",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"backend.index.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'backend.index' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)
