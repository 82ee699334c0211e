"""The course as a browser site (JupyterLite), for test_site.py and benchmarks/site.py.

Finds or builds the site (`scripts/site.sh`), serves it on 127.0.0.1 (scripts/site/serve.py),
opens it in Debian's headless Chromium that can resolve no host but 127.0.0.1 and writes a net
log (every URL request of the browser: its pages', web workers' and service worker's, and
Chromium's own), reads that log, and drives a notebook in the site's JupyterLab with
driver.NotebookRun's checks. One place for the plumbing the test and the benchmark share.

Everything here waits on conditions with a bound; nothing sleeps a fixed time, except where a
measurement is over a stated wall time (tokens moving during 400 ms).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.util
import json
import os
import re
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.browser import driver, lab
from tests.browser.lab import REPO
from tests.browser.netlog import NetLog, Offline
from tests.browser.tour_probe import wait_tour_first_frame

ARTIFACTS = REPO / "test-artifacts" / "site"
FIRST = "01-jobs-and-tubes.ipynb"
PYODIDE_URL = "./static/pyodide/pyodide.mjs"
SITE_TIMEOUT = float(os.environ.get("STALKSIM_SITE_TIMEOUT", "300"))
"""Seconds allowed to open, run and check one notebook in the browser kernel."""

# What the site is built from: a built site older than any of these is stale.
SOURCES = ("stalksim", "notebooks", "scripts/site", "scripts/site.sh", "pyproject.toml")
SOURCE_SUFFIXES = {".py", ".js", ".css", ".ipynb", ".txt", ".sh", ".toml", ".json"}


class SiteError(RuntimeError):
    """The site could not be found or built."""


# ---------------------------------------------------------------------------------------------
# Finding, building and serving the site


def is_built(root: Path) -> bool:
    return all((root / p).is_file() for p in ("index.html", "jupyter-lite.json",
                                              "lab/index.html"))


def newest_source() -> float:
    """The newest modification time among the files the site is built from."""
    newest = 0.0
    for name in SOURCES:
        path = REPO / name
        files = [path] if path.is_file() else path.rglob("*")
        for f in files:
            if (f.suffix in SOURCE_SUFFIXES and f.is_file() and "__pycache__" not in f.parts
                    and ".ipynb_checkpoints" not in f.parts):
                newest = max(newest, f.stat().st_mtime)
    return newest


def is_fresh(root: Path) -> bool:
    """A built site whose front page (written last by the build) is newer than its sources."""
    return is_built(root) and (root / "index.html").stat().st_mtime > newest_source()


def build(out: Path, timeout: float = 1800) -> Path:
    """`bash scripts/site.sh OUT`; raises SiteError with the end of its output if it fails."""
    done = subprocess.run(["bash", str(REPO / "scripts" / "site.sh"), str(out)], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)
    if done.returncode or not is_built(out):
        raise SiteError(f"bash scripts/site.sh {out} failed ({done.returncode}):\n"
                        f"{(done.stdout + done.stderr)[-3000:]}")
    return out


def locate(workdir: Path) -> tuple[Path, str]:
    """The site to test and how it was found: the one at $STALKSIM_SITE, else `_site/` when it
    is newer than its sources, else one built into `workdir/site` (once: the workers of one
    test run share `workdir`, and a build there is reused for the whole run)."""
    given = os.environ.get("STALKSIM_SITE")
    if given:
        root = Path(given).resolve()
        if not is_built(root):
            raise SiteError(f"STALKSIM_SITE={given} holds no built site (bash scripts/site.sh)")
        return root, f"$STALKSIM_SITE ({root})"
    default = REPO / "_site"
    if is_fresh(default):
        return default, "_site/ (newer than its sources)"
    workdir.mkdir(parents=True, exist_ok=True)
    root = workdir / "site"
    with open(workdir / "site.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (workdir / "site.ok").exists():
            started = time.monotonic()
            build(root)
            (workdir / "site.ok").write_text(f"{time.monotonic() - started:.1f}\n")
    return root, f"built into {root}"


def size_of(root: Path) -> int:
    """Bytes of every file of the site."""
    return sum(p.stat().st_size for p in root.rglob("*") if p.is_file())


def lite_config(root: Path) -> dict[str, Any]:
    """The Pyodide kernel's settings in the site's jupyter-lite.json."""
    config = json.loads((root / "jupyter-lite.json").read_text())["jupyter-config-data"]
    return config["litePluginSettings"]["@jupyterlite/pyodide-kernel-extension:kernel"]


def _serve_module() -> Any:
    spec = importlib.util.spec_from_file_location("stalksim_site_serve",
                                                  REPO / "scripts" / "site" / "serve.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@dataclass
class Site:
    """A built site served on 127.0.0.1 (scripts/site/serve.py); its notebooks are in `root`
    (`files/`), as driver.NotebookRun expects of a server."""

    dist: Path
    base_url: str = ""
    _server: Any = None

    @property
    def root(self) -> Path:
        return self.dist / "files"

    def start(self) -> Site:
        self._server, self.base_url = _serve_module().serve_in_thread(self.dist)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def relpath(self, notebook: Path) -> str:
        """The site's path of a repository notebook (`exercises/05-….ipynb`)."""
        return notebook.relative_to(lab.NOTEBOOKS).as_posix()

    def lab_url(self, path: str) -> str:
        return f"{self.base_url}lab/index.html?path={urllib.parse.quote(path)}"

    def is_own(self, url: str) -> bool:
        return url.startswith(self.base_url)


