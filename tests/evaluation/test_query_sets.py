"""Contract of the held-out query sets (``backend/evaluation/queries.yaml``, ``backend.evaluation.query_sets``).

* The bundled file loads; every concept of kind action/style has queries of both forms, absent concepts a pool.
* No query equals (after normalisation) any sentence the caption generators can produce for the library --
  training captions and the library's held-out phrasings -- for any Bandai-Namco label pair, HDM05 class or
  ReActIdle category, nor any caption of the library the run command built (CMU descriptions, their rewrites and
  KIT-ML sentences included; skipped when ``data/library`` is not built). Terse training forms are decontaminated
  in training (tests/training/test_levers.py).
* Matchers select exactly the clips of the concept on real labelled clips; bad files raise DatasetError naming
  the concept.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from backend.errors import DatasetError
from backend.evaluation.query_sets import concept_positives, load_query_set
from backend.model.losses import normalise_caption


def _all_library_phrasings() -> set[str]:
    from backend.library import caption_vocab as vocab
    from backend.library.captions import (
        IDLE_CATEGORIES,
        bandai_captions,
        captions_for,
        idle_captions,
    )
    from backend.library.hdm05 import CLASSES

    out: set[str] = set()
    styles = sorted({*vocab.STYLES, *vocab.STYLE_ALIASES})
    for action in vocab.CONTENTS:
        for style in styles:
            for heldout in (False, True):
                out.update(bandai_captions(action, style, "all", heldout=heldout, n=100_000))
    for cls in CLASSES:
        for heldout in (False, True):
            labels = {"hdm05": cls, "action": CLASSES[cls].action}
            for clip in range(40):  # subjects are drawn per clip: many clips cover every combination
                out.update(captions_for(labels, f"c{clip}", heldout=heldout, n=100))
    for cat in IDLE_CATEGORIES:
        for heldout in (False, True):
            out.update(idle_captions(cat, "all", heldout=heldout, n=100))
    return {normalise_caption(t) for t in out}


def test_bundled_query_set_loads() -> None:
    qs = load_query_set()
    assert len(qs.queries) >= 250
    for name, c in qs.concepts.items():
        forms = {q.form for q in qs.queries if q.concept == name}
        if c.kind == "absent":
            assert c.pool in ("fit", "eval") and not c.match
        else:
            assert forms == {"natural", "terse"}, name
    assert {c.pool for c in qs.concepts.values() if c.kind == "absent"} == {"fit", "eval"}
    assert sum(c.limb is not None for c in qs.concepts.values()) >= 6


def test_queries_are_disjoint_from_every_library_phrasing() -> None:
    phrasings = _all_library_phrasings()
    assert len(phrasings) > 10_000  # the generators really ran
    clashes = [q.text for q in load_query_set().queries if normalise_caption(q.text) in phrasings]
    assert clashes == []


def test_queries_are_not_captions_of_the_built_library() -> None:
    import json

    clips = Path(__file__).resolve().parents[2] / "data" / "library" / "clips.jsonl"
    if not clips.is_file():
        pytest.skip(f"no built library at {clips.parent} (bash scripts/run.sh --no-serve builds it)")
    captions = {
        normalise_caption(c) for line in clips.read_text().splitlines() for c in json.loads(line)["captions"]
    }
    assert len(captions) > 1_000
    assert [q.text for q in load_query_set().queries if normalise_caption(q.text) in captions] == []


def test_matchers_select_the_concepts_clips(sided_library: Path) -> None:
    from backend.motion.io.library import Library

    lib = Library.open(sided_library)
    labels = [lib.meta(i).labels for i in lib.ids]
    qs = load_query_set()
    left = concept_positives(qs.concepts["wave-left-hand"], labels)
    assert [lab["action"] == "wave-left-hand" for lab in labels] == left.tolist()
    wave = concept_positives(qs.concepts["wave"], labels)
    assert wave.sum() == sum(lab["action"].startswith("wave") for lab in labels) == 16
    elderly = concept_positives(qs.concepts["wave-elderly"], labels)
    assert elderly.sum() == 8 and all(labels[i]["style"] == "elderly" for i in elderly.nonzero()[0])
    assert not concept_positives(qs.concepts["swim"], labels).any()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("concepts: {x: {kind: action, match: [{action: walk}]}}", "'x': has no queries"),
        ("concepts: {x: {kind: nope, natural: [a]}}", "'x': kind must be one of"),
        ("concepts: {x: {kind: action, match: [{colour: red}], natural: [a]}}", r"'x': match\[0\]"),
        ("concepts: {x: {kind: absent, natural: [a]}}", "'x': pool must be fit or eval"),
        (
            "concepts: {x: {kind: absent, pool: fit, natural: [a b]}, y: {kind: absent, pool: eval, terse: [A  B]}}",
            "appears twice",
        ),
    ],
)
def test_bad_query_files_name_the_problem(tmp_path: Path, body: str, message: str) -> None:
    path = tmp_path / "q.yaml"
    path.write_text(body)
    with pytest.raises(DatasetError, match=message):
        load_query_set(path)
