"""Index operations that need the model: build from a library or from files, add motion files.

Removing, compacting and summarising need no model (:mod:`backend.index.maintenance`).

``build_index`` writes into a temporary sibling folder and renames it into place at the end, so an
interrupted build never leaves a half index at ``out_dir``. Clips are encoded and committed in segments of
``segment_clips`` clips (bounded memory). For the ``pq`` codec the codebook is trained on the patches of the
first segment before anything is stored.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np

from backend.errors import IndexError_, IndexMismatchError, InvalidInputError
from backend.index.captions import collect_captions, read_caption_file
from backend.index.codecs import CODEC_NAMES, train_pq
from backend.index.format import IndexHeader, read_header
from backend.index.store import MotionIndex
from backend.index.windows import default_stride
from backend.index.writer import CaptionPart, EncodedClip, IndexWriter, create_index
from backend.motion.clip import Clip
from backend.search.ingest import encode_captions, encode_clips, load_motion_files, model_window

if TYPE_CHECKING:
    from backend.model.retrieval import MotionTextRetrieval

__all__ = [
    "add_to_index",
    "build_index",
    "create_index_from_files",
    "load_model",
]

OnConflict = Literal["error", "replace", "rename"]


def load_model(checkpoint_dir: Path | str) -> MotionTextRetrieval:
    """``MotionTextRetrieval.from_pretrained`` in eval mode on the CPU."""
    from backend.model.retrieval import MotionTextRetrieval

    return MotionTextRetrieval.from_pretrained(checkpoint_dir).eval()


def _batches(items: Iterable[EncodedClip], n: int) -> Iterator[list[EncodedClip]]:
    batch: list[EncodedClip] = []
    for it in items:
        batch.append(it)
        if len(batch) >= n:
            yield batch
            batch = []
    if batch:
        yield batch


def _caption_part(model: MotionTextRetrieval, texts: list[str], progress: bool) -> CaptionPart | None:
    if not texts:
        return None
    return CaptionPart(texts, encode_captions(model, texts, progress=progress))


def build_index(
    library_dir: Path | str,
    checkpoint_dir: Path | str | None,
    out_dir: Path | str,
    *,
    codec: str = "fp16",
    extra_captions: Iterable[Path | str] = (),
    pq_m: int | None = None,
    stride: int | None = None,
    segment_clips: int = 1000,
    batch_size: int = 32,
    overwrite: bool = False,
    progress: bool = True,
    model: MotionTextRetrieval | None = None,
) -> MotionIndex:
    """Encode a library folder into a new index folder.

    Args:
        library_dir: a library folder (``backend.motion.io.library``).
        checkpoint_dir: checkpoint folder (``MotionTextRetrieval.save_pretrained``); may be None when
            ``model`` is given.
        out_dir: the index folder to create.
        codec: ``fp16`` | ``int8`` | ``pq``.
        extra_captions: extra caption files for the caption bank.
        pq_m: PQ bytes per vector (default ``D // 4``).
        stride: window stride in frames (default half a window, multiple of 16).
        segment_clips: clips per committed segment.
        batch_size: windows per forward pass.
        overwrite: replace an existing index at ``out_dir``.
        progress: tqdm progress bars.
        model: an already loaded model (its checkpoint path is then ``checkpoint_dir`` if given).

    Returns:
        The opened index.

    Raises:
        IndexError_: ``out_dir`` holds an index and ``overwrite`` is False.
        ConfigError: unknown codec / bad ``pq_m``.
    """
    from backend.motion.io.library import Library

    if codec not in CODEC_NAMES:
        raise InvalidInputError(f"codec must be one of {', '.join(CODEC_NAMES)}, got {codec!r}")
    out_dir = Path(out_dir).absolute()
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise IndexError_(f"{out_dir} is not empty (pass overwrite=True / --overwrite to replace it)")
    extra = [t for f in extra_captions for t in read_caption_file(f)]
    if model is None:
        if checkpoint_dir is None:
            raise InvalidInputError("build_index needs checkpoint_dir or model")
        model = load_model(checkpoint_dir)
    lib = Library.open(library_dir)
    w = model_window(model)
    stride = default_stride(w) if stride is None else stride
    dim = int(model.config.embed_dim)
    header = IndexHeader(
        model_checksum=model.checksum(),
        embed_dim=dim,
        codec=codec,
        window_frames=w,
        stride=stride,
        n_time=model.config.n_windows,
        pq_m=0,
        model_name=Path(checkpoint_dir).name if checkpoint_dir else type(model).__name__,
        checkpoint_path=str(Path(checkpoint_dir).absolute()) if checkpoint_dir else "",
    )
    tmp = out_dir.parent / f".{out_dir.name}.building-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    ids = list(lib.ids)
    clips = (Clip(lib.joints(i), lib.meta(i)) for i in ids)
    encoded = encode_clips(
        model, clips, stride=stride, batch_size=batch_size, progress=progress, total=len(ids)
    )
    try:
        created = False
        for batch in _batches(encoded, segment_clips):
            if not created:
                codebook = None
                if codec == "pq":
                    sample = np.concatenate([c.emb[c.mask] for c in batch])
                    rng = np.random.default_rng(0)
                    sample = sample[rng.permutation(len(sample))[:100_000]]
                    header.pq_m = pq_m if pq_m is not None else max(1, dim // 4)
                    codebook = train_pq(sample, header.pq_m)
                create_index(tmp, header, codebook)
                created = True
            with IndexWriter(tmp) as writer:
                writer.add(batch)
        if not created:
            if codec == "pq":
                raise InvalidInputError(f"library {library_dir} is empty: cannot train a PQ codebook")
            create_index(tmp, header)
        texts = collect_captions([c for i in ids for c in lib.meta(i).captions] + extra)
        part = _caption_part(model, texts, progress)
        if part is not None:
            with IndexWriter(tmp) as writer:
                writer.add([], captions=part)
        if out_dir.exists():
            old = out_dir.parent / f".{out_dir.name}.old-{os.getpid()}"
            os.rename(out_dir, old)
            os.rename(tmp, out_dir)
            shutil.rmtree(old, ignore_errors=True)
        else:
            out_dir.parent.mkdir(parents=True, exist_ok=True)
            os.rename(tmp, out_dir)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return MotionIndex.open(out_dir)


def create_index_from_files(
    out_dir: Path | str,
    paths: Iterable[Path | str],
    checkpoint_dir: Path | str,
    *,
    licence: str = "",
    commercial_use: bool = False,
    tags: Iterable[str] = (),
    dataset: str = "user",
    asf: Path | str | None = None,
    codec: str = "fp16",
    extra_captions: Iterable[Path | str] = (),
    overwrite: bool = False,
    progress: bool = True,
    skipped: list[dict[str, str]] | None = None,
) -> MotionIndex:
    """A new index of the user's own motion files only (no library folder, no bundled dataset).

    The files (BVH, AMC with its ASF, canonical ``.npy``, or folders of them; unreadable files inside folders
    are skipped with their reason) are converted, staged as a library folder beside ``out_dir`` and indexed by
    :func:`build_index`, so the result is written as atomically as a library build.

    Args:
        out_dir: the index folder to create.
        paths: files or folders.
        checkpoint_dir: the model.
        licence: licence stored with every clip (e.g. ``"proprietary (studio-owned)"``).
        commercial_use: whether that licence allows commercial use (stored as the clip label
            ``commercial_use = "yes"``; see :func:`backend.library.licences.commercial_use_allowed`).
        tags: tags stored with every clip (label ``tags``, comma-separated).
        dataset: dataset key of the clips.
        asf: the ASF skeleton of AMC files (default: the ``.asf`` beside each).
        codec, extra_captions, overwrite, progress: as for :func:`build_index`.
        skipped: a list that receives ``{"file", "reason"}`` per file left out.

    Raises:
        InvalidInputError: nothing readable, an unknown path, or a bad tag.
        IndexError_: ``out_dir`` is not empty and ``overwrite`` is false.
    """
    from backend.motion.io.library import LibraryWriter

    out_dir = Path(out_dir).absolute()
    if out_dir.exists() and any(out_dir.iterdir()) and not overwrite:
        raise IndexError_(f"{out_dir} is not empty (pass overwrite=True / --overwrite to replace it)")
    tag_list = [t.strip() for t in tags if t.strip()]
    if any("," in t for t in tag_list):
        raise InvalidInputError(f"tags must not contain commas: {tag_list}")
    clips, left_out = load_motion_files(paths, dataset=dataset, licence=licence, asf=asf)
    if skipped is not None:
        skipped.extend(left_out)
    staging = out_dir.parent / f".{out_dir.name}.library-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    try:
        seen: set[str] = set()
        with LibraryWriter(staging) as writer:
            for clip in clips:
                base, n = clip.meta.id, 1
                while clip.meta.id in seen:
                    n += 1
                    clip.meta.id = f"{base}_{n}"
                seen.add(clip.meta.id)
                if commercial_use:
                    clip.meta.labels["commercial_use"] = "yes"
                if tag_list:
                    clip.meta.labels["tags"] = ",".join(tag_list)
                writer.add(clip)
            writer.close(skipped=left_out)
        return build_index(
            staging, checkpoint_dir, out_dir, codec=codec, extra_captions=extra_captions, overwrite=overwrite,
            progress=progress,
        )  # fmt: skip
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _model_for(
    index_dir: Path, header: IndexHeader, checkpoint_dir: Path | str | None, model: MotionTextRetrieval | None
) -> MotionTextRetrieval:
    if model is None:
        ckpt = checkpoint_dir or header.checkpoint_path
        if not ckpt:
            raise InvalidInputError(f"index {index_dir} records no checkpoint; pass --checkpoint")
        model = load_model(ckpt)
    if model.checksum() != header.model_checksum:
        raise IndexMismatchError(
            f"index {index_dir} was built by model checksum {header.model_checksum}, but the given model has "
            f"checksum {model.checksum()}"
        )
    if model_window(model) != header.window_frames:
        raise IndexMismatchError(
            f"index {index_dir} uses window_frames={header.window_frames}, model {model_window(model)}"
        )
    return model


def add_to_index(
    index_dir: Path | str,
    paths: Iterable[Path | str] | None = None,
    *,
    clips: list[Clip] | None = None,
    checkpoint_dir: Path | str | None = None,
    model: MotionTextRetrieval | None = None,
    on_conflict: OnConflict = "error",
    skip_errors: bool = False,
    progress: bool = True,
    asf: Path | str | None = None,
    skipped: list[dict[str, str]] | None = None,
) -> list[str]:
    """Add motion files (BVH / AMC file, folder of them, canonical ``.npy``) or clips to an index, atomically.

    Args:
        index_dir: the index folder.
        paths: files or folders to add.
        clips: already canonical clips to add (with ``paths`` or instead of them).
        checkpoint_dir: checkpoint folder (default: the one recorded in the index header).
        model: an already loaded model (takes precedence over ``checkpoint_dir``).
        on_conflict: an id already in the index: ``error``, ``replace`` the old clip, or ``rename`` the new one
            (``<id>_2``, ``<id>_3``, ...). Duplicate ids among the new clips are always renamed.
        skip_errors: also skip unreadable files named directly (files inside a folder are always skipped
            with their reason, the rest is added).
        progress: tqdm progress bars.
        asf: the ASF skeleton of AMC files (default: the ``.asf`` beside each AMC).
        skipped: a list that receives ``{"file", "reason"}`` per file left out.

    Returns:
        The ids added.
    """
    index_dir = Path(index_dir)
    header = read_header(index_dir)
    if on_conflict not in ("error", "replace", "rename"):
        raise InvalidInputError(f"on_conflict must be error, replace or rename, got {on_conflict!r}")
    model = _model_for(index_dir, header, checkpoint_dir, model)
    new = list(clips or [])
    if paths is not None:
        loaded, left_out = load_motion_files(paths, skip_errors=skip_errors, asf=asf)
        new += loaded
        if skipped is not None:
            skipped.extend(left_out)
    if not new:
        raise InvalidInputError("nothing to add")
    live = MotionIndex.open(index_dir)
    taken = set(live.ids) if on_conflict == "rename" else set()
    seen: set[str] = set()
    for c in new:
        base, n = c.meta.id, 1
        while c.meta.id in seen or c.meta.id in taken:
            n += 1
            c.meta.id = f"{base}_{n}"
        seen.add(c.meta.id)
    encoded = list(encode_clips(model, new, stride=header.stride, progress=progress, total=len(new)))
    bank = live.caption_bank()
    texts = collect_captions([t for c in new for t in c.meta.captions], known=bank.texts)
    with IndexWriter(index_dir) as writer:
        return writer.add(
            encoded, replace_existing=on_conflict == "replace", captions=_caption_part(model, texts, False)
        )
