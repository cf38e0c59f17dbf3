"""The motion image and the patch <-> (body part, time window) mapping the server and add-on rely on.

Contract: patch ``p`` = band ``p // n_windows``, window ``p % n_windows`` (timm's row-major patch order),
window ``w`` spans frames ``16 w .. 16 w + 15`` = seconds ``[0.8 w, 0.8 (w + 1))`` at 20 fps.
"""

from __future__ import annotations

import numpy as np
import pytest
import timm
import torch

from backend.errors import InvalidInputError
from backend.model.motion_image import (
    BandProjector,
    part_window_to_patch,
    patch_mask_from_frames,
    patch_to_part_window,
    window_seconds,
)
from backend.motion.kinematics.features import band_channels


@pytest.mark.parametrize("n_windows", [1, 2, 3, 10])
def test_mapping_is_a_bijection(n_windows: int) -> None:
    seen = set()
    for p in range(14 * n_windows):
        band, window = patch_to_part_window(p, n_windows)
        assert 0 <= band < 14 and 0 <= window < n_windows
        assert part_window_to_patch(band, window, n_windows) == p
        seen.add((band, window))
    assert len(seen) == 14 * n_windows
    assert patch_to_part_window(np.int64(n_windows), n_windows) == (1, 0)  # numpy ints are fine


def test_mapping_rejects_out_of_range() -> None:
    with pytest.raises(InvalidInputError, match="p must be"):
        patch_to_part_window(140, 10)
    with pytest.raises(InvalidInputError, match="window"):
        part_window_to_patch(0, 10, 10)
    with pytest.raises(InvalidInputError, match="band"):
        part_window_to_patch(14, 0, 10)
    with pytest.raises(InvalidInputError, match="n_windows"):
        patch_to_part_window(0, 0)


def test_window_seconds() -> None:
    assert window_seconds(0) == (0.0, 0.8)
    assert window_seconds(9) == pytest.approx((7.2, 8.0))
    assert window_seconds(1, fps=30.0) == pytest.approx((16 / 30, 32 / 30))
    with pytest.raises(InvalidInputError):
        window_seconds(-1)


def test_patch_mask_from_frames() -> None:
    fm = torch.zeros(2, 48, dtype=torch.bool)
    fm[0, :17] = True  # one frame into window 1
    fm[1, :] = True
    pm = patch_mask_from_frames(fm)
    assert pm.shape == (2, 42)
    for p in range(42):
        _, w = patch_to_part_window(p, 3)
        assert bool(pm[0, p]) == (w < 2)
    assert bool(pm[1].all())
    with pytest.raises(InvalidInputError, match="multiple of 16"):
        patch_mask_from_frames(torch.ones(1, 40, dtype=torch.bool))


def test_band_projector_layout_and_padding() -> None:
    torch.manual_seed(0)
    chans = band_channels("angles")
    proj = BandProjector(chans, in_chans=2)
    x = torch.zeros(1, 32, sum(chans))
    base = proj(x)
    assert base.shape == (1, 2, 224, 32)
    start = sum(chans[:5])
    x[0, 7, start] = 1.0  # a channel of band 5, at frame 7
    diff = (proj(x) - base).abs().sum(dim=1)[0]  # (224, 32)
    rows, cols = diff.nonzero(as_tuple=True)
    assert set(rows.tolist()) <= set(range(5 * 16, 6 * 16)) and set(cols.tolist()) == {7}
    fm = torch.ones(1, 32, dtype=torch.bool)
    fm[0, 20:] = False
    img = proj(torch.randn(1, 32, sum(chans)), fm)
    assert bool((img[..., 20:] == 0).all()) and bool((img[..., :20] != 0).any())
    with pytest.raises(InvalidInputError, match="29"):
        proj(torch.zeros(1, 32, 30))


@pytest.mark.parametrize(("band", "window"), [(0, 0), (0, 2), (5, 1), (13, 0), (13, 2)])
def test_timm_patch_order_matches_the_mapping(band: int, window: int) -> None:
    """A pixel block in one band x window changes exactly the patch token the mapping names."""
    torch.manual_seed(0)
    vit = timm.create_model(
        "vit_tiny_patch16_224",
        img_size=(224, 48),
        in_chans=1,
        num_classes=0,
        global_pool="",
        depth=1,
        embed_dim=32,
        num_heads=2,
    ).eval()
    image = torch.zeros(1, 1, 224, 48)
    with torch.no_grad():
        base = vit.patch_embed(image)  # (1, 42, 32)
        image[0, 0, band * 16 : band * 16 + 16, window * 16 : window * 16 + 16] = 1.0
        changed = (vit.patch_embed(image) - base).abs().sum(-1)[0].nonzero().flatten().tolist()
    assert changed == [part_window_to_patch(band, window, 3)]
