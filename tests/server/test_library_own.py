"""The animator's own clips on a real server on 127.0.0.1: a motion sent as joints (as the add-on samples it)
with tags, licence and commercial use; GET /library lists datasets and tags; /search filters by dataset, tag and
commercial use and pages with offset."""

from __future__ import annotations

import httpx
import pytest


@pytest.fixture()
def own_server(settings_for, index_copy, serve_live):
    with serve_live(settings_for(index_copy, allowed_hosts=[])) as url:
        yield url


def _joints(url: str, clip_id: str) -> list:
    return httpx.get(f"{url}/motions/{clip_id}", timeout=60).json()["joints"]


def test_add_joints_then_filter_and_page(own_server, tiny_setup) -> None:
    url = own_server
    before = httpx.get(f"{url}/library", timeout=30).json()
    assert before["size"] == len(tiny_setup.clip_ids) and before["tags"] == []
    names = {d["name"]: d for d in before["datasets"]}
    assert set(names) == {"bandai-namco-1", "cmu-bvh-samples"} and not any(
        d["commercial_use"] for d in names.values()
    )

    joints = _joints(url, tiny_setup.clip_ids[0])  # a real motion, as the add-on would sample it (20 fps)
    body = {"joints": joints, "fps": 20.0, "id": "my_take", "caption": "my studio take",
            "tags": ["studio", "day 1"], "licence": "studio-owned", "commercial_use": True}  # fmt: skip
    r = httpx.post(f"{url}/library", json=body, timeout=120)
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "my_take" and r.json()["duration"] == pytest.approx(len(joints) / 20.0, abs=0.06)
    r = httpx.post(f"{url}/library", json=body, timeout=120)  # a retry of the same content: same answer
    assert r.status_code == 200 and r.json()["id"] == "my_take"

    summary = httpx.get(f"{url}/library", timeout=30).json()
    assert summary["size"] == before["size"] + 1
    assert {t["name"]: t["clips"] for t in summary["tags"]} == {"studio": 1, "day 1": 1}
    assert {d["name"]: d["commercial_use"] for d in summary["datasets"]}["user"] is True

    def search(**extra) -> list[dict]:
        r = httpx.post(f"{url}/search", json={"text": "a person walks", "k": 10, **extra}, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()["results"]

    everything = search()
    assert len(everything) == summary["size"]
    mine = next(h for h in everything if h["id"] == "my_take")
    assert (
        mine["licence"] == "studio-owned" and mine["commercial_use"] and mine["tags"] == ["studio", "day 1"]
    )
    assert [h["id"] for h in search(commercial_safe=True)] == ["my_take"]
    assert [h["id"] for h in search(tags=["studio"])] == ["my_take"] and search(tags=["studio", "nope"]) == []
    only_cmu = search(datasets=["cmu-bvh-samples"])
    assert only_cmu and all(h["dataset"] == "cmu-bvh-samples" for h in only_cmu)
    # paging: offset 2, k 3 is ranks 2..4 of the same ranking
    ranked = [h["id"] for h in search(k=5)]
    assert [h["id"] for h in search(k=3, offset=2)] == ranked[2:5]
    r = httpx.post(f"{url}/search", json={"text": "walk", "k": 100, "offset": 950}, timeout=60)
    assert r.status_code == 422 and "offset + k" in r.text


@pytest.mark.parametrize(
    ("body", "status", "needle"),
    [
        ({"joints": [[[0.0, 1.0, 0.0]] * 21], "fps": 20}, 422, "22"),
        ({"joints": [[[0.0, 1.0, 0.0]] * 22] * 2, "fps": 0.5}, 422, "fps"),
        ({"joints": [[[0.0, 1.0, 0.0]] * 22] * 700, "fps": 1}, 422, "too long"),
        ({"joints": [[[0.0, 1.0, 0.0]] * 22] * 4, "fps": 20, "path": "x.bvh"}, 422, "not both"),
        ({"joints": [[[0.0, 1.0, 0.0]] * 22] * 4, "fps": 20, "tags": ["a,b"]}, 422, "commas"),
    ],
)
def test_bad_joints_adds_are_4xx(own_server, body, status, needle) -> None:
    r = httpx.post(f"{own_server}/library", json=body, timeout=60)
    assert r.status_code == status, r.text
    assert needle in r.text


def test_multipart_upload_takes_tags_and_licence(own_server, tiny_setup) -> None:
    path = tiny_setup.bvh_files[tiny_setup.clip_ids[1]]
    data = {"tags": "mocap,walks", "licence": "CC0", "commercial_use": "true", "id": "uploaded"}
    r = httpx.post(
        f"{own_server}/library", files={"file": (path.name, path.read_bytes())}, data=data, timeout=120
    )
    assert r.status_code == 200, r.text
    hits = httpx.post(f"{own_server}/search", json={"text": "walk", "tags": ["walks"]}, timeout=60).json()[
        "results"
    ]
    assert (
        [h["id"] for h in hits] == ["uploaded"] and hits[0]["licence"] == "CC0" and hits[0]["commercial_use"]
    )
    bad = httpx.post(f"{own_server}/library", files={"file": (path.name, path.read_bytes())},
                     data={"commercial_use": "maybe"}, timeout=60)  # fmt: skip
    assert bad.status_code in (400, 422) and "commercial_use" in bad.json()["detail"]
