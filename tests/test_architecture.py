"""Import-direction contract (docs/architecture.md, STYLE.md section 2).

Data flows one way: io -> kinematics -> model -> index -> search -> server ~~HTTP~~> addon. Each backend
package may import only from the packages upstream of it (``backend.index`` is the model-free storage,
``backend.search`` the model-driven search over it); the import graph of ``backend`` has no cycle;
``backend.motion`` never imports torch; the add-on imports nothing from ``backend`` and no ML library, and its
pure modules import without bpy.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# package -> backend packages it must NOT import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "backend.errors": ("backend.",),
    "backend.atomic": ("backend.",),
    "backend.motion.io": (
        "backend.motion.kinematics",
        "backend.library",
        "backend.model",
        "backend.training",
        "backend.evaluation",
        "backend.index",
        "backend.search",
        "backend.render",
        "backend.server",
    ),
    "backend.motion.datasets": (
        "backend.library",
        "backend.model",
        "backend.training",
        "backend.evaluation",
        "backend.index",
        "backend.search",
        "backend.render",
        "backend.server",
    ),
    "backend.motion.kinematics": (
        "backend.library",
        "backend.model",
        "backend.training",
        "backend.evaluation",
        "backend.index",
        "backend.search",
        "backend.render",
        "backend.server",
    ),
    "backend.library": (
        "backend.model",
        "backend.training",
        "backend.index",
        "backend.search",
        "backend.server",
    ),
    "backend.model": (
        "backend.library",
        "backend.training",
        "backend.evaluation",
        "backend.index",
        "backend.search",
        "backend.server",
        "backend.render",
    ),
    "backend.evaluation": ("backend.training", "backend.index", "backend.search", "backend.server"),
    "backend.training": ("backend.index", "backend.search", "backend.server"),
    "backend.index": (
        "backend.search",
        "backend.training",
        "backend.evaluation",
        "backend.render",
        "backend.server",
    ),
    "backend.search": ("backend.server", "backend.training", "backend.evaluation", "backend.render"),
    "backend.render": ("backend.server", "backend.training"),
    "backend.server": ("backend.training", "backend.evaluation", "backend.library"),
}
NO_TORCH = ("backend.motion", "backend.library", "backend.errors", "backend.atomic")
ADDON_FORBIDDEN = ("backend", "torch", "transformers", "timm", "fastapi")
ADDON_PURE = (
    "client",
    "payloads",
    "jsonfields",
    "skeleton",
    "rigmap",
    "rigtable",
    "heat",
    "posing",
    "errors",
    "jobs",
    "library",
    "folder",
    "bodies",
    "clipedit",
    "urls",
    "prefs",
)


def _module_name(path: Path) -> str:
    rel = path.relative_to(REPO).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out: list[str] = []
    pkg = _module_name(path).rsplit(".", 1)[0] if path.name != "__init__.py" else _module_name(path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:  # relative import -> absolute
                base = pkg.split(".")
                base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
                out.append(".".join(base + ([node.module] if node.module else [])))
            elif node.module:
                out.append(node.module)
    return out


def _py_files(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)


def test_backend_import_directions() -> None:
    violations = []
    for path in _py_files(REPO / "backend"):
        mod = _module_name(path)
        for pkg, banned in FORBIDDEN.items():
            if mod == pkg or mod.startswith(pkg + "."):
                for imp in _imports(path):
                    if any(
                        imp == b.rstrip(".") or imp.startswith(b if b.endswith(".") else b + ".") or imp == b
                        for b in banned
                    ) and not imp.startswith(pkg):
                        violations.append(f"{path.relative_to(REPO)} imports {imp}")
    assert not violations, "forbidden imports:\n" + "\n".join(violations)


def backend_import_graph(root: Path = REPO / "backend") -> dict[str, set[str]]:
    """``{module: {modules of the package at root it imports}}``: every ``import`` / ``from ... import``,
    at module level, inside functions and under ``TYPE_CHECKING`` alike, relative imports resolved.

    ``from pkg import x`` is an edge to ``pkg.x`` when that is a module, else to ``pkg``; a dotted name is an
    edge to the deepest module it names (``backend.index.store.MotionIndex`` -> ``backend.index.store``).
    """
    modules = {}
    for path in _py_files(root):
        parts = list(path.relative_to(root.parent).with_suffix("").parts)
        modules[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        pkg = name if path.name == "__init__.py" else name.rpartition(".")[0]
        targets: list[str] = []
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                targets += [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = pkg.split(".")[: len(pkg.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([node.module] if node.module else []))
                subs = [f"{base}.{a.name}" for a in node.names if f"{base}.{a.name}" in modules]
                targets += subs + ([base] if len(subs) < len(node.names) else [])
        edges: set[str] = set()
        for target in targets:
            while target and target not in modules:
                target = target.rpartition(".")[0]
            if target and target != name:
                edges.add(target)
        graph[name] = edges
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of ``graph`` as a path ``[a, b, ..., a]``, or None (depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the current path, 2 = finished

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if not state.get(nxt) and (found := visit(nxt, path)):
                return found
        state[node] = 2
        path.pop()
        return None

    for root in sorted(graph):
        if not state.get(root) and (found := visit(root, [])):
            return found
    return None


def test_import_graph_resolves_relative_function_level_and_submodule_imports(tmp_path: Path) -> None:
    files = {
        "backend/__init__.py": "",
        "backend/a.py": "from backend.b import f\nimport os\n",
        "backend/b.py": "def f():\n    from .sub.c import g\n",
        "backend/sub/__init__.py": "from . import c\n",
        "backend/sub/c.py": "def g():\n    from .. import a\n    from ..b import f\n    import backend.sub.c.x\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    graph = backend_import_graph(tmp_path / "backend")
    assert graph == {"backend": set(), "backend.a": {"backend.b"}, "backend.b": {"backend.sub.c"},
                     "backend.sub": {"backend.sub.c"}, "backend.sub.c": {"backend.a", "backend.b"}}  # fmt: skip
    assert find_cycle(graph) == ["backend.a", "backend.b", "backend.sub.c", "backend.a"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None


def test_backend_import_graph_has_no_cycle() -> None:
    cycle = find_cycle(backend_import_graph())
    assert cycle is None, "import cycle in backend/: " + " -> ".join(cycle or [])


def test_motion_never_imports_torch() -> None:
    bad = []
    for path in _py_files(REPO / "backend"):
        mod = _module_name(path)
        if mod.startswith(NO_TORCH):
            bad += [
                f"{path.relative_to(REPO)} imports {i}" for i in _imports(path) if i.split(".")[0] == "torch"
            ]
    assert not bad, "\n".join(bad)


def test_motion_import_loads_no_torch() -> None:
    code = (
        "import sys, backend.motion.convert, backend.motion.kinematics.angles; print('torch' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_addon_imports_no_backend_or_ml() -> None:
    bad = []
    for path in _py_files(REPO / "addon"):
        for imp in _imports(path):
            if imp.split(".")[0] in ADDON_FORBIDDEN:
                bad.append(f"{path.relative_to(REPO)} imports {imp}")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("name", ADDON_PURE)
def test_addon_pure_modules_import_without_bpy(name: str) -> None:
    path = REPO / "addon" / f"{name}.py"
    assert path.exists(), f"missing pure add-on module {path}"
    # Import through a stub package so addon/__init__.py (which registers bpy classes) is not executed.
    code = (
        "import sys, types; pkg = types.ModuleType('addon'); pkg.__path__ = ['addon']; "
        f"sys.modules['addon'] = pkg; import importlib; importlib.import_module('addon.{name}'); "
        "print('bpy' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False", f"addon/{name}.py pulls in bpy"


def test_cli_help_is_light() -> None:
    code = "import sys; from backend.cli import build_parser; build_parser(); print('torch' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False", "python -m backend --help must not import torch"
