"""Contract of the caption generator.

* Every content x style pair of both Bandai-Namco sets (read from the real ``cfg`` label files) gets at least
  five distinct captions, deterministic per clip id, and the choice varies between clips.
* Held-out phrasings never coincide with training ones.
* Sides and directions stay faithful to the label (no "right" in a left-hand caption, "backward" for walk-back).
* CMU descriptions become sentences; KIT-ML sentences of the same trial are attached; ReActIdle gets idle text.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from backend.errors import InvalidInputError
from backend.library.caption_vocab import BN1_CONTENTS, BN1_STYLES, BN2_CONTENTS, BN2_STYLES
from backend.library.captions import bandai_captions, captions_for, cmu_captions, idle_captions
from backend.library.labels import read_bandai_label_lists, read_cmu_index, read_kitml_cmu


def _pairs(root: Path, sub: str) -> list[tuple[str, str]]:
    contents, styles = read_bandai_label_lists(root / "dataset" / sub)
    return [(c, s) for c in contents for s in styles]


@pytest.fixture(scope="module")
def label_pairs(bandai1: Path, bandai2: Path) -> list[tuple[str, str]]:
    pairs = _pairs(bandai1, "Bandai-Namco-Research-Motiondataset-1") + _pairs(
        bandai2, "Bandai-Namco-Research-Motiondataset-2"
    )
    assert len(pairs) == 17 * 15 + 10 * 7
    return pairs


def test_real_label_lists_are_the_covered_ones(bandai1: Path, bandai2: Path):
    c1, s1 = read_bandai_label_lists(bandai1 / "dataset" / "Bandai-Namco-Research-Motiondataset-1")
    c2, s2 = read_bandai_label_lists(bandai2 / "dataset" / "Bandai-Namco-Research-Motiondataset-2")
    assert (tuple(c1), tuple(s1), tuple(c2), tuple(s2)) == (
        BN1_CONTENTS,
        BN1_STYLES,
        BN2_CONTENTS,
        BN2_STYLES,
    )


def test_every_label_pair_gets_several_distinct_deterministic_captions(label_pairs):
    for content, style in label_pairs:
        clip_id = f"x_{content}_{style}_001"
        caps = bandai_captions(content, style, clip_id)
        assert len(caps) == 6 and len(set(caps)) == 6, (content, style, caps)
        assert caps == bandai_captions(content, style, clip_id)
        assert all(c == c.strip() and "  " not in c and "{" not in c for c in caps)
        held = bandai_captions(content, style, clip_id, heldout=True, n=4)
        assert len(set(held)) == 4, (content, style, held)


def test_captions_vary_between_takes_of_one_pair():
    sets = {tuple(bandai_captions("walk", "elderly", f"bandai2_walk_elderly_{t:03d}")) for t in range(1, 11)}
    assert len(sets) >= 8


def test_heldout_phrasings_never_appear_in_training(label_pairs):
    for content, style in label_pairs:
        train, held = set(), set()
        for take in range(1, 8):
            train |= set(bandai_captions(content, style, f"c{take}", n=8))
            held |= set(bandai_captions(content, style, f"c{take}", heldout=True, n=8))
        assert not train & held, (content, style, train & held)


def test_sides_and_directions_follow_the_label(label_pairs):
    for content, style in label_pairs:
        caps = bandai_captions(content, style, "id", n=8) + bandai_captions(
            content, style, "id", heldout=True, n=8
        )
        for side, other in (("left", "right"), ("right", "left")):
            if side in content.split("-"):
                assert all(re.search(rf"\b{side}", c) and not re.search(rf"\b{other}\b", c) for c in caps), (
                    caps
                )
        if "left" not in content and "right" not in content:
            assert not any(re.search(r"\b(left|right)\b", c) for c in caps), caps
        if content == "walk-back":
            assert all("backward" in c for c in caps), caps
        if content in ("walk", "run", "dash"):
            assert not any("backward" in c for c in caps), caps


def test_style_words_show_in_captions():
    old = bandai_captions("walk", "elderly", "bandai2_walk_elderly_001", n=8)
    assert sum(any(w in c for w in ("elderly", "old", "senior", "shuffles")) for c in old) == 8
    woman = bandai_captions("wave-left-hand", "feminine", "bandai2_wave-left-hand_feminine_001")
    assert any(c.startswith(("a woman", "a lady")) and "her left hand" in c for c in woman), woman


def test_unknown_labels_are_named():
    with pytest.raises(InvalidInputError, match="unknown Bandai-Namco style label 'sleepy'"):
        bandai_captions("walk", "sleepy", "x")
    with pytest.raises(InvalidInputError, match="content label 'fly'"):
        captions_for({"action": "fly", "style": "normal"}, "x")
    with pytest.raises(InvalidInputError, match="labels \\['foo'\\]"):
        captions_for({"foo": "bar"}, "x")


def test_cmu_descriptions_become_sentences_with_kit_sentences(cmu_index: Path, kitml_annotations: Path):
    index = read_cmu_index(cmu_index / "cmu-mocap-index-text.txt")
    assert len(index) == 2435 and index["131_03"] == "Start Hop Stop"
    kit = read_kitml_cmu(kitml_annotations / "datasets/annotations/kitml/annotations.json")
    assert len(kit) == 790  # the CMU motions of KIT-ML; mirrored copies ("M/...") are not counted again
    in_archives = [
        "01_01",
        "02_06",
        "02_09",
        "02_10",
        "05_16",
        "07_03",
        "07_04",
        "07_05",
        "07_07",
        "07_08",
        "07_09",
        "07_11",
        "131_02",
        "131_03",
    ]
    assert all(kit[t] for t in in_archives)
    assert kit["01_01"][0].startswith("A person hops forward with both feet")
    caps = cmu_captions(index["01_01"], "cmuiclone_01_01", kit_sentences=kit["01_01"])
    assert caps[0] == "playground - forward jumps, turn around"
    assert "a person does forward jumps and turns around on a playground" in caps
    assert kit["01_01"][0] in caps
    assert cmu_captions(index["07_04"], "c") == ["slow walk", "a person walks slowly"]
    assert cmu_captions(index["131_03"], "c") == ["Start Hop Stop", "a person starts, hops and stops"]
    held = captions_for({"description": index["02_03"]}, "c", heldout=True)
    assert held and not set(held) & set(cmu_captions(index["02_03"], "c"))
    rewritten = sum(bool(cmu_captions(d, k)[1:]) for k, d in index.items() if d.lower() != "unknown")
    assert rewritten / len(index) > 0.9


def test_idle_captions():
    acted = idle_captions("acted", "reactidle_acted_001")
    assert len(acted) == 5 and acted == captions_for({"idle": "acted"}, "reactidle_acted_001")
    assert all(any(w in c for w in ("idle", "wait", "stand", "rest")) for c in acted)
    assert not set(idle_captions("genuine", "g", heldout=True)) & set(idle_captions("genuine", "g", n=10))
    with pytest.raises(InvalidInputError, match="unknown idle category 'sleeping'"):
        idle_captions("sleeping", "x")
