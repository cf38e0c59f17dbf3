"""Rewrite one ``## `` section of a Markdown document: the one writer of ``docs/benchmarks.md`` sections.

Every benchmark script records its numbers in its own section of ``docs/benchmarks.md`` and leaves the
rest of the document alone. A section runs from its heading line (``## Load test``) up to the next line
that starts with ``## `` (or the end). The new text is heading, blank line, body, blank line, next
heading; a missing section is appended at the end. The file is replaced atomically
(:func:`backend.atomic.atomic_write_text`).

Scripts import it as a sibling module (``sys.path`` holds ``scripts/``)::

    from _docs_section import write_section

    write_section(REPO / "docs" / "benchmarks.md", body, "## Load test")

>>> replace_section("# B\\n\\n## A\\n\\nold\\n\\n## C\\n\\nkeep\\n", "## A", "new")
'# B\\n\\n## A\\n\\nnew\\n\\n## C\\n\\nkeep\\n'
>>> replace_section("# B\\n", "## A", "## A\\n\\nfirst")
'# B\\n\\n## A\\n\\nfirst\\n'
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from backend.atomic import atomic_write_text

__all__ = ["DEFAULT_DOCUMENT", "replace_section", "write_section"]

#: What a document that does not exist yet starts as.
DEFAULT_DOCUMENT = "# Benchmarks\n"


def _body_lines(heading: str, body: str) -> list[str]:
    """``body`` as lines, without surrounding blank lines and without a leading copy of ``heading``."""
    lines = body.strip("\n").splitlines()
    if lines and lines[0].rstrip() == heading:
        lines = lines[1:]
    while lines and not lines[0].strip():
        lines.pop(0)
    while lines and not lines[-1].strip():
        lines.pop()
    return lines


def replace_section(text: str, heading: str, body: str, *, append: bool = True) -> str:
    """Return ``text`` with the section under ``heading`` replaced by ``body``.

    Args:
        text: the whole Markdown document.
        heading: the section's heading line, e.g. ``"## Load test"``; must start with ``"## "``.
        body: the section's new text below the heading (a first line equal to ``heading`` is dropped,
            so a rendered section that carries its own heading may be passed as is).
        append: add the section at the end when ``text`` has none; False raises instead.

    Returns:
        The new document, ending in exactly one newline.

    Raises:
        ValueError: ``heading`` is not a ``## `` heading, or the section is missing and ``append`` is False.
    """
    if not heading.startswith("## ") or "\n" in heading:
        raise ValueError(f"heading must be one '## ' line, got {heading!r}")
    heading = heading.rstrip()
    lines = text.splitlines()
    new = [heading, "", *_body_lines(heading, body)]
    try:
        start = next(i for i, line in enumerate(lines) if line.rstrip() == heading)
    except StopIteration:
        if not append:
            raise ValueError(f"the document has no {heading!r} section") from None
        head = text.rstrip("\n")
        return (head + "\n\n" if head else "") + "\n".join(new) + "\n"
    end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
    out = lines[:start] + new + ([""] + lines[end:] if end < len(lines) else [])
    return "\n".join(out) + "\n"


def write_section(doc: str | Path, body: str, heading: str, *, append: bool = True) -> None:
    """Replace the ``heading`` section of the file ``doc`` with ``body``, atomically (:func:`replace_section`).

    A missing ``doc`` starts as :data:`DEFAULT_DOCUMENT` (when ``append``).

    Raises:
        ValueError: as :func:`replace_section`; FileNotFoundError: ``doc`` is missing and ``append`` is False.
    """
    doc = Path(doc)
    if doc.exists() or not append:
        text = doc.read_text(encoding="utf-8")
    else:
        text = DEFAULT_DOCUMENT
    atomic_write_text(doc, replace_section(text, heading, body, append=append))
