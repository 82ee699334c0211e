"""Memory of a lesson's kernel: each lesson run top to bottom (Run All) by nbclient in a fresh
python3 kernel, then the kernel process's memory read from /proc while the kernel is still
alive with everything the lesson made: its resident set (VmRSS of /proc/<pid>/status) and its
proportional share (Pss of /proc/<pid>/smaps_rollup: shared libraries split among the
processes that map them, so the kernels of one machine add up to what they really hold).

    python -m benchmarks.kernel                 # every lesson, one line each, then the row
    python -m benchmarks.kernel 03 05           # only the lessons whose names start so
    python -m benchmarks.kernel --dir DIR       # the lessons in DIR (e.g. an older version)
    python -m benchmarks.kernel --class-day     # lessons 1-7 and an exercise, all kept open

`--class-day` is a learner who opened every lesson and one exercise and shut none of them
down: the kernels run side by side and are read once all have run.

As a row of `python -m benchmarks` (the largest lesson kernel; `prefixes` picks lessons, e.g.
("02",) for a quick run):

    rows.append(kernel.row("15"))

Each line also names the heavy modules the kernel had loaded by the end (pandas, matplotlib,
...), which is where a kernel's memory goes. Lesson 6 runs against a real beanstalkd started
here (skipped, and said so, where none is installed).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS = ROOT / "notebooks"
CLASS_DAY_EXERCISE = NOTEBOOKS / "exercises" / "05-ex-survive-crash.ipynb"
TARGET_MIB = 150.0
"""The largest lesson kernel should stay under this: eight kernels (seven lessons and an
exercise, a class day's worth) then fit in Binder's 1-2 GB with room to spare."""
HEAVY = ("pandas", "matplotlib", "numpy", "ipywidgets", "anywidget", "PIL", "scipy")
LOADED = f"import sys; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
MiB = 2**20


@dataclass(frozen=True)
class KernelMemory:
    """One lesson's kernel after Run All: RSS and PSS in bytes, run time, heavy modules."""

    lesson: str
    rss: int
    pss: int
    seconds: float
    heavy: tuple[str, ...]

    def line(self) -> str:
        heavy = ", ".join(self.heavy) or "none of " + "/".join(HEAVY)
        return (f"{self.lesson}: {self.rss / MiB:.0f} MiB RSS ({self.pss / MiB:.0f} MiB PSS) "
                f"after Run All ({self.seconds:.1f} s; loaded: {heavy})")


def _proc_field(path: str, field: str) -> int:
    with open(path) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in {path}")


def memory_of(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of process `pid`, in bytes."""
    return (_proc_field(f"/proc/{pid}/status", "VmRSS"),
            _proc_field(f"/proc/{pid}/smaps_rollup", "Pss"))


@contextmanager
def _environment(extra: dict[str, str]) -> Iterator[None]:
    """os.environ with `extra` and this checkout on PYTHONPATH (what a kernel started now
    inherits), restored after."""
    saved = dict(os.environ)
    os.environ.update(extra)
    os.environ["PYTHONPATH"] = os.pathsep.join(
        p for p in [str(ROOT), saved.get("PYTHONPATH", "")] if p)
    try:
        yield
    finally:
        os.environ.clear()
        os.environ.update(saved)


@dataclass
class _Run:
    """A lesson that has run in a kernel still alive (until its ExitStack closes)."""

    path: Path
    client: Any
    nb: Any
    seconds: float

    def read(self) -> KernelMemory:
        import nbformat

        rss, pss = memory_of(self.client.km.provisioner.pid)
        probe = nbformat.v4.new_code_cell(LOADED)
        self.nb.cells.append(probe)
        self.client.execute_cell(probe, len(self.nb.cells) - 1)
        heavy = "".join(o.get("text", "") for o in probe.outputs).split()
        return KernelMemory(self.path.stem, rss, pss, self.seconds, tuple(heavy))


def run_lesson(path: Path, env: dict[str, str], stack: ExitStack) -> _Run:
    """Run every cell of the lesson at `path` in a fresh kernel (with `env` added to its
    environment), which `stack` shuts down when it closes."""
    import nbclient
    import nbformat

    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=300, kernel_name="python3",
                                     resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    with _environment(env):
        stack.enter_context(client.setup_kernel())
    for index, cell in enumerate(nb.cells):
        client.execute_cell(cell, index)
    return _Run(path, client, nb, time.perf_counter() - started)


def measure_all(paths: list[Path], together: bool = False) -> list[KernelMemory | str]:
    """Each of `paths` run in a fresh kernel and read: one after the other (each kernel shut
    down before the next starts), or `together` (all kept running, read at the end). A lesson
    that cannot run here is a line saying why."""
    from tests.realserver import RealBeanstalkd, beanstalkd_binary

    out: list[KernelMemory | str] = []
    runs: list[_Run] = []
    live: dict[str, str] = {}
    with ExitStack() as everything:
        for path in paths:
            env = {"BEANSTALKD_PORT": "1"}  # the simulated lessons need no server
            if path.name.startswith("06-going-live"):
                if beanstalkd_binary() is None:
                    out.append(f"{path.stem}: skipped (no beanstalkd installed)")
                    continue
                if not live:
                    server = everything.enter_context(RealBeanstalkd())
                    live = {"BEANSTALKD_HOST": server.host, "BEANSTALKD_PORT": str(server.port)}
                env = live
            if together:
                runs.append(run_lesson(path, env, everything))
                continue
            with ExitStack() as kernel:
                out.append(run_lesson(path, env, kernel).read())
        out += [run.read() for run in runs]
    return out


def lessons(folder: Path = NOTEBOOKS, prefixes: tuple[str, ...] = ()) -> list[Path]:
    return [p for p in sorted(folder.glob("[0-9][0-9]-*.ipynb"))
            if not prefixes or p.name.startswith(prefixes)]


def row(n: str, results: list[KernelMemory | str] | None = None,
        prefixes: tuple[str, ...] = ()) -> tuple[str, str, str, str, str]:
    """(#, workload, measured, target, met): the largest lesson kernel after Run All (of
    `results`, or of the lessons measured now)."""
    results = measure_all(lessons(prefixes=prefixes)) if results is None else results
    kernels = [r for r in results if isinstance(r, KernelMemory)]
    workload = "one lesson's kernel after Run All (nbclient, fresh kernel): RSS of the largest"
    target = f"<= {TARGET_MIB:.0f} MiB"
    if not kernels:
        return (n, workload, "skipped: no lesson ran", target, "skipped")
    big = max(kernels, key=lambda k: k.rss)
    small = min(kernels, key=lambda k: k.rss)
    measured = (f"{big.rss / MiB:.0f} MiB ({big.lesson}); smallest {small.rss / MiB:.0f} "
                f"MiB ({small.lesson}); {len(kernels)} lessons")
    return (n, workload, measured, target, "yes" if big.rss <= TARGET_MIB * MiB else "NO")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.kernel",
                                 description=__doc__.split("\n\n")[0])
    ap.add_argument("prefixes", nargs="*", help="only the lessons whose names start so")
    ap.add_argument("--dir", type=Path, default=NOTEBOOKS, help="the folder of the lessons")
    ap.add_argument("--class-day", action="store_true",
                    help="the lessons and an exercise, all kept running, then read")
    args = ap.parse_args(argv)
    paths = lessons(args.dir, tuple(args.prefixes))
    if args.class_day:
        paths.append(CLASS_DAY_EXERCISE)
    found = measure_all(paths, together=args.class_day)
    for r in found:
        print(r if isinstance(r, str) else r.line())
    kernels = [r for r in found if isinstance(r, KernelMemory)]
    if args.class_day:
        print(f"{len(kernels)} kernels together: {sum(k.rss for k in kernels) / MiB:.0f} MiB "
              f"RSS, {sum(k.pss for k in kernels) / MiB:.0f} MiB PSS")
    else:
        print(" | ".join(row("15", found)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
