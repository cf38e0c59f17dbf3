"""Path mode of ``POST /library``: which files on the server's disk a request may name.

A path is accepted only when, with every symlink resolved, it lies under one of the configured library
roots (``--library-root DIR``; none = path mode off). Anything else gets one and the same ``403`` message,
whether or not the file exists, so a request learns nothing about the disk outside the roots; nothing
outside the roots is ever opened, so no error can quote its content. Inside the roots the usual checks
apply: an existing regular file, an accepted suffix (:data:`~backend.motion.limits.MOTION_FILE_SUFFIXES`)
and the file-size cap.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from pathlib import Path

from backend.errors import InvalidInputError
from backend.motion.limits import MOTION_FILE_SUFFIXES
from backend.server.errors import ForbiddenError, PayloadTooLargeError

__all__ = ["OUTSIDE_ROOTS", "PATH_MODE_OFF", "check_suffix", "resolve_library_path"]

#: the one answer for every path outside the roots (existing or not)
OUTSIDE_ROOTS = "path is not under a library root of this server (see --library-root)"
PATH_MODE_OFF = (
    "adding by path is off: start the server with --library-root DIR (repeatable) to allow files under "
    "DIR, or upload the file as multipart/form-data"
)


def check_suffix(name: str, what: str, suffixes: Sequence[str] = MOTION_FILE_SUFFIXES) -> str:
    """The lower-case suffix of ``name`` when it is one of ``suffixes`` (default: the motion file suffixes).

    Raises:
        InvalidInputError: another suffix (names ``what`` and the accepted ones).

    >>> check_suffix("Walk.BVH", "file")
    '.bvh'
    """
    suffix = os.path.splitext(name)[1].lower()
    if suffix not in suffixes:
        raise InvalidInputError(f"{what} must be a {' or '.join(suffixes)} file")
    return suffix


def _within(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def resolve_library_path(
    raw: str, roots: Sequence[Path], max_bytes: int, *, suffixes: Sequence[str] = MOTION_FILE_SUFFIXES
) -> Path:
    """Resolve a requested path and check it against the library roots and limits.

    Args:
        raw: the path as the client sent it (absolute, or relative to the first root).
        roots: the configured library roots.
        max_bytes: the file-size cap.
        suffixes: accepted suffixes (default: the motion files; ``(".asf",)`` for an AMC's skeleton).

    Returns:
        The resolved real path of a regular file under a root.

    Raises:
        ForbiddenError: path mode off, or the resolved path is outside every root (one message for all).
        InvalidInputError: under a root, but missing, not a regular file or not an accepted suffix.
        PayloadTooLargeError: larger than ``max_bytes``.
    """
    if not roots:
        raise ForbiddenError(PATH_MODE_OFF)
    if "\x00" in raw:
        raise ForbiddenError(OUTSIDE_ROOTS)
    real_roots = [os.path.realpath(r) for r in roots]
    candidate = raw if os.path.isabs(raw) else os.path.join(real_roots[0], raw)
    try:
        real = os.path.realpath(candidate)
    except (OSError, ValueError):
        raise ForbiddenError(OUTSIDE_ROOTS) from None
    if not any(_within(real, root) for root in real_roots):
        raise ForbiddenError(OUTSIDE_ROOTS)
    check_suffix(real, "path", suffixes)
    try:
        st = os.stat(real)
    except OSError as exc:
        reason = "path not found" if isinstance(exc, FileNotFoundError) else "path cannot be read"
        raise InvalidInputError(f"{reason}: {raw}") from None
    if not stat.S_ISREG(st.st_mode):
        raise InvalidInputError(f"path is not a regular file: {raw}")
    if st.st_size > max_bytes:
        raise PayloadTooLargeError(f"file is {st.st_size} bytes; the limit is {max_bytes} bytes: {raw}")
    return Path(real)
