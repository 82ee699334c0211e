"""`python -m stalksim doctor`: the day-before check of a classroom machine.

    python -m stalksim doctor            # every lesson and exercise notebook in a real kernel
    python -m stalksim doctor --quick    # the same notebooks in this process (no kernel)

It checks the Python and package versions the notebooks need (pyproject's `notebook` extras),
that every lesson and exercise notebook runs and every exercise's solution passes its check,
that a beanstalkd answers for lesson 6, and that there is free memory and disk. It prints a
progress line per notebook, then a table of green (OK) and red (FAIL) lines, each red one with
the fix; the exit status is 0 only when every line is green.
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import io
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import stalksim
from stalksim._browser import refuse

INSTALL = 'python -m pip install -e ".[notebook]"  (in the stalksim checkout)'
MIN_MEMORY_MIB = 1024
MIN_DISK_MIB = 1024
CHECKOUT = Path(stalksim.__file__).resolve().parent.parent


@dataclass
class Line:
    """One line of the doctor's table: green when `ok`, else red with a `fix`."""

    name: str
    ok: bool
    detail: str
    fix: str = ""


# ---- versions ---------------------------------------------------------------------------------

def requirements(extra: str = "notebook") -> tuple[str, list[str]]:
    """(requires-python, [base deps + the `extra` deps]) from the checkout's pyproject.toml,
    or from the installed package's metadata when there is no checkout."""
    pyproject = CHECKOUT / "pyproject.toml"
    if pyproject.is_file():
        import tomllib

        project = tomllib.loads(pyproject.read_text())["project"]
        return (project.get("requires-python", ""),
                list(project.get("dependencies", []))
                + list(project.get("optional-dependencies", {}).get(extra, [])))
    from importlib import metadata

    reqs = metadata.requires("stalksim") or []
    keep = [r.split(";")[0].strip() for r in reqs
            if ";" not in r or re.search(rf"extra\s*==\s*['\"]{extra}['\"]", r)]
    return metadata.metadata("stalksim")["Requires-Python"] or "", keep


def check_versions(extra: str = "notebook") -> list[Line]:
    """Python, then each required package: installed, and at a version the project accepts."""
    from importlib import metadata

    from packaging.requirements import Requirement
    from packaging.specifiers import SpecifierSet

    python_spec, reqs = requirements(extra)
    here = ".".join(map(str, sys.version_info[:3]))
    lines = [Line("Python", here in SpecifierSet(python_spec), f"{here} (needs {python_spec})",
                  f"install Python {python_spec} and make the virtual environment with it")]
    for text in reqs:
        req = Requirement(text)
        if req.name == "stalksim":
            continue
        want = str(req.specifier) or "any version"
        try:
            have = metadata.version(req.name)
        except metadata.PackageNotFoundError:
            lines.append(Line(req.name, False, f"not installed (needs {want})", INSTALL))
            continue
        ok = req.specifier.contains(have, prereleases=True)
        lines.append(Line(req.name, ok, f"{have} (needs {want})",
                          f'python -m pip install "{req}"'))
    return lines


# ---- beanstalkd -------------------------------------------------------------------------------

def server_version(address: tuple[str, int], timeout: float = 2.0) -> str | None:
    """The version a beanstalkd at `address` reports in `stats`, or None if nothing answers."""
    try:
        with socket.create_connection(address, timeout=timeout) as s:
            s.sendall(b"stats\r\n")
            data = b""
            while b"\nversion:" not in data or not data.endswith(b"\n"):
                chunk = s.recv(4096)
                if not chunk:
                    break
                data += chunk
    except OSError:
        return None
    found = re.search(rb"\nversion: *\"?([^\"\r\n]+)", data)
    return found.group(1).decode() if data.startswith(b"OK ") and found else None


