"""Model-free storage of the token-level motion index (no model, no search).

An index folder holds ``header.json`` (the manifest), memory-mapped segment arrays, ``clips.sqlite`` and the
caption bank; every commit is atomic. Search, describe, alignment and everything else that needs the model
live in :mod:`backend.search`, which imports this package (never the other way round). Import from the
modules themselves::

    from backend.index.store import MotionIndex

    index = MotionIndex.open(dir, expected_checksum=model.checksum())   # IndexMismatchError if different
    len(index); index.ids; index.record(id) -> ClipRecord (meta: ClipMeta, caption, num_frames, ...)
    index.joints(id) -> (T, 22, 3) float32 canonical joints          # NotFoundError for unknown ids

    from backend.index.maintenance import compact_index, index_info, remove_from_index

An opened index is one immutable generation: after a write, re-open it (``MotionIndex.open``). Modules:

* ``format``: on-disk layout and manifest (``header.json``); ``integrity``: per-array digests;
  ``writer``: atomic add/remove/compact; ``metadata``: the SQLite clip table; ``store``: :class:`MotionIndex`
  (memory-mapped reader); ``verify``: full checksum verification;
* ``codecs``: fp16 / int8 / PQ; ``windows``: long clips -> overlapping windows; ``transcode``: re-encode the
  patches with another codec; ``captions``: the caption bank's files; ``filters``: datasets / tags /
  commercial use per clip; ``maintenance``: remove, compact, info.
"""
