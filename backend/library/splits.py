"""Deterministic train / val / test splits, held out by performer or by take (never by frames).

The rule:

* **Bandai-Namco** (performers are not labelled; each file is one take of a content x style pair):
  take ``001`` of every pair is in ``train``, so every content x style combination is seen in training.
  Dataset 1 has a second take for only 18 pairs: every take ``>= 002`` is held out, ``val`` or ``test`` by a
  hash of the pair. Dataset 2 (17-104 takes per pair): takes ``>= 002`` go by a hash of
  ``(content, style, take)``: buckets 0-79 ``train``, 80-89 ``val``, 90-99 ``test``.
* **CMU** (both conversions): by subject, so one subject's trials never straddle two splits, even across
  the iClone and cgspeed copies of the same trial.
* **HDM05**: by actor, as upstream: its test actors ``mm`` and ``tr`` never train (``mm`` is ``val``, ``tr``
  ``test``); ``bd``, ``bk``, ``dg`` are ``train``.
* **ReActIdle**: by performer (the clip number is the performer id; acted and genuine clips of one person
  share it).

For CMU (8 subjects) and ReActIdle (14 performers) a hash over so few performers is lumpy (a 20-clip subject
can land in ``val``), so the performers of the pinned sources are assigned in :data:`FIXED_GROUP_SPLITS`:
CMU subject 2 (varied actions, KIT-ML sentences) is ``test``, subjects 3 and 131 are ``val``; ReActIdle
performer 003 is ``test`` and 011 ``val``; the rest ``train``. Any other performer falls back to the hash
buckets. Nothing depends on which other clips are built, so a partial build gets the same splits.
"""

from __future__ import annotations

import hashlib

from backend.errors import InvalidInputError

__all__ = [
    "FIXED_GROUP_SPLITS",
    "SPLITS",
    "bandai_group",
    "bandai_split",
    "bucket",
    "cmu_group",
    "group_split",
    "hdm05_group",
    "reactidle_group",
    "split_from_bucket",
]

SPLITS: tuple[str, ...] = ("train", "val", "test")
_SALT = "motion-search-split-v1"

#: performer group -> split for the performers of the pinned sources (too few for a hash to give a sane
#: val / test share); any other performer goes by :func:`bucket`
FIXED_GROUP_SPLITS: dict[str, str] = {
    # CMU subjects (iClone + cgspeed copies): 61 + 7 clips
    "cmu:01": "train",  # playground (3 + 1 clips)
    "cmu:02": "test",  # walk, run, jump, punch, swordplay, wash: varied; 3 trials with KIT-ML sentences (10 + 1)
    "cmu:03": "val",  # walk on uneven terrain (2)
    "cmu:05": "train",  # ballet (20 + 1)
    "cmu:06": "train",  # basketball (14)
    "cmu:07": "train",  # walks (12)
    "cmu:12": "train",  # walk (1)
    "cmu:131": "val",  # start / walk / hop / stop (3)
    "cmu:08": "train",  # walks (cgspeed: 11)
    "cmu:09": "train",  # runs (cgspeed: 12)
    "cmu:10": "train",  # walk (Daz: 1 new)
    "cmu:13": "train",  # jumps, jump up to grab (Daz: 8 new)
    "cmu:14": "val",  # jump up to grab, reach for, tiptoe (Daz)
    "cmu:16": "test",  # jumps (Daz: 2 new)
    # HDM05 actors: upstream's train actors train, its test actors never do
    **{f"hdm05:{a}": "train" for a in ("bd", "bk", "dg")},
    "hdm05:mm": "val",
    "hdm05:tr": "test",
    # ReActIdle performers (acted and/or genuine clip each)
    **{f"reactidle:{p:03d}": "train" for p in (0, 1, 2, 4, 7, 8, 9, 10, 12, 13, 14, 15)},
    "reactidle:003": "test",  # acted + genuine
    "reactidle:011": "val",  # acted + genuine
}


def bucket(key: str) -> int:
    """Stable bucket in ``0..99`` of a string (SHA-256 based; independent of Python's hash seed).

    >>> bucket("cmu:01") == bucket("cmu:01")
    True
    """
    digest = hashlib.sha256(f"{_SALT}:{key}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def split_from_bucket(value: int) -> str:
    """``0-79`` -> ``train``, ``80-89`` -> ``val``, ``90-99`` -> ``test``."""
    if not 0 <= value < 100:
        raise InvalidInputError(f"split bucket must be in 0..99, got {value}")
    return "train" if value < 80 else "val" if value < 90 else "test"


def bandai_group(dataset: str, content: str, style: str, take: int) -> str:
    """The held-out unit of a Bandai-Namco clip: one take of one content x style pair."""
    return f"{dataset}:{content}:{style}:{take:03d}"


def bandai_split(dataset: str, content: str, style: str, take: int) -> str:
    """Split of a Bandai-Namco take (see the module docstring).

    >>> bandai_split("bandai-namco-2", "walk", "elderly", 1)
    'train'
    """
    if take < 1:
        raise InvalidInputError(f"Bandai-Namco take number must be >= 1, got {take} ({content}_{style})")
    if take == 1:
        return "train"
    if dataset == "bandai-namco-1":
        return "val" if bucket(f"{dataset}:{content}:{style}") % 2 == 0 else "test"
    return split_from_bucket(bucket(bandai_group(dataset, content, style, take)))


def cmu_group(subject: int) -> str:
    """Performer group of a CMU trial (``"cmu:07"``); subjects above 99 keep three digits."""
    return f"cmu:{subject:02d}"


def hdm05_group(actor: str) -> str:
    """Performer group of an HDM05 clip (``"hdm05:bd"``)."""
    return f"hdm05:{actor}"


def reactidle_group(performer: str) -> str:
    """Performer group of a ReActIdle clip (``"reactidle:003"``)."""
    return f"reactidle:{performer}"


def group_split(group: str) -> str:
    """Split of a performer group: the fixed table first, else the hash buckets."""
    return FIXED_GROUP_SPLITS.get(group) or split_from_bucket(bucket(group))