def start_command(address: tuple[str, int], which: Callable[[str], str | None]) -> str:
    """The exact command that gives lesson 6 a beanstalkd at `address`."""
    host, port = address
    if host not in ("127.0.0.1", "localhost", "::1"):
        return (f"start beanstalkd on {host} (beanstalkd -l 0.0.0.0 -p {port}), or unset "
                f"BEANSTALKD_HOST/BEANSTALKD_PORT to use a local one")
    if which("beanstalkd"):
        return f"beanstalkd -l {host} -p {port} &"
    return (f"sudo apt-get install beanstalkd (Debian/Ubuntu: it starts on port 11300), brew "
            f"install beanstalkd && beanstalkd -l {host} -p {port} & (macOS), or the simulator "
            f"on the wire: python -m stalksim serve -l {host} -p {port} &")


def check_beanstalkd(address: tuple[str, int] | None = None,
                     which: Callable[[str], str | None] = shutil.which) -> Line:
    """Green when a beanstalkd answers at `address` (default: BEANSTALKD_HOST/PORT or
    127.0.0.1:11300, where lesson 6 and the live exercises look)."""
    from stalksim.live import default_address

    address = address or default_address()
    where = f"{address[0]}:{address[1]}"
    version = server_version(address)
    if version is not None:
        return Line("beanstalkd", True, f"version {version} answers at {where}")
    binary = which("beanstalkd")
    found = f"the binary is at {binary}" if binary else "no beanstalkd binary on PATH"
    return Line("beanstalkd", False, f"nothing answers at {where} ({found})",
                start_command(address, which))


# ---- memory and disk --------------------------------------------------------------------------

def available_memory_mib() -> float | None:
    """MemAvailable from /proc/meminfo (Linux), else free physical pages; None if unknown."""
    try:
        text = Path("/proc/meminfo").read_text()
        return int(re.search(r"MemAvailable:\s+(\d+) kB", text).group(1)) / 1024  # type: ignore
    except (OSError, AttributeError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(min_mib: float = MIN_MEMORY_MIB) -> Line:
    free = available_memory_mib()
    if free is None:
        return Line("memory", True, "free memory unknown on this system (not checked)")
    return Line("memory", free >= min_mib, f"{free:,.0f} MiB available (needs {min_mib:,.0f})",
                "close other programs (browsers tabs, IDEs), or use Binder or a JupyterHub")


def check_disk(path: Path, min_mib: float = MIN_DISK_MIB) -> Line:
    free = shutil.disk_usage(path).free / 2**20
    return Line("disk", free >= min_mib, f"{free:,.0f} MiB free at {path} (needs "
                f"{min_mib:,.0f})", f"free some space on the disk that holds {path}")


# ---- notebooks and exercises ------------------------------------------------------------------

@dataclass
class Failure:
    """Where a notebook stopped: the cell number (from 1, as JupyterLab counts) and error."""

    cell: int
    ename: str
    evalue: str

    def __str__(self) -> str:
        return f"cell {self.cell}: {self.ename}: {self.evalue}".strip()[:300]


def notebooks(root: Path) -> list[Path]:
    """The lessons (`root/NN-*.ipynb`), then the student exercises (`root/exercises/`)."""
    return sorted(root.glob("[0-9]*.ipynb")) + sorted((root / "exercises").glob("[0-9]*.ipynb"))


def exec_cell(source: str, ns: dict[str, Any], filename: str = "<cell>") -> None:
    """Run a code cell's source in `ns`, without its IPython magics and shell lines."""
    code = "\n".join(x for x in source.splitlines() if not x.lstrip().startswith(("%", "!")))
    exec(compile(ast.parse(code), filename, "exec"), ns)  # noqa: S102 - the lesson's own code


def run_in_process(path: Path) -> Failure | None:
    """Run the notebook's code cells here, in order, in one namespace (matplotlib draws off
    screen; widgets are made without a browser); output is discarded. The first error, or
    None."""
    import matplotlib

    matplotlib.use("Agg")
    import nbformat

    nb = nbformat.read(path, as_version=4)
    ns: dict[str, Any] = {"__name__": "__main__"}
    old = Path.cwd()
    sink = io.StringIO()
    try:
        os.chdir(path.parent)
        with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink):
            for i, cell in enumerate(nb.cells, 1):
                if cell.cell_type != "code":
                    continue
                try:
                    exec_cell(cell.source, ns)
                except (Exception, SystemExit) as e:
                    return Failure(i, type(e).__name__, str(e))
    finally:
        os.chdir(old)
        import matplotlib.pyplot as plt

        plt.close("all")
    return None


