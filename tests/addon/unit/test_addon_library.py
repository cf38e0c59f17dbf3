"""The pure side of "Add to Library" (``addon/library.py``, ``addon/folder.py``) and its contract with the server.

* A joints body built from a real clip validates against the server's own ``LibraryAddJoints`` schema, and
  every field the add-on sends is a field of that schema; bad joints / fps / info are refused up front with
  a message naming the problem.
* The multipart body of an ASF/AMC upload, parsed by Starlette's form parser (the one the server uses),
  gives back every byte of both real HDM05 files and every text field (``tags`` comma-separated).
* Ids, captions and tags made from names follow the server's rules (id pattern, 32 tags of 64 characters).
* A real folder: FBX/BVH files are imported, an AMC is paired with the ASF whose name is its longest prefix,
  an AMC without a skeleton and a non-motion file are skipped with the reason; sub-folders unless turned off.
* The manifest asks for the ``files`` permission with a reason Blender's validator takes (at most 64
  characters, ending in a letter, digit or closing bracket; the real validator runs in tests/addon/blender).
* ``BackendClient.add_file`` sends one multipart request with the boundary in its content type; a ``409`` (the
  id is another clip's) is retried as ``<id>_2``, ... up to ``ID_ATTEMPTS`` ids, within the id length limit.
"""

from __future__ import annotations

import asyncio
import doctest
import json
import shutil
import threading
import tomllib
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest

import addon.folder
import addon.library
from addon.client import BackendClient
from addon.errors import BadResponseError, MotionDataError
from addon.folder import Outcome, find_asf, report_summary, scan_folder
from addon.library import (
    ClipInfo,
    LibraryAdded,
    LibraryInfoError,
    add_joints_request,
    add_under_free_id,
    caption_from_name,
    clip_id_from_name,
    library_label,
    multipart_body,
    parse_tags,
    upload_fields,
)

REPO = Path(__file__).resolve().parents[3]
HDM_CLIP = "HDM_mm_grabHighR_018_120"


def test_doctests() -> None:
    for module in (addon.library, addon.folder):
        result = doctest.testmod(module)
        assert result.attempted > 0 and result.failed == 0, module.__name__


def test_joints_body_follows_the_server_schema(bandai_wave) -> None:
    from backend.server.schemas import LibraryAddJoints

    joints = np.asarray(bandai_wave.joints, dtype=np.float64)
    info = ClipInfo("my_wave", "  a person   waves ", ("studio", "wave"), "own work", True)
    body = add_joints_request(joints, 20.0, info)
    parsed = LibraryAddJoints.model_validate(json.loads(json.dumps(body)))
    assert parsed.id == "my_wave" and parsed.caption == "a person waves" and parsed.tags == ["studio", "wave"]
    assert parsed.licence == "own work" and parsed.commercial_use is True and parsed.fps == 20.0
    assert np.abs(np.asarray(parsed.joints) - joints).max() <= 6e-6  # rounded to 1e-5 m, float32 there
    assert set(body) <= set(LibraryAddJoints.model_fields)
    bare = add_joints_request(joints[:3], 30, ClipInfo())
    assert set(bare) == {"joints", "fps", "commercial_use"} and bare["commercial_use"] is False


@pytest.mark.parametrize(
    ("joints", "fps", "message"),
    [
        (np.zeros((0, 22, 3)), 20.0, "shape"),
        (np.zeros((5, 21, 3)), 20.0, "shape"),
        (np.full((2, 22, 3), np.nan), 20.0, "non-finite"),
        (np.zeros((2, 22, 3)), 0.0, "fps"),
        (np.zeros((2, 22, 3)), float("inf"), "fps"),
    ],
)
def test_bad_joints_are_refused(joints, fps, message) -> None:
    with pytest.raises(MotionDataError, match=message):
        add_joints_request(joints, fps, ClipInfo())


def test_info_rules() -> None:
    with pytest.raises(LibraryInfoError, match="id '-x'"):
        ClipInfo(id="-x").checked()
    with pytest.raises(LibraryInfoError, match="id 'a b'"):
        ClipInfo(id="a b").fields()
    with pytest.raises(LibraryInfoError, match="caption has 1001 characters"):
        ClipInfo(caption="x" * 1001).checked()
    with pytest.raises(LibraryInfoError, match="33 given, at most 32"):
        parse_tags(",".join(f"t{i}" for i in range(33)))
    with pytest.raises(LibraryInfoError, match="at most 64 characters"):
        parse_tags(["y" * 65])
    with pytest.raises(LibraryInfoError, match="no commas"):
        ClipInfo(tags=("a,b",)).checked()
    assert parse_tags(["  a ", "", "a", "b"]) == ["a", "b"] and parse_tags("") == []
    long = clip_id_from_name("x" * 300)
    assert long == "x" * 128
    assert clip_id_from_name("???").startswith("clip_") and len(clip_id_from_name("???")) == 13
    assert (
        ClipInfo(id=clip_id_from_name("Armature|mixamo.com|Layer0")).checked().id
        == "Armature_mixamo.com_Layer0"
    )
    assert (
        caption_from_name("mixamo.com") == "mixamo com" and caption_from_name("WalkCycle-02") == "walk cycle"
    )


