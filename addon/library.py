# SPDX-License-Identifier: GPL-3.0-or-later
"""Adding clips to the backend's library: request bodies, answers, ids, tags, captions (pure: no bpy).

``POST /library`` takes a clip in two forms (``docs/api.md``):

* JSON with the motion itself, ``{"joints": [[[x, y, z] x 22] x T], "fps", "id"?, "caption"?, "tags"?,
  "licence"?, "commercial_use"?}`` (SMPL-22, metres, Y up, as for ``/describe``): what the add-on sends for
  an action it sampled (:func:`add_joints_request`);
* a multipart upload of a motion file (an ``.amc`` goes with its skeleton in a second file field ``asf``;
  ``tags`` comma-separated): what the add-on sends for Acclaim files, which Blender cannot import
  (:func:`multipart_body`).
"""

from __future__ import annotations

import math
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .errors import AddonError, BackendHTTPError, BadResponseError, MotionDataError
from .urls import normalise_url

__all__ = [
    "CAPTION_MAX_CHARS",
    "ID_ATTEMPTS",
    "ID_MAX_CHARS",
    "MAX_TAGS",
    "TAG_MAX_CHARS",
    "UPLOAD_MAX_BYTES",
    "ClipInfo",
    "LibraryAdded",
    "LibraryInfoError",
    "add_joints_request",
    "add_under_free_id",
    "caption_from_name",
    "clip_id_from_name",
    "library_label",
    "multipart_body",
    "parse_tags",
    "upload_fields",
]

#: the backend's clip id rule: 1-128 of ``A-Z a-z 0-9 _ - .``, starting with a letter or digit
ID_MAX_CHARS = 128
#: ``caption`` limit of ``POST /library`` (characters)
CAPTION_MAX_CHARS = 1000
#: tags per clip the backend stores, and characters per tag
MAX_TAGS = 32
TAG_MAX_CHARS = 64
#: motion files larger than this are refused by the backend (``413``); the add-on skips them up front
UPLOAD_MAX_BYTES = 64 * 1024 * 1024

#: ids tried for a clip whose id a different clip has: ``<id>``, ``<id>_2``, ... ``<id>_<ID_ATTEMPTS>``
ID_ATTEMPTS = 20

_ID_BAD = re.compile(r"[^A-Za-z0-9_.-]+")
_WORD_SPLIT = re.compile(r"[^A-Za-z0-9]+")
_CAMEL = re.compile(r"([a-z])([A-Z])")


class LibraryInfoError(AddonError):
    """A clip's caption, tags, licence or id cannot be sent (names the field and the rule)."""


def clip_id_from_name(name: str) -> str:
    """A valid clip id made from an action or file name (characters outside ``A-Z a-z 0-9 _ - .`` -> ``_``).

    A name with no usable character gets a random id (``clip_<8 hex>``).

    >>> clip_id_from_name("mixamorig|Running Jump"), clip_id_from_name("  .walk (2)"), clip_id_from_name("été")
    ('mixamorig_Running_Jump', 'walk_2', 't')
    """
    cleaned = _ID_BAD.sub("_", name.strip()).strip("_.-")
    cleaned = cleaned[:ID_MAX_CHARS].rstrip("_.-")
    return cleaned or f"clip_{secrets.token_hex(4)}"


def caption_from_name(name: str) -> str:
    """A caption from a file or action name: its words in lower case, numbers dropped.

    >>> caption_from_name("RunningJump_001"), caption_from_name("dataset-1_bow_normal_001"), caption_from_name("0042")
    ('running jump', 'dataset bow normal', '')
    """
    words = _WORD_SPLIT.split(_CAMEL.sub(r"\1 \2", name))
    return " ".join(w.lower() for w in words if w and not w.isdigit())