def run_in_kernel(path: Path, timeout: float) -> Failure | None:
    """Run the notebook in a fresh python3 kernel (nbclient), as JupyterLab's "Run All" does.
    The first error (or timeout), or None."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(stderr=subprocess.DEVNULL)  # the kernel's own warnings
    except CellExecutionError as e:
        cell = next((i for i, c in enumerate(nb.cells, 1) if any(
            o.get("output_type") == "error" for o in c.get("outputs", []))), 0)
        return Failure(cell, e.ename, e.evalue)
    except CellTimeoutError:
        return Failure(0, "timeout", f"a cell ran longer than {timeout:g} s")
    except DeadKernelError as e:
        return Failure(0, "the kernel died", str(e))
    return None


def fix_for(failure: Failure, path: Path) -> str:
    """What to do about a notebook that stopped with `failure`."""
    if failure.ename in ("ModuleNotFoundError", "ImportError", "NoSuchKernel"):
        return INSTALL
    if failure.ename in ("NoServer", "ConnectionRefusedError"):
        return "start a beanstalkd (see the beanstalkd line), then run the doctor again"
    return (f"open {path.name} in JupyterLab, Run All, and read cell {failure.cell}; "
            f"`git diff {path.name}` shows whether it was edited")


def check_notebook(path: Path, quick: bool, timeout: float = 300) -> Line:
    """One notebook runs top to bottom (in this process with `quick`, else in a kernel)."""
    try:
        failure = run_in_process(path) if quick else run_in_kernel(path, timeout)
    except Exception as e:  # no kernel, unreadable file: a red line, not a traceback
        failure = Failure(0, type(e).__name__, str(e))
    name = f"{path.parent.name}/{path.name}" if path.parent.name == "exercises" else path.name
    if failure is None:
        return Line(name, True, "runs top to bottom")
    return Line(name, False, str(failure), fix_for(failure, path))


def check_solutions() -> Line:
    """Every registered exercise's own solution passes its check (the checkers work here)."""
    try:
        import stalksim.exercises as ex

        ids = ex.list_exercises()
    except Exception as e:
        return Line("exercise checks", False, f"the exercises do not import: "
                    f"{type(e).__name__}: {e}", f"{INSTALL}; git status (a half-made change?)")
    broken = []
    sink = io.StringIO()
    for exercise_id in ids:
        ns: dict[str, Any] = {"__name__": "__main__"}
        try:
            with contextlib.redirect_stdout(sink):
                exec_cell(ex.exercise(exercise_id).solution, ns)
                ok = ex.check(exercise_id, ns.get("answer")).ok
        except Exception as e:
            ok, sink = False, io.StringIO(f"{type(e).__name__}: {e}")
        if not ok:
            broken.append(exercise_id)
    live = [i for i in broken if ex.exercise(i).lesson == 6]
    fix = ("start a beanstalkd (see the beanstalkd line)" if broken == live else
           f"run python -m pytest tests/test_exercises.py -k \"{' or '.join(broken)}\" for "
           f"details; {INSTALL}")
    detail = (f"all {len(ids)} solutions pass their checks" if not broken else
              f"{len(ids) - len(broken)} of {len(ids)} solutions pass; not: {', '.join(broken)}")
    return Line("exercise checks", not broken, detail, fix)


# ---- the table and the command ----------------------------------------------------------------

def table(lines: Sequence[Line], color: bool = False) -> str:
    """The green/red table: one line per check, the fix under each red one."""
    width = max((len(x.name) for x in lines), default=0)
    paint = (lambda text, code: f"\x1b[{code}m{text}\x1b[0m") if color else (lambda t, c: t)
    out = []
    for x in lines:
        mark = paint(" OK ", "1;32") if x.ok else paint("FAIL", "1;31")
        out.append(f"{mark}  {x.name:<{width}}  {x.detail}")
        if not x.ok:
            out.append(f"{'':4}  {'':<{width}}  fix: {x.fix}")
    red = sum(not x.ok for x in lines)
    out.append(f"\n{len(lines)} checks: {len(lines) - red} green, {red} red"
               + ("" if red else ". Ready for class."))
    return "\n".join(out)


