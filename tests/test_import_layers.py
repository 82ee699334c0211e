"""The package's layering, read from its import statements (issue 13).

Each module's imports are parsed (ast, no import runs) into three graphs: module level (what
importing it runs), TYPE_CHECKING blocks, and function level (imported when first used).
Module-level imports have no cycle; the pairs the issue named are not circular at any level;
the core imports nothing but itself and the standard library's pure parts (no clock, socket,
simpy or greenstalk), and greenstalk's exceptions are mapped in the client only.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "stalksim"
LEVELS = ("module", "type-checking", "function")


def _name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


MODULES = {_name(p): p for p in ROOT.rglob("*.py")}


def _target(module: str, name: str | None) -> str:
    """The stalksim module an import names: `from a.b import c` is a.b.c if that is one."""
    if name is not None and f"{module}.{name}" in MODULES:
        return f"{module}.{name}"
    return module


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def imports(tree: ast.Module) -> dict[str, set[str]]:
    """Modules imported at each level (any package, stalksim's resolved to modules)."""
    found: dict[str, set[str]] = {level: set() for level in LEVELS}

    def visit(node: ast.AST, level: str) -> None:
        if isinstance(node, ast.Import):
            found[level].update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            found[level].update(_target(node.module, a.name) for a in node.names)
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda):
                visit(child, "function")
            elif isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.body:
                    visit(sub, "type-checking" if level == "module" else level)
                for sub in child.orelse:
                    visit(sub, level)
            else:
                visit(child, level)

    visit(tree, "module")
    return found


GRAPH = {name: imports(ast.parse(path.read_text())) for name, path in MODULES.items()}


def edges(levels: tuple[str, ...]) -> dict[str, set[str]]:
    return {m: {t for lv in levels for t in found[lv] if t in MODULES}
            for m, found in GRAPH.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every elementary cycle found by a depth-first search (one per back edge)."""
    out: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def dfs(m: str) -> None:
        state[m] = 1
        stack.append(m)
        for t in sorted(graph[m]):
            if state.get(t) == 1:
                out.append(stack[stack.index(t):] + [t])
            elif t not in state:
                dfs(t)
        stack.pop()
        state[m] = 2

    for m in sorted(graph):
        if m not in state:
            dfs(m)
    return out


def test_the_parser_sees_all_three_levels() -> None:
    """The graph itself: known imports land at the level they are written at."""
    assert "stalksim.core.words" in GRAPH["stalksim.core.state"]["module"]
    assert "stalksim.core.state" in GRAPH["stalksim.core.stats"]["type-checking"]
    assert "stalksim.trace" in GRAPH["stalksim.simulation"]["function"]
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == [["a", "b", "c", "a"]]


def test_no_cycle_among_module_level_imports() -> None:
    assert cycles(edges(("module",))) == []


@pytest.mark.parametrize("a, b", [
    ("stalksim.client", "stalksim.simulation"),
    ("stalksim.core.server", "stalksim.core.stats"),
    ("stalksim.protocol", "stalksim.client"),
    ("stalksim.protocol", "stalksim.simulation"),
])
def test_named_pairs_are_not_circular_at_any_level(a: str, b: str) -> None:
    every = edges(LEVELS)
    assert not (b in every[a] and a in every[b]), f"{a} and {b} import each other"


PURE = {"__future__", "collections", "collections.abc", "heapq", "itertools", "typing"}


@pytest.mark.parametrize("module", sorted(m for m in MODULES if m.startswith("stalksim.core")))
def test_the_core_imports_only_itself_and_pure_stdlib(module: str) -> None:
    for level in LEVELS:
        for t in GRAPH[module][level]:
            assert t.startswith("stalksim.core") or t in PURE, f"{module} imports {t}"


def test_greenstalk_exceptions_are_mapped_in_the_client_only() -> None:
    mapping = [name for name, path in MODULES.items() if "ERROR_RESPONSES" in path.read_text()]
    assert mapping == ["stalksim.client"]
    assert "Refused" in (ROOT / "core" / "words.py").read_text()
