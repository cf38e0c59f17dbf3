"""The add-on's import graph has no cycle (pure python: reads the sources with ``ast``, imports nothing).

Every ``import`` / ``from ... import`` of the ``addon`` package counts, at module level and inside functions
(the lazy imports Blender callbacks use), with relative imports resolved. ``from . import x`` where ``x`` is a
submodule is an edge to ``addon.x`` (not to the package, whose ``__init__`` runs first anyway); ``from .m
import name`` is an edge to ``addon.m``. A cycle fails the test with its path, e.g. ``addon.properties ->
addon.ops_search -> addon.properties``. The pure modules (:data:`PURE`) reach no Blender module through the
imports that run at import time.
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from import_graph import external_imports, find_cycle, import_graph, package_modules  # tests/import_graph.py

ADDON = Path(__file__).resolve().parents[2] / "addon"
PACKAGE = "addon"
#: modules that must import without Blender (``tests/test_architecture.py`` imports the older ones for real)
PURE = ("bodies", "client", "clipedit", "errors", "folder", "heat", "jobs", "library", "payloads", "posing",
        "prefs", "rigmap", "rigtable", "skeleton", "urls")  # fmt: skip
BLENDER = {"bpy", "bpy_extras", "mathutils", "gpu", "bmesh", "addon_utils"}


def test_graph_sees_function_level_and_relative_imports(tmp_path: Path) -> None:
    files = {
        "__init__.py": "from . import a\n",
        "a.py": "from .b import f\nimport os\n",
        "b.py": "def f():\n    from .sub.c import g\n",
        "sub/__init__.py": "",
        "sub/c.py": "def g():\n    from .. import a\n    from ..b import f\n    import pkg.sub\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    graph = import_graph(tmp_path, "pkg")
    assert graph == {
        "pkg": {"pkg.a"},
        "pkg.a": {"pkg.b"},
        "pkg.b": {"pkg.sub.c"},  # inside a function
        "pkg.sub": set(),
        "pkg.sub.c": {"pkg.a", "pkg.b", "pkg.sub"},  # two dots; a submodule named by "from .. import"
    }
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.sub.c", "pkg.a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_addon_import_graph_has_no_cycle() -> None:
    cycle = find_cycle(import_graph(ADDON, PACKAGE))
    assert cycle is None, "import cycle in the add-on: " + " -> ".join(cycle or [])


def test_pure_modules_reach_no_blender_module() -> None:
    graph, modules = import_graph(ADDON, PACKAGE, at_import=True), package_modules(ADDON, PACKAGE)
    bad = []
    for name in PURE:
        todo, seen = [f"{PACKAGE}.{name}"], set()
        while todo:
            mod = todo.pop()
            if mod in seen:
                continue
            seen.add(mod)
            todo.extend(graph[mod])
            if external_imports(modules[mod]) & BLENDER:
                bad.append(f"{name} -> {mod} imports {sorted(external_imports(modules[mod]) & BLENDER)}")
    assert not bad, "\n".join(bad)
