"""Setting stalksim up prints no warning of ours.

scripts/setup.sh (so lab.sh, test.sh and site.sh) runs `pip install -e ".[extras]"`, and pip
shows every warning the build backend raises while it builds a local project: a
SetuptoolsDeprecationWarning for a `project.license` table (fixed: an SPDX string), or any
other. Here setuptools' PEP 517 hooks run, as pip runs them, on a copy of the project with every
warning recorded.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

HOOKS = r"""
import contextlib, io, json, sys, tempfile, warnings
from setuptools import build_meta

printed = io.StringIO()
with warnings.catch_warnings(record=True) as got, contextlib.redirect_stdout(printed), \
        contextlib.redirect_stderr(printed):
    warnings.simplefilter("always")
    for hook in sys.argv[1:]:
        getattr(build_meta, hook)(tempfile.mkdtemp())
said = [ln.strip() for ln in printed.getvalue().splitlines() if "warning" in ln.lower()]
print(json.dumps([f"{w.category.__name__}: {w.message}" for w in got] + said))
"""


def warnings_of(project: Path, *hooks: str) -> list[str]:
    """The warnings setuptools raised or printed while running `hooks` in `project`."""
    done = subprocess.run([sys.executable, "-c", HOOKS, *hooks], cwd=project,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1])


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """What pip builds from: pyproject.toml, the README and the package (no build leftovers)."""
    dest = tmp_path / "stalksim-src"
    dest.mkdir()
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        if (ROOT / name).exists():
            shutil.copy2(ROOT / name, dest / name)
    shutil.copytree(ROOT / "stalksim", dest / "stalksim",
                    ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    return dest


def test_building_the_metadata_warns_of_nothing(project: Path) -> None:
    assert warnings_of(project, "prepare_metadata_for_build_wheel",
                       "prepare_metadata_for_build_editable") == []


def test_the_license_table_would_be_caught(project: Path) -> None:
    """The check sees the warning this project used to print (pyproject's old license)."""
    toml = project / "pyproject.toml"
    text = toml.read_text()
    assert '\nlicense = "MIT"\n' in text
    toml.write_text(text.replace('\nlicense = "MIT"\n', '\nlicense = {text = "MIT"}\n'))
    found = warnings_of(project, "prepare_metadata_for_build_wheel")
    assert any(w.startswith("SetuptoolsDeprecationWarning") and "license" in w for w in found)


def test_the_editable_install_warns_of_nothing(project: Path) -> None:
    """What `pip install -e .` builds: the editable wheel."""
    assert warnings_of(project, "build_editable") == []
