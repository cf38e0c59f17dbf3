"""Contract of caption-bank query expansion (``backend.model.expansion`` through ``Searcher.expand`` /
``Searcher.search``) on a real index of Bandai-Namco-1 clips with its caption bank:

* the caption chosen is the bank caption of the best text-to-text MaxSim (brute force over the padded bank),
  ``coverage`` is that MaxSim, and the searched tokens are the query's followed by that caption's;
* a query worded exactly like a bank caption covers itself (coverage 1);
* the expanded search ranks by exact MaxSim of the joined tokens; ``expansion=0`` searches the query alone;
* a damaged caption bank, or none, leaves queries unexpanded instead of failing the search;
* bad banks and counts raise errors naming the problem.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from backend.errors import InvalidInputError
from backend.index.format import CAPTIONS_DIR
from backend.index.store import MotionIndex
from backend.model.expansion import CaptionExpander, caption_key
from backend.model.scoring import maxsim
from backend.model.text_onnx import MIN_TOKEN_COSINE
from backend.search.searcher import Searcher


@pytest.fixture(scope="module")
def searcher(built_index: Path, model) -> Searcher:
    return Searcher(MotionIndex.open(built_index), model, exact_threshold=10**6)


def test_expansion_picks_the_best_caption(searcher: Searcher) -> None:
    texts, bank_emb, bank_mask = searcher.caption_bank()
    assert len(texts) >= 10
    for text in ("someone kicks hard with one leg", "a person waves goodbye", "walking"):
        enc = searcher.encode_query(text)
        q = enc.emb[0][enc.mask[0]].float()
        full = maxsim(q[None], torch.ones(1, len(q), dtype=torch.bool), bank_emb, bank_mask)[
            0
        ]  # text-to-text
        out, ex = searcher.expand(enc)
        best = int(torch.argmax(full))
        assert ex.captions == (texts[best],)
        assert ex.coverage == pytest.approx(float(full[best]), abs=1e-5)
        cap = bank_emb[best][bank_mask[best]]
        torch.testing.assert_close(ex.tokens, torch.cat([q, cap]))
        torch.testing.assert_close(out.emb[0], ex.tokens)
        assert bool(out.mask.all()) and out.words == enc.words
        # the alignment still uses the query: its encoding is untouched
        assert enc.emb.shape[1] < out.emb.shape[1]


def test_expansions_are_remembered_per_query(built_index: Path, model) -> None:
    s = Searcher(MotionIndex.open(built_index), model, query_cache=4)
    first = s.expand(s.encode_query("a person waves goodbye"))[1]
    assert s.expand(s.encode_query("a person waves goodbye"))[1] is first  # no second bank scan
    other = s.expand(s.encode_query("someone kicks"))[1]
    assert other is not first and len(s.expansions.cache) == 2
    nocache = Searcher(MotionIndex.open(built_index), model, query_cache=0)
    a, b = (nocache.expand(nocache.encode_query("a person waves goodbye"))[1] for _ in range(2))
    assert a is not b and a.captions == b.captions == first.captions


def test_a_caption_covers_itself(searcher: Searcher, built_index: Path, model) -> None:
    texts = searcher.caption_bank()[0]
    text = texts[len(texts) // 2]
    exact = Searcher(MotionIndex.open(built_index), model, exact_threshold=10**6, text_runtime="torch")
    _, same = exact.expand(exact.encode_query(text))  # the encoder the bank was made with
    assert same.coverage == pytest.approx(1.0, abs=2e-3)  # float16 bank tokens
    _, ex = searcher.expand(searcher.encode_query(text))  # served: int8 graph where its check passed
    assert ex.coverage >= MIN_TOKEN_COSINE
    # the chosen caption is the query itself unless another caption holds all its words as well
    chosen = ex.captions[0]
    assert caption_key(chosen) == caption_key(text) or set(caption_key(text).split()) <= set(
        caption_key(chosen).split()
    )


def test_expanded_search_is_maxsim_of_the_joined_tokens(searcher: Searcher, built_index: Path, model) -> None:
    text = "a person kicks with the right leg"
    hits = searcher.search(text, k=5)
    _, ex = searcher.expand(searcher.encode_query(text))
    rows = np.arange(searcher.index.num_windows)
    d, dm = searcher.window_patches(rows)
    scores = maxsim(ex.tokens[None], torch.ones(1, len(ex.tokens), dtype=torch.bool), d.float(), dm)[
        0
    ].numpy()
    for h in hits:
        own = rows[searcher.window_clip == searcher.index.position(h.clip_id)]
        assert h.score == pytest.approx(float(scores[own].max()), abs=1e-5)
    alone = Searcher(MotionIndex.open(built_index), model, exact_threshold=10**6, expansion=0)
    q = alone.encode_query(text)
    _, none = alone.expand(q)
    assert none.captions == () and np.isnan(none.coverage)
    plain = alone.search_encoded(q, 5)
    assert [h.clip_id for h in alone.search(text, 5)] == [h.clip_id for h in plain]
    assert [h.score for h in alone.search(text, 5)] == pytest.approx([h.score for h in plain])


def test_damaged_bank_searches_unexpanded(index_copy: Path, model) -> None:
    part = next((index_copy / CAPTIONS_DIR).iterdir())
    tokens = part / "tokens.npy"
    raw = bytearray(tokens.read_bytes())
    raw[-64:] = bytes(64)  # zero the last tokens: the sampled checksum no longer matches
    tokens.write_bytes(bytes(raw))
    s = Searcher(MotionIndex.open(index_copy), model)
    assert s.index.caption_problem
    _, ex = s.expand(s.encode_query("a person waves"))
    assert ex.captions == () and np.isnan(ex.coverage)
    assert s.search("a person waves", k=3)


def test_bad_banks() -> None:
    tok = np.ones((3, 4), dtype=np.float32)
    with pytest.raises(InvalidInputError, match="offsets"):
        CaptionExpander(["a", "b"], tok, np.array([0, 3]))
    with pytest.raises(InvalidInputError, match="at least one token"):
        CaptionExpander(["a", "b"], tok, np.array([0, 0, 3]))
    with pytest.raises(InvalidInputError, match=">= 0"):
        CaptionExpander(["a"], tok, np.array([0, 3]), captions=-1)
    ex = CaptionExpander.empty().expand(torch.ones(2, 4))
    assert ex.captions == () and ex.tokens.shape == (2, 4)
