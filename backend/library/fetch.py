"""``python -m backend data fetch``: get the pinned sources, verify them, unpack them into ``DEST/<name>/``.

Three ways, chosen per call:

* ``mirror=DIR``: copy ``DIR/<name>.tar.gz`` (the shared mirror; its ``SHA256SUMS`` must agree with the pinned
  hash), verify SHA-256, extract.
* ``base_url=URL``: the same archives over HTTP(S) (``URL/<name>.tar.gz``), downloaded with ``Range`` resume.
* neither: **upstream**, per-file raw downloads at each repository's pinned commit (see
  :mod:`backend.library.sources`). Files named by wildcards come from the repository tree at that commit and
  are checked against their git blob ids; the whole set is then checked against the pinned SHA-256 content
  digest, which equals the digest of the mirror's files.

Everything is resumable: a completed, verified archive or file is never fetched twice, an interrupted one
resumes from its ``.part`` file, and ``DEST/<name>/`` only appears (by a rename) once its content is complete
and verified, with a ``.fetched`` marker inside.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from backend.digest import sha256_file
from backend.errors import FetchError
from backend.library.download import copy_file, download_file, git_blob_sha1, read_url
from backend.library.sources import select_sources
from backend.library.upstream import (
    FETCH_MARKER,
    GITHUB_API,
    GITHUB_RAW,
    Source,
    Upstream,
    content_digest,
)

__all__ = [
    "DEFAULT_DEST",
    "FetchResult",
    "extract_archive",
    "fetch_source",
    "fetch_sources",
    "is_fetched",
    "read_sha256sums",
]

log = logging.getLogger(__name__)

DEFAULT_DEST = Path("data/sources")


@dataclass(frozen=True)
class FetchResult:
    """What :func:`fetch_source` did for one source.

    Attributes:
        name: source name.
        path: ``DEST/<name>`` (the extracted root).
        mode: ``"mirror"``, ``"http"`` or ``"upstream"``.
        skipped: ``True`` when it was already fetched and verified.
    """

    name: str
    path: Path
    mode: str
    skipped: bool


def _sha256_check(expected: str, what: str):
    def check(path: Path) -> None:
        actual = sha256_file(path)
        if actual != expected:
            raise FetchError(
                f"{what}: SHA-256 mismatch (expected {expected}, got {actual}); the bad file was deleted"
            )

    return check


def read_sha256sums(path: Path) -> dict[str, str]:
    """Parse a ``sha256sum`` listing (``<hex>  <name>`` lines) into ``{name: hex}``.

    Raises:
        FetchError: a malformed line (names the file and line number).
    """
    table: dict[str, str] = {}
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or len(parts[0]) != 64:
            raise FetchError(f"{path}:{number}: not a '<sha256>  <file>' line: {line!r}")
        table[parts[1].lstrip("*").strip()] = parts[0].lower()
    return table


def is_fetched(source: Source, dest: Path) -> bool:
    """Whether ``dest/<name>`` holds a completed, verified fetch of ``source`` (its marker matches)."""
    marker = dest / source.name / FETCH_MARKER
    try:
        info = json.loads(marker.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return info.get("archive_sha256") == source.sha256 or info.get("content_sha256") == source.content_sha256


def _write_marker(root: Path, source: Source, mode: str, **extra: str) -> None:
    info = {"name": source.name, "mode": mode, **extra}
    (root / FETCH_MARKER).write_text(json.dumps(info, indent=1) + "\n", encoding="utf-8")


def _install(staged_root: Path, final: Path) -> None:
    """Move a complete folder into place with renames (an older copy is swapped out, then deleted)."""
    old = None
    if final.exists():
        old = final.with_name(f".{final.name}.old-{os.getpid()}")
        os.rename(final, old)
    os.rename(staged_root, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def extract_archive(archive: Path, dest: Path, source: Source) -> Path:
    """Unpack a verified archive into ``dest/<name>/`` atomically (temp folder, then rename).

    Raises:
        FetchError: unreadable archive, or one whose top folder is not ``<name>/`` (names the archive).
    """
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{source.name}.extract-", dir=dest) as tmp:
        try:
            with tarfile.open(archive, "r:*") as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise FetchError(f"{archive}: cannot extract ({exc})") from exc
        tops = sorted(os.listdir(tmp))
        if tops != [source.name] or not (Path(tmp) / source.name).is_dir():
            raise FetchError(f"{archive}: expected one top folder {source.name!r}, found {tops}")
        root = Path(tmp) / source.name
        _write_marker(root, source, "archive", archive_sha256=source.sha256)
        _install(root, dest / source.name)
    return dest / source.name


def _fetch_archive(
    source: Source, dest: Path, *, mirror: Path | None, base_url: str | None, progress: bool
) -> Path:
    archive = dest / source.archive_name
    what = f"{source.archive_name}"
    if mirror is not None:
        sums_path = mirror / "SHA256SUMS"
        if sums_path.exists():
            listed = read_sha256sums(sums_path).get(source.archive_name)
            if listed is not None and listed != source.sha256:
                raise FetchError(
                    f"{sums_path}: lists {listed} for {source.archive_name}, but the pinned SHA-256 is "
                    f"{source.sha256}; refusing a mirror that disagrees with the pinned sources"
                )
        copy_file(mirror / source.archive_name, archive, check=_sha256_check(source.sha256, f"{mirror / what}"),
                  progress=progress, desc=source.name)  # fmt: skip
    else:
        url = f"{str(base_url).rstrip('/')}/{source.archive_name}"
        download_file(
            url, archive, check=_sha256_check(source.sha256, url), progress=progress, desc=source.name
        )
    return extract_archive(archive, dest, source)


def _normalise_text(path: Path) -> None:
    """Rewrite a text file as UTF-8 with LF line ends (the upstream encoding of some notes is unknown)."""
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        text = raw.decode("cp1252", errors="replace")
    path.write_bytes(text.replace("\r\n", "\n").replace("\r", "\n").encode("utf-8"))


def _upstream_files(upstream: Upstream, api_url: str) -> list[tuple[str, str | None]]:
    """``(path, git blob id or None)`` of the pinned files of one repository."""
    if not upstream.has_patterns:
        return [(p, None) for p in upstream.include if p not in upstream.exclude]
    url = upstream.tree_url(api_url)
    try:
        tree = json.loads(read_url(url))
        entries = {e["path"]: e.get("sha") for e in tree["tree"] if e.get("type") == "blob"}
    except (ValueError, KeyError, TypeError) as exc:
        raise FetchError(f"{url}: not a git tree listing ({exc})") from exc
    if tree.get("truncated"):
        raise FetchError(f"{url}: the tree listing is truncated; cannot resolve {upstream.include}")
    files = sorted((p, sha) for p, sha in entries.items() if upstream.selects(p))
    missing = [p for p in upstream.include if not any(c in p for c in "*?[") and p not in entries]
    if missing:
        raise FetchError(f"{url}: files missing at commit {upstream.commit}: {missing}")
    return files


def _source_note(source: Source) -> str:
    lines = [f"Source: {source.name} (fetched from upstream by `python -m backend data fetch`)"]
    for up in source.upstreams:
        lines.append(f"Upstream: https://github.com/{up.repo} @ {up.commit} -> {up.prefix or './'}")
    lines += [f"Licence: {source.licence}", f"Attribution: {source.attribution}", ""]
    return "\n".join(lines)


def _fetch_upstream(source: Source, dest: Path, *, raw_url: str, api_url: str, progress: bool) -> Path:
    from tqdm import tqdm

    staging = dest / f".{source.name}.upstream"
    plan = []
    for upstream in source.upstreams:
        for path, blob in _upstream_files(upstream, api_url):
            plan.append((upstream, path, blob))
    for upstream, path, blob in tqdm(plan, desc=source.name, unit="file", disable=not progress):
        target = staging / upstream.prefix / path
        url = upstream.raw_url(path, raw_url)

        def check(
            p: Path, blob: str | None = blob, url: str = url, text: bool = path in upstream.text_files
        ) -> None:
            if blob is not None and git_blob_sha1(p) != blob:
                raise FetchError(f"{url}: git blob id mismatch (expected {blob}, got {git_blob_sha1(p)})")
            if text:
                _normalise_text(p)

        download_file(url, target, check=check if (blob or path in upstream.text_files) else None)
    digest = content_digest(staging, source.ignored_in_digest()) if staging.exists() else ""
    if digest != source.content_sha256:
        shutil.rmtree(staging, ignore_errors=True)
        raise FetchError(
            f"{source.name}: content SHA-256 of the upstream files is {digest or '(no files)'}, pinned "
            f"{source.content_sha256}; the downloaded files were deleted"
        )
    (staging / "SOURCE.txt").write_text(_source_note(source), encoding="utf-8")
    _write_marker(staging, source, "upstream", content_sha256=digest)
    _install(staging, dest / source.name)
    return dest / source.name


def fetch_source(
    source: Source,
    dest: Path = DEFAULT_DEST,
    *,
    mirror: Path | None = None,
    base_url: str | None = None,
    raw_url: str = GITHUB_RAW,
    api_url: str = GITHUB_API,
    progress: bool = True,
) -> FetchResult:
    """Fetch one source into ``dest/<name>/`` (see the module docstring for the modes).

    Args:
        source: the pinned source.
        dest: destination folder (archives are kept there as ``<name>.tar.gz``).
        mirror: local mirror folder with the archives and ``SHA256SUMS``.
        base_url: HTTP(S) URL serving the mirror folder (used when ``mirror`` is ``None``).
        raw_url: base of raw file URLs for upstream mode (``https://raw.githubusercontent.com``).
        api_url: base of the tree API for upstream mode (``https://api.github.com``).
        progress: show tqdm progress bars.

    Returns:
        A :class:`FetchResult`.

    Raises:
        FetchError: a download/copy failed, or bytes did not match the pinned hashes (never installed).
    """
    dest = Path(dest)
    mode = "mirror" if mirror is not None else "http" if base_url else "upstream"
    if is_fetched(source, dest):
        return FetchResult(source.name, dest / source.name, mode, skipped=True)
    dest.mkdir(parents=True, exist_ok=True)
    if mode == "upstream":
        path = _fetch_upstream(source, dest, raw_url=raw_url, api_url=api_url, progress=progress)
    else:
        path = _fetch_archive(source, dest, mirror=Path(mirror) if mirror else None, base_url=base_url,
                              progress=progress)  # fmt: skip
    log.info("fetched %s -> %s (%s)", source.name, path, mode)
    return FetchResult(source.name, path, mode, skipped=False)


def fetch_sources(
    dest: Path = DEFAULT_DEST,
    *,
    only: list[str] | tuple[str, ...] | None = None,
    mirror: Path | None = None,
    base_url: str | None = None,
    raw_url: str = GITHUB_RAW,
    api_url: str = GITHUB_API,
    progress: bool = True,
) -> list[FetchResult]:
    """Fetch every pinned source (or those named in ``only``); see :func:`fetch_source`.

    Raises:
        InvalidInputError: an unknown name in ``only``.
        FetchError: the first source that fails (earlier ones stay installed; a re-run resumes).
    """
    return [
        fetch_source(
            s, dest, mirror=mirror, base_url=base_url, raw_url=raw_url, api_url=api_url, progress=progress
        )
        for s in select_sources(only)
    ]
