"""The int8 re-rank copy (backend.search.rerank) of a real index of real clips (tiny model, MiniLM text).

Contract:

* from an int8 index the copy holds the stored codes, so two-stage search through it gives the same hits and
  the same scores (to float rounding) as decoding the candidates from the memory-mapped arrays;
* from an fp16 index its scores are within int8 rounding of exact MaxSim, and the hits a search reports
  carry exact scores (the best windows are re-scored), in the exact order;
* padding patches never score; the copy is a little over a quarter of the float32 bytes.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backend.index.store import MotionIndex
from backend.index.transcode import transcode_index
from backend.model.scoring import maxsim
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
    for text in QUERIES:
        enc = fast.encode_query(text)
        a, b = fast.search_encoded(enc, 10), slow.search_encoded(enc, 10)
        assert [x.clip_id for x in a] == [x.clip_id for x in b] and len(a) >= 5
        np.testing.assert_allclose([x.score for x in a], [x.score for x in b], atol=1e-5)
        rows = np.arange(index.num_windows)
        q = enc.emb[0].float()[enc.mask[0].bool()]
        np.testing.assert_allclose(fast.codes.score(q, rows), _exact(fast, enc), atol=1e-5)


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
