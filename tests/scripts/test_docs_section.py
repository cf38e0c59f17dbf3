"""Contract of ``scripts/_docs_section.py``: the one writer of ``docs/benchmarks.md`` sections."""

from __future__ import annotations

import doctest
import importlib.util
import stat
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def _module():
    spec = importlib.util.spec_from_file_location("_docs_section", REPO / "scripts" / "_docs_section.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


DOC = "# Benchmarks\n\n## Search\n\nkeep me\n\n## Load test\n\n(pending)\n\n## Later\n\nme too\n"


def test_rewrites_only_its_section_and_is_idempotent(tmp_path: Path) -> None:
    m = _module()
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC, encoding="utf-8")
    m.write_section(doc, "new numbers", "## Load test")
    m.write_section(doc, "\nnewer numbers\n\n", "## Load test")
    expected = "# Benchmarks\n\n## Search\n\nkeep me\n\n## Load test\n\nnewer numbers\n\n## Later\n\nme too\n"
    assert doc.read_text(encoding="utf-8") == expected
    m.write_section(doc, "newer numbers", "## Load test")
    assert doc.read_text(encoding="utf-8") == expected
    assert stat.S_IMODE(doc.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["benchmarks.md"]  # no temp file left


def test_a_body_with_its_own_heading_and_the_last_section() -> None:
    m = _module()
    out = m.replace_section(DOC, "## Later", "## Later\n\n| a |\n|---|\n| 1 |\n\n")
    assert out == DOC.replace("me too\n", "| a |\n|---|\n| 1 |\n")
    assert m.replace_section(out, "## Search", "## Search\nx") == out.replace("keep me", "x")


def test_a_missing_section_is_appended_or_refused(tmp_path: Path) -> None:
    m = _module()
    assert m.replace_section(DOC, "## New", "n") == DOC + "\n## New\n\nn\n"
    with pytest.raises(ValueError, match="no '## New' section"):
        m.replace_section(DOC, "## New", "n", append=False)
    with pytest.raises(ValueError, match="heading"):
        m.replace_section(DOC, "New", "n")
    doc = tmp_path / "sub" / "benchmarks.md"
    m.write_section(doc, "first", "## Load test")
    assert doc.read_text(encoding="utf-8") == "# Benchmarks\n\n## Load test\n\nfirst\n"
    with pytest.raises(FileNotFoundError):
        m.write_section(tmp_path / "absent.md", "x", "## Load test", append=False)


def test_a_failed_write_leaves_the_document_alone(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    m = _module()
    doc = tmp_path / "benchmarks.md"
    doc.write_text(DOC, encoding="utf-8")

    def boom(*_args: object, **_kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(m, "atomic_write_text", boom)
    with pytest.raises(OSError):
        m.write_section(doc, "new", "## Load test")
    assert doc.read_text(encoding="utf-8") == DOC


def test_doctests() -> None:
    assert doctest.testmod(_module()).failed == 0
