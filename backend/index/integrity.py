"""Checksums of index files: written with each array, checked cheaply at open and fully by ``index verify``.

A file digest is ``{"bytes": size, "sha256": hex of the whole file, "sampled": hex, "stride": n}``:
``sampled`` hashes :data:`SAMPLE_BLOCK` bytes every ``stride`` bytes plus the last block, with the stride
chosen so that at most :data:`SAMPLE_COUNT` blocks are read (16 MiB per file at most). Opening an index
checks every size (free) and every sampled hash, which catches truncation and any damage longer than the
stride (4 MiB for a 1 GiB array) at a small fraction of a full read; ``python -m backend index verify``
hashes everything.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Any

from backend.digest import sha256_stream

__all__ = ["SAMPLE_BLOCK", "SAMPLE_COUNT", "check_file", "file_digest"]

#: bytes per sampled block
SAMPLE_BLOCK = 1 << 16
#: most sampled blocks per file
SAMPLE_COUNT = 256


def _stride(size: int) -> int:
    return max(SAMPLE_BLOCK, -(-size // SAMPLE_COUNT))


def _sampled(f: Any, size: int, stride: int) -> str:
    h = hashlib.sha256()
    for offset in range(0, size, stride):
        f.seek(offset)
        h.update(f.read(SAMPLE_BLOCK))
    if size:
        f.seek(max(0, size - SAMPLE_BLOCK))
        h.update(f.read(SAMPLE_BLOCK))
    return h.hexdigest()


def file_digest(path: Path | str) -> dict[str, Any]:
    """The digest of a file (see the module docstring).

    >>> import tempfile, os
    >>> with tempfile.NamedTemporaryFile(delete=False) as f:
    ...     _ = f.write(b"abc")
    >>> d = file_digest(f.name); os.unlink(f.name)
    >>> d["bytes"], d["sha256"][:12]
    (3, 'ba7816bf8f01')
    """
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        stride = _stride(size)
        return {
            "bytes": size,
            "sha256": sha256_stream(f),
            "sampled": _sampled(f, size, stride),
            "stride": stride,
        }


def check_file(path: Path | str, digest: dict[str, Any], *, full: bool = False) -> str | None:
    """What is wrong with ``path`` compared with ``digest``, or ``None`` when it matches.

    Args:
        path: the file.
        digest: what :func:`file_digest` returned when the file was written.
        full: hash the whole file (``index verify``) instead of the sampled blocks.

    Returns:
        A message naming the file and the problem (missing, size, checksum), or ``None``.
    """
    try:
        with open(path, "rb") as f:
            size = os.fstat(f.fileno()).st_size
            want = int(digest.get("bytes", -1))
            if size != want:
                return f"{path}: {size} bytes, but {want} were written (truncated or replaced)"
            if full:
                ok = sha256_stream(f) == digest.get("sha256")
            else:
                ok = _sampled(f, size, int(digest.get("stride", _stride(size)))) == digest.get("sampled")
    except OSError as exc:
        return f"{path}: cannot be read ({exc.strerror or exc})"
    if not ok:
        kind = "sha256" if full else "sampled checksum"
        return f"{path}: content differs from the {kind} written with it (damaged file)"
    return None
