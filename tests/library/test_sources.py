"""Contract of the pinned source table: it agrees with the shared mirror and names real upstream files."""

from __future__ import annotations

import re
import tarfile
from pathlib import Path

import pytest

from backend.errors import InvalidInputError
from backend.library.fetch import read_sha256sums
from backend.library.sources import MOTION_SOURCES, SOURCES, get_source, select_sources
from backend.library.upstream import content_digest


def test_pinned_hashes_and_sizes_match_the_mirror(shared_datasets: Path):
    sums = read_sha256sums(shared_datasets / "SHA256SUMS")
    assert sorted(sums) == sorted(s.archive_name for s in SOURCES)
    for source in SOURCES:
        assert sums[source.archive_name] == source.sha256, source.name
        assert (shared_datasets / source.archive_name).stat().st_size == source.size, source.name


def test_pinned_table_matches_the_shared_readme(shared_datasets: Path):
    readme = (shared_datasets / "README.md").read_text(encoding="utf-8")
    for source in SOURCES:
        assert source.sha256 in readme, source.name
        for up in source.upstreams:
            assert re.fullmatch(r"[0-9a-f]{40}", up.commit)
            assert up.repo in readme and up.commit in readme, (source.name, up.repo)
            assert (
                up.raw_url("a b.txt") == f"https://raw.githubusercontent.com/{up.repo}/{up.commit}/a%20b.txt"
            )


@pytest.mark.parametrize(
    "fixture", ["cmu_samples", "cmu_index", "kitml_annotations", "hdm05", "cmu_cgspeed", "cmu_daz"]
)
def test_content_digest_of_real_archives_equals_the_pin(fixture: str, request):
    root = request.getfixturevalue(fixture)
    source = get_source(root.name)
    assert content_digest(root, source.ignored_in_digest()) == source.content_sha256
    # every upstream file of the archive is selected by the pinned include/exclude lists
    for path in (p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel in source.ignored_in_digest():
            continue
        assert any(rel.startswith(u.prefix) and u.selects(rel[len(u.prefix) :]) for u in source.upstreams), (
            rel
        )


def test_excluded_files_are_the_ones_the_snapshot_lacks(shared_datasets: Path):
    checked = 0
    for source in SOURCES:
        excluded = [path for up in source.upstreams for path in up.exclude]
        if not excluded:
            continue
        with tarfile.open(shared_datasets / source.archive_name) as tar:  # SOURCE.txt sorts early: stop there
            member = next(m for m in tar if m.name == f"{source.name}/SOURCE.txt")
            note = tar.extractfile(member).read().decode("utf-8")
        # "Missing from the snapshot: ..." or "Missing (in the upstream tree, ...): ..."
        missing = note[note.index("Missing") :].split("Format")[0]
        for path in excluded:
            assert Path(path).name in missing, (source.name, path)
            checked += 1
    assert checked == 1 + 14 + 3 + 8  # Bandai 1, iClone, ReActIdle, Daz


def test_lookup_errors_name_the_valid_sources():
    assert [s.name for s in select_sources(["reactidle", "cmu-index"])] == ["cmu-index", "reactidle"]
    assert select_sources(None) == SOURCES
    assert set(MOTION_SOURCES) == {
        "bandai-namco-1",
        "bandai-namco-2",
        "cmu-iclone",
        "cmu-bvh-samples",
        "cmu-cgspeed-s01-09",
        "cmu-daz-s02-16",
        "hdm05-cuts",
        "reactidle",
    }
    with pytest.raises(InvalidInputError, match="unknown data source 'cmu'; valid sources: bandai-namco-1"):
        get_source("cmu")
