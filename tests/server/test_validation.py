"""Contract: request schemas turn every bad input into a ValueError naming the field; settings refuse
unsafe bindings; error formatting names the field. (Pure: no model, no index.)"""

from __future__ import annotations

import math

import numpy as np
import pytest
from pydantic import ValidationError

from backend.errors import (
    BvhError,
    ConfigError,
    IndexMismatchError,
    InvalidInputError,
    MotionDataError,
    NotFoundError,
    RigMappingError,
)
from backend.server.errors import ConflictError, format_validation_errors, status_for_error
from backend.server.schemas import (
    MAX_QUERY_TOKENS,
    DescribeRequest,
    SearchRequest,
    check_query_text,
    count_text_tokens,
)
from backend.server.settings import ServerSettings, check_binding, is_loopback_host


def _joints(t: int) -> list:
    rng = np.random.default_rng(t)
    return rng.normal(size=(t, 22, 3)).round(3).tolist()


def _msg(exc: ValidationError) -> str:
    return format_validation_errors(exc.errors())


def test_search_request_valid_and_stripped() -> None:
    r = SearchRequest.model_validate({"text": "  a person waves  ", "k": 3})
    assert r.text == "a person waves" and r.k == 3 and r.min_duration is None


@pytest.mark.parametrize("k", [0, -1, 101, 10_000])
def test_search_k_out_of_range(k: int) -> None:
    with pytest.raises(ValidationError) as info:
        SearchRequest.model_validate({"text": "walk", "k": k})
    assert _msg(info.value).startswith("k:")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_search_empty_text(text: str) -> None:
    with pytest.raises(ValidationError) as info:
        SearchRequest.model_validate({"text": text})
    assert "text is empty" in _msg(info.value)


def test_text_token_limit_boundary() -> None:
    ok = " ".join(["walk"] * (MAX_QUERY_TOKENS - 1))
    assert count_text_tokens(check_query_text(ok)) == MAX_QUERY_TOKENS - 1
    with pytest.raises(ValueError, match=f"{MAX_QUERY_TOKENS} tokens"):
        check_query_text(ok + " fast")
    with pytest.raises(ValueError, match="characters"):
        check_query_text("x" * 50_000)


def test_duration_filters_order() -> None:
    with pytest.raises(ValidationError) as info:
        SearchRequest.model_validate({"text": "walk", "min_duration": 5, "max_duration": 2})
    assert "min_duration" in _msg(info.value)
    with pytest.raises(ValidationError):
        SearchRequest.model_validate({"text": "walk", "min_duration": -1})


def test_describe_converts_to_float32_array() -> None:
    r = DescribeRequest.model_validate({"joints": _joints(7), "fps": 30})
    assert isinstance(r.joints, np.ndarray) and r.joints.shape == (7, 22, 3) and r.joints.dtype == np.float32
    assert r.k == 5


@pytest.mark.parametrize(
    ("joints", "needle"),
    [
        ([], "no frames"),
        ([[[0.0, 0.0]] * 22], "shape (T, 22, 3)"),
        ([[[0.0, 0.0, 0.0]] * 21], "shape (T, 22, 3)"),
        ([[0.0, 0.0, 0.0]], "shape (T, 22, 3)"),
        ([[[0.0, 0.0, 0.0]] * 22, [[0.0, 0.0, 0.0]] * 21], "ragged"),
        ([[["a", 0.0, 0.0]] * 22], "non-numeric"),
        ("not an array", "non-numeric"),
        ([[[0.0, None, 0.0]] * 22], "non-finite"),
        ([[[0.0, 1e9, 0.0]] * 22], "beyond"),
    ],
)
def test_describe_bad_joints(joints: object, needle: str) -> None:
    with pytest.raises(ValidationError) as info:
        DescribeRequest.model_validate({"joints": joints, "fps": 20})
    msg = _msg(info.value)
    assert msg.startswith("joints") and needle in msg, msg


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_describe_nan_inf(bad: float) -> None:
    j = np.zeros((3, 22, 3))
    j[2, 5, 1] = bad
    with pytest.raises(ValidationError) as info:
        DescribeRequest.model_validate({"joints": j.tolist(), "fps": 20})
    assert "frame 2, joint 5" in _msg(info.value)


@pytest.mark.parametrize("fps", [0, 0.5, -20, 1001, math.nan])
def test_describe_fps_out_of_range(fps: float) -> None:
    with pytest.raises(ValidationError) as info:
        DescribeRequest.model_validate({"joints": _joints(2), "fps": fps})
    assert "fps" in _msg(info.value)


