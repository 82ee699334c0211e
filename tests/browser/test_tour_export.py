"""The tour in a static HTML export: a notebook that shows `Tour()`, run and exported by
`jupyter nbconvert --to html --execute`, plays from the file in headless Chromium with no kernel
and no network at all: it animates at once, Next and Back step through the story, and the last
step's crash (a fork computed in Python beforehand) is shown with its one-line summary.
(nbconvert's page itself asks for require.js and MathJax; they are refused and not needed.)"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import nbformat
import pytest

from stalksim.tour import Tour
from tests.browser import lab
from tests.browser.test_flowview import ARTIFACTS

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    where = tmp_path_factory.mktemp("tour-export")
    nb = nbformat.v4.new_notebook()
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    nb.cells = [nbformat.v4.new_code_cell("from stalksim.tour import Tour\n\nTour()")]
    nbformat.write(nb, where / "tour.ipynb")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        p for p in [str(lab.REPO), os.environ.get("PYTHONPATH", "")] if p)}
    subprocess.run([sys.executable, "-m", "jupyter", "nbconvert", "--to", "html", "--execute",
                    "tour.ipynb"], cwd=where, env=env, check=True, timeout=300,
                   capture_output=True)
    return where / "tour.html"


@pytest.mark.timeout(300)
def test_exported_tour_plays_from_the_file(bare_page: Any, exported: Path) -> None:
    page, tour = bare_page, Tour()
    page.goto(exported.as_uri())
    page.wait_for_function("() => !!document.querySelector('.fv-tour')?.dataset.firstFrame",
                           polling=50, timeout=30_000)
    assert not page.evaluate("() => 'jupyterapp' in window || !!window.Jupyter")
    say = page.locator(".tour-say")
    steps = tour.data["steps"]
    page.wait_for_function("() => document.querySelector('.fv-tour').dataset.step === '1'")
    assert say.inner_text() == steps[1]["text"]
    page.locator(".tour-back").click()
    assert say.inner_text() == steps[0]["text"]
    for k in range(1, len(steps) + 1):  # to the learner's turn, by keyboard
        page.locator(".fv-tour").press("ArrowRight")
        page.wait_for_function(f"() => document.querySelector('.fv-tour').dataset.step === "
                               f"'{k}'")
    assert say.inner_text() == tour.data["try"]["text"]
    page.locator("svg[data-panel=fork] .fv-worker[data-worker=worker-1]").click()
    page.locator(".fv-fault-crash").click()
    summary = tour.data["try"]["forks"]["fork/worker-1"]["summary"]
    assert page.locator(".fv-summary").inner_text() == summary
    assert "crashes at" in page.locator("svg[data-panel=fork] .fv-title").text_content()
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.locator(".fv-tour").screenshot(path=str(ARTIFACTS / "export-tour-turn.png"))
    assert not page.stalk_page_errors
    # nbconvert's own page asks for require.js and MathJax (and gets neither); the tour, nothing
    assert all("/require.js/" in u or "/mathjax/" in u for u in page.stalk_blocked), \
        page.stalk_blocked
