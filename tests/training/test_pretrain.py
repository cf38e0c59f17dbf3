"""Masked-patch pre-training of the motion encoder on real clips (tiny library of real Bandai-Namco-2 clips).

* The patch mask hides the asked share of each window's real patches and never a padding patch.
* The targets are the z-scored features of each (body part, 16 frames) patch, in the encoder's patch order.
* ``python -m backend pretrain`` lowers the masked-feature loss and writes the band projector and the ViT;
  ``model.motion_init`` loads exactly those weights, refuses a file of another architecture, and a
  checkpoint trained from it loads without the file.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from backend.cli import main
from backend.errors import CheckpointError
from backend.model.config import PATCH_FRAMES
from backend.training.config import load_train_config
from backend.training.pretrain import MOTION_INIT_FILE, MaskedPatchModel, random_patch_mask


@pytest.fixture(scope="module")
def pretrained(tiny_library: Path, tiny_config_path: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mfm")
    rc = main(["pretrain", "--config", str(tiny_config_path), "--data-root", str(tiny_library), "--out", str(out),
               "--steps", "40", "--batch-size", "8", "--lr", "3e-3"])  # fmt: skip
    assert rc == 0
    return out


def _model(tiny_config_path: Path, **model_overrides: str):
    from backend.model.retrieval import MotionTextRetrieval

    sets = [f"model.{k}={json.dumps(v)}" for k, v in model_overrides.items()]
    return MotionTextRetrieval.from_config(load_train_config(tiny_config_path, sets).model)


def test_patch_mask_hides_a_share_of_real_patches_only() -> None:
    valid = torch.zeros(3, 28, dtype=torch.bool)
    valid[0], valid[1, :14], valid[2, :3] = True, True, True
    hide = random_patch_mask(valid, 0.5, torch.Generator().manual_seed(1))
    assert hide.sum(dim=1).tolist() == [14, 7, 2]
    assert not (hide & ~valid).any()
    again = random_patch_mask(valid, 0.5, torch.Generator().manual_seed(2))
    assert not torch.equal(hide, again)  # a new draw hides other patches
    with pytest.raises(Exception, match="mask_ratio"):
        random_patch_mask(valid, 1.0)


def test_targets_are_each_patchs_own_features(tiny_library: Path, tiny_config_path: Path) -> None:
    from backend.evaluation.data import load_split
    from backend.training.datasets import fit_feature_stats

    model = _model(tiny_config_path)
    records = load_split("library", str(tiny_library), "train", None, 0)
    model.set_feature_stats(fit_feature_stats(records, model.config.representation))
    feats = torch.from_numpy(np.ascontiguousarray(model.featurize(records[0].joints)[:32], dtype=np.float32))
    net = MaskedPatchModel(model.motion_encoder)
    target, chan = net.targets(feats[None])
    bands = net.band_channels
    n_w = 32 // PATCH_FRAMES
    assert target.shape == (1, len(bands) * n_w, PATCH_FRAMES, max(bands))
    start = 0
    for b, c in enumerate(bands):
        for w in range(n_w):
            p = b * n_w + w  # the encoder's row-major (band, window) patch order
            torch.testing.assert_close(target[0, p, :, :c], feats[w * 16 : (w + 1) * 16, start : start + c])
            assert not target[0, p, :, c:].any()
            assert chan[p, 0].tolist() == [i < c for i in range(max(bands))]
        start += c
    frames = torch.ones(1, 32, dtype=torch.bool)
    loss = net(feats[None], frames, ratio=0.5)
    loss.backward()
    assert torch.isfinite(loss) and net.mask_token.grad is not None and net.head.weight.grad is not None


def test_pretraining_lowers_the_loss_and_motion_init_loads_it(pretrained: Path, tiny_config_path: Path,
                                                             tmp_path: Path) -> None:  # fmt: skip
    from safetensors.torch import load_file

    from backend.model.retrieval import MotionTextRetrieval

    log = [json.loads(x) for x in (pretrained / "pretrain_log.jsonl").read_text().splitlines()]
    assert log[0]["step"] == 1 and log[-1]["step"] == 40
    assert log[-1]["loss"] < 0.8 * log[0]["loss"], log
    state = load_file(str(pretrained / MOTION_INIT_FILE))
    assert state and all(k.startswith(("band_projector.", "vit.")) for k in state)
    init = str(pretrained / MOTION_INIT_FILE)
    model = _model(tiny_config_path, motion_init=init)
    own = model.motion_encoder.state_dict()
    for k, v in state.items():
        torch.testing.assert_close(own[k], v)
    fresh = _model(tiny_config_path)
    assert not torch.equal(fresh.motion_encoder.state_dict()["vit.blocks.0.attn.qkv.weight"],
                           state["vit.blocks.0.attn.qkv.weight"])  # fmt: skip
    # a checkpoint trained from the file carries the weights: it loads with the file gone
    ckpt = tmp_path / "ckpt"
    model.save_pretrained(ckpt)
    moved = tmp_path / "moved.safetensors"
    Path(init).rename(moved)
    try:
        back = MotionTextRetrieval.from_pretrained(ckpt)
        assert back.config.motion_init == init
        torch.testing.assert_close(back.motion_encoder.state_dict()["vit.blocks.0.attn.qkv.weight"],
                                   state["vit.blocks.0.attn.qkv.weight"].to(torch.float32))  # fmt: skip
        with pytest.raises(CheckpointError, match="motion_init file not found"):
            _model(tiny_config_path, motion_init=init)
    finally:
        moved.rename(init)
    with pytest.raises(CheckpointError, match="does not fit this model"):
        _model(tiny_config_path, motion_init=init, vit_kwargs={"depth": 2, "embed_dim": 32, "num_heads": 2})
