"""What a pinned data source is: :class:`Upstream` repositories, the :class:`Source` archive, their digests.

The table of the actual sources is :data:`backend.library.sources.SOURCES`; this module holds the types it
is made of and the content digest that verifies a fetch (mirror or upstream) against the same bytes.
Nothing here touches the network; URLs are plain strings.
"""

from __future__ import annotations

import fnmatch
import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

from backend.digest import sha256_file

__all__ = [
    "FETCH_MARKER",
    "GITHUB_API",
    "GITHUB_RAW",
    "Source",
    "Upstream",
    "content_digest",
    "match_path",
]

GITHUB_RAW = "https://raw.githubusercontent.com"
GITHUB_API = "https://api.github.com"

#: Files a fetch writes itself next to the data; never part of a content digest.
FETCH_MARKER = ".fetched"


@dataclass(frozen=True)
class Upstream:
    """One upstream repository at a pinned commit and the files taken from it.

    Attributes:
        repo: ``owner/name`` on GitHub.
        commit: full 40-hex commit id.
        include: repository-relative paths; ``*``/``?``/``[..]`` match within one path segment.
        exclude: paths that match ``include`` but are not part of the pinned set (absent from the mirror
            snapshot because they are 4 MiB or larger).
        prefix: folder below ``<dest>/<source name>/`` where the files go (``""`` = the archive root).
        text_files: files whose upstream byte encoding is unknown; they are normalised to UTF-8 with LF line
            ends before verification.
    """

    repo: str
    commit: str
    include: tuple[str, ...]
    exclude: tuple[str, ...] = ()
    prefix: str = ""
    text_files: tuple[str, ...] = ()

    @property
    def has_patterns(self) -> bool:
        """Whether any include entry is a wildcard pattern (needs the repository tree)."""
        return any(any(c in p for c in "*?[") for p in self.include)

    def raw_url(self, path: str, base: str = GITHUB_RAW) -> str:
        """Raw download URL of ``path`` at the pinned commit."""
        return f"{base.rstrip('/')}/{self.repo}/{self.commit}/{quote(path)}"

    def tree_url(self, base: str = GITHUB_API) -> str:
        """URL of the recursive tree listing at the pinned commit (GitHub REST API)."""
        return f"{base.rstrip('/')}/repos/{self.repo}/git/trees/{self.commit}?recursive=1"

    def tarball_url(self) -> str:
        """GitHub tarball of the whole repository at the pinned commit (not used by the fetcher: some of
        these repositories are hundreds of MB; listed for provenance)."""
        return f"https://codeload.github.com/{self.repo}/tar.gz/{self.commit}"

    def selects(self, path: str) -> bool:
        """Whether a repository-relative ``path`` belongs to the pinned file set."""
        if path in self.exclude:
            return False
        return any(match_path(path, pattern) for pattern in self.include)


@dataclass(frozen=True)
class Source:
    """One data source (one mirror archive).

    Attributes:
        name: archive name (``<name>.tar.gz``; also the folder it extracts to).
        upstreams: the repositories its files come from.
        sha256: SHA-256 of the mirror archive.
        size: archive size in bytes.
        content_sha256: :func:`content_digest` of the upstream files (the archive's files minus ``added``).
        licence: exact licence name.
        attribution: attribution text to keep with any copy or derivative.
        kind: ``"motion"`` (BVH clips) or ``"text"`` (labels / metadata only).
        dataset_root: folder of the clips below the archive root (``""`` = the root).
        added: files the mirror archive adds beside the upstream files (notes, licence excerpts).
    """

    name: str
    upstreams: tuple[Upstream, ...]
    sha256: str
    size: int
    content_sha256: str
    licence: str
    attribution: str
    kind: str = "motion"
    dataset_root: str = ""
    added: tuple[str, ...] = field(default=())

    @property
    def archive_name(self) -> str:
        """File name of the archive in a mirror."""
        return f"{self.name}.tar.gz"

    def ignored_in_digest(self) -> frozenset[str]:
        """Archive-relative paths that are not upstream files."""
        return frozenset({"SOURCE.txt", FETCH_MARKER, *self.added})

    def to_dict(self) -> dict[str, object]:
        """JSON-ready provenance record (used in ``library.json``)."""
        return {
            "licence": self.licence,
            "attribution": self.attribution,
            "upstream": [{"repo": u.repo, "commit": u.commit} for u in self.upstreams],
            "archive_sha256": self.sha256,
        }


def match_path(path: str, pattern: str) -> bool:
    """Match a ``/``-separated path against a pattern whose wildcards stay within one segment.

    >>> match_path("acted/001_acted.bvh", "acted/*.bvh")
    True
    >>> match_path("acted/old/001_acted.bvh", "acted/*.bvh")
    False
    """
    parts, pats = path.split("/"), pattern.split("/")
    return len(parts) == len(pats) and all(fnmatch.fnmatchcase(a, b) for a, b in zip(parts, pats))


def content_digest(root: Path, ignore: frozenset[str] | set[str] = frozenset()) -> str:
    """Digest of a folder's files: SHA-256 over sorted ``"<sha256>  <relative path>\\n"`` lines.

    Args:
        root: folder (an extracted archive root).
        ignore: root-relative POSIX paths to leave out (notes added by the mirror, fetch markers).

    Returns:
        64-hex digest; equal for the same file names and bytes whatever the file times or the tar layout.
    """
    lines = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        rel = path.relative_to(root).as_posix()
        if rel in ignore:
            continue
        lines.append(f"{sha256_file(path)}  {rel}\n")
    return hashlib.sha256("".join(lines).encode("utf-8")).hexdigest()
