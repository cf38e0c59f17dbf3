"""The motion image: 14 learned body-part bands stacked over time, and the patch <-> (part, window) map.

Each band ``b`` has its own linear map from its ``c_b`` feature channels to ``16 * in_chans`` values per
frame. The bands are stacked top to bottom in :data:`backend.motion.kinematics.skeleton.BANDS` order into an
image of height ``14 * 16 = 224`` and width ``T`` (frames). A 16x16 ViT patch therefore covers exactly one
body part over 16 frames (0.8 s at 20 fps). timm's ``PatchEmbed`` flattens the patch grid row-major, so

    patch p  <->  (band, window) = (p // n_windows, p % n_windows)

where ``n_windows = T // 16``. The server and the add-on rely on this mapping.
"""

from __future__ import annotations

import operator
from collections.abc import Sequence

import torch
from torch import nn

from backend.errors import InvalidInputError
from backend.model.config import BAND_HEIGHT, CANONICAL_FPS, PATCH_FRAMES

__all__ = [
    "NUM_BANDS_IMAGE",
    "BandProjector",
    "part_window_to_patch",
    "patch_mask_from_frames",
    "patch_to_part_window",
    "window_seconds",
]

#: bands of the motion image (rows of patches)
NUM_BANDS_IMAGE = 14


def _as_index(name: str, value: int, size: int | None = None, minimum: int = 0) -> int:
    """``value`` as a Python int in ``[minimum, size)`` (numpy integers accepted), else InvalidInputError."""
    try:
        if isinstance(value, bool):
            raise TypeError
        v = operator.index(value)
    except TypeError:
        raise InvalidInputError(f"{name} must be an integer, got {value!r}") from None
    if v < minimum or (size is not None and v >= size):
        bound = f"[{minimum}, {size})" if size is not None else f">= {minimum}"
        raise InvalidInputError(f"{name} must be in {bound}, got {v}")
    return v


def patch_to_part_window(p: int, n_windows: int) -> tuple[int, int]:
    """Body-part band and time window of motion patch ``p`` (row-major over the patch grid).

    Args:
        p: patch index in ``[0, 14 * n_windows)``.
        n_windows: time windows per clip (``window_frames // 16``).

    Returns:
        ``(band, window)``: band index into ``BANDS`` and window index (window ``w`` covers frames
        ``16 w .. 16 w + 15``).

    Raises:
        InvalidInputError: ``p`` or ``n_windows`` out of range.

    >>> patch_to_part_window(0, 10), patch_to_part_window(13, 10), patch_to_part_window(139, 10)
    ((0, 0), (1, 3), (13, 9))
    """
    n_windows = _as_index("n_windows", n_windows, minimum=1)
    p = _as_index("p", p, NUM_BANDS_IMAGE * n_windows)
    return p // n_windows, p % n_windows


def part_window_to_patch(band: int, window: int, n_windows: int) -> int:
    """Inverse of :func:`patch_to_part_window`.

    Args:
        band: body-part band index in ``[0, 14)``.
        window: time window index in ``[0, n_windows)``.
        n_windows: time windows per clip.

    Returns:
        Patch index ``band * n_windows + window``.

    >>> part_window_to_patch(1, 3, 10)
    13
    """
    n_windows = _as_index("n_windows", n_windows, minimum=1)
    band = _as_index("band", band, NUM_BANDS_IMAGE)
    window = _as_index("window", window, n_windows)
    return band * n_windows + window


def window_seconds(window: int, fps: float = CANONICAL_FPS, patch: int = PATCH_FRAMES) -> tuple[float, float]:
    """Time span in seconds covered by a time window (relative to the first frame of the motion image).

    Args:
        window: window index (>= 0).
        fps: frame rate of the image columns.
        patch: frames per window.

    Returns:
        ``(start, end)`` in seconds; ``end`` is exclusive.

    >>> window_seconds(0), window_seconds(2)
    ((0.0, 0.8), (1.6, 2.4))
    """
    window = _as_index("window", window)
    patch = _as_index("patch", patch, minimum=1)
    if not fps > 0:
        raise InvalidInputError(f"fps must be positive, got {fps!r}")
    return window * patch / fps, (window + 1) * patch / fps


