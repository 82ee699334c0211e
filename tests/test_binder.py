"""The Binder setup: `binder/start` brings up beanstalkd and has the server shut down idle
kernels (binder/jupyter_server_config.json), and `binder/requirements.txt` installs."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.request
import venv
from pathlib import Path

import pytest

from tests.realserver import free_port, require_beanstalkd

REPO = Path(__file__).resolve().parent.parent
BINDER = REPO / "binder"
START = BINDER / "start"

# Put, reserve and delete one job on the beanstalkd that binder/start brought up.
ROUND_TRIP = """
import os, greenstalk
port = int(os.environ["STALKSIM_BEANSTALKD_PORT"])
with greenstalk.Client(("127.0.0.1", port), use="binder-test", watch="binder-test") as c:
    jid = c.put(b"hello from binder/start")
    job = c.reserve(timeout=5)
    assert (job.id, job.body) == (jid, "hello from binder/start"), job
    c.delete(job)
print("round trip ok", jid)
"""


def _gone(pid: int) -> bool:
    """True when `pid` no longer runs (exited, or a zombie waiting for its parent)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except (FileNotFoundError, ProcessLookupError):
        return True


def _stop(pid: int, timeout: float = 5.0) -> None:
    """Stop `pid` with SIGTERM, then SIGKILL after `timeout` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if _gone(pid):
                return
            time.sleep(0.02)
    raise AssertionError(f"process {pid} survived SIGKILL")


def _start_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        STALKSIM_BEANSTALKD_PORT=str(free_port()),
        STALKSIM_BEANSTALKD_PIDFILE=str(tmp_path / "beanstalkd.pid"),
        STALKSIM_BEANSTALKD_LOG=str(tmp_path / "beanstalkd.log"),
    )
    env.update(extra)
    return env


def test_binder_files_exist() -> None:
    """runtime.txt, apt.txt, requirements.txt and an executable start script are in binder/."""
    assert (BINDER / "runtime.txt").read_text().strip() == "python-3.11"
    assert "beanstalkd" in (BINDER / "apt.txt").read_text().split()
    reqs = (BINDER / "requirements.txt").read_text()
    for name in ("jupyterlab==", "ipywidgets==", "jupyterlab_widgets==", "matplotlib", "simpy"):
        assert name in reqs, name
    assert os.access(START, os.X_OK), "binder/start must be executable (chmod +x)"
    assert START.read_text().rstrip().endswith('exec "$@"')


def test_start_runs_beanstalkd_then_the_command(tmp_path: Path) -> None:
    """binder/start starts beanstalkd, waits until it answers, then execs the command."""
    require_beanstalkd()
    env = _start_env(tmp_path)
    pidfile = tmp_path / "beanstalkd.pid"
    try:
        proc = subprocess.run(
            ["bash", str(START), sys.executable, "-c", ROUND_TRIP],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert "round trip ok" in proc.stdout
        assert "answers on 127.0.0.1:" + env["STALKSIM_BEANSTALKD_PORT"] in proc.stderr
        assert pidfile.exists(), "binder/start did not write the pid file"
    finally:
        if pidfile.exists():
            _stop(int(pidfile.read_text().strip()))


def _run_start(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """binder/start with a command that just says it ran."""
    return subprocess.run(["bash", str(START), "echo", "command ran"], env=env,
                          capture_output=True, text=True, timeout=30)


def test_start_still_runs_the_command_without_beanstalkd(tmp_path: Path) -> None:
    """A missing or dead beanstalkd gets one clear message and the command still runs."""
    proc = _run_start(_start_env(tmp_path, STALKSIM_BEANSTALKD="no-such-beanstalkd"))
    assert proc.returncode == 0
    assert proc.stdout.strip() == "command ran"
    assert "is not installed" in proc.stderr
    assert "apt-get install beanstalkd" in proc.stderr

    proc = _run_start(
        _start_env(tmp_path, STALKSIM_BEANSTALKD="true", STALKSIM_BEANSTALKD_WAIT="5"))
    assert proc.returncode == 0
    assert proc.stdout.strip() == "command ran"
    assert "did not answer" in proc.stderr


# ---- idle kernels are shut down -----------------------------------------------------------

CULL = json.loads((BINDER / "jupyter_server_config.json").read_text())["MappingKernelManager"]


def _server_env(tmp_path: Path) -> dict[str, str]:
    """binder/start's environment with no beanstalkd, and no Jupyter config but what it adds."""
    env = _start_env(tmp_path, STALKSIM_BEANSTALKD="no-such-beanstalkd")
    for name in ("JUPYTER_CONFIG_PATH", "JUPYTER_TOKEN"):
        env.pop(name, None)
    env.update(JUPYTER_CONFIG_DIR=str(tmp_path / "config"),
               JUPYTER_RUNTIME_DIR=str(tmp_path / "runtime"),
               JUPYTER_PLATFORM_DIRS="1", HOME=str(tmp_path))
    return env


