"""Import layering (issue 13): `import stalksim` and `stalksim serve` load only what they use,
and stalksim's modules import one another without circles.

What a process loads is read from the process itself (its `sys.modules`, for a server at its
exit), never guessed from the source. The circles are found in the import graph
built from every module's source with `ast`, module-level and function-level imports alike
(a lazy import still ties two modules together); `if TYPE_CHECKING:` imports never run and
are left out, and so are edges between a package and its own submodules (Python imports the
package first anyway, and a package's PEP 562 re-exports of its submodules are its public
face, not a dependency).
"""

from __future__ import annotations

import ast
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.realserver import free_port

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "stalksim"
HEAVY = ("simpy", "numpy", "matplotlib", "pandas", "ipywidgets", "IPython", "anywidget")
"""Third-party modules that `stalksim serve` must never load."""
NOT_FOR_SERVE = ("stalksim.simulation", "stalksim.client", "stalksim.scenarios",
                 "stalksim.workers", "stalksim.metrics", "stalksim.views", "stalksim.widgets",
                 "stalksim.live", "stalksim.exercises", "stalksim.flow", "stalksim.forks",
                 "argparse")
# ---- what a process loads ---------------------------------------------------------------

def _loaded(code: str) -> set[str]:
    """The names in sys.modules after running `code` in a new process."""
    code += "\nimport sys\nprint(' '.join(sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, cwd=ROOT).stdout
    return set(out.split())


def _prefixed(mods: set[str], names: tuple[str, ...]) -> list[str]:
    return sorted(m for m in mods if any(m == n or m.startswith(n + ".") for n in names))


def test_import_stalksim_loads_no_third_party_module():
    mods = _loaded("import stalksim")
    bare = _loaded("pass")
    ours = sorted(m for m in mods - bare if m.startswith("stalksim"))
    assert ours == ["stalksim"], ours
    assert _prefixed(mods - bare, ("simpy", "greenstalk", *HEAVY)) == []


def test_simulation_is_exported_and_loaded_on_first_use():
    mods = _loaded("import stalksim\nsim = stalksim.Simulation()\nsim.client().put('x')")
    assert "simpy" in mods and "stalksim.simulation" in mods
    code = ("from stalksim import Simulation, WouldWaitForever, views, __version__\n"
            "import stalksim\n"
            "assert stalksim.Simulation is Simulation and issubclass(WouldWaitForever, "
            "Exception)\n"
            "assert {'Simulation', 'WouldWaitForever'} <= set(dir(stalksim))\n"
            "assert views.__name__ == 'stalksim.views'\n"
            "try:\n    stalksim.no_such_name\nexcept AttributeError:\n    pass\n"
            "else:\n    raise SystemExit('no AttributeError')\n")
    assert "matplotlib" in _loaded(code)


def test_the_serve_entry_point_imports_only_cheap_modules_before_wire():
    """What `stalksim serve` runs before it imports stalksim.wire (the lean entry point: the
    package, `__main__`, cli and serving's option parsing) loads no other stalksim module and
    none of the costly standard modules, so a server that binds first could listen at once."""
    new = _loaded("import stalksim.__main__, stalksim.cli, stalksim.serving\n"
                  "stalksim.serving.parse_serve_args(['-p', '1', '-V', '--speed', '2'])"
                  ) - _loaded("")
    assert sorted(m for m in new if m.startswith("stalksim")) == [
        "stalksim", "stalksim.__main__", "stalksim.cli", "stalksim.serving"]
    assert _prefixed(new, ("typing", "dataclasses", "inspect", "argparse", "asyncio", "json",
                           "greenstalk", *HEAVY)) == []


SERVE_ENTRIES = {  # what `python -m stalksim` and the console script run, in this process
    "python -m stalksim": "import runpy; runpy.run_module('stalksim', run_name='__main__', "
                          "alter_sys=True)",
    "console script": "from stalksim.cli import main; sys.exit(main())",
}