def test_answers_are_checked() -> None:
    assert LibraryAdded.from_json({"id": "a", "duration": 2}) == LibraryAdded("a", 2.0)
    for bad in ({"duration": 1.0}, {"id": "a"}, {"id": "a", "duration": True}, []):
        with pytest.raises(BadResponseError, match="POST /library"):
            LibraryAdded.from_json(bad)


def _parse_form(body: bytes, content_type: str) -> dict:
    """Parse with Starlette's form parser, as the server does."""
    from starlette.requests import Request

    async def run() -> dict:
        sent = False

        async def receive() -> dict:
            nonlocal sent
            if sent:
                return {"type": "http.disconnect"}
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        headers = [(b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode())]
        request = Request({"type": "http", "method": "POST", "path": "/library", "headers": headers}, receive)
        form = await request.form()
        out = {}
        for key, value in form.multi_items():
            out[key] = (value.filename, await value.read()) if hasattr(value, "filename") else value
        await form.close()
        return out

    return asyncio.run(run())


def test_multipart_body_round_trips_real_asf_amc(hdm05: Path) -> None:
    amc = next(hdm05.rglob(f"{HDM_CLIP}.amc"))
    asf = amc.parent / "HDM_mm.asf"
    info = ClipInfo(
        "grab_1", "a person grabs high with the right hand", ("hdm05", "grab"), "CC BY-SA 3.0", False
    )
    body, ctype = multipart_body(
        upload_fields(info), {"file": (amc.name, amc.read_bytes()), "asf": (asf.name, asf.read_bytes())}
    )
    assert ctype.startswith("multipart/form-data; boundary=motion-search-")
    form = _parse_form(body, ctype)
    assert form["file"] == (amc.name, amc.read_bytes()) and form["asf"] == (asf.name, asf.read_bytes())
    assert form["id"] == "grab_1" and form["caption"] == info.caption and form["tags"] == "hdm05,grab"
    assert form["licence"] == "CC BY-SA 3.0" and form["commercial_use"] == "false"
    quoted, ctype = multipart_body({"caption": 'say "hi"\nnow'}, {"file": ('we"ird\r\n.bvh', b"x")})
    form = _parse_form(quoted, ctype)
    assert form["caption"] == 'say "hi"\nnow' and form["file"][1] == b"x"
    with pytest.raises(ValueError, match="boundary"):
        multipart_body({}, {"file": ("a.bvh", b"--abc\r\n")}, boundary="abc")


def test_scan_folder_pairs_amc_with_its_skeleton(tmp_path: Path, hdm05: Path, bandai1: Path) -> None:
    src = next(hdm05.rglob(f"{HDM_CLIP}.amc")).parent
    folder = tmp_path / "takes"
    (folder / "hdm" / "lonely").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    for name in ("HDM_mm.asf", "HDM_tr.asf", f"{HDM_CLIP}.amc", "HDM_tr_grabHighR_025_120.amc"):
        shutil.copy(src / name, folder / "hdm" / name)
    shutil.copy(src / f"{HDM_CLIP}.amc", folder / "hdm" / "lonely" / "take.amc")
    shutil.copy(next(bandai1.rglob("dataset-1_bow_normal_001.bvh")), folder / "Bow.BVH")
    (folder / "Walk.fbx").write_bytes(b"not checked until Blender imports it")
    (folder / "notes.txt").write_text("shot list")
    (folder / ".hidden" / "x.bvh").write_text("skipped: hidden folder")
    items, skipped = scan_folder(str(folder))
    assert [(i.name, i.kind) for i in items] == [
        ("Bow.BVH", "bvh"), ("Walk.fbx", "fbx"), (f"hdm/{HDM_CLIP}.amc", "amc"),
        ("hdm/HDM_tr_grabHighR_025_120.amc", "amc"),
    ]  # fmt: skip
    assert Path(items[2].asf).name == "HDM_mm.asf" and Path(items[3].asf).name == "HDM_tr.asf"
    assert {o.name: o.reason for o in skipped} == {
        "hdm/lonely/take.amc": "no .asf skeleton beside it; Acclaim motions need their skeleton",
        "notes.txt": "not a motion file (.amc, .bvh, .fbx)",
    }
    flat, flat_skipped = scan_folder(str(folder), recursive=False)
    assert [i.name for i in flat] == ["Bow.BVH", "Walk.fbx"] and [o.name for o in flat_skipped] == [
        "notes.txt"
    ]
    with pytest.raises(NotADirectoryError, match="notes.txt"):
        scan_folder(str(folder / "notes.txt"))
    assert find_asf("/d/x_1.amc", ["/d/a.asf", "/d/b.asf"]) is None


