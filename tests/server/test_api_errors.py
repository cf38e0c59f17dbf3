"""Bad input over HTTP (docs/api.md) with ``TestClient`` over a real tiny index of real clips: odd but
valid-shaped motions and odd texts never crash the server; every bad input gets a 4xx whose ``detail`` names
the problem (never a 500), listing every problem at once; an unexpected error becomes a JSON 500.
"""

from __future__ import annotations

import numpy as np
import pytest

WAVE = "dataset-1_byebye_normal_001"


@pytest.mark.parametrize(
    ("case", "fps"),
    [("1 frame", 20.0), ("2 frames", 1000.0), ("all zeros", 20.0), ("one point", 1.0), ("z up", 30.0),
     ("noise", 1000.0), ("kilometres away", 20.0), ("millimetre scale", 20.0)],
)  # fmt: skip
def test_describe_degenerate_motions_never_crash(client, case, fps) -> None:
    """Valid-shaped but odd motions are described (or refused with a 422); never a 500."""
    real = np.asarray(client.get(f"/motions/{WAVE}").json()["joints"])
    joints = {
        "1 frame": real[:1],
        "2 frames": real[:2],
        "all zeros": np.zeros((30, 22, 3)),
        "one point": np.ones((30, 22, 3)),
        "z up": real[..., [0, 2, 1]],
        "noise": np.random.default_rng(0).normal(size=(50, 22, 3)),
        "kilometres away": real + 9000.0,
        "millimetre scale": real * 1e-3,
    }[case]
    r = client.post("/describe", json={"joints": joints.tolist(), "fps": fps, "k": 2})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 200:
        body = r.json()
        assert len(body["captions"]) == 2 and len(body["similar_motions"]) == 2
    else:
        assert "joints" in r.json()["detail"]


@pytest.mark.parametrize("text", ["[CLS]", "!!!", "é", "\u0000", "😀", "a" * 5000, "word " * 999])
def test_odd_texts_never_crash(client, text) -> None:
    r = client.post("/search", json={"text": text, "k": 2})
    assert r.status_code in (200, 422), r.text
    if r.status_code == 422:
        assert "text" in r.json()["detail"]


# ----------------------------------------------------------------------------------------- bad input
def _frames(t: int) -> str:
    frame = "[" + ",".join(["[0.0,1.0,0.0]"] * 22) + "]"
    return "[" + ",".join([frame] * t) + "]"


