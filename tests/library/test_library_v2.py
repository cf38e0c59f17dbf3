"""Library v2 on the real archives: one clip per CMU trial across the four CMU conversions, HDM05 planned with
actor-held-out splits, and its captions with disjoint held-out phrasings (planning only: no conversion)."""

from __future__ import annotations

from collections import Counter

from backend.library.captions import captions_for
from backend.library.hdm05 import CLASSES
from backend.library.plan import CMU_SOURCE_PRIORITY, dedupe_trials, load_text_tables, plan_source


def test_one_clip_per_cmu_trial_across_rigs(cmu_cgspeed, cmu_daz, cmu_iclone, cmu_samples, cmu_index) -> None:
    sources = cmu_index.parent  # the test cache holds every extracted archive as <name>/
    tables = load_text_tables(sources, needs_cmu=True)
    tasks = []
    for name in ("cmu-iclone", "cmu-daz-s02-16", "cmu-bvh-samples", "cmu-cgspeed-s01-09"):  # any order
        planned, skipped = plan_source(name, sources / name, tables)
        assert skipped == []
        tasks += planned
    per_source = Counter(t.dataset for t in tasks)
    assert per_source == {
        "cmu-cgspeed-s01-09": 98,
        "cmu-iclone": 61,
        "cmu-daz-s02-16": 58,
        "cmu-bvh-samples": 7,
    }
    kept, dropped = dedupe_trials(tasks)
    trials = [t.labels["trial"] for t in kept]
    assert len(trials) == len(set(trials)) == len({t.labels["trial"] for t in tasks})
    assert len(kept) + len(dropped) == len(tasks)
    by_trial = {t.labels["trial"]: t for t in kept}
    cgspeed = {t.labels["trial"] for t in tasks if t.dataset == "cmu-cgspeed-s01-09"}
    assert all(by_trial[k].dataset == "cmu-cgspeed-s01-09" for k in cgspeed)  # the preferred conversion
    assert not any(t.dataset == "cmu-iclone" for t in kept)  # every iClone take is also in cgspeed
    assert {k for k, t in by_trial.items() if t.dataset == "cmu-bvh-samples"} == {"12_01", "131_01", "131_02",
                                                                                  "131_03"}  # fmt: skip
    new_daz = {k for k, t in by_trial.items() if t.dataset == "cmu-daz-s02-16"}
    # 10_04, 12_02-03, 13_10-42 (8), 14_07-08, 16_01-02; its 12_01 is the samples copy
    assert {"10_04", "12_02", "12_03", "13_10", "14_07", "16_01"} <= new_daz and len(new_daz) == 15
    assert all(t.clip_id == f"cmu_{t.labels['trial']}" for t in kept)
    for d in dropped:  # each dropped copy names the clip that stays, from a source ranked before its own
        kept_id, kept_source = d["kept"].split(" (")
        source = d["file"].split("/")[0]
        assert CMU_SOURCE_PRIORITY.index(kept_source.rstrip(")")) < CMU_SOURCE_PRIORITY.index(source)
        assert by_trial[kept_id.removeprefix("cmu_")].clip_id == kept_id


def test_hdm05_plan_splits_by_actor_and_labels_every_class(hdm05) -> None:
    tasks, skipped = plan_source("hdm05-cuts", hdm05, load_text_tables(hdm05.parent, needs_cmu=False))
    assert skipped == [] and len(tasks) == 287
    splits = Counter((t.labels["actor"], t.split) for t in tasks)
    assert {a for a, s in splits if s == "train"} == {"bd", "bk", "dg"}  # upstream's train actors
    assert {(a, s) for a, s in splits if a in ("mm", "tr")} == {("mm", "val"), ("tr", "test")}
    for cls, entry in CLASSES.items():
        of_class = [t for t in tasks if t.labels["hdm05"] == cls]
        assert {t.split for t in of_class} == {"train", "val", "test"}, cls
        assert all(t.labels["action"] == entry.action for t in of_class)
        assert all(t.path.endswith(".amc") and t.licence.startswith("HDM05") for t in of_class)


def test_hdm05_heldout_captions_are_disjoint_from_training(hdm05) -> None:
    tasks, _ = plan_source("hdm05-cuts", hdm05, load_text_tables(hdm05.parent, needs_cmu=False))
    training = {c for t in tasks for c in t.captions}
    for t in tasks[::7]:
        assert t.captions == captions_for(t.labels, t.clip_id) and len(t.captions) == 6
        heldout = captions_for(t.labels, t.clip_id, heldout=True)
        assert heldout and not set(heldout) & training
        assert len(set(t.captions)) == len(t.captions)
    # the side named by the class is in every caption and never contradicted
    for t in tasks:
        side = {"kickLFront1Reps": "left", "grabHighR": "right", "depositFloorR": "right"}.get(
            t.labels["hdm05"]
        )
        if side:
            other = "right" if side == "left" else "left"
            assert all(other not in c for c in t.captions), t.captions
