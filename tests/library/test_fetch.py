"""Contract of ``data fetch``: pinned SHA-256 verification, resumable downloads, atomic unpacking.

Real archives from the shared mirror are served by a real HTTP server on 127.0.0.1 (only the two small ones,
``cmu-index`` and ``cmu-bvh-samples``, to stay fast). Properties:

* mirror, HTTP and upstream modes all end in ``DEST/<name>/`` with the archive's files and a marker;
* a completed, verified fetch is skipped on re-run; an interrupted download resumes with ``Range``;
* bytes that fail verification are deleted and never unpacked; the error names the file and both hashes.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from backend.errors import FetchError
from backend.library.download import part_path
from backend.library.fetch import fetch_source, fetch_sources, is_fetched
from backend.library.sources import get_source
from backend.library.upstream import content_digest

REPO = Path(__file__).resolve().parents[2]
SMALL = ("cmu-index", "cmu-bvh-samples")


@pytest.fixture()
def small_mirror(shared_datasets: Path, tmp_path: Path) -> Path:
    """A mirror folder with the two small real archives and their SHA256SUMS lines."""
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    sums = (shared_datasets / "SHA256SUMS").read_text().splitlines()
    for name in SMALL:
        shutil.copy(shared_datasets / f"{name}.tar.gz", mirror)
    (mirror / "SHA256SUMS").write_text(
        "\n".join(line for line in sums if any(n in line for n in SMALL)) + "\n"
    )
    return mirror


def test_http_mirror_fetch_verifies_extracts_and_skips_on_rerun(small_mirror, serve_folder, tmp_path):
    server = serve_folder(small_mirror)
    dest = tmp_path / "dest"
    results = fetch_sources(dest, only=list(SMALL), base_url=server.url, progress=False)
    assert [(r.name, r.mode, r.skipped) for r in results] == [
        ("cmu-bvh-samples", "http", False),
        ("cmu-index", "http", False),
    ]
    index = dest / "cmu-index" / "cmu-mocap-index-text.txt"
    assert "01_01\tplayground - forward jumps, turn around" in index.read_text(encoding="utf-8")
    assert (dest / "cmu-bvh-samples" / "yuki-koyama" / "bvh11" / "resources" / "131_03.bvh").is_file()
    for name in SMALL:
        source = get_source(name)
        assert is_fetched(source, dest)
        assert content_digest(dest / name, source.ignored_in_digest()) == source.content_sha256
    assert not list(dest.glob("*.part")) and not list(dest.glob(".*"))  # no temp folders left behind
    served = len(server.log.paths)
    again = fetch_sources(dest, only=list(SMALL), base_url=server.url, progress=False)
    assert all(r.skipped for r in again) and len(server.log.paths) == served


def test_interrupted_download_resumes_with_range(small_mirror, serve_folder, tmp_path):
    server = serve_folder(small_mirror)
    dest = tmp_path / "dest"
    dest.mkdir()
    archive = (small_mirror / "cmu-bvh-samples.tar.gz").read_bytes()
    part = part_path(dest / "cmu-bvh-samples.tar.gz")
    part.write_bytes(archive[:700_000])  # what a killed download leaves
    fetch_source(get_source("cmu-bvh-samples"), dest, base_url=server.url, progress=False)
    assert server.log.ranges == ["bytes=700000-"]
    assert (dest / "cmu-bvh-samples.tar.gz").read_bytes() == archive and not part.exists()
    assert is_fetched(get_source("cmu-bvh-samples"), dest)


def test_server_ignoring_range_restarts_from_scratch(small_mirror, serve_folder, tmp_path):
    server = serve_folder(small_mirror)
    server.log.honour_range = False
    dest = tmp_path / "dest"
    dest.mkdir()
    archive = (small_mirror / "cmu-index.tar.gz").read_bytes()
    part_path(dest / "cmu-index.tar.gz").write_bytes(archive[:5000])
    fetch_source(get_source("cmu-index"), dest, base_url=server.url, progress=False)
    assert server.log.ranges == ["bytes=5000-"]
    assert (dest / "cmu-index.tar.gz").read_bytes() == archive


def test_corrupt_partial_download_is_discarded_and_refetched(small_mirror, serve_folder, tmp_path):
    server = serve_folder(small_mirror)
    dest = tmp_path / "dest"
    dest.mkdir()
    part_path(dest / "cmu-index.tar.gz").write_bytes(b"\0" * 4000)  # wrong bytes from an earlier run
    fetch_source(get_source("cmu-index"), dest, base_url=server.url, progress=False)
    assert server.log.ranges == ["bytes=4000-"]  # resumed first, failed the check, then fetched whole
    assert is_fetched(get_source("cmu-index"), dest)


def test_checksum_mismatch_is_an_error_and_nothing_is_installed(small_mirror, serve_folder, tmp_path):
    tampered = bytearray((small_mirror / "cmu-index.tar.gz").read_bytes())
    tampered[100] ^= 0xFF
    (small_mirror / "cmu-index.tar.gz").write_bytes(bytes(tampered))
    server = serve_folder(small_mirror)
    dest = tmp_path / "dest"
    with pytest.raises(FetchError, match=r"cmu-index\.tar\.gz: SHA-256 mismatch \(expected b7a9de03"):
        fetch_source(get_source("cmu-index"), dest, base_url=server.url, progress=False)
    assert sorted(p.name for p in dest.iterdir()) == []  # no archive, no .part, no extracted folder


def test_local_mirror_copy_and_sha256sums_disagreement(small_mirror, tmp_path):
    dest = tmp_path / "dest"
    result = fetch_source(get_source("cmu-bvh-samples"), dest, mirror=small_mirror, progress=False)
    assert result.mode == "mirror" and (result.path / "LICENSE-CMU.txt").is_file()
    bad = small_mirror / "SHA256SUMS"
    bad.write_text(bad.read_text().replace("b7a9de03", "00000000"))
    with pytest.raises(FetchError, match="SHA256SUMS: lists 00000000.* for cmu-index.tar.gz"):
        fetch_source(get_source("cmu-index"), tmp_path / "other", mirror=small_mirror, progress=False)


def _upstream_layout(extracted: Path, name: str, root: Path, *, crlf: bool = False) -> None:
    """Lay the archive's upstream files out as raw URLs and git tree listings (GitHub's URL scheme)."""
    source = get_source(name)
    for up in source.upstreams:
        tree = []
        for path in sorted(p for p in (extracted / up.prefix).rglob("*") if p.is_file()):
            rel = path.relative_to(extracted / up.prefix).as_posix()
            if not up.selects(rel) and rel not in up.include:
                continue
            data = path.read_bytes()
            if crlf and rel in up.text_files:
                data = data.replace(b"\n", b"\r\n")
            target = root / "raw" / up.repo / up.commit / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            blob = hashlib.sha1(b"blob %d\0" % len(data) + data, usedforsecurity=False).hexdigest()
            tree.append({"path": rel, "type": "blob", "sha": blob, "size": len(data)})
        listing = root / "api" / "repos" / up.repo / "git" / "trees" / up.commit
        listing.parent.mkdir(parents=True, exist_ok=True)
        listing.write_text(json.dumps({"sha": up.commit, "tree": tree, "truncated": False}))


def _extract(shared: Path, name: str, into: Path) -> Path:
    with tarfile.open(shared / f"{name}.tar.gz") as tar:
        tar.extractall(into, filter="data")
    return into / name


def test_upstream_per_file_fetch_matches_pinned_content_digest(shared_datasets, serve_folder, tmp_path):
    site = tmp_path / "site"
    _upstream_layout(_extract(shared_datasets, "cmu-bvh-samples", tmp_path / "x"), "cmu-bvh-samples", site)
    _upstream_layout(_extract(shared_datasets, "cmu-index", tmp_path / "x"), "cmu-index", site, crlf=True)
    server = serve_folder(site)
    samples = get_source("cmu-bvh-samples")
    # resolve one repository through its git tree (wildcard), the real code path for the big sources
    ups = list(samples.upstreams)
    ups[0] = dataclasses.replace(ups[0], include=("bvh/*.bvh",))
    samples = dataclasses.replace(samples, upstreams=tuple(ups))
    dest = tmp_path / "dest"
    kw = {"raw_url": f"{server.url}/raw", "api_url": f"{server.url}/api", "progress": False}
    fetch_source(samples, dest, **kw)
    assert any("/git/trees/" in p for p in server.log.paths)
    assert (dest / "cmu-bvh-samples" / "TMoCo" / "InverseKinematics" / "bvh" / "05_06.bvh").is_file()
    assert (
        "Upstream: https://github.com/yuki-koyama/bvh11"
        in (dest / "cmu-bvh-samples" / "SOURCE.txt").read_text()
    )
    # the index comes with CRLF line ends here; it is normalised and still matches the pinned digest
    fetch_source(get_source("cmu-index"), dest, **kw)
    assert b"\r\n" not in (dest / "cmu-index" / "cmu-mocap-index-text.txt").read_bytes()
    assert is_fetched(get_source("cmu-index"), dest) and is_fetched(samples, dest)


def test_upstream_tampered_file_fails_blob_check(shared_datasets, serve_folder, tmp_path):
    site = tmp_path / "site"
    _upstream_layout(_extract(shared_datasets, "cmu-bvh-samples", tmp_path / "x"), "cmu-bvh-samples", site)
    up = get_source("cmu-bvh-samples").upstreams[0]
    served = site / "raw" / up.repo / up.commit / "bvh" / "02_01.bvh"
    served.write_bytes(served.read_bytes().replace(b"Hips", b"Hipz", 1))
    server = serve_folder(site)
    source = dataclasses.replace(
        get_source("cmu-bvh-samples"), upstreams=(dataclasses.replace(up, include=("bvh/*.bvh",)),)
    )
    with pytest.raises(FetchError, match=r"bvh/02_01\.bvh: git blob id mismatch"):
        fetch_source(
            source,
            tmp_path / "dest",
            raw_url=f"{server.url}/raw",
            api_url=f"{server.url}/api",
            progress=False,
        )
    assert not (tmp_path / "dest" / "cmu-bvh-samples").exists()


def test_cli_fetch_over_loopback(small_mirror, serve_folder, tmp_path):
    server = serve_folder(small_mirror)
    cmd = [sys.executable, "-m", "backend", "data", "fetch", "--base-url", server.url, "--dest", str(tmp_path / "d"),
           "--only", "cmu-index", "--no-progress"]  # fmt: skip
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert "cmu-index: fetched (http)" in done.stdout
    bad = subprocess.run(
        [*cmd[:-3], "--only", "no-such-source"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert bad.returncode == 1 and "unknown data source 'no-such-source'" in bad.stderr


@pytest.mark.parametrize("name", ["hdm05-cuts", "cmu-daz-s02-16"])
def test_upstream_fetch_of_library_v2_sources_matches_their_pins(
    name, shared_datasets, serve_folder, tmp_path
):
    """The wildcard includes and excludes of the new sources select exactly the files the mirror holds."""
    site = tmp_path / "site"
    _upstream_layout(_extract(shared_datasets, name, tmp_path / "x"), name, site)
    server = serve_folder(site)
    dest = tmp_path / "dest"
    fetch_source(
        get_source(name), dest, raw_url=f"{server.url}/raw", api_url=f"{server.url}/api", progress=False
    )
    assert is_fetched(get_source(name), dest)  # verified against the pinned content digest
    suffix = ".amc" if name == "hdm05-cuts" else ".bvh"
    assert len(list((dest / name).rglob(f"*{suffix}"))) == {"hdm05-cuts": 287, "cmu-daz-s02-16": 58}[name]
