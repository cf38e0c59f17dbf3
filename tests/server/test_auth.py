"""API-token protection: with a token every endpoint except ``GET /health`` (and the docs) answers 401
without ``Authorization: Bearer <token>``, before looking at the request; non-loopback binding refuses
to start without ``allow_remote`` and a token; an index built by another checkpoint fails startup clearly.
"""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from backend.errors import ConfigError, IndexMismatchError
from backend.server.app import create_app

TOKEN = "s3cret-token"
PROTECTED = [
    ("post", "/search", {"json": {"text": "a person walks"}}),
    ("post", "/describe", {"json": {"joints": [[[0, 1, 0]] * 22] * 3, "fps": 20}}),
    ("get", "/motions/dataset-1_kick_normal_001", {}),
    ("get", "/motions/dataset-1_kick_normal_001/preview.png", {}),
    ("get", "/explain.png", {"params": {"text": "kick", "id": "dataset-1_kick_normal_001"}}),
    ("post", "/library", {"json": {"path": "/nonexistent.bvh"}}),
    ("delete", "/library/dataset-1_kick_normal_001", {}),
    ("post", "/search", {"json": {"text": "", "k": 0}}),  # bad input: still 401 first
    ("get", "/motions/no_such_clip", {}),
]


@pytest.fixture(scope="module")
def token_client(tiny_setup, tmp_path_factory):
    from backend.server.settings import ServerSettings

    settings = ServerSettings(
        index_dir=tiny_setup.index,
        checkpoint_dir=tiny_setup.checkpoint,
        preview_cache_dir=tmp_path_factory.mktemp("previews"),
        api_token=TOKEN,
        allowed_hosts=["testserver"],  # the Host header of Starlette's TestClient
    )
    with TestClient(create_app(settings)) as client:
        yield client


def test_health_stays_open(token_client) -> None:
    assert token_client.get("/health").status_code == 200
    assert token_client.get("/openapi.json").status_code == 200


@pytest.mark.parametrize(("method", "path", "kwargs"), PROTECTED, ids=[f"{m} {p}" for m, p, _ in PROTECTED])
def test_missing_or_wrong_token_is_401(token_client, method, path, kwargs) -> None:
    call = getattr(token_client, method)
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": TOKEN}, {"Authorization": f"Bearer {TOKEN}x"}):  # fmt: skip
        r = call(path, headers=headers, **kwargs)
        assert r.status_code == 401, (headers, r.text)
        assert r.headers["www-authenticate"] == "Bearer"
        assert "token" in r.json()["detail"]


def test_right_token_passes(token_client) -> None:
    auth = {"Authorization": f"Bearer {TOKEN}"}
    assert (
        token_client.post("/search", json={"text": "a person kicks", "k": 2}, headers=auth).status_code == 200
    )
    assert token_client.get("/motions/dataset-1_kick_normal_001", headers=auth).status_code == 200
    r = token_client.get("/motions/no_such_clip", headers=auth)
    assert r.status_code == 404  # authenticated: the real answer


def test_openapi_declares_bearer_scheme(token_client) -> None:
    spec = token_client.get("/openapi.json").json()
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"
    assert "security" in spec["paths"]["/search"]["post"]
    assert "security" not in spec["paths"]["/health"]["get"]


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"host": "0.0.0.0"}, "--allow-remote"),
        ({"host": "192.168.1.20", "allow_remote": True}, "API token"),
        ({"host": "::", "allow_remote": True, "api_token": ""}, "API token"),
    ],
)
def test_non_loopback_binding_refused(settings_for, overrides, needle) -> None:
    with pytest.raises(ConfigError, match=needle):
        create_app(settings_for(**overrides))


def test_non_loopback_with_flag_and_token_is_allowed(settings_for) -> None:
    create_app(settings_for(host="0.0.0.0", allow_remote=True, api_token=TOKEN))


def test_index_of_another_checkpoint_fails_startup(tiny_setup, settings_for, tmp_path) -> None:
    """Serving an index with a different checkpoint is a startup failure naming both checksums."""
    import torch

    from backend.model.retrieval import MotionTextRetrieval

    model = MotionTextRetrieval.from_pretrained(tiny_setup.checkpoint)
    with torch.no_grad():
        next(model.motion_encoder.parameters()).add_(0.01)
    other = model.save_pretrained(tmp_path / "other-checkpoint")
    app = create_app(settings_for(checkpoint_dir=other))
    with pytest.raises(IndexMismatchError, match="rebuild the index") as info, TestClient(app):
        pass
    assert model.checksum() in str(info.value)