BAD_REQUESTS = [
    # (method, path, kwargs, status, words the detail must contain)
    ("post", "/search", {"json": {"text": "walk", "k": 0}}, 422, ["k"]),
    ("post", "/search", {"json": {"text": "walk", "k": 101}}, 422, ["k", "100"]),
    ("post", "/search", {"json": {"text": "walk", "k": "many"}}, 422, ["k"]),
    ("post", "/search", {"json": {"text": "walk", "k": 2.5}}, 422, ["k"]),
    ("post", "/search", {"json": {"text": ""}}, 422, ["text", "empty"]),
    ("post", "/search", {"json": {"text": "   "}}, 422, ["text", "empty"]),
    ("post", "/search", {"json": {"text": "walk " * 1000}}, 422, ["text", "tokens"]),
    ("post", "/search", {"json": {"text": 42}}, 422, ["text"]),
    ("post", "/search", {"json": {"k": 3}}, 422, ["text", "required"]),
    (
        "post",
        "/search",
        {"json": {"text": "walk", "min_duration": 3, "max_duration": 1}},
        422,
        ["min_duration"],
    ),
    ("post", "/search", {"json": {"text": "walk", "min_duration": -2}}, 422, ["min_duration"]),
    ("post", "/search", {"json": ["walk"]}, 422, []),
    (
        "post",
        "/search",
        {"content": b"{not json", "headers": {"content-type": "application/json"}},
        422,
        ["JSON"],
    ),
    ("post", "/search", {}, 415, ["Content-Type", "application/json"]),
    ("post", "/search", {"headers": {"content-type": "application/json"}}, 422, ["body"]),
    ("post", "/describe", {"json": {"joints": [], "fps": 20}}, 422, ["joints", "no frames"]),
    ("post", "/describe", {"json": {"joints": [[[0, 0, 0]] * 21], "fps": 20}}, 422, ["joints", "(T, 22, 3)"]),
    ("post", "/describe", {"json": {"joints": [[[0, 0]] * 22], "fps": 20}}, 422, ["joints", "(T, 22, 3)"]),
    (
        "post",
        "/describe",
        {"json": {"joints": [[[0, 0, 0]] * 22, [[0, 0, 0]] * 20], "fps": 20}},
        422,
        ["joints", "ragged"],
    ),
    (
        "post",
        "/describe",
        {
            "content": (
                '{"fps": 20, "joints": [' + ",".join(["[0.0, NaN, 0.0]"] * 22).join("[]") + "]}"
            ).encode(),
            "headers": {"content-type": "application/json"},
        },
        422,
        ["joints", "non-finite"],
    ),
    (
        "post",
        "/describe",
        {
            "content": (
                '{"fps": 20, "joints": [' + ",".join(["[0.0, Infinity, 0.0]"] * 22).join("[]") + "]}"
            ).encode(),
            "headers": {"content-type": "application/json"},
        },
        422,
        ["joints", "non-finite"],
    ),
    ("post", "/describe", {"json": {"joints": [[[0, 1, 0]] * 22] * 4, "fps": 0}}, 422, ["fps"]),
    ("post", "/describe", {"json": {"joints": [[[0, 1, 0]] * 22] * 4, "fps": 5000}}, 422, ["fps"]),
    ("post", "/describe", {"json": {"joints": [[[0, 1, 0]] * 22] * 4, "fps": 20, "k": 0}}, 422, ["k"]),
    ("post", "/describe", {"json": {"joints": [[[0, 1, 0]] * 22] * 4, "fps": 20, "k": 101}}, 422, ["k"]),
    ("post", "/describe", {"json": {"joints": [[[0, 1, 0]] * 22] * 4}}, 422, ["fps", "required"]),
    (
        "post",
        "/describe",
        {
            "content": ('{"fps": 1, "joints": ' + _frames(601) + "}").encode(),
            "headers": {"content-type": "application/json"},
        },
        422,
        ["joints", "10 minutes"],
    ),
    (
        "post",
        "/describe",
        {
            "content": ('{"fps": 20, "joints": ' + _frames(12_001) + "}").encode(),
            "headers": {"content-type": "application/json"},
        },
        422,
        ["joints", "12000 frames"],
    ),
    ("get", "/motions/no_such_clip", {}, 404, ["no_such_clip"]),
    ("get", "/motions/no_such_clip/preview.png", {}, 404, ["no_such_clip"]),
    ("get", f"/motions/{WAVE}", {"params": {"format": "fbx"}}, 422, ["format"]),
    ("get", "/explain.png", {"params": {"text": "walk", "id": "no_such_clip"}}, 404, ["no_such_clip"]),
    ("get", "/explain.png", {"params": {"text": "", "id": WAVE}}, 422, ["text"]),
    ("get", "/explain.png", {"params": {"text": "   ", "id": WAVE}}, 422, ["text", "empty"]),
    ("get", "/explain.png", {"params": {"text": "a " * 1000, "id": WAVE}}, 422, ["text", "1000 characters"]),
    ("get", "/explain.png", {"params": {"id": WAVE}}, 422, ["text", "required"]),
    ("get", "/explain.png", {"params": {"text": "walk"}}, 422, ["id", "required"]),
    ("delete", "/library/no_such_clip", {}, 404, ["no_such_clip"]),
]


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "words"),
    BAD_REQUESTS,
    ids=[f"{m} {p} {i}" for i, (m, p, *_rest) in enumerate(BAD_REQUESTS)],
)
def test_bad_input_gets_a_4xx_naming_the_problem(client, method, path, kwargs, status, words) -> None:
    r = getattr(client, method)(path, **kwargs)
    assert r.status_code == status, r.text
    detail = r.json()["detail"]
    assert isinstance(detail, str) and detail
    for w in words:
        assert w in detail, detail


def test_validation_errors_list_every_problem(client) -> None:
    r = client.post("/search", json={"text": "", "k": 500})
    assert r.status_code == 422
    body = r.json()
    assert {tuple(e["loc"]) for e in body["errors"]} == {("body", "text"), ("body", "k")}
    assert "text" in body["detail"] and "k:" in body["detail"]


def test_unexpected_errors_become_json_500(settings_for) -> None:
    """The catch-all handler: a route that crashes answers a JSON 500 (bad input never gets here)."""
    from fastapi.testclient import TestClient

    from backend.server.app import create_app

    app = create_app(settings_for())

    def crash() -> None:
        raise RuntimeError("boom")

    app.add_api_route("/crash", crash)
    with TestClient(app, raise_server_exceptions=False) as c:
        r = c.get("/crash")
        assert r.status_code == 500
        assert r.json() == {"detail": "internal server error (RuntimeError); see the server log"}
        assert c.get("/health").status_code == 200  # the server keeps serving
