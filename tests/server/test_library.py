"""``POST /library`` / ``DELETE /library/{id}`` on a private copy of the tiny index: real BVH files added by
upload or by server path become searchable, describable and removable; malformed uploads and bad paths get
a 4xx naming the problem; a change committed by another writer is picked up.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from fastapi.testclient import TestClient

from backend.server.app import create_app

NEW_CLIP = "dataset-1_bye_feminine_001"
OTHER_CLIP = "dataset-1_run_masculinity_001"
TWO_JOINT_BVH = """HIERARCHY
ROOT Hips
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT Chest
  {
    OFFSET 0 10 0
    CHANNELS 3 Zrotation Xrotation Yrotation
    End Site
    {
      OFFSET 0 10 0
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.033333
0 90 0 0 0 0 0 0 0
0 90 1 0 0 0 0 0 0
"""


@pytest.fixture(scope="module")
def lib_client(tiny_setup, tmp_path_factory, bandai1):
    from backend.server.settings import ServerSettings

    root = tmp_path_factory.mktemp("library")
    shutil.copytree(tiny_setup.index, root / "index")
    settings = ServerSettings(
        index_dir=root / "index",
        checkpoint_dir=tiny_setup.checkpoint,
        preview_cache_dir=root / "previews",
        api_token=None,
        max_upload_bytes=2_000_000,
        allowed_hosts=["testserver"],  # the Host header of Starlette's TestClient
        library_roots=[bandai1 / "dataset/Bandai-Namco-Research-Motiondataset-1/data"],
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.fixture(scope="module")
def bvh_dir(bandai1) -> Path:
    return bandai1 / "dataset/Bandai-Namco-Research-Motiondataset-1/data"


def _size(client: TestClient) -> int:
    return client.get("/health").json()["library_size"]


def _upload(client: TestClient, path: Path, **fields: str):
    with open(path, "rb") as f:
        return client.post(
            "/library", files={"file": (path.name, f, "application/octet-stream")}, data=fields
        )


def test_upload_is_searchable_describable_and_removable(lib_client, bvh_dir) -> None:
    from backend.motion.convert import bvh_to_clip

    before = _size(lib_client)
    caption = "a woman waves bye gracefully"
    r = _upload(lib_client, bvh_dir / f"{NEW_CLIP}.bvh", caption=caption)
    assert r.status_code == 200, r.text
    body = r.json()
    expected = bvh_to_clip(bvh_dir / f"{NEW_CLIP}.bvh")
    assert body == {"id": NEW_CLIP, "duration": pytest.approx(expected.meta.duration)}
    assert _size(lib_client) == before + 1

    motion = lib_client.get(f"/motions/{NEW_CLIP}").json()
    assert motion["metadata"]["captions"] == [caption] and motion["metadata"]["dataset"] == "user"
    assert motion["metadata"]["source"] == f"{NEW_CLIP}.bvh"
    np.testing.assert_allclose(np.asarray(motion["joints"]), expected.joints, atol=1e-4)

    hits = lib_client.post("/search", json={"text": caption, "k": 100}).json()["results"]
    assert NEW_CLIP in [h["id"] for h in hits]
    described = lib_client.post("/describe", json={"joints": motion["joints"], "fps": 20, "k": 100}).json()
    assert caption in [c["text"] for c in described["captions"]]  # the caption bank grew
    assert described["similar_motions"][0]["id"] == NEW_CLIP
    assert lib_client.get(f"/motions/{NEW_CLIP}/preview.png").status_code == 200

    r = lib_client.delete(f"/library/{NEW_CLIP}")
    assert r.status_code == 200 and r.json() == {"id": NEW_CLIP, "removed": True}
    assert _size(lib_client) == before
    assert lib_client.get(f"/motions/{NEW_CLIP}").status_code == 404
    assert lib_client.get(f"/motions/{NEW_CLIP}/preview.png").status_code == 404
    assert lib_client.delete(f"/library/{NEW_CLIP}").status_code == 404
    ids = [h["id"] for h in lib_client.post("/search", json={"text": caption, "k": 100}).json()["results"]]
    assert NEW_CLIP not in ids


def test_same_file_twice_gets_a_fresh_id(lib_client, bvh_dir) -> None:
    first = _upload(lib_client, bvh_dir / f"{OTHER_CLIP}.bvh").json()["id"]
    second = _upload(lib_client, bvh_dir / f"{OTHER_CLIP}.bvh").json()["id"]
    assert first == OTHER_CLIP and second == f"{OTHER_CLIP}_2"
    for cid in (first, second):
        assert lib_client.delete(f"/library/{cid}").status_code == 200


def test_add_by_server_path_with_id_and_conflict(lib_client, bvh_dir) -> None:
    path = str(bvh_dir / f"{OTHER_CLIP}.bvh")
    r = lib_client.post("/library", json={"path": path, "id": "my_run", "caption": "a man runs"})
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "my_run"
    again = lib_client.post("/library", json={"path": path, "id": "my_run"})
    assert again.status_code == 409 and "my_run" in again.json()["detail"]
    up = _upload(lib_client, bvh_dir / f"{OTHER_CLIP}.bvh", id="my_run")
    assert up.status_code == 409
    assert lib_client.delete("/library/my_run").status_code == 200


def test_malformed_uploads(lib_client, bvh_dir, tmp_path) -> None:
    before = _size(lib_client)
    real = (bvh_dir / f"{NEW_CLIP}.bvh").read_bytes()
    truncated = tmp_path / "truncated.bvh"
    truncated.write_bytes(real[: len(real) // 3])
    r = _upload(lib_client, truncated)
    assert r.status_code == 400, r.text
    detail = r.json()["detail"]
    assert "truncated.bvh" in detail and "motion-search-upload" not in detail  # names the user's file

    garbage = tmp_path / "garbage.bvh"
    garbage.write_bytes(bytes(range(256)) * 20)
    r = _upload(lib_client, garbage)
    assert r.status_code == 400 and "garbage.bvh" in r.json()["detail"]

    header_only = tmp_path / "header_only.bvh"
    header_only.write_bytes(real[: real.index(b"MOTION")])
    assert _upload(lib_client, header_only).status_code == 400

    empty = tmp_path / "empty.bvh"
    empty.write_bytes(b"")
    r = _upload(lib_client, empty)
    assert r.status_code == 422 and "empty" in r.json()["detail"]

    two = tmp_path / "two_joints.bvh"
    two.write_text(TWO_JOINT_BVH)
    r = _upload(lib_client, two)
    assert r.status_code == 422 and "two_joints.bvh" in r.json()["detail"]
    assert "left_wrist" in r.json()["detail"]  # names missing SMPL joints

    r = _upload(lib_client, bvh_dir / f"{NEW_CLIP}.bvh", id="../../etc/passwd")
    assert r.status_code == 422 and "id" in r.json()["detail"]

    r = lib_client.post("/library", data={"id": "x"}, files={"other": ("a.txt", b"x")})
    assert r.status_code == 422 and "'file'" in r.json()["detail"]

    big = tmp_path / "big.bvh"
    big.write_bytes(real * (2_000_000 // len(real) + 2))
    r = _upload(lib_client, big)
    assert r.status_code == 413 and "limit" in r.json()["detail"]
    assert _size(lib_client) == before  # nothing was added


@pytest.mark.parametrize(
    ("kwargs", "status", "needle"),
    [
        ({"json": {"path": "/no/such/file.bvh"}}, 403, "not under a library root"),
        ({"json": {"path": "no_such_file.bvh"}}, 422, "path not found"),
        ({"json": {"path": "."}}, 422, ".bvh or .amc file"),
        ({"json": {}}, 422, "path"),
        ({"json": {"path": ""}}, 422, "path"),
        ({"json": {"path": 5}}, 422, "path"),
        ({"content": b"{oops", "headers": {"content-type": "application/json"}}, 422, "JSON"),
        ({"content": b"path=/x.bvh", "headers": {"content-type": "text/plain"}}, 415, "Content-Type"),
    ],
)
def test_bad_json_adds(lib_client, kwargs, status, needle) -> None:
    r = lib_client.post("/library", **kwargs)
    assert r.status_code == status, r.text
    assert needle in r.json()["detail"]


def test_non_bvh_path_is_rejected(lib_client, tmp_path) -> None:
    f = tmp_path / "notes.txt"
    f.write_text("hello")
    r = lib_client.post("/library", json={"path": str(f)})  # outside the library root: refused unread
    assert r.status_code == 403 and "library root" in r.json()["detail"]


def test_change_by_another_writer_is_picked_up(lib_client) -> None:
    """An ``index remove`` committed by someone else (e.g. the CLI) is visible on the next request."""
    from backend.index.maintenance import remove_from_index

    before = _size(lib_client)
    index_dir = lib_client.app.state.settings.index_dir
    remove_from_index(index_dir, ["dataset-1_kick_normal_001"])
    assert _size(lib_client) == before - 1
    assert lib_client.get("/motions/dataset-1_kick_normal_001").status_code == 404
