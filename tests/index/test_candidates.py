"""Contract of the token-level (centroid) first stage and the query cache, on the real test index: the
inverted file lists every window under the centroids of its patches; the approximate score with every
centroid probed is MaxSim against the window's centroids; two-stage search through this stage equals exact
search when the candidates cover the best windows and only ever reports exact scores; filters hold; the
query-encoding cache returns equal, independent copies and stays bounded."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backend.errors import InvalidInputError
from backend.index.store import MotionIndex
from backend.model.scoring import maxsim
from backend.search.candidates import CentroidCandidates, auto_num_centroids
from backend.search.searcher import Searcher

QUERIES = ["a person kicks", "someone waves goodbye", "a man walks backwards quickly"]


@pytest.fixture(scope="module")
def index(built_index: Path) -> MotionIndex:
    return MotionIndex.open(built_index)


@pytest.fixture(scope="module")
def searcher(index: MotionIndex, model) -> Searcher:
    return Searcher(index, model, exact_threshold=0, first_stage="centroids", n_centroids=32, candidates=8)


def _bags(c: CentroidCandidates) -> list[set[int]]:
    bags: list[set[int]] = [set() for _ in range(c.num_windows)]
    for cid in range(len(c.offsets) - 1):
        for w in c.windows[c.offsets[cid] : c.offsets[cid + 1]]:
            bags[int(w)].add(cid)
    return bags


def test_inverted_file_covers_every_patch(searcher: Searcher, index: MotionIndex) -> None:
    c = searcher.centroid_stage()
    assert searcher.first_stage == "centroids" and c is searcher.centroid_stage()  # built once
    assert c.centroids.shape == (32, index.header.embed_dim)
    torch.testing.assert_close(c.centroids.norm(dim=1), torch.ones(32))
    assert np.all(np.diff(c.offsets) >= 0) and c.offsets[-1] == len(c.windows)
    bags = _bags(c)
    for cid in range(32):  # each window at most once per centroid
        lst = c.windows[c.offsets[cid] : c.offsets[cid + 1]]
        assert len(np.unique(lst)) == len(lst)
    emb, mask = index.window_patches(np.arange(index.num_windows))
    found = total = 0
    for w in range(index.num_windows):
        x = torch.from_numpy(emb[w][mask[w]])
        assert 1 <= len(bags[w]) <= len(x)
        # two-level assignment: most patches sit at their globally nearest centroid
        nearest = (x @ c.centroids.T).argmax(dim=1).tolist()
        found += sum(n in bags[w] for n in nearest)
        total += len(nearest)
    assert found / total >= 0.9


def test_full_probe_is_maxsim_against_centroids(searcher: Searcher) -> None:
    c = searcher.centroid_stage()
    bags = _bags(c)
    enc = searcher.encode_query("a person waves with the right hand")
    q = enc.emb[0][enc.mask[0]].float()
    rows, approx = c.approximate(q, nprobe=10_000)
    assert sorted(rows.tolist()) == list(range(c.num_windows))
    for r, a in zip(rows[:30], approx[:30], strict=False):
        d = c.centroids[sorted(bags[int(r)])][None]
        ref = maxsim(
            q[None], torch.ones(1, len(q), dtype=torch.bool), d, torch.ones(d.shape[:2], dtype=torch.bool)
        )
        assert float(a) == pytest.approx(float(ref[0, 0]), abs=1e-5)
    # one probe per token: only windows holding some token's best centroid are reached
    few_rows, _ = c.approximate(q, nprobe=1)
    best = set((q @ c.centroids.T).argmax(dim=1).tolist())
    assert set(few_rows.tolist()) == {w for w in range(c.num_windows) if bags[w] & best}


@pytest.mark.parametrize("text", QUERIES)
def test_centroid_two_stage_agrees_with_exact(index: MotionIndex, model, text: str) -> None:
    exact = Searcher(index, model, exact_threshold=10**9)
    enc = exact.encode_query(text)
    a = exact.search_encoded(enc, 10)
    for nprobe in (16, 1):  # all centroids probed; one probe (the pooled stage tops the candidates up)
        full = Searcher(
            index,
            model,
            exact_threshold=0,
            first_stage="centroids",
            n_centroids=16,
            nprobe=nprobe,
            candidates=index.num_windows,
        )
        b = full.search_encoded(enc, 10)
        assert [h.clip_id for h in a] == [h.clip_id for h in b]
        np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-6)


@pytest.mark.parametrize("text", QUERIES)
def test_few_candidates_report_exact_scores(searcher: Searcher, text: str) -> None:
    enc = searcher.encode_query(text)
    q = enc.emb[0][enc.mask[0]].float()
    chosen = set(searcher.centroid_stage().candidates(q, 8, searcher.nprobe).tolist())
    emb, mask = searcher.index.window_patches(np.arange(searcher.index.num_windows))
    exact = maxsim(enc.emb.float(), enc.mask, torch.from_numpy(emb), torch.from_numpy(mask))[0].numpy()
    hits = searcher.search_encoded(enc, 5)
    assert 1 <= len(hits) <= 5
    for h in hits:
        assert h.window_row in chosen
        assert h.score == pytest.approx(float(exact[h.window_row]), abs=1e-5)


def test_filters_with_centroid_stage(searcher: Searcher) -> None:
    durations = {r.id: r.duration for r in searcher.index.clips}
    lo = sorted(durations.values())[len(durations) // 2]
    hits = searcher.search("a person", k=20, min_duration=lo)
    assert 1 <= len(hits) <= 8 and all(durations[h.clip_id] >= lo for h in hits)
    assert searcher.search("a person", k=3, min_duration=1e6) == []


def test_query_cache_returns_independent_copies(index: MotionIndex, model) -> None:
    s = Searcher(index, model, query_cache=2, text_runtime="torch")  # compared with the torch encoding below
    a = s.encode_query("a person kicks")
    a.mask[:] = False  # callers may edit what they get
    b = s.encode_query("a person kicks")
    assert bool(b.mask.any()) and len(s.queries) == 1
    fresh = model.encode_text(["a person kicks"])
    torch.testing.assert_close(b.emb, fresh.emb)
    s.encode_query("walk")
    s.encode_query("run")
    assert s.queries.texts() == ["walk", "run"]
    off = Searcher(index, model, query_cache=0)
    off.encode_query("walk")
    assert len(off.queries) == 0


def test_auto_first_stage_and_bad_arguments(index: MotionIndex, model) -> None:
    assert Searcher(index, model).first_stage == "pooled"  # below centroid_min_windows
    big = Searcher(index, model, centroid_min_windows=1, n_centroids=8)
    assert big.first_stage == "centroids" and big._centroids is not None
    assert auto_num_centroids(10**9) == 4096
    for kwargs, match in [
        ({"first_stage": "fast"}, "first_stage"),
        ({"nprobe": 0}, "nprobe"),
        ({"n_centroids": 0}, "n_centroids"),
        ({"query_cache": -1}, "query_cache"),
    ]:
        with pytest.raises(InvalidInputError, match=match):
            Searcher(index, model, **kwargs)


def test_new_generation_reuses_centroids_and_assignments(tmp_path: Path, built_index: Path, model) -> None:
    import shutil

    from backend.index.maintenance import remove_from_index

    path = tmp_path / "idx"
    shutil.copytree(built_index, path)
    before = MotionIndex.open(path)
    a = Searcher(before, model, exact_threshold=0, first_stage="centroids", n_centroids=24)
    ca = a.centroid_stage()
    victim = before.clips[0].id
    remove_from_index(path, [victim])
    after = MotionIndex.open(path)
    b = Searcher(after, model, exact_threshold=0, first_stage="centroids", n_centroids=24)
    cb = b.centroid_stage()
    assert cb.centroids is ca.centroids or torch.equal(cb.centroids, ca.centroids)  # not retrained
    # the new inverted file is the old one without the removed clip's windows, rows renumbered
    old_bags, new_bags = _bags(ca), _bags(cb)
    old_id = [before.clips[int(c)].id for c in before.window_clip]
    kept = [
        (w, old_id[w], int(before.window_start[w])) for w in range(before.num_windows) if old_id[w] != victim
    ]
    new_of = {
        (after.clips[int(c)].id, int(after.window_start[w])): w for w, c in enumerate(after.window_clip)
    }
    assert len(kept) == after.num_windows
    for w, cid, start in kept:
        assert new_bags[new_of[(cid, start)]] == old_bags[w]
    enc = a.encode_query("a person kicks")
    exact = Searcher(after, model, exact_threshold=10**9).search_encoded(enc, 5)
    b.candidates = after.num_windows
    assert [h.clip_id for h in b.search_encoded(enc, 5)] == [h.clip_id for h in exact]


def test_codebook_is_cached_in_the_index_folder(tmp_path: Path, built_index: Path, model) -> None:
    import shutil

    from backend.search import candidate_cache

    path = tmp_path / "idx"
    shutil.copytree(built_index, path)
    shutil.rmtree(path / candidate_cache.CACHE_DIR, ignore_errors=True)
    index = MotionIndex.open(path)
    kw = {"exact_threshold": 0, "first_stage": "centroids", "n_centroids": 20}
    first = Searcher(index, model, **kw).centroid_stage()
    (folder,) = (path / candidate_cache.CACHE_DIR).iterdir()
    assert {f.name for f in folder.glob("*.npy")} >= {"coarse.npy", "fine.npy", "cells.npy"}
    seg_files = sorted(f.stem for f in folder.glob("seg-*.npy"))
    assert seg_files == sorted(s.name for s in index.header.segments)
    # another process (no memo) loads the codebook and the assignments instead of training
    candidate_cache._MEMO.clear()
    again = Searcher(MotionIndex.open(path), model, **kw).centroid_stage()
    torch.testing.assert_close(again.centroids, first.centroids)
    assert np.array_equal(again.offsets, first.offsets) and np.array_equal(again.windows, first.windows)
    # a damaged segment file is ignored and recomputed; without the cache the result is the same structure
    candidate_cache._MEMO.clear()
    (folder / f"{seg_files[0]}.npy").write_bytes(b"not an array")
    fixed = Searcher(MotionIndex.open(path), model, **kw).centroid_stage()
    assert np.array_equal(fixed.windows, first.windows)
    fresh = Searcher(MotionIndex.open(path), model, cache_candidates=False, **kw).centroid_stage()
    assert fresh.centroids.shape == first.centroids.shape
