"""Contracts of the training building blocks: collate, optimiser groups, schedule, dataset sampling.

* Collate pads with zeros and marks real frames True in ``frame_mask``; the batch is what the model takes.
* AdamW groups: the ViT -> ``lr_motion``, the trainable MiniLM layers -> ``lr_text``, everything else
  (band projector, projections, MLM head, logit scale) -> ``lr_heads``; frozen layers are not optimised;
  biases / norms / 1-D tensors get no weight decay.
* The schedule warms up linearly and decays by a half cosine to ``min_lr_ratio``.
* The dataset draws one caption and one crop per (seed, epoch, clip): reproducible, different per epoch.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from backend.errors import InvalidInputError
from backend.training.collate import collate_motion_text, pad_motions
from backend.training.datasets import MotionItem, TextMotionDataset
from backend.training.optim import build_optimizer, build_scheduler, lr_factor, split_parameters


def test_pad_motions_zero_pads_and_masks() -> None:
    a = np.full((3, 2), 1.0, dtype=np.float32)
    b = np.full((5, 2), 2.0, dtype=np.float32)
    x, m = pad_motions([a, b], pad_to=6)
    assert x.shape == (2, 6, 2) and m.dtype == torch.bool
    assert m.sum(1).tolist() == [3, 5]
    assert torch.all(x[0, 3:] == 0) and torch.all(x[0, :3] == 1) and torch.all(x[1, :5] == 2)
    with pytest.raises(InvalidInputError, match="pad_to=4"):
        pad_motions([a, b], pad_to=4)
    with pytest.raises(InvalidInputError, match="motion 1 has 3 channels"):
        pad_motions([a, np.zeros((2, 3))])
    with pytest.raises(InvalidInputError, match="empty batch"):
        pad_motions([])


def test_collate_keeps_texts_ids_and_groups() -> None:
    samples = [
        {"motion": np.ones((4, 3)), "text": "a person walks", "clip_id": "c0", "group": 7},
        {"motion": np.ones((2, 3)), "text": "a person runs", "clip_id": "c1", "group": 7},
    ]
    batch = collate_motion_text(samples)
    inputs = batch.as_model_input()
    assert set(inputs) == {"features", "frame_mask", "texts", "group_ids"}
    assert inputs["texts"] == ["a person walks", "a person runs"]
    assert batch.clip_ids == ["c0", "c1"] and batch.group_ids.tolist() == [7, 7]
    assert tuple(inputs["features"].shape) == (2, 4, 3)


@pytest.fixture(scope="module")
def model(tiny_config_path):
    from backend.model.retrieval import MotionTextRetrieval
    from backend.training.config import load_train_config

    cfg = load_train_config(tiny_config_path)
    return MotionTextRetrieval.from_config(cfg.model)


def test_parameter_groups_follow_the_owning_module(model) -> None:
    groups: dict[str, set[str]] = {"motion": set(), "text": set(), "heads": set()}
    for group, name, _ in split_parameters(model):
        groups[group].add(name)
    assert groups["motion"] and all(n.startswith("motion_encoder.vit.") for n in groups["motion"])
    assert groups["text"] and all(n.startswith("text_encoder.backbone.") for n in groups["text"])
    # only the top MiniLM layer (text_trainable_layers: 1) trains; embeddings and lower layers are frozen
    assert all(".layer.5." in n for n in groups["text"])
    heads = " ".join(sorted(groups["heads"]))
    for part in (
        "motion_encoder.band_projector",
        "motion_encoder.proj",
        "text_encoder.proj",
        "mlm_head",
        "logit_scale",
    ):
        assert part in heads
    trainable = {n for n, p in model.named_parameters() if p.requires_grad}
    assert set().union(*groups.values()) == trainable


def test_optimizer_learning_rates_and_decay(model) -> None:
    opt = build_optimizer(model, lr_motion=1e-3, lr_text=1e-5, lr_heads=5e-3, weight_decay=0.1)
    by_name = {g["name"]: g for g in opt.param_groups}
    assert (
        by_name["motion"]["lr"] == 1e-3 and by_name["text"]["lr"] == 1e-5 and by_name["heads"]["lr"] == 5e-3
    )
    assert all(g["weight_decay"] == 0.0 for n, g in by_name.items() if n.endswith("/no_decay"))
    assert all(p.ndim >= 2 for n, g in by_name.items() if not n.endswith("/no_decay") for p in g["params"])
    no_decay = {id(p) for n, g in by_name.items() if n.endswith("/no_decay") for p in g["params"]}
    assert id(model.logit_scale.log_scale) in no_decay
    assert id(model.motion_encoder.vit.pos_embed) in no_decay
    n_opt = sum(len(g["params"]) for g in opt.param_groups)
    assert n_opt == sum(1 for p in model.parameters() if p.requires_grad)


def test_cosine_schedule_with_warmup() -> None:
    assert lr_factor(0, 100, 10, "cosine", 0.1) == pytest.approx(0.1)
    assert lr_factor(9, 100, 10, "cosine", 0.1) == pytest.approx(1.0)
    assert lr_factor(55, 100, 10, "cosine", 0.1) == pytest.approx(0.55)
    assert lr_factor(100, 100, 10, "cosine", 0.1) == pytest.approx(0.1)
    assert lr_factor(50, 100, 10, "constant", 0.1) == 1.0
    p = torch.nn.Parameter(torch.zeros(2, 2))
    opt = torch.optim.AdamW([p], lr=2.0)
    sched = build_scheduler(opt, total_steps=4, warmup_steps=2, schedule="cosine", min_lr_ratio=0.0)
    seen = []
    for _ in range(4):
        seen.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert seen == pytest.approx([1.0, 2.0, 2.0, 1.0])


def _items() -> list[MotionItem]:
    rng = np.random.default_rng(0)
    return [
        MotionItem(
            f"c{i}", rng.normal(size=(40 + 30 * i, 4)).astype(np.float32), [f"cap {i} {k}" for k in range(5)]
        )
        for i in range(4)
    ]


def test_dataset_draws_are_reproducible_and_change_per_epoch() -> None:
    ds = TextMotionDataset(_items(), window_frames=32, train=True, seed=1)
    ds.set_epoch(0)
    first = [ds[i] for i in range(len(ds))]
    again = [ds[i] for i in range(len(ds))]
    assert [s["text"] for s in first] == [s["text"] for s in again]
    assert all(np.array_equal(a["motion"], b["motion"]) for a, b in zip(first, again, strict=True))
    assert all(s["motion"].shape[0] <= 32 for s in first)
    texts = set()
    crops = set()
    for epoch in range(8):
        ds.set_epoch(epoch)
        texts.add(ds[3]["text"])
        crops.add(float(ds[3]["motion"][0, 0]))
    assert len(texts) > 1 and len(crops) > 1


def test_eval_dataset_is_deterministic_centre_crop() -> None:
    items = _items()
    ds = TextMotionDataset(items, window_frames=32, train=False)
    s = ds[2]  # 100 frames -> centre crop 34..66
    assert s["text"] == "cap 2 0"
    assert np.array_equal(s["motion"], items[2].features[34:66])
