"""Build the stalksim course as a JupyterLite site that runs in the browser, with no server.

    python scripts/site/site_build.py [OUT] [--pyodide-release TARBALL] [--serve [PORT]]
    (bash scripts/site.sh [the same arguments])

OUT (default `_site/`) gets: the landing page (the crash-versus-hang tour, playing before any
Python has loaded), JupyterLab with the Pyodide kernel, lessons 1-7 and the exercise notebooks,
and a Pyodide folder with the runtime and every wheel the lessons load (scripts/site/
pyodide_dist.py says where each comes from and checks it). Nothing is fetched from another
origin at run time: the kernel's PyPI fallback is off and the build fails if the site's
configuration names any other host.

Always built from clean (a fresh lite folder and build cache): an incremental JupyterLite
rebuild can silently drop the local Pyodide setting and fall back to a CDN.
"""

from __future__ import annotations

import argparse
import ast
import copy
import fcntl
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pyodide_dist as dist

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from stalksim import tour  # noqa: E402

LESSONS = ROOT / "notebooks"
FIRST = "01-jobs-and-tubes.ipynb"
BINDER = ("https://mybinder.org/v2/gh/stalksim/stalksim/HEAD?labpath=notebooks%2F"
          "06-going-live.ipynb")
PRELOAD = ["stalksim"]
"""Loaded as the kernel starts (with what it needs: simpy, greenstalk, matplotlib, ipywidgets,
anywidget). Each lesson's first cell begins with `%matplotlib inline`, which hides that cell's
import lines from the kernel's import scanner (it parses the cell as plain Python), so what
those lines import must already be there. No lesson imports pandas (it would cost 5 s here)."""

KERNEL_MODULES = {"IPython", "ipykernel", "pyodide", "pyodide_js", "js", "micropip", "piplite"}
"""Modules the Pyodide kernel itself provides."""

SETTINGS = {
    "@jupyterlab/apputils-extension:notification": {"fetchNews": "false",
                                                    "checkForUpdates": False},
    "@jupyterlab/notebook-extension:tracker": {"autoStartDefaultKernel": True,
                                               "windowingMode": "none"},
}
"""JupyterLab settings of the site: never ask for or fetch news; start a lesson's kernel at once;
draw every cell (short lessons: the browser's find sees all of one, and so do the tests)."""

SITE_NOTE = (
    "> **You are running this course in your browser** (JupyterLite): the simulator, the "
    "figures, the widgets and the exercise checks all run here, with nothing installed. "
    "Lesson 6 and exercise 12 need a real beanstalkd, which a browser cannot run: open them on "
    f"[Binder]({BINDER}) or on your own machine (`bash scripts/lab.sh` in a clone). What you "
    "change here is kept in this browser only; download a notebook to keep it.")


def step(msg: str, t0: float) -> None:
    print(f"[{time.monotonic() - t0:6.1f} s] {msg}", flush=True)


def build_wheel(dest: Path) -> Path:
    """stalksim as a wheel, built from this checkout."""
    if dest.exists():
        shutil.rmtree(dest)
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w",
                           str(dest), str(ROOT)], capture_output=True, text=True)
    if done.returncode:
        raise dist.SiteError(f"building the stalksim wheel failed:\n{done.stderr[-2000:]}")
    (wheel,) = dest.glob("stalksim-*.whl")
    return wheel


def site_notebook(src: Path) -> dict:
    """A lesson as the site holds it: lesson 1 gets the site note and the tour, drawn already
    (trusted: the build made it from the simulator, so it plays before the kernel starts)."""
    nb = json.loads(src.read_text(encoding="utf-8"))
    if src.name == FIRST:
        nb = copy.deepcopy(nb)
        cells = nb["cells"]
        at = tour.tour_cell_index(cells)
        cells[at]["outputs"] = [{"output_type": "display_data", "metadata": {},
                                 "data": tour.Tour().bundle()}]
        cells[at]["metadata"]["trusted"] = True
        cells.insert(at + 1, {"cell_type": "markdown", "id": "site-note", "metadata": {},
                              "source": SITE_NOTE})
    return nb


def lite_dir(work: Path, pyodide: Path) -> Path:
    """The JupyterLite input folder: configuration, settings and the notebooks."""
    lite = work / "lite"
    files = lite / "files"
    (files / "exercises").mkdir(parents=True)
    for src in [*sorted(LESSONS.glob("0*.ipynb")),
                *sorted((LESSONS / "exercises").glob("*.ipynb"))]:
        rel = src.relative_to(LESSONS)
        (files / rel).write_text(json.dumps(site_notebook(src), indent=1) + "\n",
                                 encoding="utf-8")
    shutil.move(str(pyodide), lite / "static" / "pyodide")
    config = {"jupyter-lite-schema-version": 0, "jupyter-config-data": {
        "appName": "stalksim",
        "litePluginSettings": {"@jupyterlite/pyodide-kernel-extension:kernel": {
            "disablePyPIFallback": True, "loadPyodideOptions": {"packages": PRELOAD}}}}}
    (lite / "jupyter-lite.json").write_text(json.dumps(config, indent=1))
    (lite / "overrides.json").write_text(json.dumps(SETTINGS, indent=1))
    return lite


