"""Motion side: timm ViT by name, prefix tokens dropped, padding, local checkpoints through timm."""

from __future__ import annotations

from pathlib import Path

import pytest
import timm
import torch

from backend.errors import CheckpointError, ConfigError, InvalidInputError
from backend.model.motion_encoder import MotionEncoder

TINY_VIT = {"depth": 2, "embed_dim": 32, "num_heads": 2}


def test_shapes_norms_and_masks(make_config) -> None:
    torch.manual_seed(0)
    enc = MotionEncoder(make_config(window_frames=48)).eval()
    fm = torch.ones(2, 48, dtype=torch.bool)
    fm[1, 20:] = False  # windows 0 and 1 hold real frames
    with torch.no_grad():
        out = enc(torch.randn(2, 48, 29), fm)
    assert out.emb.shape == (2, 42, 64) and out.n_windows == 3
    torch.testing.assert_close(out.emb.norm(dim=-1), torch.ones(2, 42))
    assert (
        out.valid[0].all()
        and out.valid[1].view(14, 3)[:, :2].all()
        and not out.valid[1].view(14, 3)[:, 2].any()
    )
    assert torch.equal(out.mask, out.valid)  # mask_padding_patches defaults to True
    assert out.pooled.shape == (2, 64)


def test_shorter_input_is_padded_like_explicit_padding(make_config) -> None:
    torch.manual_seed(0)
    enc = MotionEncoder(make_config()).eval()
    x = torch.randn(1, 20, 29)
    padded = torch.cat([x, torch.randn(1, 12, 29)], dim=1)  # padding content must not matter
    fm = torch.zeros(1, 32, dtype=torch.bool)
    fm[:, :20] = True
    with torch.no_grad():
        a, b = enc(x), enc(padded, fm)
    torch.testing.assert_close(a.emb, b.emb)
    with pytest.raises(InvalidInputError, match="33 frames"):
        enc(torch.randn(1, 33, 29))
    with pytest.raises(InvalidInputError, match="29"):
        enc(torch.randn(1, 32, 30))


def test_unmasked_padding_option_keeps_every_patch(make_config) -> None:
    enc = MotionEncoder(make_config(mask_padding_patches=False))
    fm = torch.zeros(1, 32, dtype=torch.bool)
    fm[:, :5] = True
    out = enc(torch.randn(1, 32, 29), fm)
    assert out.mask.all() and int(out.valid.sum()) == 14


def test_register_tokens_are_dropped(make_config) -> None:
    enc = MotionEncoder(make_config(vit_kwargs=dict(TINY_VIT, reg_tokens=3)))
    assert enc.num_prefix_tokens == 4
    assert enc.forward_features(torch.randn(1, 32, 29)).shape == (1, 28, 32)


def test_bad_names_and_kwargs(make_config) -> None:
    with pytest.raises(ConfigError, match=r"vit_nope.*vit_base_patch16_224"):
        MotionEncoder(make_config(vit_name="vit_nope"))
    with pytest.raises(ConfigError, match="16x16"):
        MotionEncoder(make_config(vit_name="vit_base_patch32_224"))
    with pytest.raises(ConfigError, match="vit_kwargs"):
        MotionEncoder(make_config(vit_kwargs=dict(TINY_VIT, no_such_option=1)))


@pytest.mark.parametrize("suffix", [".pth", ".safetensors"])
def test_local_checkpoint_loads_through_timm(tmp_path: Path, suffix: str, make_config) -> None:
    """A 224x224 RGB checkpoint loads into the 224 x window_frames, 1-channel motion ViT."""
    torch.manual_seed(0)
    src = timm.create_model("vit_tiny_patch16_224", **TINY_VIT)  # 3 channels, 14x14 patches, classifier
    path = tmp_path / f"vit{suffix}"
    if suffix == ".pth":
        torch.save(src.state_dict(), path)
    else:
        from safetensors.torch import save_file

        save_file({k: v.contiguous() for k, v in src.state_dict().items()}, str(path))
    enc = MotionEncoder(make_config(vit_checkpoint=str(path)))
    vit = enc.vit
    torch.testing.assert_close(vit.blocks[1].mlp.fc1.weight, src.blocks[1].mlp.fc1.weight)
    torch.testing.assert_close(vit.cls_token, src.cls_token)
    torch.testing.assert_close(vit.patch_embed.proj.weight, src.patch_embed.proj.weight.sum(1, keepdim=True))
    assert vit.pos_embed.shape == (1, 1 + 14 * 2, 32)  # resampled from 1 + 14 * 14
    fresh = MotionEncoder(make_config(vit_checkpoint=str(path)), load_checkpoint=False)
    assert not torch.allclose(fresh.vit.blocks[1].mlp.fc1.weight, src.blocks[1].mlp.fc1.weight)


def test_missing_checkpoint_names_the_file(tmp_path: Path, make_config) -> None:
    with pytest.raises(CheckpointError, match="nothere.pth"):
        MotionEncoder(make_config(vit_checkpoint=str(tmp_path / "nothere.pth")))
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="junk.pth"):
        MotionEncoder(make_config(vit_checkpoint=str(junk)))