def parse_tags(text: str | list[str] | tuple[str, ...]) -> list[str]:
    """Comma-separated tags (or a list of them) -> stripped, unique, in order; at most :data:`MAX_TAGS`.

    >>> parse_tags(" mocap, walk ,, Walk,walk ")
    ['mocap', 'walk', 'Walk']

    Raises:
        LibraryInfoError: more than :data:`MAX_TAGS` tags, or one longer than :data:`TAG_MAX_CHARS` / with a comma.
    """
    parts = text.split(",") if isinstance(text, str) else [str(t) for t in text]
    out: list[str] = []
    for part in parts:
        tag = part.strip()
        if tag and tag not in out:
            out.append(tag)
    if len(out) > MAX_TAGS:
        raise LibraryInfoError(f"tags: {len(out)} given, at most {MAX_TAGS} per clip")
    for tag in out:
        if len(tag) > TAG_MAX_CHARS or "," in tag:
            raise LibraryInfoError(f"tag {tag[:20]!r}...: at most {TAG_MAX_CHARS} characters and no commas")
    return out


@dataclass(frozen=True)
class ClipInfo:
    """What is stored with an added clip besides its motion.

    Attributes:
        id: clip id ("" = let the backend choose).
        caption: a description ("" = none).
        tags: tags the search can filter on.
        licence: the clip's licence ("" = none given).
        commercial_use: that licence allows commercial use.
    """

    id: str = ""
    caption: str = ""
    tags: tuple[str, ...] = ()
    licence: str = ""
    commercial_use: bool = False

    def checked(self) -> ClipInfo:
        """This info with stripped text, checked against the backend's limits.

        Raises:
            LibraryInfoError: an id that breaks the id rule, a too long caption, too many tags.
        """
        clip_id = self.id.strip()
        if clip_id and (len(clip_id) > ID_MAX_CHARS or _ID_BAD.search(clip_id) or not clip_id[0].isalnum()):
            raise LibraryInfoError(
                f"id {clip_id!r}: use 1-{ID_MAX_CHARS} of A-Z a-z 0-9 _ - . starting with a letter or digit"
            )
        caption = " ".join(self.caption.split())
        if len(caption) > CAPTION_MAX_CHARS:
            raise LibraryInfoError(f"caption has {len(caption)} characters; at most {CAPTION_MAX_CHARS}")
        return ClipInfo(clip_id, caption, tuple(parse_tags(list(self.tags))), self.licence.strip(),
                        bool(self.commercial_use))  # fmt: skip

    def fields(self) -> dict[str, Any]:
        """The JSON fields of ``POST /library`` for this info (empty ones left out)."""
        info = self.checked()
        out: dict[str, Any] = {"commercial_use": info.commercial_use}
        if info.id:
            out["id"] = info.id
        if info.caption:
            out["caption"] = info.caption
        if info.tags:
            out["tags"] = list(info.tags)
        if info.licence:
            out["licence"] = info.licence
        return out


def add_joints_request(joints_yup: np.ndarray, fps: float, info: ClipInfo) -> dict[str, Any]:
    """JSON body of ``POST /library`` with the motion as joints.

    Args:
        joints_yup: ``(T, 22, 3)`` SMPL-22 positions, metres, **Y up** (what ``anim.sample`` returns).
        fps: their frame rate.
        info: what to store with the clip.

    Raises:
        MotionDataError: wrong shape, no frames, non-finite values or a bad fps.
        LibraryInfoError: info that breaks the backend's limits.
    """
    j = np.asarray(joints_yup, dtype=np.float64)
    if j.ndim != 3 or j.shape[1:] != (22, 3) or j.shape[0] == 0:
        raise MotionDataError(f"library joints must have shape (T>0, 22, 3); got {j.shape}")
    if not np.isfinite(j).all():
        raise MotionDataError("library joints contain non-finite values (NaN or infinity)")
    if not (math.isfinite(fps) and fps > 0):
        raise MotionDataError(f"library fps must be a positive number; got {fps}")
    return {"joints": np.round(j, 5).tolist(), "fps": float(fps), **info.fields()}


