"""Symmetric InfoNCE, the capped learnable temperature, and caption filtering of in-batch negatives."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from backend.model.losses import LogitScale, caption_duplicate_mask, info_nce


def test_info_nce_matches_the_formula() -> None:
    g = torch.Generator().manual_seed(0)
    s = torch.rand(5, 5, generator=g) * 2 - 1
    scale = torch.tensor(10.0)
    t2m = -torch.log_softmax(s * scale, dim=1).diagonal().mean()
    m2t = -torch.log_softmax(s * scale, dim=0).diagonal().mean()
    torch.testing.assert_close(info_nce(s, scale), 0.5 * (t2m + m2t))


def test_excluded_pairs_leave_the_denominators() -> None:
    g = torch.Generator().manual_seed(1)
    s = torch.rand(4, 4, generator=g)
    exclude = torch.zeros(4, 4, dtype=torch.bool)
    exclude[0, 1] = exclude[1, 0] = True
    exclude[2, 2] = True  # the diagonal is always kept
    keep = ~exclude | torch.eye(4, dtype=torch.bool)
    logits = s * 5.0
    rows = [-(logits[i, i] - torch.logsumexp(logits[i][keep[i]], 0)) for i in range(4)]
    cols = [-(logits[i, i] - torch.logsumexp(logits[:, i][keep[:, i]], 0)) for i in range(4)]
    expected = 0.5 * (torch.stack(rows).mean() + torch.stack(cols).mean())
    torch.testing.assert_close(info_nce(s, torch.tensor(5.0), exclude), expected)
    assert info_nce(s, torch.tensor(5.0), exclude) < info_nce(s, torch.tensor(5.0))


def test_temperature_init_and_cap() -> None:
    ls = LogitScale(0.07, 100.0)
    assert ls().item() == pytest.approx(1 / 0.07, rel=1e-5)
    with torch.no_grad():
        ls.log_scale.fill_(math.log(1000.0))
    assert ls().item() == pytest.approx(100.0, rel=1e-5)
    ls().backward()
    assert ls.log_scale.grad.item() == 0.0  # capped: no push further up
    opt = torch.optim.SGD(ls.parameters(), lr=10.0)
    for _ in range(5):
        opt.zero_grad()
        (-ls()).backward()  # a loss that always wants a larger scale
        opt.step()
    assert ls().item() <= 100.0 + 1e-3


def test_caption_duplicates() -> None:
    texts = ["A person walks forward.", "a person walks forward", "A person jumps", "someone hops up"]
    m = caption_duplicate_mask(texts)
    assert m.tolist()[0] == [False, True, False, False] and not m.diagonal().any()
    emb = F.normalize(torch.tensor([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.1, 1.0]]), dim=-1)
    m = caption_duplicate_mask(texts, emb, threshold=0.99)
    assert bool(m[2, 3]) and bool(m[3, 2]) and not bool(m[0, 2])
    assert not caption_duplicate_mask(texts, emb, threshold=1.0)[2, 3]
