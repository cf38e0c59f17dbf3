"""``index verify``: check every file of an index against the checksums written with it, then open it.

Opening an index (:class:`~backend.index.store.MotionIndex`) checks sizes and sampled checksums; this
reads every byte (sha256 of each array of each live segment and caption part) and then opens the index,
which checks shapes, metadata rows and the caption bank.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from backend.errors import IndexError_
from backend.index.format import CAPTIONS_DIR, SEGMENTS_DIR, read_header
from backend.index.integrity import check_file

__all__ = ["VerifyReport", "verify_index"]


@dataclass
class VerifyReport:
    """Outcome of :func:`verify_index`.

    Attributes:
        files: files whose checksum was compared.
        unchecked: live segments / caption parts written before checksums were recorded.
        problems: one message per problem (naming the file); empty when the index is sound.
    """

    files: int = 0
    unchecked: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def verify_index(path: Path | str, *, full: bool = True) -> VerifyReport:
    """Verify an index folder.

    Args:
        path: the index folder.
        full: compare full sha256 hashes (else the sampled ones, as opening does).

    Returns:
        A :class:`VerifyReport`.

    Raises:
        IndexError_: not an index folder (no readable manifest).
    """
    from backend.index.store import MotionIndex

    path = Path(path)
    header = read_header(path)
    report = VerifyReport()
    groups = [(path / SEGMENTS_DIR / s.name, s.files) for s in header.segments]
    groups += [
        (path / CAPTIONS_DIR / name, header.caption_files.get(name, {})) for name in header.caption_parts
    ]
    for folder, digests in groups:
        if not digests:
            report.unchecked.append(str(folder))
        for fname, digest in digests.items():
            report.files += 1
            problem = check_file(folder / fname, digest, full=full)
            if problem is not None:
                report.problems.append(problem)
    if not report.problems:
        try:
            index = MotionIndex.open(path)
        except IndexError_ as exc:
            report.problems.append(str(exc))
        else:
            if index.caption_problem:
                report.problems.append(f"caption bank: {index.caption_problem}")
    return report
