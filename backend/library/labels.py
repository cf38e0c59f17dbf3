"""Readers for the label files of the sources: Bandai-Namco ``cfg``/JSON, the CMU index, KIT-ML sentences.

Every reader raises :class:`~backend.errors.DatasetError` naming the file (and line) that is wrong.
"""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path
from typing import NamedTuple

from backend.errors import DatasetError

__all__ = [
    "BandaiName",
    "cmu_trial_key",
    "parse_bandai_name",
    "parse_cmu_trial",
    "read_bandai_json",
    "read_bandai_label_lists",
    "read_cmu_csv",
    "read_cmu_index",
    "read_kitml_cmu",
]

_BN_NAME = re.compile(r"^dataset-(?P<set>\d+)_(?P<content>[a-z-]+)_(?P<style>[a-z-]+)_(?P<take>\d+)$")
_CMU_LINE = re.compile(r"^(?P<subject>\d+)_(?P<trial>\d+)\t(?P<text>.*)$")
_CMU_FILE = re.compile(r"(?:^|_)(?P<subject>\d{1,3})_(?P<trial>\d{1,2})(?:_|$)")
_KIT_CMU = re.compile(r"^CMU/(?P<subject>\d+)/(?P<subject2>\d+)_(?P<trial>\d+)_poses$")


class BandaiName(NamedTuple):
    """Parts of a Bandai-Namco file stem ``dataset-<set>_<content>_<style>_<take>``."""

    set: str
    content: str
    style: str
    take: int


def parse_bandai_name(stem: str) -> BandaiName:
    """Parse a Bandai-Namco file stem.

    >>> parse_bandai_name("dataset-2_raise-up-left-hand_active_090")
    BandaiName(set='2', content='raise-up-left-hand', style='active', take=90)

    Raises:
        DatasetError: the stem does not follow ``dataset-N_<content>_<style>_<take>``.
    """
    m = _BN_NAME.match(stem)
    if not m:
        raise DatasetError(f"{stem}: not a Bandai-Namco clip name (dataset-N_<content>_<style>_<take>)")
    return BandaiName(m["set"], m["content"], m["style"], int(m["take"]))


def _label_list(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read label list ({exc})") from exc
    labels = [re.sub(r"^dataset-\d+_", "", line.strip()) for line in text.splitlines() if line.strip()]
    if not labels:
        raise DatasetError(f"{path}: empty label list")
    return labels


def read_bandai_label_lists(dataset_dir: Path) -> tuple[list[str], list[str]]:
    """``(contents, styles)`` from ``<dataset>/cfg/{content,style}_label.txt``, ``dataset-N_`` prefixes removed."""
    cfg = Path(dataset_dir) / "cfg"
    return _label_list(cfg / "content_label.txt"), _label_list(cfg / "style_label.txt")


def read_bandai_json(path: Path, contents: list[str], styles: list[str]) -> tuple[str, str]:
    """``(content, style)`` of a clip from its ``{"content": i, "style": j}`` JSON and the label lists.

    Raises:
        DatasetError: unreadable JSON, missing keys, or an index out of range (names the file and value).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        i, j = int(data["content"]), int(data["style"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise DatasetError(f"{path}: not a Bandai-Namco label file ({exc})") from exc
    if not (0 <= i < len(contents)) or not (0 <= j < len(styles)):
        raise DatasetError(
            f"{path}: label index out of range (content {i} of {len(contents)}, style {j} of {len(styles)})"
        )
    return contents[i], styles[j]


def cmu_trial_key(subject: int, trial: int) -> str:
    """``(1, 1)`` -> ``"01_01"``; ``(131, 2)`` -> ``"131_02"`` (the CMU index spelling)."""
    return f"{subject:02d}_{trial:02d}"


def parse_cmu_trial(file_name: str) -> tuple[int, int]:
    """``(subject, trial)`` from a CMU BVH file name (``001_01.bvh``, ``cmu_12_01_walk.bvh``, ``131_02.bvh``).

    Raises:
        DatasetError: no ``<subject>_<trial>`` in the name.
    """
    m = _CMU_FILE.search(Path(file_name).stem)
    if not m:
        raise DatasetError(f"{file_name}: no CMU <subject>_<trial> id in the file name")
    return int(m["subject"]), int(m["trial"])


def read_cmu_index(path: Path) -> dict[str, str]:
    """``{"01_01": "playground - forward jumps, turn around", ...}`` from ``cmu-mocap-index-text.txt``."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise DatasetError(f"{path}: cannot read the CMU index ({exc})") from exc
    table = {}
    for line in lines:
        m = _CMU_LINE.match(line.rstrip("\r"))
        if m:
            table[cmu_trial_key(int(m["subject"]), int(m["trial"]))] = m["text"].strip()
    if not table:
        raise DatasetError(f"{path}: no 'SS_TT<TAB>description' lines")
    return table


def read_cmu_csv(path: Path) -> dict[str, str]:
    """The same table from IClone-CMU-Mocap's ``CMU data.csv`` (columns Subject, Trial #, Motion Description)."""
    table = {}
    try:
        with open(path, newline="", encoding="utf-8") as fh:
            for number, row in enumerate(csv.DictReader(fh), 2):
                try:
                    key = cmu_trial_key(int(row["Subject"]), int(row["Trial #"]))
                except (KeyError, ValueError, TypeError) as exc:
                    raise DatasetError(f"{path}:{number}: bad Subject / Trial # ({exc})") from exc
                table[key] = (row.get("Motion Description") or "").strip()
    except OSError as exc:
        raise DatasetError(f"{path}: cannot read ({exc})") from exc
    return table


def read_kitml_cmu(path: Path) -> dict[str, list[str]]:
    """KIT-ML sentences of CMU trials: ``{"01_01": ["A person hops forward ...", ...]}``.

    Only original motions count (paths ``CMU/<subject>/<subject>_<trial>_poses``); mirrored copies
    (``M/...``) are skipped. Sentences keep their original text.
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DatasetError(f"{path}: cannot read KIT-ML annotations ({exc})") from exc
    table: dict[str, list[str]] = {}
    for entry in data.values():
        m = _KIT_CMU.match(str(entry.get("path", "")) if isinstance(entry, dict) else "")
        if not m:
            continue
        trial = cmu_trial_key(int(m["subject2"]), int(m["trial"]))
        for ann in entry.get("annotations", []):
            text = str(ann.get("text", "")).strip()
            if text and text not in table.setdefault(trial, []):
                table[trial].append(text)
    return table
