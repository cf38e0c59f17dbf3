"""MaxSim and pooled scoring (backend.model.scoring), one property per test.

Contract: ``maxsim[i, j]`` = mean over valid tokens of query ``i`` of the max cosine over valid tokens of
document ``j``; masks are bool with True = valid; masked document tokens can never be the max; results do
not depend on the chunk sizes; no NaN for empty documents (``-inf``) or empty queries (``0``).
"""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from backend.errors import InvalidInputError
from backend.model.scoring import maxsim, maxsim_paired, mean_pool, pooled_scores, token_patch_similarity


def _random(n: int, length: int, dim: int, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = F.normalize(torch.randn(n, length, dim, generator=g, dtype=torch.float64), dim=-1)
    mask = torch.rand(n, length, generator=g) < 0.7
    mask[:, 0] = True  # at least one valid token each
    return x, mask


def _naive(q, qm, d, dm) -> torch.Tensor:
    out = torch.empty(q.shape[0], d.shape[0], dtype=q.dtype)
    for i in range(q.shape[0]):
        for j in range(d.shape[0]):
            per_token = []
            for a in range(q.shape[1]):
                if not qm[i, a]:
                    continue
                per_token.append(max(float(q[i, a] @ d[j, b]) for b in range(d.shape[1]) if dm[j, b]))
            out[i, j] = sum(per_token) / len(per_token)
    return out


def test_equals_naive_loop_with_random_masks() -> None:
    g = torch.Generator().manual_seed(1)
    q, qm = _random(5, 7, 8, g)
    d, dm = _random(6, 9, 8, g)
    expected = _naive(q, qm, d, dm)
    torch.testing.assert_close(maxsim(q, qm, d, dm), expected)
    torch.testing.assert_close(maxsim_paired(q, qm, d[:5], dm[:5]), torch.diagonal(expected[:, :5]))


@pytest.mark.parametrize(("chunk", "qchunk"), [(1, 1), (2, 3), (4, None), (100, 100)])
def test_chunking_invariance(chunk: int, qchunk: int | None) -> None:
    g = torch.Generator().manual_seed(2)
    q, qm = _random(7, 5, 16, g)
    d, dm = _random(11, 14, 16, g)
    full = maxsim(q, qm, d, dm, chunk_size=1000)
    torch.testing.assert_close(maxsim(q, qm, d, dm, chunk_size=chunk, query_chunk_size=qchunk), full)


def test_masked_padding_patches_never_win() -> None:
    g = torch.Generator().manual_seed(3)
    q, qm = _random(3, 4, 8, g)
    d, dm = _random(2, 6, 8, g)
    dm[:, 3:] = False
    poisoned = d.clone()
    poisoned[:, 3:] = q[0, 0]  # padding identical to a query token: cosine 1 if it were allowed to win
    torch.testing.assert_close(maxsim(q, qm, poisoned, dm), maxsim(q, qm, d, dm))
    # the same padding, unmasked, does win (so the test above can fail)
    assert bool((maxsim(q, qm, poisoned, torch.ones_like(dm))[0] > maxsim(q, qm, d, dm)[0]).all())


def test_masked_query_tokens_do_not_count() -> None:
    g = torch.Generator().manual_seed(4)
    q, qm = _random(2, 6, 8, g)
    d, dm = _random(3, 5, 8, g)
    qm[:, 4:] = False
    altered = q.clone()
    altered[:, 4:] = torch.randn(2, 2, 8, dtype=q.dtype, generator=g)
    torch.testing.assert_close(maxsim(altered, qm, d, dm), maxsim(q, qm, d, dm))


def test_empty_rows_give_no_nan() -> None:
    g = torch.Generator().manual_seed(5)
    q, qm = _random(2, 3, 4, g)
    d, dm = _random(2, 3, 4, g)
    dm[1] = False  # a document with no valid patch
    qm[1] = False  # a query with no valid token
    s = maxsim(q, qm, d, dm)
    assert not torch.isnan(s).any()
    assert s[0, 1].item() == -math.inf and s[1, 0].item() == 0.0 and s[1, 1].item() == 0.0
    assert not torch.isnan(maxsim_paired(q, qm, d, dm)).any()


def test_gradients_flow_only_to_the_winning_patch() -> None:
    q = torch.tensor([[[1.0, 0.0]]], requires_grad=True)
    d = torch.tensor([[[0.6, 0.8], [0.8, 0.6], [1.0, 0.0]]], requires_grad=True)
    dm = torch.tensor([[True, True, False]])
    maxsim(q, torch.ones(1, 1, dtype=torch.bool), d, dm).sum().backward()
    assert d.grad[0, 1].abs().sum() > 0 and d.grad[0, 0].abs().sum() == 0 and d.grad[0, 2].abs().sum() == 0


def test_pooled_and_token_similarity() -> None:
    g = torch.Generator().manual_seed(6)
    x, m = _random(4, 5, 8, g)
    pooled = mean_pool(x, m)
    assert pooled.shape == (4, 8)
    torch.testing.assert_close(pooled.norm(dim=-1), torch.ones(4, dtype=x.dtype))
    manual = F.normalize(torch.stack([x[i][m[i]].mean(0) for i in range(4)]), dim=-1)
    torch.testing.assert_close(pooled, manual)
    s = pooled_scores(pooled[:2], pooled)
    assert s.shape == (2, 4)
    torch.testing.assert_close(s[1, 1], torch.tensor(1.0, dtype=x.dtype))
    tps = token_patch_similarity(x[0], x[1])
    assert tps.shape == (5, 5)
    single = maxsim(x[:1], torch.ones(1, 5, dtype=torch.bool), x[1:2], torch.ones(1, 5, dtype=torch.bool))
    torch.testing.assert_close(tps.amax(1).mean(), single[0, 0])


def test_shape_and_mask_errors() -> None:
    x = torch.zeros(2, 3, 4)
    with pytest.raises(InvalidInputError, match="q_mask"):
        maxsim(x, torch.ones(2, 4, dtype=torch.bool), x, torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(InvalidInputError, match="bool"):
        maxsim(x, torch.ones(2, 3), x, torch.ones(2, 3, dtype=torch.bool))
    with pytest.raises(InvalidInputError, match="embedding sizes"):
        maxsim(
            x, torch.ones(2, 3, dtype=torch.bool), torch.zeros(2, 3, 5), torch.ones(2, 3, dtype=torch.bool)
        )
    assert maxsim(x[:0], torch.ones(0, 3, dtype=torch.bool), x, torch.ones(2, 3, dtype=torch.bool)).shape == (
        0,
        2,
    )


def test_maxsim_one_query_equals_maxsim_on_real_embeddings(tiny_model, kit_captions) -> None:
    """The search re-rank's single-query MaxSim gives maxsim's scores, with and without masked patches."""
    from backend.model.scoring import maxsim, maxsim_one_query

    with torch.inference_mode():
        text = tiny_model.encode_text(kit_captions[:3])
        g = torch.Generator().manual_seed(0)
        x = torch.randn(5, tiny_model.config.window_frames, tiny_model.config.feature_dim, generator=g)
        fm = torch.ones(5, tiny_model.config.window_frames, dtype=torch.bool)
        fm[1, 10:] = False  # a short clip: padding patches masked
        motion = tiny_model.encode_motion(x, fm)
    assert not bool(motion.mask.all())
    for i in range(len(text)):
        ref = maxsim(text.emb[i : i + 1], text.mask[i : i + 1], motion.emb, motion.mask)[0]
        got = maxsim_one_query(text.emb[i][text.mask[i]], motion.emb, motion.mask)
        torch.testing.assert_close(got, ref, atol=1e-6, rtol=0)
        full = torch.ones_like(motion.mask)
        ref_full = maxsim(text.emb[i : i + 1], text.mask[i : i + 1], motion.emb, full)[0]
        torch.testing.assert_close(maxsim_one_query(text.emb[i][text.mask[i]], motion.emb, full), ref_full)
    with pytest.raises(InvalidInputError, match="Lv >= 1"):
        maxsim_one_query(text.emb[0][:0], motion.emb, motion.mask)
