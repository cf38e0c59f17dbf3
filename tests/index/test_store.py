"""Contract of the index folder (backend.search.build / store / writer): a library of real clips builds into
an index whose metadata, joints and embeddings match the library; clips are added (BVH file, folder,
canonical .npy) and removed without a rebuild; compaction keeps every live clip; an index refuses a model
with another checksum, naming both checksums."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from backend.errors import IndexError_, IndexMismatchError, InvalidInputError, NotFoundError
from backend.index.maintenance import compact_index, index_info, remove_from_index
from backend.index.store import MotionIndex
from backend.motion.io.library import Library
from backend.search.build import add_to_index, build_index
from backend.search.searcher import Searcher


def test_build_matches_library(built_index: Path, library_dir: Path, model) -> None:
    lib = Library.open(library_dir)
    index = MotionIndex.open(built_index, expected_checksum=model.checksum())
    assert sorted(index.ids) == sorted(lib.ids)
    h = index.header
    assert (h.model_checksum, h.embed_dim, h.codec) == (model.checksum(), 64, "fp16")
    assert (h.window_frames, h.stride, h.n_time, h.num_patches) == (32, 16, 2, 28)
    header = json.loads((built_index / "header.json").read_text())
    assert header["format"] == "motion-search-index" and header["version"] == 1
    for cid in lib.ids:
        rec, meta = index.record(cid), lib.meta(cid)
        assert rec.meta.to_dict() == meta.to_dict()
        assert rec.caption == meta.captions[0]
        np.testing.assert_array_equal(index.joints(cid), lib.joints(cid))
        rows = index.clip_windows(index.position(cid))
        # windows cover the clip: 32-frame windows every 16 frames
        starts, lengths = index.window_start[rows], index.window_length[rows]
        assert starts[0] == 0 and (starts + lengths).max() == rec.num_frames
        assert len(rows) == max(1, -(-(rec.num_frames - 32) // 16) + 1)
    index.verify()


def test_patches_equal_fresh_encoding(built_index: Path, library_dir: Path, model) -> None:
    from backend.search.ingest import encode_joints

    index = MotionIndex.open(built_index)
    lib = Library.open(library_dir)
    cid = "dataset-1_kick_normal_001"
    enc = encode_joints(model, lib.joints(cid), stride=16)
    emb, mask = index.window_patches(index.clip_windows(index.position(cid)))
    np.testing.assert_array_equal(mask, enc.mask)
    np.testing.assert_allclose(emb[mask], enc.emb[enc.mask], atol=1e-3)  # fp16 storage


def test_caption_bank_deduplicated_with_extra_file(built_index: Path, library_clips: list) -> None:
    bank = MotionIndex.open(built_index).caption_bank()
    expected = {" ".join(c.split()).casefold() for clip in library_clips for c in clip.meta.captions}
    expected.add("a person jumps in place")
    assert len(bank.texts) == len(expected)
    assert {t.casefold() for t in bank.texts} == expected
    emb, mask = bank.padded()
    assert emb.shape[0] == len(bank) and mask.any(dim=1).all()
    norms = emb[mask].norm(dim=-1)
    assert float((norms - 1).abs().max()) < 1e-2


def test_checksum_mismatch_is_refused(built_index: Path, model, other_checkpoint_dir: Path) -> None:
    from backend.search.build import load_model

    other = load_model(other_checkpoint_dir)
    assert other.checksum() != model.checksum()
    with pytest.raises(IndexMismatchError) as err:
        MotionIndex.open(built_index, expected_checksum=other.checksum())
    assert model.checksum() in str(err.value) and other.checksum() in str(err.value)
    with pytest.raises(IndexMismatchError):
        Searcher(MotionIndex.open(built_index), other)
    with pytest.raises(IndexMismatchError):
        add_to_index(built_index, [], model=other, clips=[])  # refused before anything is read


def test_add_bvh_file_folder_and_npy(
    index_copy: Path, extra_bvh: list[Path], model, tmp_path: Path, library_dir: Path
) -> None:
    before = MotionIndex.open(index_copy)
    ids = add_to_index(index_copy, [extra_bvh[0]], model=model, progress=False)
    assert ids == [extra_bvh[0].stem]
    # a folder of BVH files
    folder = tmp_path / "bvh"
    folder.mkdir()
    (folder / "sub").mkdir()
    (folder / "sub" / extra_bvh[1].name).write_bytes(extra_bvh[1].read_bytes())
    ids += add_to_index(index_copy, [folder], model=model, progress=False)
    # a canonical .npy clip with a sidecar
    joints = Library.open(library_dir).joints("dataset-1_dash_normal_001")
    np.save(tmp_path / "my_clip.npy", joints)
    (tmp_path / "my_clip.json").write_text(json.dumps({"captions": ["a quick run"], "dataset": "mine"}))
    ids += add_to_index(index_copy, [tmp_path / "my_clip.npy"], model=model, progress=False)
    after = MotionIndex.open(index_copy)
    assert len(after) == len(before) + 3
    assert set(after.ids) == set(before.ids) | set(ids)
    assert after.record(extra_bvh[1].stem).meta.source == f"sub/{extra_bvh[1].name}"
    assert after.record("my_clip").meta.dataset == "mine"
    np.testing.assert_array_equal(after.joints("my_clip"), joints)
    assert "a quick run" in after.caption_bank().texts
    after.verify()
    hits = Searcher(after, model).search("a quick run", k=len(after))
    assert {h.clip_id for h in hits} == set(after.ids)


def test_add_conflicts(index_copy: Path, bandai_folder: Path, model) -> None:
    path = bandai_folder / "dataset-1_kick_normal_001.bvh"
    with pytest.raises(InvalidInputError, match="dataset-1_kick_normal_001"):
        add_to_index(index_copy, [path], model=model, progress=False)
    assert add_to_index(index_copy, [path], model=model, on_conflict="rename", progress=False) == [
        "dataset-1_kick_normal_001_2"
    ]
    n = len(MotionIndex.open(index_copy))
    assert add_to_index(index_copy, [path], model=model, on_conflict="replace", progress=False) == [
        "dataset-1_kick_normal_001"
    ]
    index = MotionIndex.open(index_copy)
    assert len(index) == n and index.record("dataset-1_kick_normal_001").caption == ""  # new clip, no caption
    with pytest.raises(InvalidInputError, match="path not found"):
        add_to_index(index_copy, [bandai_folder / "missing.bvh"], model=model)


def test_remove_and_compact(index_copy: Path) -> None:
    before = MotionIndex.open(index_copy)
    gone = ["dataset-1_kick_normal_001", "dataset-1_bow_active_001"]
    assert remove_from_index(index_copy, gone) == gone
    with pytest.raises(NotFoundError, match="dataset-1_kick_normal_001"):
        remove_from_index(index_copy, ["dataset-1_kick_normal_001"])
    after = MotionIndex.open(index_copy)
    assert set(after.ids) == set(before.ids) - set(gone)
    assert not set(after.window_clip.tolist()) - set(range(len(after)))
    with pytest.raises(NotFoundError):
        after.joints("dataset-1_kick_normal_001")
    keep = {cid: after.joints(cid) for cid in after.ids}
    emb_before, _ = after.window_patches(np.arange(after.num_windows))
    compact_index(index_copy)
    comp = MotionIndex.open(index_copy)
    assert len(comp.header.segments) == 1 and comp.header.tombstones == []
    assert comp.ids == after.ids and comp.num_windows == after.num_windows
    emb_after, _ = comp.window_patches(np.arange(comp.num_windows))
    np.testing.assert_array_equal(emb_before, emb_after)
    for cid, j in keep.items():
        np.testing.assert_array_equal(comp.joints(cid), j)
    segs = sorted(p.name for p in (index_copy / "segments").iterdir())
    assert segs == [comp.header.segments[0].name]
    comp.verify()
    info = index_info(index_copy)
    assert info["clips"] == len(comp) and info["windows"] == comp.num_windows


def test_open_errors_name_the_file(tmp_path: Path, index_copy: Path) -> None:
    with pytest.raises(IndexError_, match="no header.json"):
        MotionIndex.open(tmp_path)
    seg = MotionIndex.open(index_copy).header.segments[0].name
    (index_copy / "segments" / seg / "pooled.npy").unlink()
    with pytest.raises(IndexError_, match="pooled.npy"):
        MotionIndex.open(index_copy)


def test_build_refuses_non_empty_out(
    built_index: Path, library_dir: Path, checkpoint_dir: Path, model
) -> None:
    with pytest.raises(IndexError_, match="not empty"):
        build_index(library_dir, checkpoint_dir, built_index, model=model, progress=False)
