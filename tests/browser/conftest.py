"""Fixtures for the browser test: a JupyterLab server, headless Chromium, one page per test."""

from __future__ import annotations

import os
import shutil
import subprocess
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import lab, layout


def require_browser_stack() -> None:
    """Skip (locally) or fail (in CI) with a visible reason when chromium or Jupyter is missing."""
    missing = lab.missing_requirements()
    if missing:
        reason = "the browser test needs " + ", ".join(missing)
        if os.environ.get("CI"):
            pytest.fail(reason)
        pytest.skip(reason)


@pytest.fixture(scope="session")
def jupyterlab(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab.JupyterLab]:
    """A private JupyterLab server; its kernels see a private beanstalkd when one is installed."""
    require_browser_stack()
    env: dict[str, str] = {}
    beanstalkd = None
    if shutil.which("beanstalkd"):
        from tests.realserver import RealBeanstalkd

        beanstalkd = RealBeanstalkd().start()
        env = {"BEANSTALKD_HOST": beanstalkd.host, "BEANSTALKD_PORT": str(beanstalkd.port)}
    server = lab.JupyterLab(Path(tmp_path_factory.mktemp("jupyterlab")), env=env)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        if beanstalkd is not None:
            beanstalkd.stop()


@pytest.fixture(scope="session")
def chromium() -> Iterator[Any]:
    """Debian's Chromium, headless, driven by Playwright (no browser download)."""
    require_browser_stack()
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        browser = pw.chromium.launch(
            executable_path=lab.CHROMIUM, headless=True, args=lab.CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        pw.stop()


def _guarded_page(context: Any, pattern: str, allowed: Any) -> Any:
    """A new page of `context` whose requests matching `pattern` go through only when
    `allowed(url)`; the others fail and are listed in `page.stalk_blocked`, and uncaught page
    errors in `page.stalk_page_errors`."""
    blocked: list[str] = []
    page_errors: list[str] = []

    def route(r: Any) -> None:
        if allowed(r.request.url):
            r.continue_()
        else:
            blocked.append(r.request.url)
            r.abort()

    context.route(pattern, route)
    pg = context.new_page()
    pg.on("pageerror", lambda exc: page_errors.append(str(exc)[:500]))
    pg.stalk_blocked = blocked
    pg.stalk_page_errors = page_errors
    return pg


@pytest.fixture
def page(chromium: Any, jupyterlab: lab.JupyterLab) -> Iterator[Any]:
    """A fresh browser context and page that may reach only the local JupyterLab."""
    # the notebook runs at the width figures are checked at; the layout check resizes later
    width = layout.FIGURE_WIDTH
    context = chromium.new_context(viewport={"width": width, "height": layout.HEIGHTS[width]})

    def local(url: str) -> bool:
        return urllib.parse.urlparse(url).hostname in ("127.0.0.1", "localhost")

    pg = _guarded_page(context, "**/*", local)
    try:
        yield pg
    finally:
        context.close()
        jupyterlab.shutdown_sessions()


@pytest.fixture
def bare_page(chromium: Any) -> Iterator[Any]:
    """A page with no JupyterLab behind it (FlowView's standalone harness); it may reach no
    network at all: requests go to `bare_page.stalk_blocked` and fail."""
    context = chromium.new_context(viewport={"width": 1366, "height": 900})
    pg = _guarded_page(context, "http*://**/*", lambda url: False)
    try:
        yield pg
    finally:
        context.close()


@pytest.fixture(scope="module")
def browser_summary() -> dict[str, dict[str, Any]]:
    """Per-notebook results, written to test-artifacts/browser/summary.json after each test."""
    return {}


AXE_VERSION = "4.14.1"


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