@contextlib.contextmanager
def served(dist: Path) -> Iterator[Site]:
    site = Site(dist).start()
    try:
        yield site
    finally:
        site.stop()


# ---------------------------------------------------------------------------------------------
# A notebook in the site's JupyterLab

# driver.JS_RUN_ALL without its last step: number the cells, watch for a lost kernel; the run
# itself is started from the Run menu.
RUN_ALL_COMMAND = "  await app.commands.execute('notebook:run-all-cells');\n"
JS_PREPARE_RUN_ALL = driver.JS_RUN_ALL.replace(RUN_ALL_COMMAND, "")

# performance.now() once the notebook's kernel is idle (null while it is not), or the text of
# a dialog that JupyterLab shows instead.
JS_KERNEL_READY_AT = (
    "() => { const s = (" + driver.JS_KERNEL_STATE.strip() + ")();"
    " return s.dialog ? {dialog: s.dialog} : (s.ready && s.kernel === 'idle')"
    " ? {at: performance.now()} : null; }"
)


class SiteNotebook(driver.NotebookRun):
    """One notebook of the site, opened in the site's JupyterLab by its URL, run with the Run
    menu's "Run All Cells" in the browser kernel (Pyodide), checked by driver.NotebookRun."""

    def __init__(self, site: Site, page: Any, notebook: Path,
                 timeout: float = SITE_TIMEOUT) -> None:
        super().__init__(site, page, notebook)  # type: ignore[arg-type]  # a server by duck
        self.site = site
        self.deadline = time.monotonic() + timeout
        self.kernel_ready_ms: float | None = None  # after the navigation began

    def open(self) -> None:
        """Load the notebook's page and wait until its kernel is idle."""
        self.page.goto(self.site.lab_url(self.path), wait_until="domcontentloaded",
                       timeout=self.remaining_ms(60))
        self.page.wait_for_function(driver.JS_FIND_PANEL, arg=self.path, polling=100,
                                    timeout=self.remaining_ms(90))
        self.wait_kernel_ready()

    def wait_kernel_ready(self) -> float:
        """Milliseconds from the page's navigation to its kernel being idle (polled)."""
        state = self.page.wait_for_function(JS_KERNEL_READY_AT, polling=100,
                                            timeout=self.remaining_ms()).json_value()
        if "dialog" in state:
            raise AssertionError(f"{self.path}: JupyterLab shows a dialog: {state['dialog']}")
        self.kernel_ready_ms = state["at"]
        return state["at"]

    def run_all(self) -> None:
        """Run > Run All Cells, from the menu bar; wait until every code cell has run."""
        self.page.evaluate(JS_PREPARE_RUN_ALL)
        self.page.locator(".lm-MenuBar-item", has_text=re.compile(r"^Run$")).click(
            timeout=self.remaining_ms(20))
        item = self.page.locator('.lm-Menu-item[data-command="runmenu:run-all"]')
        assert "Run All Cells" in item.inner_text(timeout=self.remaining_ms(20)), item.inner_text()
        item.click(timeout=self.remaining_ms(20))
        try:
            self.page.wait_for_function(driver.JS_RUN_FINISHED, polling=200,
                                        timeout=self.remaining_ms())
        except driver.PlaywrightTimeout:
            self.result.problems.append(f"run-all did not finish within {SITE_TIMEOUT:.0f}s")
        state = self.page.evaluate(
            f"() => [window.__stalkLost, ({driver.JS_KERNEL_STATE.strip()})().kernel]")
        if state[0] or state[1] != "idle":
            self.result.problems.append(
                f"{self.notebook.name}: after run-all the kernel is {state[1]} (lost: {state[0]})")

    def run_first_cell(self) -> None:
        """Run the first code cell only (select it, Shift+Enter's command), until it ran."""
        self.page.evaluate(JS_PREPARE_RUN_ALL)
        self.page.evaluate(
            """async () => {
              const app = window.jupyterapp, p = window.__stalk;
              const i = p.content.widgets.findIndex((c) => c.model.type === 'code');
              p.content.activeCellIndex = i;
              await app.commands.execute('notebook:run-cell');
            }""")
        self.page.wait_for_function(
            """() => { const p = window.__stalk;
                       const c = p.content.widgets.find((w) => w.model.type === 'code');
                       const k = p.sessionContext.session.kernel;
                       return c.model.executionCount !== null && k.status === 'idle'; }""",
            polling=100, timeout=self.remaining_ms())


