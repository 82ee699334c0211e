"""Helpers for the browser test: a private JupyterLab server, and what the notebooks promise.

The page side (a notebook driven in Chromium) is in driver.py.

Everything here waits on conditions with a bound; nothing sleeps a fixed time.
"""

from __future__ import annotations

import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
NOTEBOOKS = REPO / "notebooks"
FIXTURES = Path(__file__).resolve().parent / "fixtures"
ARTIFACTS = REPO / "test-artifacts" / "browser"

CHROMIUM = os.environ.get("STALKSIM_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-dev-shm-usage",
]

# Seconds allowed to open, run and check one notebook (the run itself is most of it).
NOTEBOOK_TIMEOUT = float(os.environ.get("STALKSIM_BROWSER_TIMEOUT", "150"))

# Cell tags the notebook author sets (see README.md in this folder).
TAG_WIDGETS = "widgets"
TAG_PLOT = "plot"
TAG_INTERACTIVE = "interactive"

MIN_FIGURE_PX = 100

# Widget views that a learner operates; each is counted by kind.
CONTROL_KINDS = {
    "slider": ".widget-slider",
    "button": ".widget-button",
    "toggle": ".widget-toggle-button, .widget-toggle-buttons, .widget-checkbox",
    "play": ".widget-play",
    "dropdown": ".widget-dropdown, .widget-select, .widget-select-multiple, .widget-radio",
    "text": ".widget-text, .widget-textarea, .widget-inttext, .widget-floattext",
    "flowview": ".fv-root button",  # FlowView (anywidget): its play, step and speed buttons
}

