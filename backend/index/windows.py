"""Long clips -> overlapping model windows, and window <-> seconds.

Vocabulary used across ``backend.index``:

* an **index window** (here simply "window") is a span of ``window_frames`` canonical frames of one
  clip, the unit the model encodes and the index stores (one row of patches per window);
* a **time column** is one 16-frame patch column inside a window (the model's "window" in
  :func:`backend.model.motion_image.window_seconds` and the ``windows`` of the HTTP ``Alignment``).

Clips no longer than ``window_frames`` give one (padded) window starting at frame 0. Longer clips give
windows every ``stride`` frames (a multiple of the 16-frame patch, ``window_frames // 2`` rounded down by
default) plus, when the regular grid does not reach the clip's end, one last window starting at the
first multiple of 16 that makes it cover the end (so at most 15 padded frames there).
"""

from __future__ import annotations

from dataclasses import dataclass

from backend.errors import ConfigError, InvalidInputError
from backend.model.config import PATCH_FRAMES
from backend.motion.clip import CANONICAL_FPS

__all__ = ["WindowSpan", "default_stride", "frames_to_seconds", "plan_windows"]


@dataclass(frozen=True)
class WindowSpan:
    """One index window of a clip.

    Attributes:
        start: first frame (canonical 20 fps) of the window within its clip.
        length: number of real (unpadded) frames, ``1 <= length <= window_frames``.
    """

    start: int
    length: int

    @property
    def end(self) -> int:
        """One past the last real frame."""
        return self.start + self.length


def default_stride(window_frames: int) -> int:
    """Half the window rounded down to a multiple of 16 frames (at least 16).

    >>> default_stride(64), default_stride(48), default_stride(16)
    (32, 16, 16)
    """
    _check_window(window_frames)
    return max(PATCH_FRAMES, (window_frames // 2) // PATCH_FRAMES * PATCH_FRAMES)


def _check_window(window_frames: int) -> None:
    if window_frames < PATCH_FRAMES or window_frames % PATCH_FRAMES:
        raise ConfigError(f"window_frames must be a positive multiple of {PATCH_FRAMES}, got {window_frames}")


def plan_windows(num_frames: int, window_frames: int, stride: int | None = None) -> list[WindowSpan]:
    """Cut a clip of ``num_frames`` frames into index windows.

    Args:
        num_frames: clip length in canonical frames (>= 1).
        window_frames: the model's window length (multiple of 16).
        stride: frames between window starts (multiple of 16, <= window_frames); default
            :func:`default_stride`.

    Returns:
        Windows in time order; their union covers every frame of the clip.

    >>> [(w.start, w.length) for w in plan_windows(50, 64)]
    [(0, 50)]
    >>> [(w.start, w.length) for w in plan_windows(100, 64)]
    [(0, 64), (32, 64), (48, 52)]
    >>> [(w.start, w.length) for w in plan_windows(128, 64)]
    [(0, 64), (32, 64), (64, 64)]
    """
    _check_window(window_frames)
    stride = default_stride(window_frames) if stride is None else int(stride)
    if stride < PATCH_FRAMES or stride % PATCH_FRAMES or stride > window_frames:
        raise ConfigError(
            f"stride must be a multiple of {PATCH_FRAMES} in [{PATCH_FRAMES}, {window_frames}], got {stride}"
        )
    if num_frames < 1:
        raise InvalidInputError(f"num_frames must be >= 1, got {num_frames}")
    if num_frames <= window_frames:
        return [WindowSpan(0, num_frames)]
    spans: list[WindowSpan] = []
    start = 0
    while start + window_frames <= num_frames:
        spans.append(WindowSpan(start, window_frames))
        start += stride
    if spans[-1].end < num_frames:
        last = -(-(num_frames - window_frames) // PATCH_FRAMES) * PATCH_FRAMES
        spans.append(WindowSpan(last, num_frames - last))
    return spans


def frames_to_seconds(frames: float, fps: float = CANONICAL_FPS) -> float:
    """Frame count -> seconds at the canonical frame rate.

    >>> frames_to_seconds(32)
    1.6
    """
    return float(frames) / float(fps)
