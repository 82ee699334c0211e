"""Fixtures for FlowView's browser tests: the project's JupyterLab + Chromium harness
(tests/browser), with this folder's fixture notebooks in the server's root, and axe-core."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser import lab
from tests.browser.conftest import chromium, page, require_browser_stack  # noqa: F401

FIXTURES = Path(__file__).resolve().parent / "fixtures"
AXE_VERSION = "4.14.1"


class FlowLab(lab.JupyterLab):
    """The project's private JupyterLab, whose root also holds `flow-fixtures/`."""

    def copy_notebooks(self) -> None:
        super().copy_notebooks()
        shutil.copytree(FIXTURES, self.root / "flow-fixtures",
                        ignore=shutil.ignore_patterns(".ipynb_checkpoints"))

    def relpath(self, notebook: Path) -> str:
        if notebook.parent == FIXTURES:
            return f"flow-fixtures/{notebook.name}"
        return super().relpath(notebook)


@pytest.fixture(scope="session")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab.JupyterLab]:
    """A private JupyterLab server (no beanstalkd: the fixture notebooks run simulations)."""
    require_browser_stack()
    server = FlowLab(Path(tmp_path_factory.mktemp("jupyterlab-flow")))
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def axe_script(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """axe-core's axe.min.js from the npm registry (STALKSIM_AXE may name a copy instead)."""
    given = os.environ.get("STALKSIM_AXE")
    if given:
        return Path(given)
    npm = shutil.which("npm")
    if npm is None:
        if os.environ.get("CI"):
            pytest.fail("the accessibility scan needs npm (apt-get install npm)")
        pytest.skip("the accessibility scan needs npm (apt-get install npm)")
    where = tmp_path_factory.mktemp("axe")
    subprocess.run([npm, "install", "--silent", "--no-audit", "--no-fund", "--prefix",
                    str(where), f"axe-core@{AXE_VERSION}"], check=True, timeout=300)
    return where / "node_modules" / "axe-core" / "axe.min.js"
