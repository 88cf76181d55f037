"""The layout holds: imports point one way, no import cycle, churn_core never imports streamlit, imports
inside functions say why, and the tree is formatted and linted as CI expects."""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
KERNEL = {"settings", "schema", "errors", "signing", "secrets", "intervals"}
# Lowest first: a module may import its own layer and the layers before it, never one after it.
LAYERS: tuple[str, ...] = (
    "kernel",
    "warehouse",
    "data",
    "model",
    "scoring",
    "access",
    "jobs",
    "views",
    "cli",
    "dashboard",
    "pages",
)
FIRST_PARTY = ("churn_core", "dashboard", "pages")


def _modules() -> Iterator[tuple[str, Path]]:
    for top in FIRST_PARTY:
        for path in sorted((ROOT / top).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            yield ".".join(parts[:-1] if parts[-1] == "__init__" else parts), path


def _layer(module: str) -> str | None:
    """The layer of a first-party module; None for the churn_core package itself (the public facade)."""
    parts = module.split(".")
    if parts[0] != "churn_core":
        return parts[0]
    if len(parts) == 1:
        return None
    return "kernel" if parts[1] in KERNEL else parts[1]


def _imports(tree: ast.Module, *, top_level: bool) -> Iterator[tuple[ast.stmt, str]]:
    """(statement, imported module) for first-party imports at module level, or inside functions."""
    nodes = tree.body if top_level else [n for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)]
    for node in nodes if top_level else (s for f in nodes for s in ast.walk(f)):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [
                f"{node.module}.{a.name}" if node.module in {"churn_core", "dashboard"} else node.module
                for a in node.names
            ]
        else:
            continue
        for name in names:
            if name.split(".")[0] in FIRST_PARTY:
                yield node, name


def _parsed() -> dict[str, tuple[Path, ast.Module]]:
    return {m: (p, ast.parse(p.read_text(encoding="utf-8"))) for m, p in _modules()}


def _resolve(name: str, modules: dict[str, object]) -> str:
    """The module an imported name lives in (`from pkg import name` may name a module or an attribute)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name


def test_imports_point_one_way() -> None:
    parsed = _parsed()
    wrong = []
    for module, (path, tree) in parsed.items():
        layer = _layer(module)
        for top_level in (True, False):
            for node, name in _imports(tree, top_level=top_level):
                target = _layer(_resolve(name, parsed))
                if layer and target and LAYERS.index(target) > LAYERS.index(layer):
                    wrong.append(f"{path.relative_to(ROOT)}:{node.lineno} ({layer}) imports {name} ({target})")
    assert not wrong, "imports against the layer order " + " < ".join(LAYERS) + ":\n" + "\n".join(wrong)


def test_no_import_cycle() -> None:
    parsed = _parsed()
    graph = {
        m: {_resolve(n, parsed) for _, n in _imports(tree, top_level=True)} - {m, ""} for m, (_, tree) in parsed.items()
    }
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                cycles.append(sorted(component))

    sys.setrecursionlimit(10_000)
    for node in graph:
        if node not in index:
            visit(node)
    assert not cycles, f"import cycles: {cycles}"


def test_churn_core_never_imports_streamlit() -> None:
    offenders = [
        str(path.relative_to(ROOT))
        for module, path in _modules()
        if module.startswith("churn_core")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
        if isinstance(node, ast.Import | ast.ImportFrom)
        and any(
            n.startswith("streamlit")
            for n in ([a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""])
        )
    ]
    assert not offenders, offenders


def test_an_import_inside_a_function_says_why() -> None:
    """Imports belong at the top; one inside a function (to spare start-up time) carries a comment saying so."""
    silent = []
    for _, (path, tree) in _parsed().items():
        lines = path.read_text(encoding="utf-8").splitlines()
        for node, name in _imports(tree, top_level=False):
            near = lines[max(node.lineno - 4, 0) : node.lineno]  # the line, or a comment just above its block
            if not any("#" in line for line in near):
                silent.append(f"{path.relative_to(ROOT)}:{node.lineno} imports {name}")
    assert not silent, "imports inside functions without a comment saying why:\n" + "\n".join(silent)


@pytest.mark.parametrize("command", [["format", "--check", "."], ["check", "."]], ids=["format", "lint"])
def test_the_tree_is_formatted_and_linted(command: list[str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "ruff", *command], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, f"ruff {' '.join(command)}:\n{result.stdout}{result.stderr}"
