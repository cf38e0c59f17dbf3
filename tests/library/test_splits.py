"""Contract of the splits: held out by take (Bandai-Namco) or performer (CMU, ReActIdle), never by frames.

Checked on the real file lists: no take / performer in two splits, every content x style pair in ``train``,
roughly 80/10/10 overall, and the same answer on every call and in a fresh process.
"""

from __future__ import annotations

import subprocess
import sys
from collections import Counter, defaultdict
from pathlib import Path

import pytest

from backend.errors import InvalidInputError
from backend.library.labels import parse_bandai_name, parse_cmu_trial
from backend.library.splits import (
    FIXED_GROUP_SPLITS,
    SPLITS,
    bandai_split,
    bucket,
    cmu_group,
    group_split,
    hdm05_group,
    reactidle_group,
    split_from_bucket,
)

REPO = Path(__file__).resolve().parents[2]


def _bandai(root: Path, sub: str, dataset: str) -> list[tuple[str, str, str, int, str]]:
    rows = []
    for path in sorted((root / "dataset" / sub / "data").glob("*.json")):
        n = parse_bandai_name(path.stem)
        rows.append((dataset, n.content, n.style, n.take, bandai_split(dataset, n.content, n.style, n.take)))
    return rows


@pytest.fixture(scope="module")
def bandai_rows(bandai1: Path, bandai2: Path):
    return _bandai(bandai1, "Bandai-Namco-Research-Motiondataset-1", "bandai-namco-1") + _bandai(
        bandai2, "Bandai-Namco-Research-Motiondataset-2", "bandai-namco-2"
    )


def test_bandai_every_pair_in_train_and_takes_never_shared(bandai_rows):
    assert len(bandai_rows) == 175 + 2902
    by_take = defaultdict(set)
    pairs_in_train = set()
    for dataset, content, style, take, split in bandai_rows:
        by_take[(dataset, content, style, take)].add(split)
        if split == "train":
            pairs_in_train.add((dataset, content, style))
    assert all(len(s) == 1 for s in by_take.values())
    assert pairs_in_train == {(d, c, s) for d, c, s, _, _ in bandai_rows}


def test_bandai_fractions_are_about_80_10_10(bandai_rows):
    for dataset, lo, hi in (("bandai-namco-2", 0.06, 0.14), ("bandai-namco-1", 0.03, 0.08)):
        counts = Counter(split for d, *_, split in bandai_rows if d == dataset)
        total = sum(counts.values())
        assert set(counts) == set(SPLITS)
        for split in ("val", "test"):
            assert lo <= counts[split] / total <= hi, (dataset, counts)
    held1 = {(c, s, t) for d, c, s, t, split in bandai_rows if d == "bandai-namco-1" and split != "train"}
    assert all(t >= 2 for _, _, t in held1) and len(held1) == 18  # every second take of dataset 1 is held out


def test_cmu_hdm05_and_reactidle_by_performer(
    cmu_iclone: Path, cmu_samples: Path, cmu_cgspeed: Path, cmu_daz: Path, hdm05: Path, reactidle: Path
):
    subjects = defaultdict(set)
    for root in (cmu_iclone, cmu_samples, cmu_cgspeed, cmu_daz):
        for path in root.rglob("*.bvh"):
            subject, _ = parse_cmu_trial(path.name)
            subjects[subject].add(group_split(cmu_group(subject)))
    assert subjects.keys() == {1, 2, 3, 5, 6, 7, 8, 9, 10, 12, 13, 14, 16, 131}
    assert all(len(s) == 1 for s in subjects.values())
    assert {next(iter(s)) for s in subjects.values()} == set(SPLITS)
    performers = defaultdict(set)
    for path in reactidle.glob("*/*.bvh"):
        performers[path.stem.split("_")[0]].add(group_split(reactidle_group(path.stem.split("_")[0])))
    assert len(performers) == 14 and all(len(s) == 1 for s in performers.values())
    actors = {path.stem.split("_")[1] for path in hdm05.rglob("*.amc")}
    assert actors == {"bd", "bk", "dg", "mm", "tr"}
    assert {a: group_split(hdm05_group(a)) for a in actors} == {
        "bd": "train", "bk": "train", "dg": "train", "mm": "val", "tr": "test"}  # fmt: skip
    pinned = {cmu_group(s) for s in subjects} | {reactidle_group(p) for p in performers}
    pinned |= {hdm05_group(a) for a in actors}
    assert pinned == set(FIXED_GROUP_SPLITS)  # every present performer is assigned explicitly
    assert {next(iter(s)) for s in performers.values()} == set(SPLITS)


def test_deterministic_across_processes(bandai_rows):
    sample = bandai_rows[::97]
    code = (
        "from backend.library.splits import bandai_split, group_split\n"
        f"rows = {[r[:4] for r in sample]!r}\n"
        "print([bandai_split(*r) for r in rows], group_split('cmu:77'), group_split('reactidle:042'))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True
    ).stdout
    expected = f"{[r[4] for r in sample]} {group_split('cmu:77')} {group_split('reactidle:042')}"
    assert out.strip() == expected


def test_buckets_and_bad_input():
    values = [bucket(f"k{i}") for i in range(2000)]
    assert min(values) == 0 and max(values) == 99
    fractions = Counter(split_from_bucket(v) for v in values)
    assert 0.75 < fractions["train"] / 2000 < 0.85
    with pytest.raises(InvalidInputError, match="take number must be >= 1, got 0"):
        bandai_split("bandai-namco-2", "walk", "normal", 0)
    with pytest.raises(InvalidInputError, match="0..99, got 100"):
        split_from_bucket(100)