def _serve_modules(entry: str) -> set[str]:
    """sys.modules of a `stalksim serve` that listened, answered a put and was stopped by
    SIGTERM (printed at exit, so it holds everything the server ever imported)."""
    port = free_port()
    code = ("import atexit, sys\n"
            "atexit.register(lambda: print(' '.join(sys.modules), file=sys.stderr))\n"
            f"sys.argv = ['stalksim', 'serve', '-p', '{port}']\n" + entry)
    proc = subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 20
        while True:
            assert proc.poll() is None, proc.communicate()[1][-2000:]
            assert time.monotonic() < deadline, "stalksim serve did not listen in 20 s"
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(b"put 0 0 10 1\r\nx\r\n")
                    assert s.recv(64) == b"INSERTED 1\r\n"
                break
            except ConnectionRefusedError:
                time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        err = proc.communicate(timeout=10)[1]
    assert proc.returncode == 0, err[-2000:]
    return set(err.splitlines()[-1].split())


@pytest.mark.parametrize("entry", SERVE_ENTRIES, ids=list(SERVE_ENTRIES))
def test_serve_loads_neither_simpy_nor_the_scenarios(entry):
    mods = _serve_modules(SERVE_ENTRIES[entry])
    assert {"stalksim.wire", "stalksim.core"} <= mods  # the list is real
    assert _prefixed(mods, HEAVY) == []
    assert _prefixed(mods, NOT_FOR_SERVE) == []


# ---- the import graph ---------------------------------------------------------------------

def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _target(name: str) -> str | None:
    """The stalksim module that importing `name` runs (a name in a module: that module)."""
    while name and name not in MODULES:
        name = name.rpartition(".")[0]
    return name or None


def _is_type_checking(node: ast.If) -> bool:
    t = node.test
    return (isinstance(t, ast.Name) and t.id == "TYPE_CHECKING") or (
        isinstance(t, ast.Attribute) and t.attr == "TYPE_CHECKING")


def _imports(module: str) -> set[str]:
    """The stalksim modules `module` imports anywhere in its source (TYPE_CHECKING aside)."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    package = module if MODULES[module].name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()

    def visit(node: ast.AST) -> None:
        if isinstance(node, ast.If) and _is_type_checking(node):
            for child in node.orelse:
                visit(child)
            return
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[:len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            names = [base] + [f"{base}.{a.name}" for a in node.names]
        for n in names:
            t = _target(n) if n.startswith("stalksim") else None
            if t:
                found.add(t)
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(tree)
    return found


def _related(a: str, b: str) -> bool:
    return a == b or a.startswith(b + ".") or b.startswith(a + ".")


def graph() -> dict[str, set[str]]:
    """module -> the stalksim modules it imports, package/submodule edges left out."""
    return {m: {t for t in _imports(m) if not _related(m, t)} for m in MODULES}


def cycles(g: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    out: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(g[v]):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                out.append(sorted(comp))

    sys.setrecursionlimit(max(sys.getrecursionlimit(), 10 * len(g)))
    for v in sorted(g):
        if v not in index:
            strong(v)
    return sorted(out)


def test_the_graph_sees_lazy_imports_and_skips_type_checking():
    g = graph()
    assert "stalksim.scenarios" in g["stalksim.cli"]  # imported inside _list and _run
    assert "stalksim.wire" not in g["stalksim.serving"]  # importlib.import_module: no statement
    assert "stalksim.simulation" not in g["stalksim"]  # a package's own submodule
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_circles():
    """Issue 13 named client <-> simulation, core.server <-> core.stats and live <->
    widgets.liveview; cli <-> wire was one too. None may come back."""
    assert cycles(graph()) == []


def test_serve_speed_bounds_are_the_options_own():
    """serving defines the --speed bounds (so it need not import wire); wire's Clock uses them."""
    from stalksim import serving, wire

    assert (wire.MIN_SPEED, wire.MAX_SPEED) == (serving.MIN_SPEED, serving.MAX_SPEED)


def test_widgets_export_every_name_lazily():
    code = ("import sys, stalksim.widgets._render\n"
            "assert 'stalksim.widgets.panel' not in sys.modules\n"
            "import stalksim.widgets as w\n"
            "for name in w.__all__:\n    getattr(w, name)\n"
            "from stalksim.widgets import ServerPanel, panel\n"
            "assert ServerPanel is panel.ServerPanel\n")
    mods = _loaded(code)
    assert {"stalksim.widgets.flowview", "stalksim.widgets.timecontrol"} <= mods