def multipart_body(
    fields: dict[str, str], files: dict[str, tuple[str, bytes]], boundary: str = ""
) -> tuple[bytes, str]:
    """``multipart/form-data`` body of text ``fields`` and ``files`` (``{field: (file name, bytes)}``).

    Returns:
        ``(body, content type)``; the content type carries the boundary.
    """
    boundary = boundary or f"motion-search-{secrets.token_hex(16)}"
    sep = f"--{boundary}\r\n".encode("ascii")
    chunks: list[bytes] = []
    for name, value in fields.items():
        chunks += [sep, f'Content-Disposition: form-data; name="{_quote(name)}"\r\n\r\n'.encode()]
        chunks += [value.encode("utf-8"), b"\r\n"]
    for name, (filename, data) in files.items():
        if f"--{boundary}".encode("ascii") in data:
            raise ValueError(f"file {filename!r} contains the multipart boundary; pick another boundary")
        head = f'Content-Disposition: form-data; name="{_quote(name)}"; filename="{_quote(filename)}"\r\n'
        chunks += [sep, head.encode(), b"Content-Type: application/octet-stream\r\n\r\n", data, b"\r\n"]
    chunks.append(f"--{boundary}--\r\n".encode("ascii"))
    return b"".join(chunks), f"multipart/form-data; boundary={boundary}"


def _quote(text: str) -> str:
    """A header parameter value: quotes, backslashes and line breaks escaped as browsers do."""
    return text.replace("\\", "\\\\").replace('"', "%22").replace("\r", "%0D").replace("\n", "%0A")


def upload_fields(info: ClipInfo) -> dict[str, str]:
    """The text form fields of a multipart ``POST /library`` (``tags`` comma-separated)."""
    out: dict[str, str] = {}
    for key, value in info.fields().items():
        if key == "tags":
            out[key] = ",".join(value)
        elif key == "commercial_use":
            out[key] = "true" if value else "false"
        else:
            out[key] = str(value)
    return out


@dataclass(frozen=True)
class LibraryAdded:
    """``POST /library`` answer: the stored clip's id and duration (seconds)."""

    id: str
    duration: float

    @classmethod
    def from_json(cls, d: Any) -> LibraryAdded:
        if not isinstance(d, dict) or not isinstance(d.get("id"), str):
            raise BadResponseError("the answer to POST /library has no clip id")
        duration = d.get("duration")
        if not isinstance(duration, (int, float)) or isinstance(duration, bool):
            raise BadResponseError("the answer to POST /library has no duration")
        return cls(d["id"], float(duration))


def library_label(url: str, libraries: list[tuple[str, str]]) -> str:
    """Which named library ``url`` is: ``"<name> (<url>)"``, or the bare URL when no name has it.

    Args:
        url: the backend URL the add-on talks to.
        libraries: ``(name, url)`` of the libraries named in the preferences.

    >>> library_label("127.0.0.1:8766/", [("Demo", "http://127.0.0.1:8765"), ("Studio", "http://127.0.0.1:8766")])
    'Studio (http://127.0.0.1:8766)'
    """
    want = normalise_url(url)
    for name, other in libraries:
        if normalise_url(other) == want and name.strip():
            return f"{name.strip()} ({want})"
    return want


def add_under_free_id(send: Callable[[ClipInfo], LibraryAdded], info: ClipInfo) -> LibraryAdded:
    """``send(info)``; while the backend answers ``409`` (a different clip has that id), again as ``<id>_2``,
    ``<id>_3``, ... (at most :data:`ID_ATTEMPTS` ids).

    An unchanged clip finds itself on the way (the backend answers an identical add with the clip it has), so
    adding the same folder twice adds nothing new, while ``walk.bvh`` of two folders become ``walk`` and
    ``walk_2``.

    Raises:
        BackendHTTPError: any other error answer, or the last ``409``.
    """
    if not info.id:
        return send(info)

    def numbered(n: int) -> ClipInfo:
        suffix = f"_{n}" if n > 1 else ""
        return replace(info, id=info.id[: ID_MAX_CHARS - len(suffix)] + suffix)

    for n in range(1, ID_ATTEMPTS):
        try:
            return send(numbered(n))
        except BackendHTTPError as exc:
            if exc.status != 409:
                raise
    return send(numbered(ID_ATTEMPTS))
