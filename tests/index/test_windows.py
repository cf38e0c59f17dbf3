"""Contract of backend.index.windows: windows cover every frame, start on 16-frame multiples, overlap by the
stride, and only the last window may be short (and then by less than 16 frames when the clip is long)."""

from __future__ import annotations

import itertools

import pytest

from backend.errors import ConfigError, InvalidInputError
from backend.index.windows import default_stride, plan_windows


@pytest.mark.parametrize("window", [32, 64, 160])
def test_windows_cover_clip_on_16_frame_grid(window: int) -> None:
    stride = default_stride(window)
    assert stride % 16 == 0 and 16 <= stride <= window
    for t in range(1, 4 * window + 37):
        spans = plan_windows(t, window)
        covered = set()
        for s in spans:
            assert s.start % 16 == 0
            assert 1 <= s.length <= window
            assert s.end <= t
            covered.update(range(s.start, s.end))
        assert covered == set(range(t)), t
        starts = [s.start for s in spans]
        assert starts == sorted(set(starts))
        if t <= window:
            assert [(s.start, s.length) for s in spans] == [(0, t)]
        else:
            assert all(s.length == window for s in spans[:-1])
            assert window - spans[-1].length < 16
            assert all(b - a == stride for a, b in itertools.pairwise(starts[:-1]))


def test_window_errors_name_the_value() -> None:
    with pytest.raises(ConfigError, match="window_frames.*40"):
        plan_windows(100, 40)
    with pytest.raises(ConfigError, match="stride.*24"):
        plan_windows(100, 64, 24)
    with pytest.raises(InvalidInputError, match="num_frames"):
        plan_windows(0, 64)
