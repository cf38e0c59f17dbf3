"""Atomic file writes: the one place the temp-file + fsync + rename pattern is written out.

A reader never sees a half-written file: the data goes to a temporary file in the target's own folder (same
file system, so the rename is atomic), is flushed and fsync'd, made world-readable like a normal file, and
only then renamed onto the target. On any error the temporary file is removed and the target is untouched.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_text(d / "a.txt", "hello")
>>> (d / "a.txt").read_text()
'hello'
>>> with atomic_path(d / "b.bin") as tmp:
...     _ = tmp.write_bytes(b"x")
>>> (d / "b.bin").read_bytes(), sorted(p.name for p in d.iterdir())
(b'x', ['a.txt', 'b.bin'])
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import BinaryIO

__all__ = ["atomic_path", "atomic_write", "atomic_write_bytes", "atomic_write_text"]

_MODE = 0o644


def _fsync_file(path: str) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def atomic_path(path: str | os.PathLike[str], *, mkdir: bool = True) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on a clean exit fsync it and rename it onto ``path``.

    For writers that want a file name rather than a file object (``torch.save``, ``np.save``,
    ``safetensors.save_file``, ``faiss.write_index``). On an exception the temporary file is removed.
    """
    target = Path(path)
    if mkdir:
        target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    try:
        yield Path(tmp)
        _fsync_file(tmp)
        os.chmod(tmp, _MODE)
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[BinaryIO], object], *, mkdir: bool = True
) -> None:
    """Call ``write(fh)`` on a binary file object of a temporary file, then move it onto ``path``."""
    with atomic_path(path, mkdir=mkdir) as tmp, open(tmp, "wb") as fh:
        write(fh)
        fh.flush()


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, *, mkdir: bool = True) -> None:
    """Write ``data`` to ``path`` atomically."""
    atomic_write(path, lambda fh: fh.write(data), mkdir=mkdir)


def atomic_write_text(
    path: str | os.PathLike[str], text: str, *, encoding: str = "utf-8", mkdir: bool = True
) -> None:
    """Write ``text`` to ``path`` atomically (``encoding``, no newline translation)."""
    atomic_write_bytes(path, text.encode(encoding), mkdir=mkdir)
