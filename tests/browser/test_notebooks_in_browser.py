"""Each tutorial notebook, run in JupyterLab in headless Chromium, shows its widgets and figures.

Only a browser sees "Error displaying widget", widgets stuck at "Loading widget..." and plots
that never appear. See README.md in this folder for the cell tags the notebooks must carry.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from tests.browser import driver, lab, layout

pytestmark = pytest.mark.browser

NOTEBOOKS = lab.notebook_paths()


def is_lesson(notebook: Path) -> bool:
    """A tutorial notebook (`notebooks/NN-*.ipynb`), not a fixture."""
    return notebook.parent == lab.NOTEBOOKS


def is_crash_lesson(notebook: Path) -> bool:
    """The lesson on crashed and hung consumers (03-*), or the smoke fixture standing in for it."""
    return notebook.name.startswith("03-") or notebook.parent == lab.FIXTURES


@pytest.mark.timeout(lab.NOTEBOOK_TIMEOUT + 180)
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=[p.stem for p in NOTEBOOKS])
def test_notebook_in_browser(
    notebook: Path,
    jupyterlab: lab.JupyterLab,
    page: Any,
    browser_summary: dict[str, dict[str, Any]],
) -> None:
    """Run all cells; no errors, no stuck widgets, controls and figures where the tags say,
    (in the crash lesson) a figure that changes when its control moves, and (in a lesson) at
    1024, 1366 and 1920 px no control clipped or off-screen, figures sharp and legible."""
    run = driver.NotebookRun(jupyterlab, page, notebook)
    started = time.monotonic()
    marks: dict[str, float] = {}
    shape = layout.LayoutResult()
    try:
        run.open()
        marks["open"] = time.monotonic()
        run.run_all()
        marks["run"] = time.monotonic()
        run.settle_and_check()
        interactive = [s for s in run.specs if lab.TAG_INTERACTIVE in s.tags]
        if is_crash_lesson(notebook) and not interactive:
            run.result.problems.append(
                f"{notebook.name}: the crash/hang lesson needs a cell tagged "
                f"'{lab.TAG_INTERACTIVE}' (a control whose move redraws a figure)"
            )
        ran = {c["index"] for c in run.result.cells if c["executionCount"]}
        for spec in interactive:
            if spec.index in ran:
                run.interact(spec)
        marks["interact"] = time.monotonic()
        if is_lesson(notebook):
            shape = layout.LayoutCheck(run).check()
            marks["layout"] = time.monotonic()
    finally:
        try:
            run.screenshot()
        except Exception as exc:  # keep the run's own failure; note this one
            run.result.problems.append(f"screenshot failed: {exc}")
        previous = started
        for name, t in marks.items():
            run.result.seconds[name] = round(t - previous, 2)
            previous = t
        run.result.seconds["total"] = round(time.monotonic() - started, 2)
        run.result.blocked_requests = list(page.stalk_blocked)
        summary = run.result.summary()
        summary["page_errors"] = list(page.stalk_page_errors)
        summary["layout"] = {"problems": shape.problems, "widths": shape.widths}
        browser_summary[notebook.name] = summary
        driver.write_summary(browser_summary)
        run.close()
    problems = run.result.problems
    if shape.problems:
        problems = [*problems, f"layout ({len(shape.problems)} problems):", *shape.problems]
    assert not problems, "\n".join(problems)
