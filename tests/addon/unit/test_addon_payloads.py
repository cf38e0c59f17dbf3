"""Contract of ``addon/payloads.py`` and ``addon/heat.py``.

* The add-on's dataclasses have exactly the fields of the server's response schemas (``backend/server/
  responses.py``, which generate ``/openapi.json``), so the two cannot drift apart silently.
* Answers built with the server's own pydantic models parse; answers that break the contract raise
  ``BadResponseError`` naming the field path.
* Request bodies validate with the server's request models.
* Heat colours grow hotter with strength; keyframe types follow the documented bins; per-frame strengths
  take the strongest covering window.
"""

from __future__ import annotations

import doctest

import numpy as np
import pytest

from addon import heat, payloads
from addon.errors import BadResponseError, MotionDataError

schemas = pytest.importorskip("backend.server.schemas")
responses = pytest.importorskip("backend.server.responses")


def _alignment(n_tokens: int = 3, n_windows: int = 4) -> dict:
    from backend.motion.kinematics.skeleton import BAND_NAMES, SMPL_JOINT_NAMES

    rng = np.random.default_rng(0)
    windows = [{"start": 0.8 * w, "end": 0.8 * w + 3.2} for w in range(n_windows)]
    d = {
        "tokens": ["a", "person", "waves"][:n_tokens],
        "parts": list(BAND_NAMES),
        "windows": windows,
        "grid": rng.uniform(-1, 1, (n_tokens, len(BAND_NAMES), n_windows)).tolist(),
        "token_scores": rng.uniform(0, 1, n_tokens).tolist(),
        "token_best": [
            {"part": BAND_NAMES[t], "window": t % n_windows, **windows[t % n_windows]}
            for t in range(n_tokens)
        ],
        "part_strength": {p: float(rng.uniform()) for p in BAND_NAMES},
        "joint_strength": {j: float(rng.uniform()) for j in SMPL_JOINT_NAMES},
        "window_strength": rng.uniform(0, 1, n_windows).tolist(),
        "trajectory_strength": float(rng.uniform()),
        "joint_window_strength": {j: rng.uniform(0, 1, n_windows).tolist() for j in SMPL_JOINT_NAMES},
    }
    return responses.Alignment.model_validate(d).model_dump(mode="json")


def _hit(i: int = 0) -> dict:
    hit = {"id": f"clip_{i}", "score": 0.5 - i / 10, "caption": "a person waves", "source": "x/y.bvh",
           "dataset": "bandai-namco-1", "duration": 4.0, "segment": {"start": 0.0, "end": 3.2},
           "alignment": _alignment()}  # fmt: skip
    return responses.SearchHit.model_validate(hit).model_dump(mode="json")


def test_dataclass_fields_equal_server_schemas() -> None:
    ours = payloads.schema_fields()
    for name, fields in ours.items():
        model = getattr(responses, name, None) or getattr(schemas, name)  # answers live in responses.py
        server = set(model.model_fields)
        assert fields == server, f"{name}: add-on {sorted(fields)} vs server {sorted(server)}"
    meta = {f for f in payloads.MotionMetadata.__dataclass_fields__}
    assert meta <= set(responses.MotionMetadata.model_fields)


def test_parse_server_built_answers() -> None:
    body = responses.SearchResponse.model_validate({"results": [_hit(0), _hit(1)]}).model_dump(mode="json")
    hits = payloads.SearchHit.list_from_json(body)
    assert [h.id for h in hits] == ["clip_0", "clip_1"]
    a = hits[0].alignment
    assert len(a.parts) == 14 and len(a.joint_strength) == 22 and len(a.windows) == 4
    assert a.token_best[2].part == a.parts[2]
    desc = {
        "captions": [{"text": "a person waves", "score": 0.4, "alignment": _alignment()}],
        "similar_motions": [_hit()],
    }
    res = payloads.DescribeResult.from_json(
        responses.DescribeResponse.model_validate(desc).model_dump(mode="json")
    )
    assert res.captions[0].text == "a person waves" and res.similar_motions[0].id == "clip_0"


def test_search_page_says_what_the_query_was_searched_with() -> None:
    body = responses.SearchResponse.model_validate(
        {"results": [_hit(0)], "expanded_with": ["someone throws a kick"]}
    ).model_dump(mode="json")
    page = payloads.SearchPage.from_json(body)
    assert page.expanded_with == ("someone throws a kick",) and page.results[0].id == "clip_0"
    older = {"results": [_hit(0)]}  # an older server: no field
    assert payloads.SearchPage.from_json(older).expanded_with == ()
    with pytest.raises(BadResponseError, match="expanded_with must be a list of strings"):
        payloads.SearchPage.from_json({"results": [], "expanded_with": [3]})