# JupyterLab settings for the test: render every cell (no windowing, so off-screen cells are in
# the DOM), start the notebook's kernel without asking, and never ask for or fetch news.
USER_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {
        "windowingMode": "none",
        "autoStartDefaultKernel": True,
    },
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false",
        "checkForUpdates": False,
    },
}
PAGE_CONFIG = {"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}}


def missing_requirements() -> list[str]:
    """What this machine lacks to run the browser test (empty when it can run)."""
    missing = []
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        missing.append(f"chromium ({CHROMIUM}; apt-get install chromium)")
    for module in ("jupyterlab", "playwright", "ipywidgets", "jupyterlab_widgets", "ipykernel"):
        if importlib.util.find_spec(module) is None:
            missing.append(f"{module} (pip install -e '.[dev]')")
    return missing


def notebook_paths() -> list[Path]:
    """The tutorial notebooks (`notebooks/NN-*.ipynb`) and the smoke fixture."""
    return [*sorted(NOTEBOOKS.glob("[0-9]*.ipynb")), FIXTURES / "smoke.ipynb"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class CellSpec:
    """What one cell of the notebook file promises, from its type, source and tags."""

    index: int
    cell_type: str
    source: str
    tags: set[str]

    @property
    def runs(self) -> bool:
        return self.cell_type == "code" and bool(self.source.strip())

    @property
    def label(self) -> str:
        first = self.source.strip().splitlines()[0] if self.source.strip() else ""
        return f"cell {self.index} ({first[:60]!r})"


def read_cells(path: Path) -> list[CellSpec]:
    """The cells of a notebook file, with their tags."""
    nb = json.loads(path.read_text(encoding="utf-8"))
    cells = []
    for i, cell in enumerate(nb["cells"]):
        source = cell.get("source", "")
        if isinstance(source, list):
            source = "".join(source)
        tags = set(cell.get("metadata", {}).get("tags", []))
        cells.append(CellSpec(i, cell["cell_type"], source, tags))
    return cells


def _stop_pid(proc: subprocess.Popen, timeout: float) -> None:
    """SIGTERM the process, then SIGKILL it if it is still there after `timeout` seconds."""
    if proc.poll() is not None:
        return
    os.kill(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=timeout)


class JupyterLab:
    """A JupyterLab server of this Python on a free loopback port, with a random token.

    Its root is a temporary copy of `notebooks/` and the fixtures, so running the notebooks
    never writes outputs into the repository. Its config, settings and workspaces are private
    too, and it fetches nothing from outside.
    """

    def __init__(self, workdir: Path, env: dict[str, str] | None = None) -> None:
        self.workdir = workdir
        self.root = workdir / "root"
        self.extra_env = env or {}
        self.token = secrets.token_hex(24)
        self.port = 0
        self.proc: subprocess.Popen | None = None
        self.log_path = ARTIFACTS / "jupyterlab.log"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def copy_notebooks(self) -> None:
        """Lay out the server's root: `notebooks/` (all of it) and `fixtures/`."""
        ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
        if NOTEBOOKS.is_dir():
            shutil.copytree(NOTEBOOKS, self.root / "notebooks", ignore=ignore)
        shutil.copytree(FIXTURES, self.root / "fixtures", ignore=ignore)

    def relpath(self, notebook: Path) -> str:
        """The server path of a repository notebook or fixture."""
        if notebook.parent == FIXTURES:
            return f"fixtures/{notebook.name}"
        return "notebooks/" + notebook.relative_to(NOTEBOOKS).as_posix()

    def _write_config(self) -> dict[str, str]:
        config = self.workdir / "config"
        for name, values in USER_SETTINGS.items():
            target = config / "lab" / "user-settings" / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(json.dumps(values))
        (config / "labconfig").mkdir(parents=True, exist_ok=True)
        (config / "labconfig" / "page_config.json").write_text(json.dumps(PAGE_CONFIG))
        for d in ("runtime", "ipython"):
            (self.workdir / d).mkdir(exist_ok=True)
        env = dict(os.environ)
        env.update(
            JUPYTER_CONFIG_DIR=str(config),
            JUPYTER_RUNTIME_DIR=str(self.workdir / "runtime"),
            JUPYTERLAB_SETTINGS_DIR=str(config / "lab" / "user-settings"),
            JUPYTERLAB_WORKSPACES_DIR=str(config / "lab" / "workspaces"),
            IPYTHONDIR=str(self.workdir / "ipython"),
            # the kernelspec runs `python`: make that this Python; and import this checkout
            PATH=os.pathsep.join([os.path.dirname(sys.executable), env.get("PATH", "")]),
            PYTHONPATH=os.pathsep.join(p for p in [str(REPO), env.get("PYTHONPATH", "")] if p),
            PYTHONUNBUFFERED="1",
        )
        env.pop("JUPYTER_TOKEN", None)
        env.update(self.extra_env)
        return env

    def command(self) -> list[str]:
        config = self.workdir / "config"
        as_root = ["--allow-root"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
        return [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.root_dir={self.root}",
            "--ServerApp.terminals_enabled=False",
            # offline and quiet: no news feed, no update check, no PyPI extension manager
            "--LabApp.news_url=None",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
            f"--LabApp.user_settings_dir={config / 'lab' / 'user-settings'}",
            f"--LabApp.workspaces_dir={config / 'lab' / 'workspaces'}",
            # window.jupyterapp: the test runs JupyterLab's own commands (as its menus do)
            "--LabApp.expose_app_in_browser=True",
            *as_root,  # CI and this workplace run as root
        ]  # fmt: skip

    def start(self, timeout: float = 90.0) -> JupyterLab:
        """Start the server and wait (bounded) until `/api/status` answers."""
        self.copy_notebooks()
        env = self._write_config()
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        for _attempt in range(3):  # a port can be taken between free_port() and bind
            self.port = free_port()
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(
                    self.command(),
                    cwd=self.workdir,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            if self._wait_ready(timeout):
                return self
            self.stop()
        raise RuntimeError(f"JupyterLab did not start; its log:\n{self.log_tail()}")

    def _wait_ready(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.proc is not None
            if self.proc.poll() is not None:
                return False
            try:
                status = self.api("GET", "/api/status", timeout=2)
                if "started" in status:
                    return True
            except (OSError, urllib.error.URLError, ValueError):
                pass
            time.sleep(0.1)
        return False

    def api(self, method: str, path: str, timeout: float = 10) -> Any:
        """Call the server's REST API with the token; the decoded JSON (or None)."""
        url = f"{self.base_url}{path}?token={urllib.parse.quote(self.token)}"
        req = urllib.request.Request(url, method=method)
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            body = resp.read()
        return json.loads(body) if body else None

    def shutdown_sessions(self) -> None:
        """Shut down every kernel session (the notebook just tested)."""
        try:
            for session in self.api("GET", "/api/sessions"):
                self.api("DELETE", f"/api/sessions/{session['id']}", timeout=30)
        except (OSError, urllib.error.URLError):
            pass

    def log_tail(self, chars: int = 4000) -> str:
        try:
            return self.log_path.read_text(errors="replace")[-chars:]
        except FileNotFoundError:
            return "(no log)"

    def stop(self, timeout: float = 20.0) -> None:
        """Stop the server by its process id: SIGTERM, then SIGKILL after `timeout` seconds."""
        proc, self.proc = self.proc, None
        if proc is not None:
            _stop_pid(proc, timeout)
