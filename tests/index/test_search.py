"""Contract of backend.search.searcher: a text query returns k distinct clips sorted by MaxSim score with a
valid time segment (the best window); the score is model.scoring.maxsim of the query and that window;
two-stage search equals exact search when its candidates cover the best windows and only ever reports
exact scores; duration filters hold; bad arguments raise errors naming the field."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backend.errors import InvalidInputError
from backend.index.store import MotionIndex
from backend.index.transcode import transcode_index
from backend.model.scoring import maxsim
from backend.search.searcher import Searcher

QUERIES = ["a person kicks", "someone waves goodbye", "a man walks backwards quickly", "bow"]


@pytest.fixture(scope="module")
def searcher(built_index: Path, model) -> Searcher:
    return Searcher(MotionIndex.open(built_index), model)


def _exact_window_scores(s: Searcher, enc) -> np.ndarray:
    emb, mask = s.index.window_patches(np.arange(s.index.num_windows))
    return maxsim(enc.emb.float(), enc.mask, torch.from_numpy(emb), torch.from_numpy(mask))[0].numpy()


@pytest.mark.parametrize("text", QUERIES)
def test_search_sorted_distinct_with_segments(searcher: Searcher, text: str) -> None:
    k = 5
    enc = searcher.encode_query(text)
    hits = searcher.search_encoded(enc, k)
    assert len(hits) == k
    scores = [h.score for h in hits]
    assert scores == sorted(scores, reverse=True)
    assert len({h.clip_id for h in hits}) == k
    exact = _exact_window_scores(searcher, enc)
    index = searcher.index
    for h in hits:
        rec = index.record(h.clip_id)
        assert 0.0 <= h.start < h.end <= rec.duration + 1e-9
        assert h.end - h.start <= index.header.window_frames / 20.0 + 1e-9
        assert h.start == h.window_start_frame / 20.0
        # the hit's window is the clip's best window and its score is MaxSim's
        rows = index.clip_windows(index.position(h.clip_id))
        assert h.window_row in rows
        assert h.score == pytest.approx(float(exact[rows].max()), abs=1e-5)
        assert h.score == pytest.approx(float(exact[h.window_row]), abs=1e-5)
        assert h.patches.shape == (index.header.num_patches, index.header.embed_dim)
    # nothing better was left out
    others = [
        r
        for r in range(index.num_windows)
        if index.clips[index.window_clip[r]].id not in {h.clip_id for h in hits}
    ]
    assert exact[others].max() <= hits[-1].score + 1e-6


@pytest.mark.parametrize("text", QUERIES)
def test_two_stage_agrees_with_exact(built_index: Path, model, text: str) -> None:
    index = MotionIndex.open(built_index)
    exact = Searcher(index, model, exact_threshold=10**9)
    two = Searcher(index, model, exact_threshold=4, candidates=index.num_windows)
    enc = exact.encode_query(text)
    a = exact.search_encoded(enc, 10)
    b = two.search_encoded(enc, 10)  # auto -> two_stage (threshold 4 windows)
    assert [h.clip_id for h in a] == [h.clip_id for h in b]
    np.testing.assert_allclose([h.score for h in a], [h.score for h in b], atol=1e-6)
    # with few candidates the reported scores are still exact MaxSim scores of the pooled top windows
    few = Searcher(index, model, exact_threshold=0, candidates=6)
    hits = few.search_encoded(enc, 10)
    pooled = (few.pooled @ enc.pooled[0].float()).numpy()
    top6 = set(np.argsort(-pooled)[:6].tolist())
    scores = _exact_window_scores(few, enc)
    assert 1 <= len(hits) <= 6
    for h in hits:
        assert h.window_row in top6
        assert h.score == pytest.approx(float(scores[h.window_row]), abs=1e-5)


def test_duration_filters(searcher: Searcher) -> None:
    durations = {r.id: r.duration for r in searcher.index.clips}
    lo, hi = sorted(durations.values())[2], sorted(durations.values())[-3]
    for mode in ("exact", "two_stage"):
        hits = searcher.search("a person", k=20, min_duration=lo, max_duration=hi, mode=mode)
        assert {h.clip_id for h in hits} == {i for i, d in durations.items() if lo <= d <= hi}
    assert searcher.search("a person", k=3, min_duration=1e6) == []


def test_cache_dtypes_give_the_same_results(built_index: Path, model, tmp_path: Path) -> None:
    index = MotionIndex.open(built_index)
    h = index.header
    assert h.codec == "fp16"
    fp32_bytes = index.num_windows * h.num_patches * h.embed_dim * 4
    cached = Searcher(index, model, approx_rerank="off")
    half = Searcher(index, model, cache_bytes=fp32_bytes // 2 + 1, approx_rerank="off")
    uncached = Searcher(index, model, cache_bytes=0)
    int8 = Searcher(transcode_index(built_index, tmp_path / "int8", "int8"), model)
    # an fp16 index is cached as float16: its stored values exactly, half the bytes of float32
    assert cached.patches is not None and cached.patches.dtype == torch.float16
    emb, _ = index.window_patches(np.arange(index.num_windows))
    assert torch.equal(cached.patches.float(), torch.from_numpy(emb))
    assert half.patches is not None and half.patches.dtype == torch.float16
    assert uncached.patches is None
    assert int8.patches is not None and int8.patches.dtype == torch.float32  # int8 x scale: not float16-exact
    for mode in ("exact", "two_stage"):
        ref = cached.search("a person kicks", k=5, mode=mode)
        for other in (uncached, half):
            hits = other.search("a person kicks", k=5, mode=mode)
            assert [h.clip_id for h in hits] == [h.clip_id for h in ref]
            np.testing.assert_allclose([h.score for h in hits], [h.score for h in ref], atol=1e-6)


@pytest.mark.parametrize(
    "kwargs, match",
    [
        ({"text": "", "k": 5}, "text"),
        ({"text": "walk", "k": 0}, "k must"),
        ({"text": "walk", "k": 1001}, "k must"),
        ({"text": "walk", "k": 5, "min_duration": -1.0}, "min_duration"),
        ({"text": "walk", "k": 5, "min_duration": 3.0, "max_duration": 1.0}, "min_duration"),
        ({"text": "walk", "k": 5, "mode": "fast"}, "mode"),
    ],
)
def test_bad_arguments(searcher: Searcher, kwargs: dict, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        searcher.search(**kwargs)


def test_searcher_encodes_with_its_query_encoder(built_index: Path, model) -> None:
    """A searcher uses the query encoder it was given (the server shares one across index generations);
    without one it makes its own from the model once, and nothing is memoised on the model."""
    calls: list[list[str]] = []

    def encode(texts):
        calls.append(list(texts))
        return model.encode_text(texts)

    given = Searcher(MotionIndex.open(built_index), model, query_encoder=encode)
    hits = given.search("a person kicks", k=3)
    assert calls == [["a person kicks"]] and len(hits) == 3
    assert [h.clip_id for h in hits] == [h.clip_id for h in given.search("a person kicks", k=3)]
    assert calls == [["a person kicks"]]  # the second query came from the query cache
    own = Searcher(MotionIndex.open(built_index), model, text_runtime="torch")
    assert own.query_encoder == model.encode_text and "_query_encoders" not in vars(model)
    torch.testing.assert_close(own.encode_query("bow").emb, model.encode_text(["bow"]).emb)
    with pytest.raises(InvalidInputError, match="no model"):
        Searcher(MotionIndex.open(built_index)).encode_query("bow")
