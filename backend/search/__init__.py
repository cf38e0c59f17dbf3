"""Model-driven search over a :mod:`backend.index` folder: text -> motion, motion -> text, alignments.

Data flows ``model -> index -> search -> server``: this package imports the model and the model-free index
storage; neither imports it. Import from the modules themselves::

    from backend.search.searcher import Searcher

    searcher = Searcher(index, model, exact_threshold=1024, candidates=256,
                        first_stage="auto"|"centroids"|"pooled", nprobe=8, query_cache=256,
                        query_encoder=None)  # None: made from the model at the first query (text_runtime)
    enc = searcher.encode_query(text)                                 # TextEncoding, batch of 1
    hits = searcher.search_encoded(enc, k, min_duration=None, max_duration=None)   # or .search(text, k, ...)
    hit: Hit(clip_id, score, start, end, record, window_row, window_start_frame, window_length,
             patches (P, D), patch_mask (P,), n_windows)
    align_many(searcher, enc, hits) -> [Alignment dict] (docs/api.md)  # backend.search.attribution
    cell_attribution(model, enc, features (B, W, C), frame_mask (B, W)) -> (B, 14, n_windows) relevance
    d = describe(searcher, joints (T, 22, 3), fps, k) -> Description(captions: [CaptionHit(text, score,
             window, start, end)], similar: [Hit], clip, windows)           # backend.search.description
    caption_alignment(searcher, d, d.captions[i]) -> Alignment dict
    compute_alignment(text_encoding, motion_patches (P, D), patch_mask (P,), n_windows,
                      window_offset_seconds, row=0, valid_frames=None, cell_relevance=None) -> Alignment dict
    build_index(library_dir, checkpoint_dir, out_dir, codec="fp16", extra_captions=()) -> MotionIndex
    add_to_index(index_dir, paths, on_conflict="error"|"replace"|"rename") -> [ids]   # backend.search.build
    add_to_index(index_dir, clips=[Clip, ...], model=model) -> [ids]

After ``add_to_index`` (or ``backend.index.maintenance.remove_from_index``) re-open the index and build a new
``Searcher``. Modules:

* ``searcher``: exact / two-stage MaxSim; ``selection``: rows allowed by the filters and the pooled first
  stage; ``candidates`` (+ ``candidate_cache``): the token-level (centroid) first stage; ``rerank``: the
  int8 re-rank copy; ``hits``: :class:`Hit`; ``query_cache``: in-process LRU caches;
* ``description``: motion -> captions and similar clips; ``alignment``: token x part x window grids and
  strengths; ``attribution``: gradient x input relevance of (part, window) cells, the source of the strengths;
* ``ingest``: motions and captions -> embeddings; ``build``: build / add (needs the model); ``commands``:
  the ``python -m backend index ...`` CLI.
"""
