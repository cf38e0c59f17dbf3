"""The int8 re-rank copy (backend.search.rerank) of a real index of real clips (tiny model, MiniLM text).

Contract:

* from an int8 index the copy holds the stored codes, so two-stage search through it gives the same hits and
  the same scores (to float rounding) as scoring the memory-mapped codes and as exact search;
* from an fp16 index its scores are within int8 rounding of exact MaxSim, and the hits a search reports
  carry exact scores (the best windows are re-scored), in the exact order;
* padding patches never score; the copy is a little over a quarter of the float32 bytes;
* the approximate first pass (the int8 copy of the float cache, the default, and the bfloat16 copy) scores
  within its stated bound of exact MaxSim, the windows ``near_top`` names hold the exact best clips, and a
  search through it reports the exact re-rank's hits and scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backend.index.store import MotionIndex
from backend.index.transcode import transcode_index
from backend.model.scoring import maxsim
from backend.search.hits import best_per_clip
from backend.search.rerank import BF16_BOUND, index_int8_scores, int8_maxsim, int8_products_fast, near_top
from backend.search.searcher import Searcher

QUERIES = ["a person kicks", "someone waves goodbye with one hand", "a man walks backwards to the left"]


@pytest.fixture(scope="module")
def int8_index(built_index: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    dst = tmp_path_factory.mktemp("int8") / "index"
    transcode_index(built_index, dst, "int8")
    return dst


def _budget(index: MotionIndex) -> int:
    """A ``cache_bytes`` too small for a float16 cache, big enough for the int8 copy."""
    h = index.header
    return index.num_windows * h.num_patches * (h.embed_dim + 5) // 2 + 1


def _exact(s: Searcher, enc) -> np.ndarray:
    emb, mask = s.index.window_patches(np.arange(s.index.num_windows))
    return maxsim(enc.emb.float(), enc.mask.bool(), torch.from_numpy(emb), torch.from_numpy(mask))[0].numpy()


def test_int8_index_copy_is_exact(int8_index: Path, model) -> None:
    index = MotionIndex.open(int8_index)
    opts = {"exact_threshold": 0, "candidates": index.num_windows, "cache_bytes": _budget(index)}
    fast, slow = Searcher(index, model, int8_rerank=True, **opts), Searcher(index, model, **opts)
    assert fast.codes is not None and fast.codes.exact and slow.codes is None and fast.patches is None
    h = index.header
    assert fast.codes.nbytes < index.num_windows * h.num_patches * h.embed_dim * 4 * 0.3
    exact = Searcher(index, model, exact_threshold=10**9)
    for text in QUERIES:
        enc = fast.encode_query(text)
        a, b, c = fast.search_encoded(enc, 10), slow.search_encoded(enc, 10), exact.search_encoded(enc, 10)
        assert [x.clip_id for x in a] == [x.clip_id for x in b] == [x.clip_id for x in c] and len(a) >= 5
        np.testing.assert_allclose([x.score for x in a], [x.score for x in b], atol=1e-5)
        np.testing.assert_allclose([x.score for x in b], [x.score for x in c], atol=1e-5)
        rows = np.arange(index.num_windows)
        q = enc.emb[0].float()[enc.mask[0].bool()]
        np.testing.assert_allclose(fast.codes.score(q, rows), _exact(fast, enc), atol=1e-5)
        # without a copy the re-rank reads the memory-mapped codes (unsorted rows, padding included)
        shuffled = np.random.default_rng(0).permutation(rows)
        np.testing.assert_allclose(
            index_int8_scores(index, q, shuffled), _exact(fast, enc)[shuffled], atol=1e-5
        )


def test_int8_products_both_ways_agree(int8_index: Path, model) -> None:
    """The integer product (``torch._int_mm``) and the float32 one it falls back to give the same MaxSim."""
    assert isinstance(int8_products_fast(), bool) and int8_products_fast.cache_info().currsize == 1
    index = MotionIndex.open(int8_index)
    rows = np.random.default_rng(1).permutation(index.num_windows)
    arrays, masks = index.window_codes(rows)
    codes, scales = torch.from_numpy(arrays["patches"]), torch.from_numpy(arrays["scales"])
    m = torch.from_numpy(masks)
    s = Searcher(index, model, exact_threshold=10**9)
    for text in QUERIES:
        enc = s.encode_query(text)
        q = enc.emb[0].float()[enc.mask[0].bool()]
        want = _exact(s, enc)[rows]
        for integer in (True, False):
            np.testing.assert_allclose(int8_maxsim(q, codes, scales, m, integer=integer), want, atol=1e-5)
        two = int8_maxsim(q, codes, scales, m, digits=2, integer=True)  # the approximate pass's query digits
        assert 0 < np.abs(two - want).max() < 1e-2


def test_fp16_index_copy_is_close_and_hits_are_exact(built_index: Path, model) -> None:
    index = MotionIndex.open(built_index)
    assert index.header.codec == "fp16"
    fast = Searcher(index, model, exact_threshold=0, candidates=index.num_windows, cache_bytes=_budget(index),
                    rescore=4, int8_rerank=True)  # fmt: skip
    exact = Searcher(index, model, exact_threshold=10**9)
    assert fast.codes is not None and not fast.codes.exact
    for text in QUERIES:
        enc = fast.encode_query(text)
        q = enc.emb[0].float()[enc.mask[0].bool()]
        approx, ref = fast.codes.score(q, np.arange(index.num_windows)), _exact(fast, enc)
        err = np.abs(approx - ref)
        assert err.max() < 5e-3 and err.max() > 0  # int8 rounding: close, but not the stored fp16 values
        a, b = fast.search_encoded(enc, 3), exact.search_encoded(enc, 3)
        assert [x.clip_id for x in a] == [x.clip_id for x in b]
        np.testing.assert_allclose([x.score for x in a], [x.score for x in b], atol=1e-6)  # re-scored


def test_padding_patches_never_score(built_index: Path, model) -> None:
    index = MotionIndex.open(built_index)
    s = Searcher(index, model, exact_threshold=0, cache_bytes=_budget(index), int8_rerank=True)
    assert Searcher(index, model, cache_bytes=0, int8_rerank=True).codes is None  # over budget: no copy
    masks = s.codes.masks
    assert not bool(masks.all()), "the tiny index has windows with padding patches"
    row = int(np.nonzero((~masks).any(dim=1).numpy())[0][0])
    pad = int(np.nonzero((~masks[row]).numpy())[0][0])
    assert float(s.codes.scales[row, pad]) == 0.0
    q = torch.nn.functional.normalize(torch.randn(3, index.header.embed_dim), dim=-1)
    emb, mask = index.window_patches(np.array([row]))
    want = maxsim(q[None], torch.ones(1, 3, dtype=torch.bool), torch.from_numpy(emb), torch.from_numpy(mask))
    np.testing.assert_allclose(s.codes.score(q, np.array([row])), want[0].numpy(), atol=5e-3)


@pytest.mark.parametrize("kind", ["int8", "bf16"])
def test_approximate_pass_is_within_its_bound_and_hits_are_exact(built_index: Path, model, kind: str) -> None:
    index = MotionIndex.open(built_index)
    opts = {"exact_threshold": 0, "candidates": index.num_windows}
    fast, plain = (
        Searcher(index, model, approx_rerank=kind, **opts),  # type: ignore[arg-type]
        Searcher(index, model, approx_rerank="off", **opts),
    )
    exact = Searcher(index, model, exact_threshold=10**9)
    assert fast.approx is not None and plain.approx is None
    if kind == "int8":  # the default; a quarter of the float32 bytes (plus a scale and a mask per patch)
        default = Searcher(index, model).approx  # auto: the int8 pass only where int8 products are fast
        assert (default.__class__ is fast.approx.__class__) if int8_products_fast() else (default is None)
        assert fast.approx.codes.numel() == fast.patches.numel() and fast.approx.digits == 2
        assert float(fast.approx.residual.max()) > 0  # the float16 values are rounded
    else:
        assert fast.approx.nbytes == fast.patches.numel() * 2
    assert not fast.approx.all_valid, "the tiny index has windows with padding patches"
    rows, clips = np.arange(index.num_windows), fast.window_clip
    texts = [*QUERIES, "walk", "an old man sits down slowly", "jump forward twice", "a person dances happily"]
    re_scored = []
    for text in texts:
        enc = fast.encode_query(text)
        q_valid = enc.emb[0].float()[enc.mask[0].bool()]
        approx, ref = fast.approx.score(q_valid, rows), _exact(fast, enc)
        finite = np.isfinite(ref)
        assert np.array_equal(np.isfinite(approx), finite)  # a window without a valid patch: -inf in both
        err = np.abs(approx - ref)[finite]
        bound = fast.approx.bound(q_valid, rows)
        if kind == "bf16":
            assert BF16_BOUND * 0.99 < bound < BF16_BOUND * 1.02  # unit vectors: the stated bound
        else:  # per window, Cauchy-Schwarz on its largest residual: loose, of the same order as bfloat16's
            assert bound.shape == rows.shape and float(bound.max()) < 4 * BF16_BOUND
            assert float(bound.min()) < float(bound.max())  # windows differ: near_top follows each
        assert 0 < err.max() and bool((err <= np.broadcast_to(bound, ref.shape)[finite]).all())  # within it
        for k in (1, 3, 8):
            near = near_top(approx, clips, k, bound)
            assert set(best_per_clip(ref, clips, k)) <= set(near)  # the exact best windows are re-scored
            re_scored.append(len(near) / len(rows))
            a, b, c = fast.search_encoded(enc, k), plain.search_encoded(enc, k), exact.search_encoded(enc, k)
            assert [x.clip_id for x in a] == [x.clip_id for x in b] == [x.clip_id for x in c]
            np.testing.assert_allclose([x.score for x in a], [x.score for x in b], atol=1e-6)
            np.testing.assert_allclose([x.score for x in a], [x.score for x in c], atol=1e-5)
    assert (
        np.mean(re_scored) < 0.6
    )  # the bound leaves most candidates to the approximate pass alone (0.50 / 0.46)


def test_near_top_keeps_every_window_that_can_reach_the_exact_top() -> None:
    """Random approximate scores, per-window (and single) bounds, exact scores anywhere within them: the exact
    best window of every clip of the exact top ``k`` is among the windows ``near_top`` names."""
    rng = np.random.default_rng(0)
    for trial in range(400):
        n = int(rng.integers(1, 60))
        clips = rng.integers(0, max(1, n // 2), n)
        approx = rng.normal(0.5, 0.05, n)
        bound = rng.uniform(0, 0.03, n) if trial % 2 else float(rng.uniform(0, 0.03))
        exact = approx + rng.uniform(-1, 1, n) * bound
        k = int(rng.integers(1, 12))
        near = set(near_top(approx, clips, k, bound).tolist())
        assert set(best_per_clip(exact, clips, k).tolist()) <= near
