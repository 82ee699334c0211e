"""Run a lesson's code cells in this process, on the simulator or on a real beanstalkd.

A lesson's statements about beanstalkd are tagged cells (`claim:<id>`); docs/claims.md lists
them. `run_lesson(path, backend)` executes every code cell that neither draws (`plot`, `flow`,
`widgets`, `tour`) nor needs the simulator's insides (`sim-only`, `exercise`), in order, in one
namespace, and returns what each printed or evaluated to. On the real leg `stalksim.Simulation`
is a `stalksim.live.LiveSession` on a fresh beanstalkd, so the very same cells talk to the real
server; `snapshot()`, which reads the simulator's memory, shows nothing there. A
`Simulation(binlog=...)` is a `LiveSession(binlog=...)`, whose `restart()` crashes and starts
its own beanstalkd (with -b DIR for binlog=True).
"""

from __future__ import annotations

import ast
import contextlib
import io
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import nbformat

import stalksim
from stalksim.live.session import LiveSession
from tests.realserver import RealBeanstalkd

SKIP = {"plot", "widgets", "flow", "sim-only", "exercise", "tour"}
LESSONS = sorted((Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb"))
PLAIN = (str, int, float, bool, list, tuple, dict, set)


@dataclass
class CellRun:
    index: int
    tags: list[str]
    source: str
    output: str

    @property
    def claims(self) -> list[str]:
        return [t.split(":", 1)[1] for t in self.tags if t.startswith("claim:")]


@dataclass
class RealServers:
    """Fresh real beanstalkds, one per `Simulation(...)` a lesson makes; stopped by pid."""

    running: list[RealBeanstalkd] = field(default_factory=list)
    sessions: list[LiveSession] = field(default_factory=list)

    def simulation(self, seed: int | None = None, binlog: bool | None = None,
                   **_: Any) -> LiveSession:
        """`Simulation(binlog=...)` named (lesson 7 restarts it): a private beanstalkd, with
        -b DIR if binlog=True, that the session itself can crash and start again; without
        the argument a plain one."""
        if binlog is not None:
            session = LiveSession(binlog=binlog)
        else:
            server = RealBeanstalkd().start()
            self.running.append(server)
            session = LiveSession(server.address, start=False)
        self.sessions.append(session)
        return session

    def stop(self) -> None:
        for session in self.sessions:
            session.close()
        for server in self.running:
            server.stop()


def code_cells(path: Path) -> list[tuple[int, list[str], str]]:
    nb = nbformat.read(path, as_version=4)
    return [(i, list(c.metadata.get("tags", [])), c.source) for i, c in enumerate(nb.cells)
            if c.cell_type == "code"]


def unchecked_claims(paths: list[Path]) -> list[tuple[str, int, list[str]]]:
    """Claim cells that also carry a tag in SKIP: run_lesson would never run them, so their
    claims would go unchecked on the real server."""
    return [(p.name, i, tags) for p in paths for i, tags, _ in code_cells(p)
            if any(t.startswith("claim:") for t in tags) and set(tags) & SKIP]


def _strip_magics(source: str) -> str:
    return "\n".join(line for line in source.splitlines() if not line.lstrip().startswith("%"))


def run_cell(source: str, ns: dict[str, Any]) -> str:
    """Execute like a notebook cell: what it prints, then the repr of a plain last value."""
    tree = ast.parse(_strip_magics(source))
    last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(tree, "<cell>", "exec"), ns)  # noqa: S102 - the lesson's own code
        if last is not None:
            value = eval(compile(ast.Expression(last.value), "<cell>", "eval"), ns)  # noqa: S307
            if type(value) in PLAIN:  # not display objects (HTML, figures, widgets)
                print(repr(value))
    return out.getvalue()


def _live_stalksim(servers: RealServers) -> types.ModuleType:
    """`stalksim` as the lesson sees it on the real leg: Simulation makes a LiveSession."""
    mod = types.ModuleType("stalksim")
    mod.__dict__.update(stalksim.__dict__)
    mod.Simulation = servers.simulation  # type: ignore[attr-defined]
    return mod


def _snapshot_or_nothing(shown: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def snapshot(target: Any) -> Any:
        return None if isinstance(target, LiveSession) else shown(target)
    snapshot.live = True  # type: ignore[attr-defined]
    return snapshot


def _go_live(ns: dict[str, Any], live: types.ModuleType) -> None:
    """Point the lesson's names at the real server: `stalksim` is `live` (Simulation makes a
    LiveSession) and `snapshot` shows nothing for a LiveSession. Called after every cell, so a
    cell that imports stalksim (again) cannot put the simulator back."""
    if ns.get("stalksim") is not live:
        ns["stalksim"] = live
    shown = ns.get("snapshot")
    if shown is not None and not getattr(shown, "live", False):
        ns["snapshot"] = _snapshot_or_nothing(shown)


def run_lesson(path: Path, backend: str) -> list[CellRun]:
    """Run the lesson's runnable cells on "sim" or "real"; one CellRun per cell run after the
    first (the imports). On "real", a lesson that makes a `stalksim.Simulation` in a cell that
    was run but never reached the real server raises AssertionError: its claims would have been
    checked on the simulator twice."""
    cells = [c for c in code_cells(path) if not SKIP & set(c[1]) and c[2].strip()]
    servers = RealServers()
    live = _live_stalksim(servers)
    ns: dict[str, Any] = {"__name__": "__lesson__"}
    runs: list[CellRun] = []
    try:
        first, rest = cells[0], cells[1:]
        run_cell(first[2], ns)  # the imports
        for index, tags, source in rest:
            if backend == "real":
                _go_live(ns, live)
            runs.append(CellRun(index, tags, source, run_cell(source, ns)))
        if backend == "real" and any("Simulation(" in r.source for r in runs):
            assert servers.sessions, (
                f"{path.name}: no cell reached a real beanstalkd (each Simulation(...) should "
                "have been a LiveSession)")
    finally:
        servers.stop()
    return runs
