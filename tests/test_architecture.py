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

sys.path.insert(0, str(Path(__file__).resolve().parent))

from import_graph import find_cycle, import_graph  # tests/import_graph.py: shared with the add-on test

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
    graph = import_graph(tmp_path / "backend", "backend")
    assert graph == {"backend": set(), "backend.a": {"backend.b"}, "backend.b": {"backend.sub.c"},
                     "backend.sub": {"backend.sub.c"}, "backend.sub.c": {"backend.a", "backend.b"}}  # fmt: skip
    assert find_cycle(graph) == ["backend.a", "backend.b", "backend.sub.c", "backend.a"]
    assert find_cycle({"x": {"y"}, "y": set()}) is None


def test_backend_import_graph_has_no_cycle() -> None:
    cycle = find_cycle(import_graph(REPO / "backend", "backend"))
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