def test_broken_answers_name_the_field() -> None:
    hit = _hit()
    del hit["alignment"]["tokens"]
    with pytest.raises(BadResponseError, match=r"results\[0\]\.alignment\.tokens is missing"):
        payloads.SearchHit.list_from_json({"results": [hit]})
    hit = _hit()
    hit["score"] = "high"
    with pytest.raises(BadResponseError, match=r"results\[0\]\.score must be float"):
        payloads.SearchHit.list_from_json({"results": [hit]})
    hit = _hit()
    hit["alignment"]["token_scores"].append(0.1)
    with pytest.raises(BadResponseError, match="differ in length"):
        payloads.SearchHit.list_from_json({"results": [hit]})
    with pytest.raises(BadResponseError, match="must be a JSON object"):
        payloads.SearchHit.list_from_json([1, 2])


def test_motion_data_validation() -> None:
    names = [f"j{i}" for i in range(22)]
    good = {"id": "c", "fps": 20, "joint_names": names, "parents": [-1] + [0] * 21,
            "joints": np.zeros((5, 22, 3)).tolist(), "metadata": {"id": "c", "captions": ["x"]}}  # fmt: skip
    m = payloads.MotionData.from_json(good)
    assert m.joints.shape == (5, 22, 3) and m.fps == 20.0 and m.metadata.captions == ["x"]
    with pytest.raises(BadResponseError, match=r"shape \(T>0, 22, 3\)"):
        payloads.MotionData.from_json({**good, "joints": np.zeros((5, 21, 3)).tolist()})
    with pytest.raises(BadResponseError, match="parents"):
        payloads.MotionData.from_json({**good, "parents": [5] * 22})
    with pytest.raises(BadResponseError, match="fps"):
        payloads.MotionData.from_json({**good, "fps": 0})


def test_request_bodies_pass_server_validation() -> None:
    body = payloads.search_request("a person waves", 7, min_duration=1.0)
    assert schemas.SearchRequest.model_validate(body).k == 7
    joints = np.random.default_rng(0).normal(size=(30, 22, 3))
    req = schemas.DescribeRequest.model_validate(payloads.describe_request(joints, 24.0, 3))
    np.testing.assert_allclose(np.asarray(req.joints), joints, atol=1e-5)
    with pytest.raises(MotionDataError, match="shape"):
        payloads.describe_request(joints[:, :21], 24.0, 3)
    with pytest.raises(MotionDataError, match="fps"):
        payloads.describe_request(joints, 0.0, 3)


def test_search_filters_and_paging_pass_server_validation() -> None:
    body = payloads.search_request(
        "a person waves", 10, 1.0, 8.0, datasets=["bandai-namco-1", "user"], tags=["mine"],
        commercial_safe=True, offset=990,
    )  # fmt: skip
    req = schemas.SearchRequest.model_validate(body)
    assert (req.datasets, req.tags, req.commercial_safe, req.offset) == (
        ["bandai-namco-1", "user"],
        ["mine"],
        True,
        990,
    )
    assert (req.min_duration, req.max_duration) == (1.0, 8.0)
    plain = payloads.search_request("walk", 3)
    assert not {"datasets", "tags", "commercial_safe", "offset"} & set(plain)  # unset filters are not sent
    with pytest.raises(ValueError, match="first 1000 hits"):
        payloads.search_request("walk", 11, offset=990)
    with pytest.raises(ValueError, match="first 1000 hits"):
        payloads.search_request("walk", 3, offset=-1)


def test_library_summary_and_hit_licence_parse() -> None:
    summary = responses.LibrarySummary.model_validate({
        "size": 7, "datasets": [{"name": "bandai-namco-1", "clips": 5, "commercial_use": False},
                                {"name": "user", "clips": 2, "commercial_use": True}],
        "tags": [{"name": "mine", "clips": 2}],
    }).model_dump(mode="json")  # fmt: skip
    info = payloads.LibraryInfo.from_json(summary)
    assert info.size == 7 and [d.name for d in info.datasets] == ["bandai-namco-1", "user"]
    assert info.datasets[1].commercial_use and info.tags[0] == payloads.TagInfo("mine", 2)
    with pytest.raises(BadResponseError, match=r"datasets\[0\]\.clips must be int"):
        payloads.LibraryInfo.from_json(
            {**summary, "datasets": [{"name": "x", "clips": "5", "commercial_use": True}]}
        )
    hit = {**_hit(), "licence": "CC0-1.0", "commercial_use": True, "tags": ["mine", "studio"]}
    parsed = payloads.SearchHit.from_json(responses.SearchHit.model_validate(hit).model_dump(mode="json"))
    assert (parsed.licence, parsed.commercial_use, parsed.tags) == ("CC0-1.0", True, ("mine", "studio"))
    with pytest.raises(BadResponseError, match=r"hit\.tags must be a list of strings"):
        payloads.SearchHit.from_json({**hit, "tags": "mine"})


