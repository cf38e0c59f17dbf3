"""Import graphs of a package read with ``ast`` (imports nothing): shared by ``tests/test_architecture.py``
(``backend/``) and ``tests/addon/test_addon_import_graph.py`` (``addon/``).

Every ``import`` / ``from ... import`` counts, at module level, inside functions and under ``TYPE_CHECKING``
alike, with relative imports resolved. ``from pkg import x`` is an edge to ``pkg.x`` when that is a module,
else to ``pkg``; a dotted name is an edge to the deepest module it names.
"""

from __future__ import annotations

import ast
from pathlib import Path

__all__ = ["external_imports", "find_cycle", "import_graph", "import_nodes", "package_modules"]


def _module_name(path: Path, root: Path, package: str) -> str:
    parts = [package, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def package_modules(root: Path, package: str) -> dict[str, Path]:
    paths = sorted(p for p in root.rglob("*.py") if "__pycache__" not in p.parts)
    return {_module_name(p, root, package): p for p in paths}


def _resolve(current: str, is_package: bool, level: int, module: str | None) -> str:
    """Absolute name of a (possibly relative) ``from`` import seen in module ``current``."""
    if level == 0:
        return module or ""
    base = current.split(".") if is_package else current.split(".")[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def import_nodes(path: Path, at_import: bool) -> list[ast.Import | ast.ImportFrom]:
    """Import statements of one file: all of them, or (``at_import``) those outside function bodies."""
    out: list[ast.Import | ast.ImportFrom] = []
    todo: list[ast.AST] = [ast.parse(path.read_text(encoding="utf-8"), filename=str(path))]
    while todo:
        node = todo.pop()
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            out.append(node)
        elif not (at_import and isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))):
            todo.extend(ast.iter_child_nodes(node))
    return out


def import_graph(root: Path, package: str, *, at_import: bool = False) -> dict[str, set[str]]:
    """``{module: {modules of the package it imports}}`` for every module of the package in ``root``.

    ``at_import=True`` keeps only the imports that run when the module is imported (not those in functions).
    """
    modules = package_modules(root, package)
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        is_package = path.name == "__init__.py"
        edges: set[str] = set()
        for node in import_nodes(path, at_import):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                target = _resolve(name, is_package, node.level, node.module)
                subs = [f"{target}.{a.name}" for a in node.names if f"{target}.{a.name}" in modules]
                # "from . import jobs" imports the submodule; other names come from ``target`` itself
                targets = subs + ([target] if len(subs) < len(node.names) else [])
            for target in targets:
                while target and target not in modules:  # "pkg.sub.x.y" -> the module that defines it
                    target = target.rpartition(".")[0]
                if target and target != name:
                    edges.add(target)
        graph[name] = edges
    return graph


def external_imports(path: Path) -> set[str]:
    """Top-level names of the absolute imports one file runs when imported (``import bpy`` -> ``bpy``)."""
    out: set[str] = set()
    for node in import_nodes(path, at_import=True):
        if isinstance(node, ast.Import):
            out.update(a.name.split(".")[0] for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            out.add(node.module.split(".")[0])
    return out


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle as a path ``[a, b, ..., a]``, or None (iterative depth-first search)."""
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    for root in sorted(graph):
        if state.get(root):
            continue
        stack: list[tuple[str, list[str]]] = [(root, sorted(graph[root]))]
        path = [root]
        state[root] = 1
        while stack:
            node, todo = stack[-1]
            if not todo:
                state[node] = 2
                stack.pop()
                path.pop()
                continue
            nxt = todo.pop(0)
            if state.get(nxt) == 1:
                return path[path.index(nxt) :] + [nxt]
            if not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                stack.append((nxt, sorted(graph.get(nxt, ()))))
    return None
