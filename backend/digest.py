"""The one whole-file SHA-256 of the project (torch-free, stdlib only).

Used for model checksums (``backend.model.checkpoint``), the main job's cached-index check, dataset archive
and content digests (``backend.library.upstream`` / ``fetch``) and the index's full file digests
(``backend.index.integrity``).

>>> import tempfile, os
>>> with tempfile.NamedTemporaryFile(delete=False) as f:
...     _ = f.write(b"abc")
>>> sha256_file(f.name)[:16]
'ba7816bf8f01cfea'
>>> os.unlink(f.name)
"""

from __future__ import annotations

import hashlib
import os
from typing import BinaryIO

__all__ = ["CHUNK_BYTES", "sha256_file", "sha256_stream"]

#: bytes read at a time
CHUNK_BYTES = 1 << 20


def sha256_stream(f: BinaryIO, chunk_size: int = CHUNK_BYTES) -> str:
    """Hex SHA-256 of an open binary file's content from its start (it is rewound first)."""
    h = hashlib.sha256()
    f.seek(0)
    while chunk := f.read(chunk_size):
        h.update(chunk)
    return h.hexdigest()


def sha256_file(path: str | os.PathLike[str], chunk_size: int = CHUNK_BYTES) -> str:
    """Hex SHA-256 of a file, read in ``chunk_size`` blocks."""
    with open(path, "rb") as f:
        return sha256_stream(f, chunk_size)