def test_the_culling_settings_are_the_kernel_managers_own() -> None:
    """Every key names a MappingKernelManager setting (a misspelt key would be ignored), and
    the kernels of lessons a learner has left, open in a tab or not, are shut down."""
    from jupyter_server.services.kernels.kernelmanager import MappingKernelManager

    assert set(CULL) <= set(MappingKernelManager.class_trait_names())
    assert CULL["cull_connected"] is True and CULL["cull_busy"] is False
    assert 600 <= CULL["cull_idle_timeout"] <= 3600 and CULL["cull_interval"] <= 120


def test_start_hands_the_culling_config_to_the_server(tmp_path: Path) -> None:
    """What the server started through binder/start (as Binder starts it) has loaded."""
    proc = subprocess.run(["bash", str(START), sys.executable, "-m", "jupyter_server",
                           "--show-config-json"], env=_server_env(tmp_path), cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-3000:]
    shown = json.loads(proc.stdout[proc.stdout.index("{"):])
    assert shown["MappingKernelManager"] == CULL


def _api(base: str, token: str, method: str, path: str) -> object:
    req = urllib.request.Request(f"{base}{path}?token={token}", method=method)
    with urllib.request.urlopen(req, timeout=10) as resp:
        body = resp.read()
    return json.loads(body) if body else None


@pytest.mark.slow
def test_a_connected_idle_kernel_is_shut_down(tmp_path: Path) -> None:
    """A server started through binder/start, its idle timeout cut to 2 s on the command line
    (the rest from binder/'s config): a kernel with an open tab (a websocket) goes."""
    import websocket

    port, token = free_port(), secrets.token_hex(16)
    base = f"http://127.0.0.1:{port}"
    as_root = ["--allow-root"] if os.geteuid() == 0 else []
    cmd = ["bash", str(START), sys.executable, "-m", "jupyter_server", "--no-browser",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0", "--ServerApp.ip=127.0.0.1",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={tmp_path}",
           "--MappingKernelManager.cull_idle_timeout=2",
           "--MappingKernelManager.cull_interval=1", *as_root]
    with open(tmp_path / "server.log", "wb") as log:  # the server keeps its own copy
        server = subprocess.Popen(cmd, env=_server_env(tmp_path), cwd=tmp_path,
                                  stdout=log, stderr=subprocess.STDOUT)
    tab = None
    try:
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None and time.monotonic() < deadline, (
                (tmp_path / "server.log").read_text()[-3000:])
            try:
                _api(base, token, "GET", "/api/status")
                break
            except OSError:
                time.sleep(0.2)
        kernel = _api(base, token, "POST", "/api/kernels")
        assert isinstance(kernel, dict)
        tab = websocket.create_connection(
            f"ws://127.0.0.1:{port}/api/kernels/{kernel['id']}/channels?token={token}",
            timeout=10)
        seen = _api(base, token, "GET", f"/api/kernels/{kernel['id']}")
        assert isinstance(seen, dict) and seen["connections"] >= 1
        deadline = time.monotonic() + 60
        while _api(base, token, "GET", "/api/kernels"):
            assert time.monotonic() < deadline, "the connected idle kernel was not shut down"
            time.sleep(0.5)
    finally:
        if tab is not None:
            tab.close()
        _stop(server.pid)
        server.wait(timeout=10)


def _copy_repo(dest: Path) -> Path:
    """Copy what `pip install .` needs from the repository (not its build leftovers)."""
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE", "setup.cfg", "setup.py"):
        if (REPO / name).exists():
            shutil.copy2(REPO / name, dest / name)
    shutil.copytree(
        REPO / "stalksim",
        dest / "stalksim",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"),
    )
    shutil.copytree(BINDER, dest / "binder")
    return dest


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_requirements_install_into_a_fresh_venv(tmp_path: Path) -> None:
    """`pip install -r binder/requirements.txt`, run from the repository root as repo2docker does,
    works in a fresh virtual environment and gives a working notebook stack."""
    repo = _copy_repo(tmp_path / "repo")
    env_dir = tmp_path / "venv"
    venv.EnvBuilder(with_pip=True, clear=True).create(env_dir)
    py = env_dir / "bin" / "python"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("PYTHON", "PIP_TARGET"))}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    pip = subprocess.run(
        [str(py), "-m", "pip", "install", "--quiet", "-r", "binder/requirements.txt"],
        cwd=repo,
        env=env,
        capture_output=True,
        text=True,
        timeout=1100,
    )
    assert pip.returncode == 0, pip.stdout[-3000:] + pip.stderr[-3000:]

    check = subprocess.run(
        [
            str(py),
            "-c",
            "import stalksim, ipywidgets, jupyterlab_widgets, matplotlib, pandas, simpy, "
            "greenstalk, jupyterlab, importlib.metadata as md; "
            "print(md.version('stalksim'), *stalksim.__path__)",
        ],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr
    assert str(env_dir) in check.stdout, "stalksim was not installed into the venv"
    consistent = subprocess.run(
        [str(py), "-m", "pip", "check"], env=env, capture_output=True, text=True, timeout=120
    )
    assert consistent.returncode == 0, consistent.stdout + consistent.stderr