def test_describe_ten_minute_limit_follows_fps() -> None:
    frame = [[0.0, 1.0, 0.0]] * 22
    DescribeRequest.model_validate({"joints": [frame] * 1200, "fps": 2.0})  # exactly 600 s
    with pytest.raises(ValidationError) as info:
        DescribeRequest.model_validate({"joints": [frame] * 1201, "fps": 2.0})
    assert "10 minutes" in _msg(info.value)
    with pytest.raises(ValidationError):
        DescribeRequest.model_validate({"joints": [frame] * 12_001, "fps": 20.0})


@pytest.mark.parametrize(
    ("exc", "status"),
    [
        (NotFoundError("x"), 404),
        (ConflictError("x"), 409),
        (BvhError("x"), 400),
        (RigMappingError("x"), 422),
        (MotionDataError("x"), 422),
        (InvalidInputError("x"), 422),
        (IndexMismatchError("x"), 409),
        (ConfigError("x"), 500),
    ],
)
def test_error_status(exc: Exception, status: int) -> None:
    assert status_for_error(exc) == status


@pytest.mark.parametrize(
    ("host", "loop"),
    [
        ("127.0.0.1", True),
        ("127.0.0.2", True),
        ("::1", True),
        ("localhost", True),
        ("0.0.0.0", False),
        ("::", False),
        ("192.168.1.4", False),
        ("example.com", False),
    ],
)
def test_loopback_detection(host: str, loop: bool) -> None:
    assert is_loopback_host(host) is loop


def test_binding_rules(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MOTION_SEARCH_API_TOKEN", raising=False)
    check_binding(ServerSettings())  # loopback default
    with pytest.raises(ConfigError, match="--allow-remote"):
        check_binding(ServerSettings(host="0.0.0.0"))
    with pytest.raises(ConfigError, match="API token"):
        check_binding(ServerSettings(host="0.0.0.0", allow_remote=True))
    with pytest.raises(ConfigError, match="API token"):
        check_binding(ServerSettings(host="0.0.0.0", allow_remote=True, api_token=""))
    check_binding(ServerSettings(host="0.0.0.0", allow_remote=True, api_token="s3cret"))


def test_settings_from_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.setenv("MOTION_SEARCH_API_TOKEN", "from-env")
    monkeypatch.setenv("MOTION_SEARCH_PORT", "9999")
    monkeypatch.setenv("MOTION_SEARCH_INDEX_DIR", str(tmp_path / "idx"))
    s = ServerSettings()
    assert s.token == "from-env" and s.port == 9999 and s.index_dir == tmp_path / "idx"
    assert s.resolved_preview_cache_dir() == tmp_path / "idx.previews"
    assert "from-env" not in repr(s)  # the token is a secret
    assert ServerSettings(port=1234).port == 1234  # explicit values win over the environment


def test_search_settings_reach_the_searcher(monkeypatch: pytest.MonkeyPatch, tiny_setup, tmp_path) -> None:
    """MOTION_SEARCH_SEARCH_CANDIDATES / _TEXT_RUNTIME configure the engine's Searcher; bad values are refused."""
    from pydantic import ValidationError

    from backend.server.engine import SearchEngine

    monkeypatch.setenv("MOTION_SEARCH_SEARCH_CANDIDATES", "512")
    monkeypatch.setenv("MOTION_SEARCH_TEXT_RUNTIME", "torch")
    monkeypatch.setenv("MOTION_SEARCH_ATTRIBUTION_STEPS", "4")
    settings = ServerSettings(index_dir=tiny_setup.index, checkpoint_dir=tiny_setup.checkpoint,
                              preview_cache_dir=tmp_path / "previews")  # fmt: skip
    searcher = SearchEngine.load(settings)._searcher
    assert searcher.candidates == 512 and searcher.text_runtime == "torch" and searcher.attribution_steps == 4
    default = SearchEngine.load(ServerSettings(index_dir=tiny_setup.index, checkpoint_dir=tiny_setup.checkpoint,
                                               search_candidates=256, text_runtime="auto"))._searcher  # fmt: skip
    assert default.candidates == 256 and default.text_runtime == "auto" and default.attribution_steps == 4
    bad = (("MOTION_SEARCH_SEARCH_CANDIDATES", "0"), ("MOTION_SEARCH_TEXT_RUNTIME", "tensorrt"),
           ("MOTION_SEARCH_ATTRIBUTION_STEPS", "0"))  # fmt: skip
    for env, value in bad:
        monkeypatch.setenv(env, value)
        with pytest.raises(ValidationError):
            ServerSettings()
        monkeypatch.delenv(env)