def test_heat_scale_and_key_types() -> None:
    s = np.linspace(0, 1, 101)
    rgb = heat.heat_colours(s)
    assert rgb.min() >= 0 and rgb.max() <= 1
    assert rgb[-1, 0] > rgb[0, 0] and rgb[-1, 2] < rgb[0, 2]  # cold blue -> hot red
    hue_order = np.argmax(rgb[[0, 25, 50, 75, 100]], axis=1).tolist()
    assert hue_order == [2, 2, 1, 0, 0]
    types = [heat.keyframe_type(v) for v in s]
    assert types[0] == "MOVING_HOLD" and types[-1] == "EXTREME"
    ranks = [heat.KEYFRAME_LEVELS.index(t) for t in types]
    assert ranks == sorted(ranks) and set(types) == set(heat.KEYFRAME_LEVELS)
    assert heat.keyframe_type(float("nan")) == "MOVING_HOLD" and heat.keyframe_type(7.0) == "EXTREME"


def test_strength_per_frame_uses_windows() -> None:
    a = payloads.Alignment.from_json(_alignment(n_windows=4))
    spans = heat.window_frame_spans([(w.start, w.end) for w in a.windows], 24.0, 1)
    frames = np.arange(1, 200)
    s = heat.strength_per_frame(a.joint_window_strength["left_wrist"], spans, frames)
    for f, v in zip(frames, s):
        covering = [a.joint_window_strength["left_wrist"][w] for w, (x, y) in enumerate(spans) if x <= f <= y]
        assert v == (max(covering) if covering else 0.0)
    words = heat.matched_words(a)
    assert [w.score for w in words] == sorted(a.token_scores, reverse=True)
    assert {w.token for w in words} == set(a.tokens)


def test_doctests() -> None:
    for module in (heat, payloads):
        assert doctest.testmod(module).failed == 0


def test_instant_search_hits_and_on_demand_alignment_parse() -> None:
    """``/search`` hits without alignment parse to ``alignment=None``; ``/alignment`` answers parse; a
    ``/describe`` similar motion must carry its alignment."""
    plain = {**_hit(0), "alignment": None}
    body = responses.SearchResponse.model_validate({"results": [plain, _hit(1)]}).model_dump(mode="json")
    hits = payloads.SearchHit.list_from_json(body)
    assert hits[0].alignment is None and hits[1].alignment is not None
    answer = {
        "id": "clip_0",
        "score": 0.4,
        "segment": {"start": 0.8, "end": 4.0},
        "alignment": _alignment(2, 4),
    }
    res = payloads.AlignmentResult.from_json(
        responses.AlignmentResponse.model_validate(answer).model_dump(mode="json")
    )
    assert res.id == "clip_0" and res.segment.start == 0.8 and len(res.alignment.tokens) == 2
    with pytest.raises(BadResponseError, match=r"alignment\.joint_strength is missing"):
        broken = {
            **answer,
            "alignment": {k: v for k, v in answer["alignment"].items() if k != "joint_strength"},
        }
        payloads.AlignmentResult.from_json(broken)
    with pytest.raises(BadResponseError, match=r"similar_motions\[0\]\.alignment is missing"):
        payloads.DescribeResult.from_json({"captions": [], "similar_motions": [plain]})


def test_alignment_request_bodies_pass_server_validation() -> None:
    for mode in payloads.ALIGNMENT_MODES:
        assert (
            schemas.SearchRequest.model_validate(payloads.search_request("walk", 3, alignment=mode)).alignment
            == mode
        )
    assert schemas.SearchRequest.model_validate(payloads.search_request("walk", 3)).alignment == "none"
    with pytest.raises(ValueError, match="alignment must be one of none, top, all"):
        payloads.search_request("walk", 3, alignment="some")
    req = schemas.AlignmentRequest.model_validate(payloads.alignment_request(" a person waves ", "clip_1"))
    assert (req.text, req.id) == ("a person waves", "clip_1")
