"""Contract of the HTTP API (docs/api.md) with ``TestClient`` over a real tiny index of real clips.

Each endpoint answers with the documented fields; motions round-trip to the stored clip; describe finds a
library clip from its own joints at another frame rate; PNGs decode to the documented sizes and are not blank;
the OpenAPI document and docs/api.md list the same endpoints and fields. Bad input: ``test_api_errors.py``.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

from backend.motion.kinematics.skeleton import BAND_NAMES, SMPL_JOINT_NAMES, SMPL_PARENTS
from backend.server.engine import PREVIEW_SIZE

WAVE = "dataset-1_byebye_normal_001"
LONG = "131_03"


def _png(content: bytes) -> np.ndarray:
    from PIL import Image

    img = Image.open(io.BytesIO(content))
    assert img.format == "PNG"
    return np.asarray(img.convert("RGB"))


def _check_alignment(a: dict, query_words: int | None = None) -> None:
    assert a["parts"] == list(BAND_NAMES)
    n_tok, n_win = len(a["tokens"]), len(a["windows"])
    assert n_win >= 1 and all(w["end"] > w["start"] >= 0 for w in a["windows"])
    if query_words is not None:
        assert n_tok == query_words
    assert len(a["grid"]) == n_tok and all(
        len(p) == 14 and all(len(r) == n_win for r in p) for p in a["grid"]
    )
    assert len(a["token_scores"]) == n_tok and len(a["token_best"]) == n_tok
    assert set(a["joint_strength"]) == set(SMPL_JOINT_NAMES)
    assert set(a["joint_window_strength"]) == set(SMPL_JOINT_NAMES)
    assert len(a["window_strength"]) == n_win
    values = [*a["part_strength"].values(), *a["joint_strength"].values(), *a["window_strength"]]
    assert all(0.0 <= v <= 1.0 for v in values)
    if n_tok:
        assert max(a["joint_strength"].values()) == pytest.approx(1.0)


# ----------------------------------------------------------------------------------------- health
def test_health(client, tiny_setup) -> None:
    r = client.get("/health")
    assert r.status_code == 200
    body = r.json()
    assert body["status"] == "ok" and body["library_size"] == len(tiny_setup.clip_ids)
    assert body["model"].startswith("tiny-test@")


def test_openapi_docs_served(client) -> None:
    assert client.get("/docs").status_code == 200
    assert client.get("/openapi.json").json()["info"]["title"] == "Motion Search"


# ----------------------------------------------------------------------------------------- search
def test_search_contract(client, tiny_setup) -> None:
    r = client.post(
        "/search", json={"text": "someone waves goodbye with the left hand", "k": 5, "alignment": "all"}
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert len(results) == 5
    scores = [h["score"] for h in results]
    assert scores == sorted(scores, reverse=True)
    assert len({h["id"] for h in results}) == 5
    for h in results:
        assert h["id"] in tiny_setup.clip_ids
        assert 0.0 <= h["segment"]["start"] < h["segment"]["end"] <= h["duration"] + 1e-6
        assert not h["source"].startswith("/") and h["source"].endswith(".bvh")
        assert h["dataset"] in ("bandai-namco-1", "cmu-bvh-samples") and h["caption"]
        _check_alignment(h["alignment"], query_words=7)
        assert [t.lower() for t in h["alignment"]["tokens"]] == [
            "someone",
            "waves",
            "goodbye",
            "with",
            "the",
            "left",
            "hand",
        ]
        ws = h["alignment"]["windows"]
        assert h["segment"]["start"] == pytest.approx(ws[0]["start"])


def test_search_k_larger_than_library_returns_all(client, tiny_setup) -> None:
    r = client.post("/search", json={"text": "a person walks", "k": 100})
    assert r.status_code == 200
    assert sorted(h["id"] for h in r.json()["results"]) == sorted(tiny_setup.clip_ids)


def test_search_duration_filters(client) -> None:
    everything = client.post("/search", json={"text": "a person walks", "k": 100}).json()["results"]
    durations = sorted(h["duration"] for h in everything)
    cut = (durations[2] + durations[3]) / 2
    short = client.post("/search", json={"text": "a person walks", "k": 100, "max_duration": cut}).json()[
        "results"
    ]
    long = client.post("/search", json={"text": "a person walks", "k": 100, "min_duration": cut}).json()[
        "results"
    ]
    assert len(short) == 3 and all(h["duration"] <= cut for h in short)
    assert len(long) == len(everything) - 3 and all(h["duration"] >= cut for h in long)
    none = client.post("/search", json={"text": "walk", "min_duration": durations[-1] + 1}).json()
    assert (
        none["results"] == [] and none["no_close_match"] is None and none["confidence_threshold"] is None
    )  # no map
    assert (
        len(none["expanded_with"]) == 1
    )  # searched together with the caption-bank caption closest to "walk"


def test_long_clip_segment_is_a_window_inside_the_clip(client) -> None:
    body = {"text": "a person hops on one leg", "k": 100, "alignment": "all"}
    hits = client.post("/search", json=body).json()["results"]
    hit = next(h for h in hits if h["id"] == LONG)
    assert hit["duration"] > 6.0
    seg = hit["segment"]
    assert seg["end"] - seg["start"] <= 64 / 20 + 1e-6  # one index window of the tiny model
    assert hit["alignment"]["windows"][0]["start"] == pytest.approx(seg["start"])


# ----------------------------------------------------------------------------------------- motions
def test_motion_json_is_the_stored_clip(client, tiny_setup) -> None:
    from backend.motion.convert import bvh_to_clip

    r = client.get(f"/motions/{WAVE}")
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    body = r.json()
    assert body["id"] == WAVE and body["fps"] == 20.0
    assert body["joint_names"] == list(SMPL_JOINT_NAMES) and body["parents"] == list(SMPL_PARENTS)
    joints = np.asarray(body["joints"])
    expected = bvh_to_clip(tiny_setup.bvh_files[WAVE]).joints
    assert joints.shape == expected.shape
    np.testing.assert_allclose(joints, expected, atol=1e-4)
    meta = body["metadata"]
    assert meta["id"] == WAVE and meta["dataset"] == "bandai-namco-1" and meta["captions"]
    assert meta["duration"] == pytest.approx(len(joints) / 20.0)
    assert set(meta) == {"id", "source", "dataset", "licence", "fps_orig", "duration", "labels", "captions",
                         "performer", "split"}  # fmt: skip


def test_motion_bvh_round_trips(client, tmp_path) -> None:
    from backend.motion.io.bvh import read_bvh
    from backend.motion.kinematics.fk import forward_kinematics

    r = client.get(f"/motions/{WAVE}", params={"format": "bvh"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/plain")
    assert r.text.startswith("HIERARCHY")
    path = tmp_path / "clip.bvh"
    path.write_text(r.text)
    data = read_bvh(path)
    pos = forward_kinematics(data)
    joints = np.asarray(client.get(f"/motions/{WAVE}").json()["joints"])
    order = [data.names.index(n) for n in SMPL_JOINT_NAMES]
    assert pos.shape[0] == joints.shape[0]
    assert np.abs(pos[:, order] - joints).max() < 0.02  # metres


def test_preview_png(client, tiny_setup) -> None:
    r = client.get(f"/motions/{WAVE}/preview.png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = _png(r.content)
    assert img.shape == (PREVIEW_SIZE[1], PREVIEW_SIZE[0], 3)
    assert img.std() > 5  # not blank
    red = ((img[..., 0] > 150) & (img[..., 1] < 100) & (img[..., 2] < 100)).sum()
    blue = ((img[..., 2] > 150) & (img[..., 0] < 100)).sum()
    assert red > 50 and blue > 50  # right and left limbs drawn in their colours
    cached = list((client.app.state.settings.resolved_preview_cache_dir()).glob(f"{WAVE}-*.png"))
    assert len(cached) == 1 and cached[0].read_bytes() == r.content
    again = client.get(f"/motions/{WAVE}/preview.png", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304
    other = client.get(f"/motions/{LONG}/preview.png")
    assert other.status_code == 200 and other.content != r.content


def test_explain_png(client) -> None:
    params = {"text": "a person waves goodbye with the left hand", "id": WAVE}
    r = client.get("/explain.png", params=params)
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    img = _png(r.content)
    assert img.shape[1] == 1400 and img.shape[0] > 800
    assert img.std() > 5 and len(np.unique(img.reshape(-1, 3), axis=0)) > 100  # a real figure, not blank
    again = client.get("/explain.png", params=params)
    assert again.content == r.content  # served from the engine's cache, identical
    headers = {"If-None-Match": r.headers["etag"]}
    assert client.get("/explain.png", params=params, headers=headers).status_code == 304


# ----------------------------------------------------------------------------------------- describe
def test_describe_finds_the_clip_from_its_own_joints_at_another_fps(client, tiny_setup) -> None:
    joints = np.asarray(client.get(f"/motions/{WAVE}").json()["joints"])
    t = np.arange(len(joints)) / 20.0
    t60 = np.arange(0.0, t[-1], 1.0 / 60.0)
    up = np.stack(
        [np.stack([np.interp(t60, t, joints[:, j, c]) for c in range(3)], -1) for j in range(22)], 1
    )
    r = client.post("/describe", json={"joints": up.round(5).tolist(), "fps": 60.0, "k": 3})
    assert r.status_code == 200, r.text
    body = r.json()
    assert len(body["captions"]) == 3 and len(body["similar_motions"]) == 3
    scores = [c["score"] for c in body["captions"]]
    assert scores == sorted(scores, reverse=True)
    for c in body["captions"]:
        assert c["text"] in tiny_setup.captions
        _check_alignment(c["alignment"])
    top = body["similar_motions"][0]
    assert top["id"] == WAVE and top["score"] > 0.9
    _check_alignment(top["alignment"])


def test_openapi_has_documented_paths_and_fields(client) -> None:
    spec = client.get("/openapi.json").json()
    paths = spec["paths"]
    expected = {
        "/health": "get", "/search": "post", "/motions/{id}": "get", "/motions/{id}/preview.png": "get",
        "/describe": "post", "/explain.png": "get", "/library": "post", "/library/{id}": "delete",
        "/alignment": "post",
    }  # fmt: skip
    assert "get" in paths["/library"]  # the library summary (filter menus)
    for path, method in expected.items():
        assert method in paths.get(path, {}), f"{method.upper()} {path} missing from OpenAPI"
    schemas = spec["components"]["schemas"]
    fields = {
        "SearchRequest": {
            *("text", "k", "min_duration", "max_duration", "alignment"),
            *("datasets", "tags", "commercial_safe", "offset"),
        },
        "AlignmentRequest": {"text", "id"},
        "AlignmentResponse": {"id", "score", "segment", "alignment"},
        "SearchResponse": {"results", "no_close_match", "confidence_threshold", "expanded_with"},
        "SearchHit": {
            *("id", "score", "caption", "source", "dataset", "licence", "commercial_use", "tags"),
            *("duration", "segment", "alignment", "confidence"),
        },
        "LibraryAddRequest": {"path", "asf", "id", "caption", "tags", "licence", "commercial_use"},
        "LibraryAddJoints": {"joints", "fps", "id", "caption", "tags", "licence", "commercial_use"},
        "LibrarySummary": {"size", "datasets", "tags"},
        "DescribeRequest": {"joints", "fps", "k"},
        "DescribeResponse": {"captions", "similar_motions"},
        "Caption": {"text", "score", "alignment"},
        "MotionData": {"id", "fps", "joint_names", "parents", "joints", "metadata"},
        "HealthResponse": {"status", "model", "library_size", "problems"},
        "LibraryAddResponse": {"id", "duration"},
        "LibraryRemoveResponse": {"id", "removed"},
        "Alignment": {
            "tokens",
            "parts",
            "windows",
            "grid",
            "token_scores",
            "token_best",
            "part_strength",
            "joint_strength",
            "window_strength",
            "trajectory_strength",
            "joint_window_strength",
        },
        "TimeSpan": {"start", "end"},
        "TokenBest": {"part", "window", "start", "end"},
    }
    for name, names in fields.items():
        assert set(schemas[name]["properties"]) == names, name
    params = {p["name"] for p in paths["/explain.png"]["get"]["parameters"]}
    assert {"text", "id"} <= params
    assert "format" in {p["name"] for p in paths["/motions/{id}"]["get"]["parameters"]}
    body = paths["/library"]["post"]["requestBody"]["content"]
    assert "file" in body["multipart/form-data"]["schema"]["properties"]
    refs = {alt["$ref"].rsplit("/", 1)[-1] for alt in body["application/json"]["schema"]["oneOf"]}
    assert refs == {"LibraryAddRequest", "LibraryAddJoints"}


def test_docs_api_md_lists_the_same_endpoints(client) -> None:
    """docs/api.md (what the add-on is written against) and the served OpenAPI agree on the endpoints."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "api.md").read_text()
    documented = set(re.findall(r"^\| (GET|POST|DELETE) \| `([^`]+)` \|", text, flags=re.MULTILINE))
    served = {(m.upper(), p) for p, ops in client.get("/openapi.json").json()["paths"].items() for m in ops}
    assert documented == served


def test_search_response_is_json_serialisable_floats(client) -> None:
    raw = client.post("/search", json={"text": "a person kicks", "k": 2, "alignment": "all"}).content
    assert b"NaN" not in raw and b"Infinity" not in raw
    json.loads(raw)
