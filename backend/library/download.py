"""Resumable, verified file transfer: HTTP(S) downloads with ``Range`` and local copies, via ``.part`` files.

A transfer always writes ``<target>.part`` first and renames it to ``<target>`` only after the bytes are
verified, so a file under its final name is always complete and good. An interrupted transfer leaves the
``.part`` file behind and the next call resumes it (an HTTP ``Range`` request, or a seek for local copies).
Bytes that fail verification are deleted, never renamed into place.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

from backend.errors import FetchError

__all__ = [
    "USER_AGENT",
    "copy_file",
    "download_file",
    "git_blob_sha1",
    "part_path",
    "read_url",
]

USER_AGENT = "motion-search-fetch/1"
_CHUNK = 1 << 20

#: ``check(path) -> None`` raises :class:`FetchError` when the file at ``path`` is not the expected one.
Check = Callable[[Path], None]


def part_path(target: Path) -> Path:
    """The in-progress file for ``target`` (``<target>.part``)."""
    return target.with_name(target.name + ".part")


def git_blob_sha1(path: Path) -> str:
    """Git's blob id of a file: SHA-1 of ``b"blob <size>\\0" + content`` (what a repository tree lists)."""
    digest = hashlib.sha1(usedforsecurity=False)
    digest.update(f"blob {path.stat().st_size}\0".encode())
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def _progress(total: int | None, initial: int, desc: str, enabled: bool):  # -> tqdm
    from tqdm import tqdm

    return tqdm(
        total=total, initial=initial, desc=desc, unit="B", unit_scale=True, unit_divisor=1024,
        disable=not enabled, leave=False,
    )  # fmt: skip


def read_url(url: str, *, timeout: float = 30.0) -> bytes:
    """GET a (small) URL into memory.

    Raises:
        FetchError: HTTP error or unreachable host (names the URL).
    """
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.read()
    except urllib.error.HTTPError as exc:
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"{url}: cannot download ({getattr(exc, 'reason', exc)})") from exc


def _finish(part: Path, target: Path, check: Check | None) -> Path:
    """Verify ``part`` and rename it to ``target``; a bad file is deleted and the error re-raised."""
    if check is not None:
        try:
            check(part)
        except FetchError:
            part.unlink(missing_ok=True)
            raise
    os.replace(part, target)
    return target


def _http_transfer(url: str, part: Path, *, timeout: float, progress: bool, desc: str) -> None:
    """Append the missing bytes of ``url`` to ``part`` (``Range`` request; restart if the server ignores it)."""
    offset = part.stat().st_size if part.exists() else 0
    headers = {"User-Agent": USER_AGENT}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    request = urllib.request.Request(url, headers=headers)
    try:
        response = urllib.request.urlopen(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        if exc.code == 416 and offset:  # the .part already holds every byte (or more): let the check decide
            return
        raise FetchError(f"{url}: HTTP {exc.code} {exc.reason}") from exc
    except (urllib.error.URLError, OSError) as exc:
        raise FetchError(f"{url}: cannot download ({getattr(exc, 'reason', exc)})") from exc
    with response:
        status = getattr(response, "status", 200)
        mode = "ab"
        if offset and status == 206:
            content_range = response.headers.get("Content-Range", "")
            if not content_range.startswith(f"bytes {offset}-"):
                raise FetchError(
                    f"{url}: server answered range {content_range!r} to a request from byte {offset}"
                )
        else:  # 200: the server sends the whole file
            offset, mode = 0, "wb"
        length = response.headers.get("Content-Length")
        total = offset + int(length) if length and length.isdigit() else None
        with open(part, mode) as fh, _progress(total, offset, desc, progress) as bar:
            try:
                while chunk := response.read(_CHUNK):
                    fh.write(chunk)
                    bar.update(len(chunk))
            except OSError as exc:
                raise FetchError(
                    f"{url}: connection lost after {fh.tell()} bytes ({exc}); run again to resume"
                ) from exc
        if total is not None and part.stat().st_size != total:
            raise FetchError(f"{url}: got {part.stat().st_size} of {total} bytes; run again to resume")


def download_file(
    url: str,
    target: Path,
    *,
    check: Check | None = None,
    timeout: float = 30.0,
    progress: bool = False,
    desc: str = "",
) -> Path:
    """Download ``url`` to ``target`` through ``<target>.part``, resuming an existing ``.part``.

    A ``target`` that already exists is accepted when ``check`` passes (else it is deleted and fetched
    again). When a resumed download fails ``check``, the download is retried once from byte 0.

    Args:
        url: ``http(s)://`` URL.
        target: final path.
        check: raises :class:`FetchError` for a wrong file (e.g. a SHA-256 mismatch).
        timeout: socket timeout in seconds.
        progress: show a tqdm bar.
        desc: label of the bar.

    Returns:
        ``target``.

    Raises:
        FetchError: network or HTTP error, short read, or ``check`` failure (the bad bytes are deleted).
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        if check is None:
            return target
        try:
            check(target)
            return target
        except FetchError:
            target.unlink()
    part = part_path(target)
    resumed = part.exists() and part.stat().st_size > 0
    _http_transfer(url, part, timeout=timeout, progress=progress, desc=desc or target.name)
    try:
        return _finish(part, target, check)
    except FetchError:
        if not resumed:
            raise
    # the old .part held bad bytes: start again from scratch, once
    _http_transfer(url, part, timeout=timeout, progress=progress, desc=desc or target.name)
    return _finish(part, target, check)


def copy_file(
    source: Path, target: Path, *, check: Check | None = None, progress: bool = False, desc: str = ""
) -> Path:
    """Copy a local file to ``target`` through ``<target>.part`` (resuming it), then verify and rename.

    Raises:
        FetchError: ``source`` missing/unreadable, or ``check`` failure (the bad copy is deleted).
    """
    if not source.is_file():
        raise FetchError(f"{source}: no such file in the mirror")
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        try:
            if check is not None:
                check(target)
            return target
        except FetchError:
            target.unlink()
    part = part_path(target)
    size = source.stat().st_size
    offset = part.stat().st_size if part.exists() else 0
    if offset > size:
        part.unlink()
        offset = 0
    try:
        with open(source, "rb") as src, open(part, "ab" if offset else "wb") as dst:
            src.seek(offset)
            with _progress(size, offset, desc or target.name, progress) as bar:
                while chunk := src.read(_CHUNK):
                    dst.write(chunk)
                    bar.update(len(chunk))
    except OSError as exc:
        raise FetchError(f"{source}: cannot copy to {part} ({exc})") from exc
    try:
        return _finish(part, target, check)
    except FetchError:
        if not offset:
            raise
    shutil.copyfile(source, part)  # the resumed copy was bad: copy the whole file again, once
    return _finish(part, target, check)