def patch_mask_from_frames(frame_mask: torch.Tensor, patch: int = PATCH_FRAMES) -> torch.Tensor:
    """Valid motion patches from valid frames: a window is valid if any of its frames is valid.

    Args:
        frame_mask: ``(B, T)`` bool, True = real frame; ``T`` a multiple of ``patch``.
        patch: frames per window.

    Returns:
        ``(B, 14 * T // patch)`` bool in patch order (band-major, see module docstring).

    Raises:
        InvalidInputError: wrong rank or ``T`` not a multiple of ``patch``.

    >>> m = torch.tensor([[True] * 20 + [False] * 12])
    >>> patch_mask_from_frames(m).view(14, 2)[0].tolist()
    [True, True]
    >>> patch_mask_from_frames(torch.tensor([[True] * 16 + [False] * 16])).view(14, 2)[:, 1].any().item()
    False
    """
    if frame_mask.dim() != 2:
        raise InvalidInputError(f"frame_mask must be (B, T), got shape {tuple(frame_mask.shape)}")
    b, t = frame_mask.shape
    if t % patch:
        raise InvalidInputError(f"frame_mask length {t} is not a multiple of {patch} frames")
    windows = frame_mask.bool().view(b, t // patch, patch).any(dim=2)  # (B, W)
    return windows.unsqueeze(1).expand(b, NUM_BANDS_IMAGE, t // patch).reshape(b, -1)


class BandProjector(nn.Module):
    """Per-body-part linear maps that turn ``(B, T, C)`` features into a ``(B, in_chans, 224, T)`` image.

    Args:
        band_channels: feature channels of each of the 14 bands (they partition ``C`` in order).
        in_chans: image channels; each band emits ``16 * in_chans`` values per frame.
    """

    def __init__(self, band_channels: Sequence[int], in_chans: int = 1) -> None:
        super().__init__()
        if len(band_channels) != NUM_BANDS_IMAGE:
            raise InvalidInputError(
                f"band_channels must have {NUM_BANDS_IMAGE} entries, got {len(band_channels)}"
            )
        self.band_channels = tuple(int(c) for c in band_channels)
        self.in_chans = int(in_chans)
        self.bands = nn.ModuleList(nn.Linear(c, BAND_HEIGHT * self.in_chans) for c in self.band_channels)
        starts = [0]
        for c in self.band_channels:
            starts.append(starts[-1] + c)
        self._starts = tuple(starts)

    @property
    def feature_dim(self) -> int:
        """Expected feature channels ``C``."""
        return self._starts[-1]

    def forward(self, x: torch.Tensor, frame_mask: torch.Tensor | None = None) -> torch.Tensor:
        """Project features to the motion image.

        Args:
            x: ``(B, T, C)`` z-scored features.
            frame_mask: optional ``(B, T)`` bool; padded frames (False) are set to exactly 0 in the image.

        Returns:
            ``(B, in_chans, 14 * 16, T)`` image; rows ``16 b .. 16 b + 15`` belong to band ``b``.
        """
        if x.dim() != 3 or x.shape[-1] != self.feature_dim:
            raise InvalidInputError(
                f"motion features must be (B, T, {self.feature_dim}), got shape {tuple(x.shape)}"
            )
        bsz, t, _ = x.shape
        rows = []
        for i, lin in enumerate(self.bands):
            y = lin(x[..., self._starts[i] : self._starts[i + 1]])  # (B, T, 16 * in_chans)
            rows.append(y.view(bsz, t, self.in_chans, BAND_HEIGHT).permute(0, 2, 3, 1))
        image = torch.cat(rows, dim=2)  # (B, in_chans, 224, T)
        if frame_mask is not None:
            image = image.masked_fill(~frame_mask.bool()[:, None, None, :], 0.0)
        return image