# ---------------------------------------------------------------------------------------------
# A learner's first visit, measured (the benchmark's rows; test_site.py's network test)


@dataclass
class Visit:
    """A first visit (a fresh browser profile): the front page, then lesson 1 by its link,
    its kernel, its first cell (or all its cells). Times in ms after each page's navigation
    began (the page's clock); bytes from the net log."""

    front_first_frame_ms: float = 0.0
    lesson_first_frame_ms: float = 0.0
    lesson_kernel_at_first_frame: str = ""
    kernel_ready_ms: float = 0.0
    bytes_front: int = 0
    bytes_lesson_to_kernel: int = 0
    bytes_lesson_to_first_cell: int = 0
    bytes_lesson_run_all: int = 0
    requests: int = 0
    run_all_s: float = 0.0
    problems: list[str] = field(default_factory=list)
    net: NetLog | None = None


def first_visit(off: Offline, site: Site, run_all: bool = False) -> Visit:
    """Front page (tour's first frame) -> "Start lesson 1" -> lesson 1's tour, kernel ready,
    first cell run (and, with `run_all`, every cell), in `off` (a fresh browser that reaches
    nothing but 127.0.0.1), which is closed after it and its net log read."""
    visit = Visit()
    marks: dict[str, float] = {}
    try:
        page = off.page(off.context())
        marks["start"] = time.time() * 1000
        page.goto(site.base_url, wait_until="domcontentloaded", timeout=60_000)
        visit.front_first_frame_ms = wait_tour_first_frame(page)["firstFrame"]
        page.wait_for_load_state("load", timeout=60_000)
        marks["front"] = time.time() * 1000
        with page.expect_navigation(wait_until="commit", timeout=60_000):
            page.locator("a.start").click()
        run = SiteNotebook(site, page, lab.NOTEBOOKS / FIRST)
        seen = wait_tour_first_frame(page, FIRST)
        visit.lesson_first_frame_ms = seen["firstFrame"]
        visit.lesson_kernel_at_first_frame = str(seen["kernel"])
        page.wait_for_function(driver.JS_FIND_PANEL, arg=FIRST, polling=100,
                               timeout=run.remaining_ms(90))
        visit.kernel_ready_ms = run.wait_kernel_ready()
        marks["kernel"] = time.time() * 1000
        run.run_first_cell()
        marks["first_cell"] = time.time() * 1000
        if run_all:
            started = time.monotonic()
            run.run_all()
            visit.run_all_s = time.monotonic() - started
            run.settle_and_check()
            visit.problems += run.result.problems
        marks["end"] = time.time() * 1000
        visit.problems += [f"page error: {e}" for e in off.page_errors]
    finally:
        net = off.finish()
    visit.net = net
    visit.bytes_front = net.bytes_between(marks.get("start", 0), marks.get("front", 0))
    visit.bytes_lesson_to_kernel = net.bytes_between(marks.get("front", 0), marks.get("kernel", 0))
    visit.bytes_lesson_to_first_cell = net.bytes_between(marks.get("front", 0),
                                                         marks.get("first_cell", 0))
    visit.bytes_lesson_run_all = net.bytes_between(marks.get("front", 0))
    visit.requests = net.count_between(site.base_url)
    return visit


def write_summary(name: str, values: dict[str, Any]) -> None:
    """Merge `values` under `name` into test-artifacts/site/summary.json (under a lock: the
    test's xdist workers write to it side by side); a file of an earlier run starts afresh."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / "summary.json"
    with open(ARTIFACTS / "summary.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            held = json.loads(path.read_text()) if path.exists() else {}
        except json.JSONDecodeError:
            held = {}
        if held.get("run") != driver.RUN:
            held = {"run": driver.RUN}
        held[name] = values
        path.write_text(json.dumps(held, indent=1, sort_keys=True) + "\n")