def front_page(out: Path) -> None:
    """The site's index.html becomes the tour. JupyterLite's apps read the configuration
    script of every parent index.html, so the tour page keeps it (and drops the redirect)."""
    index = out / "index.html"
    config = re.search(r'<script id="jupyter-config-data".*?</script>', index.read_text(),
                       re.S)
    if config is None:
        raise dist.SiteError(f"{index} has no jupyter-config-data script to keep")
    index.write_text(tour.Tour().page(lab=f"lab/index.html?path={FIRST}", head=config[0]),
                     encoding="utf-8")
    # a browser asks the origin for /favicon.ico before any page names an icon
    shutil.copy2(out / "lab" / "favicon.ico", out / "favicon.ico")


def imported(nb: dict) -> set[str]:
    """The top-level modules a notebook's code cells import (magics and shell lines left out)."""
    names: set[str] = set()
    for cell in nb["cells"]:
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        code = "\n".join(line for line in src.splitlines()
                         if not line.lstrip().startswith(("%", "!")))
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                names |= {a.name.split(".")[0] for a in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module.split(".")[0])
    return names


def check_site(out: Path) -> list[str]:
    """What would make the built site reach outside its own origin, or leave a lesson without a
    package it imports (empty when nothing)."""
    problems = dist.verify(out / "static" / "pyodide")
    lock = json.loads((out / "static" / "pyodide" / "pyodide-lock.json").read_text())
    known = {m for e in lock["packages"].values() for m in e["imports"]}
    known |= set(sys.stdlib_module_names) | KERNEL_MODULES
    for nb in sorted((out / "files").rglob("*.ipynb")):
        lost = imported(json.loads(nb.read_text(encoding="utf-8"))) - known
        problems += [f"{nb.relative_to(out / 'files')} imports {m}, which the site lacks"
                     for m in sorted(lost)]
    config = json.loads((out / "jupyter-lite.json").read_text())["jupyter-config-data"]
    kernel = config["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]
    if kernel.get("pyodideUrl") != "./static/pyodide/pyodide.mjs":
        problems.append(f"pyodideUrl is {kernel.get('pyodideUrl')!r}, not the site's own")
    if not kernel.get("disablePyPIFallback"):
        problems.append("the kernel would fall back to PyPI")
    text = (out / "jupyter-lite.json").read_text()
    problems += [f"jupyter-lite.json names {host}" for host in ("http://", "https://", "//cdn")
                 if host in text]
    return problems


def size_of(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


def build(out: Path, cache: Path, release: Path | None) -> None:
    t0 = time.monotonic()
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / "lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time per cache (parallel tests)
        work = Path(tempfile.mkdtemp(prefix="build-", dir=cache))
        try:
            step("building the stalksim wheel from this checkout", t0)
            wheel = build_wheel(work / "wheel")
            step("assembling Pyodide (downloads are cached in " f"{cache})", t0)
            assembly = dist.Assembly(cache, work / "pyodide", release)
            lock_data = assembly.build(wheel)
            for note in assembly.notes:
                step(f"  {note}", t0)
            step(f"  {len(lock_data['packages'])} packages in the trimmed pyodide-lock.json", t0)
            step("writing the lessons (lesson 1 opens on the tour)", t0)
            lite = lite_dir(work, work / "pyodide")
            if out.exists():
                shutil.rmtree(out)
            step("jupyter lite build", t0)
            done = subprocess.run(
                [sys.executable, "-m", "jupyter", "lite", "build", "--lite-dir", str(lite),
                 "--output-dir", str(out), "--no-sourcemaps", "--apps", "lab"],
                cwd=lite, capture_output=True, text=True)
            if done.returncode:
                raise dist.SiteError(f"jupyter lite build failed:\n{done.stdout[-3000:]}"
                                     f"{done.stderr[-3000:]}")
        finally:
            shutil.rmtree(work, ignore_errors=True)
    front_page(out)
    problems = check_site(out)
    if problems:
        raise dist.SiteError("the built site is not self-contained:\n  " + "\n  ".join(problems))
    step(f"done: {out} holds {size_of(out) / 1e6:.1f} MB", t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("out", nargs="?", type=Path, default=ROOT / "_site")
    ap.add_argument("--cache", type=Path, default=ROOT / ".cache" / "site",
                    help="where downloads are kept between builds (default .cache/site)")
    ap.add_argument("--pyodide-release", type=Path, default=None, metavar="TARBALL",
                    help="take the wheels from Pyodide's official release tarball instead of "
                         "the vendor package (docs/site.md)")
    ap.add_argument("--serve", nargs="?", type=int, const=8000, default=None, metavar="PORT",
                    help="then serve it on http://127.0.0.1:PORT/ (default 8000)")
    args = ap.parse_args()
    try:
        build(args.out.resolve(), args.cache.resolve(), args.pyodide_release)
    except dist.SiteError as e:
        raise SystemExit(f"site: {e}") from None
    if args.serve is not None:
        import serve

        serve.run(args.out, args.serve)


if __name__ == "__main__":
    main()