def test_report_lines_and_summary() -> None:
    done = Outcome("a.fbx", ["a_take1", "a_take2"])
    partial = Outcome("b.fbx", ["b_1"], "b_2: backend error 409")
    bad = Outcome("c.bvh", reason="Blender's BVH importer failed: bad header")
    assert done.ok and not partial.ok and not bad.ok
    assert done.line() == "a.fbx: added a_take1, a_take2"
    assert partial.line() == "b.fbx: added b_1; skipped the rest: b_2: backend error 409"
    assert bad.line() == "c.bvh: skipped: Blender's BVH importer failed: bad header"
    assert (
        report_summary([done, partial, bad]) == "added 3 clips from 2 files; skipped 2 files (see the report)"
    )
    assert report_summary([], cancelled=True) == "cancelled: added 0 clips from 0 files"


def test_library_label() -> None:
    named = [("Demo", "http://127.0.0.1:8765"), ("  ", "http://127.0.0.1:9000")]
    assert library_label("http://127.0.0.1:8765/", named) == "Demo (http://127.0.0.1:8765)"
    assert library_label("127.0.0.1:9000", named) == "http://127.0.0.1:9000"  # a blank name is no name


def test_manifest_asks_for_files_with_a_valid_reason() -> None:
    manifest = tomllib.loads((REPO / "blender_manifest.toml").read_text())
    for key in ("network", "files"):
        reason = manifest["permissions"][key]
        assert 0 < len(reason) <= 64 and (reason[-1].isalnum() or reason[-1] in ")]}"), (key, reason)


class _Echo(BaseHTTPRequestHandler):
    ids: list[str] = []  # noqa: RUF012 - every id asked for, in order

    def log_message(self, *args: object) -> None:
        pass

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        form = _parse_form(body, self.headers["Content-Type"])
        _Echo.ids.append(form.get("id", ""))
        if form.get("id") == "taken" or form.get("caption") == "always taken":
            answer, status = {"detail": "clip id 'taken' exists already"}, 409
        else:
            answer, status = {"id": form["id"], "duration": len(form["file"][1]) / 1000}, 200
        raw = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(raw)))
        self.end_headers()
        self.wfile.write(raw)


def test_client_add_file_sends_one_multipart_request(tmp_path: Path, hdm05: Path) -> None:
    from addon.errors import BackendHTTPError

    amc = next(hdm05.rglob(f"{HDM_CLIP}.amc"))
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Echo)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        client = BackendClient(f"http://127.0.0.1:{httpd.server_address[1]}", timeout=10)
        added = client.add_file(str(amc), ClipInfo(id="grab"), asf=str(amc.parent / "HDM_mm.asf"))
        assert added == LibraryAdded("grab", amc.stat().st_size / 1000)
        with pytest.raises(BackendHTTPError, match="409.*'taken' exists already"):
            client.add_file(str(amc), ClipInfo(id="taken"))
        send = partial(client.add_file, str(amc))
        assert add_under_free_id(send, ClipInfo(id="taken")).id == "taken_2"  # the next free number
        with pytest.raises(BackendHTTPError, match="'taken' exists"):  # the server says no to every number
            add_under_free_id(
                partial(client.add_file, str(amc)), ClipInfo(id="x" * 128, caption="always taken")
            )
        tried = _Echo.ids[-20:]
        assert tried[0] == "x" * 128 and tried[1] == "x" * 126 + "_2" and tried[-1] == "x" * 125 + "_20"
        assert all(len(i) <= 128 for i in tried) and _Echo.ids[-21] == "taken_2"
        with pytest.raises(MotionDataError, match="cannot read .*missing.amc"):
            client.add_file(str(tmp_path / "missing.amc"), ClipInfo())
    finally:
        httpd.shutdown()
        httpd.server_close()
