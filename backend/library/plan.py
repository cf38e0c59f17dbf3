"""Plan a library build: list each source's clips with ids, labels, captions, performer and split.

Clip ids: ``bandai<set>_<content>_<style>_<take>`` (``bandai2_walk_elderly_001``), ``cmu_<SS>_<TT>`` (one clip
per CMU trial, whichever conversion it came from), ``hdm05_<actor>_<class>_<take>``,
``reactidle_<acted|genuine>_<performer>``. ``ClipTask.source`` is the file's path relative to its source folder
(e.g. ``dataset/Bandai-Namco-Research-Motiondataset-2/data/<file>.bvh``).

The same CMU trial comes in several conversions (cgspeed MotionBuilder, cgspeed Daz, iClone, the samples):
:func:`dedupe_trials` keeps one clip per trial, from the first source of :data:`CMU_SOURCE_PRIORITY` that has it
(the cgspeed MotionBuilder rig is the closest to CMU's own skeleton), and reports the others as dropped.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from backend.errors import DatasetError, MotionSearchError
from backend.library.captions import bandai_captions, cmu_captions, idle_captions
from backend.library.hdm05 import CLASSES as HDM05_CLASSES
from backend.library.hdm05 import hdm05_captions, parse_hdm05_name
from backend.library.labels import (
    cmu_trial_key,
    parse_bandai_name,
    parse_cmu_trial,
    read_bandai_json,
    read_bandai_label_lists,
    read_cmu_csv,
    read_cmu_index,
    read_kitml_cmu,
)
from backend.library.sources import get_source
from backend.library.splits import (
    bandai_group,
    bandai_split,
    cmu_group,
    group_split,
    hdm05_group,
    reactidle_group,
)

__all__ = [
    "CMU_SOURCE_PRIORITY",
    "ClipTask",
    "TextTables",
    "dedupe_trials",
    "load_text_tables",
    "plan_source",
    "spread",
]

#: CMU sources in the order a trial's copy is preferred (one clip per trial)
CMU_SOURCE_PRIORITY: tuple[str, ...] = (
    "cmu-cgspeed-s01-09",
    "cmu-bvh-samples",
    "cmu-daz-s02-16",
    "cmu-iclone",
)

log = logging.getLogger(__name__)

_KIT_JSON = "kitml-annotations/datasets/annotations/kitml/annotations.json"
_CMU_INDEX = "cmu-index/cmu-mocap-index-text.txt"
_CMU_CSV = "cmu-iclone/CMU data.csv"


@dataclass(frozen=True)
class ClipTask:
    """Everything a worker needs to convert one clip (picklable)."""

    path: str
    clip_id: str
    dataset: str
    source: str
    licence: str
    labels: dict[str, str]
    captions: list[str]
    performer: str
    split: str


@dataclass
class TextTables:
    """Caption sources shared by several motion sources.

    Attributes:
        cmu: CMU trial key (``"01_01"``) -> description.
        kit: CMU trial key -> KIT-ML sentences.
        used: names of the text sources that were found and read.
    """

    cmu: dict[str, str] = field(default_factory=dict)
    kit: dict[str, list[str]] = field(default_factory=dict)
    used: list[str] = field(default_factory=list)


def load_text_tables(sources_dir: Path, *, needs_cmu: bool) -> TextTables:
    """Read the CMU index (or, failing that, ``CMU data.csv``) and the KIT-ML sentences if present.

    Raises:
        DatasetError: CMU clips are requested but neither CMU description table exists (names both paths).
    """
    tables = TextTables()
    if needs_cmu:
        if (sources_dir / _CMU_INDEX).is_file():
            tables.cmu = read_cmu_index(sources_dir / _CMU_INDEX)
            tables.used.append("cmu-index")
        elif (sources_dir / _CMU_CSV).is_file():
            tables.cmu = read_cmu_csv(sources_dir / _CMU_CSV)
        else:
            raise DatasetError(
                f"{sources_dir}: CMU captions need {_CMU_INDEX} or {_CMU_CSV}; run `python -m backend data fetch "
                "--only cmu-index`"
            )
        if (sources_dir / _KIT_JSON).is_file():
            tables.kit = read_kitml_cmu(sources_dir / _KIT_JSON)
            tables.used.append("kitml-annotations")
        else:
            log.warning("%s missing: CMU clips get no KIT-ML sentences", sources_dir / _KIT_JSON)
    return tables


def spread(items: list, limit: int | None) -> list:
    """At most ``limit`` items, evenly spaced over ``items`` (all of them when ``limit`` is ``None``).

    >>> spread(list(range(10)), 3)
    [0, 3, 6]
    """
    if limit is None or limit >= len(items):
        return list(items)
    if limit <= 0:
        return []
    step = len(items) / limit
    return [items[int(i * step)] for i in range(limit)]


def _rel(path: Path, root: Path) -> str:
    return path.relative_to(root).as_posix()


def _plan_bandai(name: str, root: Path, limit: int | None) -> tuple[list[ClipTask], list[dict[str, str]]]:
    source = get_source(name)
    data_root = root / source.dataset_root
    contents, styles = read_bandai_label_lists(data_root)
    labels_files = sorted((data_root / "data").glob("*.json"))
    if not labels_files:
        raise DatasetError(f"{data_root / 'data'}: no Bandai-Namco label files (*.json)")
    tasks, skipped = [], []
    bvh_without_json = {p.stem for p in (data_root / "data").glob("*.bvh")} - {p.stem for p in labels_files}
    for stem in sorted(bvh_without_json):
        skipped.append(
            {"file": f"{name}/{_rel(data_root / 'data' / (stem + '.bvh'), root)}", "reason": "no label JSON"}
        )
    for json_path in spread(labels_files, limit):
        bvh = json_path.with_suffix(".bvh")
        rel = _rel(bvh, root)
        try:
            parsed = parse_bandai_name(json_path.stem)
            content, style = read_bandai_json(json_path, contents, styles)
            if (content, style) != (parsed.content, parsed.style):
                raise DatasetError(
                    f"{json_path}: labels {content}/{style} disagree with the file name ({parsed.content}/{parsed.style})"
                )
            if not bvh.is_file():
                raise DatasetError("BVH file missing from the source (its label JSON is present)")
            clip_id = f"bandai{parsed.set}_{content}_{style}_{parsed.take:03d}"
            tasks.append(
                ClipTask(
                    path=str(bvh),
                    clip_id=clip_id,
                    dataset=name,
                    source=rel,
                    licence=source.licence,
                    labels={
                        "action": content,
                        "style": style,
                        "take": f"{parsed.take:03d}",
                        "group": bandai_group(name, content, style, parsed.take),  # the held-out unit
                    },
                    captions=bandai_captions(content, style, clip_id),
                    performer="",  # the three actors are not labelled per file; the take is the held-out unit
                    split=bandai_split(name, content, style, parsed.take),
                )
            )
        except MotionSearchError as exc:
            skipped.append({"file": f"{name}/{rel}", "reason": str(exc)})
    return tasks, skipped


def _plan_cmu(
    name: str, root: Path, tables: TextTables, limit: int | None
) -> tuple[list[ClipTask], list[dict[str, str]]]:
    source = get_source(name)
    tasks, skipped = [], []
    for bvh in spread(sorted(root.rglob("*.bvh")), limit):
        rel = _rel(bvh, root)
        try:
            subject, trial = parse_cmu_trial(bvh.name)
        except MotionSearchError as exc:
            skipped.append({"file": f"{name}/{rel}", "reason": str(exc)})
            continue
        key = cmu_trial_key(subject, trial)
        clip_id = f"cmu_{key}"
        description = tables.cmu.get(key, "")
        group = cmu_group(subject)
        tasks.append(
            ClipTask(
                path=str(bvh),
                clip_id=clip_id,
                dataset=name,
                source=rel,
                licence=source.licence,
                labels={"trial": key, "subject": f"{subject:02d}", "description": description},
                captions=cmu_captions(description, clip_id, kit_sentences=tables.kit.get(key, ())),
                performer=group,
                split=group_split(group),
            )
        )
    return tasks, skipped


def _plan_hdm05(name: str, root: Path, limit: int | None) -> tuple[list[ClipTask], list[dict[str, str]]]:
    source = get_source(name)
    tasks, skipped = [], []
    for amc in spread(sorted(root.rglob("*.amc")), limit):
        rel = _rel(amc, root)
        try:
            parsed = parse_hdm05_name(amc.stem)
        except MotionSearchError as exc:
            skipped.append({"file": f"{name}/{rel}", "reason": str(exc)})
            continue
        clip_id = f"hdm05_{parsed.actor}_{parsed.cls}_{parsed.take:03d}"
        group = hdm05_group(parsed.actor)
        tasks.append(
            ClipTask(
                path=str(amc),
                clip_id=clip_id,
                dataset=name,
                source=rel,
                licence=source.licence,
                labels={
                    "action": HDM05_CLASSES[parsed.cls].action,
                    "hdm05": parsed.cls,
                    "actor": parsed.actor,
                    "take": f"{parsed.take:03d}",
                },
                captions=hdm05_captions(parsed.cls, clip_id),
                performer=group,
                split=group_split(group),
            )
        )
    return tasks, skipped


def dedupe_trials(tasks: list[ClipTask]) -> tuple[list[ClipTask], list[dict[str, str]]]:
    """One clip per CMU trial: keep the copy of the best source (:data:`CMU_SOURCE_PRIORITY`).

    Returns:
        ``(kept, dropped)``: the tasks in their order minus the dropped copies, and ``{"file", "kept"}`` per
        dropped copy (``kept`` = the clip id and source of the copy that stays).
    """
    rank = {n: i for i, n in enumerate(CMU_SOURCE_PRIORITY)}
    best: dict[str, ClipTask] = {}
    for task in tasks:
        trial = task.labels.get("trial")
        if task.dataset not in rank or not trial:
            continue
        if trial not in best or rank[task.dataset] < rank[best[trial].dataset]:
            best[trial] = task
    kept, dropped = [], []
    for task in tasks:
        trial = task.labels.get("trial")
        winner = best.get(trial) if task.dataset in rank and trial else None
        if winner is None or winner is task:
            kept.append(task)
        else:
            dropped.append(
                {"file": f"{task.dataset}/{task.source}", "kept": f"{winner.clip_id} ({winner.dataset})"}
            )
    return kept, dropped


def _plan_reactidle(name: str, root: Path, limit: int | None) -> tuple[list[ClipTask], list[dict[str, str]]]:
    source = get_source(name)
    tasks = []
    files = sorted([*root.glob("acted/*.bvh"), *root.glob("genuine/*.bvh")])
    for bvh in spread(files, limit):
        category = bvh.parent.name
        performer = bvh.stem.split("_")[0]
        clip_id = f"reactidle_{category}_{performer}"
        group = reactidle_group(performer)
        tasks.append(
            ClipTask(
                path=str(bvh),
                clip_id=clip_id,
                dataset=name,
                source=_rel(bvh, root),
                licence=source.licence,
                labels={"idle": category},
                captions=idle_captions(category, clip_id),
                performer=group,
                split=group_split(group),
            )
        )
    return tasks, []


def plan_source(
    name: str, root: Path, tables: TextTables, *, limit: int | None = None
) -> tuple[list[ClipTask], list[dict[str, str]]]:
    """Plan the clips of one fetched source folder.

    Args:
        name: source name (``bandai-namco-2``, ``cmu-iclone``, ...).
        root: its folder (``<sources>/<name>``).
        tables: CMU descriptions and KIT-ML sentences.
        limit: at most this many clips, evenly spaced (see :func:`spread`).

    Returns:
        ``(tasks, skipped)``: clips to convert, and ``{"file", "reason"}`` for files that cannot even be
        planned (missing BVH, contradictory labels).

    Raises:
        DatasetError: the folder lacks the source's label files.
    """
    if name.startswith("bandai-namco"):
        return _plan_bandai(name, root, limit)
    if name.startswith("cmu-"):
        return _plan_cmu(name, root, tables, limit)
    if name == "reactidle":
        return _plan_reactidle(name, root, limit)
    if name == "hdm05-cuts":
        return _plan_hdm05(name, root, limit)
    raise DatasetError(f"{root}: no clip planner for source {name!r}")
