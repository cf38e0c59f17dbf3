"""``POST /library`` with Acclaim ASF/AMC on a real server on 127.0.0.1: an uploaded AMC with its ASF, an AMC path
under a library root with its ASF beside it or named, and the errors when the skeleton is missing, of the wrong
kind or outside the roots."""

from __future__ import annotations

import shutil
from pathlib import Path

import httpx
import pytest

KICK = "HDM_bd_kickLFront1Reps_001_120.amc"


@pytest.fixture()
def amc_server(settings_for, index_copy, serve_live, hdm05, tmp_path):
    root = tmp_path / "mocap"
    root.mkdir()
    for name in ("HDM_bd.asf", KICK, "HDM_bd_kickLFront1Reps_002_120.amc"):
        shutil.copy(hdm05 / "train" / "6" / name, root / name)
    (root / "other").mkdir()
    shutil.copy(hdm05 / "train" / "10" / "HDM_bd_squat1Reps_001_120.amc", root / "other" / "squat.amc")
    settings = settings_for(index_copy, allowed_hosts=[], library_roots=[root])
    with serve_live(settings) as url:
        yield url, root


def test_upload_amc_with_its_asf(amc_server, hdm05: Path) -> None:
    url, root = amc_server
    files = {
        "file": (KICK, (root / KICK).read_bytes()),
        "asf": ("HDM_bd.asf", (root / "HDM_bd.asf").read_bytes()),
    }
    r = httpx.post(f"{url}/library", files=files, data={"caption": "a left kick"}, timeout=120)
    assert r.status_code == 200, r.text
    clip = r.json()
    assert clip["id"] == "HDM_bd_kickLFront1Reps_001_120" and 1.0 < clip["duration"] < 3.0
    motion = httpx.get(f"{url}/motions/{clip['id']}", timeout=60).json()
    left_ankle = motion["joint_names"].index("left_ankle")
    assert max(frame[left_ankle][1] for frame in motion["joints"]) > 0.35  # the kick's left foot rises
    # without the skeleton, or with a file that is no ASF: a 4xx naming what is wrong, nothing added
    r = httpx.post(f"{url}/library", files={"file": (KICK, (root / KICK).read_bytes())}, timeout=60)
    assert r.status_code in (400, 422) and "'asf'" in r.json()["detail"]
    files["asf"] = ("HDM_bd.txt", b"not a skeleton")
    r = httpx.post(f"{url}/library", files=files, timeout=60)
    assert r.status_code in (400, 422) and ".asf" in r.json()["detail"]
    files["asf"] = ("HDM_bd.asf", b":units\n  length 0.45\n")
    r = httpx.post(f"{url}/library", files=files, timeout=60)
    assert r.status_code == 400 and "HDM_bd.asf" in r.json()["detail"] and "bonedata" in r.json()["detail"]


def test_amc_by_path_with_asf_beside_or_named(amc_server, tmp_path: Path) -> None:
    url, root = amc_server
    r = httpx.post(
        f"{url}/library", json={"path": "HDM_bd_kickLFront1Reps_002_120.amc", "id": "kick2"}, timeout=120
    )
    assert r.status_code == 200, r.text
    assert r.json()["id"] == "kick2"
    # no skeleton beside it: the error names the AMC; naming one under the root works
    r = httpx.post(f"{url}/library", json={"path": "other/squat.amc"}, timeout=60)
    assert r.status_code == 400 and "squat.amc" in r.json()["detail"] and ".asf" in r.json()["detail"]
    r = httpx.post(
        f"{url}/library", json={"path": "other/squat.amc", "asf": "HDM_bd.asf", "id": "sq"}, timeout=120
    )
    assert r.status_code == 200, r.text
    # a skeleton outside the roots gets the same answer as any path outside them
    outside = tmp_path / "HDM_bd.asf"
    shutil.copy(root / "HDM_bd.asf", outside)
    r = httpx.post(f"{url}/library", json={"path": "other/squat.amc", "asf": str(outside)}, timeout=60)
    assert r.status_code == 403 and "not under a library root" in r.json()["detail"]
    r = httpx.post(
        f"{url}/library", json={"path": KICK, "asf": "HDM_bd_kickLFront1Reps_002_120.amc"}, timeout=60
    )
    assert r.status_code in (400, 422) and "must be a .asf file" in r.json()["detail"]