def _address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"not HOST:PORT: {text!r}")
    return host, int(port)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="stalksim doctor", description="The day-before check: "
                                "versions, notebooks, beanstalkd, memory and disk.")
    p.add_argument("--quick", action="store_true", help="run the notebooks in this process "
                   "(seconds each) instead of in a fresh kernel")
    p.add_argument("--no-notebooks", action="store_true", help="skip the notebooks")
    p.add_argument("--notebooks", type=Path, default=CHECKOUT / "notebooks", metavar="DIR",
                   help="the lessons' folder (default: %(default)s)")
    p.add_argument("--address", type=_address, metavar="HOST:PORT", help="the beanstalkd of "
                   "lesson 6 (default: BEANSTALKD_HOST/BEANSTALKD_PORT or 127.0.0.1:11300)")
    p.add_argument("--timeout", type=float, default=300, help="seconds a cell may run")
    p.add_argument("--min-memory", type=float, default=MIN_MEMORY_MIB, metavar="MiB")
    p.add_argument("--min-disk", type=float, default=MIN_DISK_MIB, metavar="MiB")
    return p


def _progress(out: TextIO, i: int, n: int, line: Line, seconds: float) -> None:
    print(f"[{i:>2}/{n}] {line.name:<48} {'ok' if line.ok else 'FAIL'} ({seconds:.1f} s)",
          file=out, flush=True)


def run(args: argparse.Namespace, out: TextIO) -> list[Line]:
    """Every check, in order, with a progress line for each notebook."""
    refuse("stalksim doctor", "Jupyter kernels and a beanstalkd, which a browser cannot start",
           "run `python -m stalksim doctor` on the classroom machine")
    lines = check_versions()
    lines.append(check_beanstalkd(args.address))
    lines.append(check_memory(args.min_memory))
    lines.append(check_disk(args.notebooks if args.notebooks.is_dir() else Path.cwd(),
                            args.min_disk))
    if args.no_notebooks:
        return lines
    paths = notebooks(args.notebooks)
    if not paths:
        lines.append(Line("notebooks", False, f"no lesson notebooks in {args.notebooks}",
                          "pass --notebooks DIR, the folder with 01-jobs-and-tubes.ipynb"))
        return lines
    how = "in this process (--quick)" if args.quick else "each in a fresh kernel"
    print(f"Running {len(paths)} notebooks {how}, and every exercise's solution:", file=out)
    with _server_env(args.address):
        for i, path in enumerate(paths, 1):
            start = time.monotonic()
            lines.append(check_notebook(path, args.quick, args.timeout))
            _progress(out, i, len(paths) + 1, lines[-1], time.monotonic() - start)
        start = time.monotonic()
        lines.append(check_solutions())
        _progress(out, len(paths) + 1, len(paths) + 1, lines[-1], time.monotonic() - start)
    return lines


@contextlib.contextmanager
def _server_env(address: tuple[str, int] | None) -> Iterator[None]:
    """BEANSTALKD_HOST/PORT set to `address` (where lesson 6 and the live exercises look),
    for the kernels and this process, and put back afterwards."""
    keys = ("BEANSTALKD_HOST", "BEANSTALKD_PORT")
    saved = {k: os.environ.get(k) for k in keys}
    if address:
        os.environ.update(zip(keys, map(str, address), strict=True))
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """`python -m stalksim doctor [--quick]`: 0 when every line is green, 1 otherwise."""
    out = out or sys.stdout
    args = _parser().parse_args(argv)
    lines = run(args, out)
    print("\n" + table(lines, color=out.isatty() and not os.environ.get("NO_COLOR")), file=out)
    return 0 if all(x.ok for x in lines) else 1


if __name__ == "__main__":
    sys.exit(main())
