"""Lesson 6's kill -9 / SIGSTOP view in JupyterLab, operated with its buttons (issue 23).

The lesson's first cells (imports, connect, a JobWatch with worker-a holding a job, the
LiveView with its buttons) run in a notebook of their own; then the test presses the buttons
as a learner would: kill -9 on worker-a (its job is ready at once), stop on worker-b holding a
job with a 3 s TTR (it stays reserved; then worker-c gets it, and worker-b only thinks it
holds it), continue (the late delete's answer). After each press the live widget must show
what the server did, its buttons enabled as the worker's state allows; screenshots at 1366
and 1024 px are kept in test-artifacts/kill9/ (the moment right after kill -9, and during
SIGSTOP).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import nbformat
import pytest

from tests.browser import driver, lab

pytestmark = pytest.mark.browser

SHOTS = lab.REPO / "test-artifacts" / "kill9"
LESSON = lab.NOTEBOOKS / "06-going-live.ipynb"
CELLS = ("l06-01", "l06-03", "l06-kill-01", "l06-kill-02a", "l06-kill-02")
WIDTHS = {1366: 768, 1024: 768}

JS_EXECUTE = """
async (code) => {
  const kernel = window.__stalk.sessionContext.session.kernel;
  const reply = await kernel.requestExecute({code, store_history: false}).done;
  const c = reply.content;
  return c.status === 'ok' ? 'ok' : `${c.ename}: ${c.evalue}`;
}
"""
JS_SHOWS = """
([index, text]) => {
  const cell = document.querySelector(`[data-stalk-index="${index}"]`);
  return !!cell && cell.innerText.includes(text);
}
"""


def _demo(root: Path) -> Path:
    """The lesson's cells up to its jobs view, as a notebook in the server's root."""
    nb = nbformat.read(LESSON, as_version=4)
    keep = {c.id: c for c in nb.cells}
    demo = nbformat.v4.new_notebook(metadata=nb.metadata)
    demo.cells = [keep[i] for i in CELLS]
    nbformat.write(demo, root / "notebooks" / "kill9-demo.ipynb")
    return lab.NOTEBOOKS / "kill9-demo.ipynb"


class Page:
    """The demo notebook's page: its widget cell, buttons, kernel and screenshots."""

    def __init__(self, run: driver.NotebookRun) -> None:
        self.run, self.page = run, run.page
        self.view = CELLS.index("l06-kill-02")
        self.cell = self.page.locator(f'[data-stalk-index="{self.view}"]')

    def execute(self, code: str) -> None:
        assert self.page.evaluate(JS_EXECUTE, code) == "ok", code

    def shows(self, text: str, within: float = 15.0) -> None:
        self.page.wait_for_function(JS_SHOWS, arg=[self.view, text], polling=100,
                                    timeout=within * 1000)

    def button(self, worker: str, label: str) -> Any:
        row = self.cell.locator(".widget-hbox").filter(has_text=f"{worker} pid")
        return row.locator("button", has_text=label)

    def press(self, worker: str, label: str) -> None:
        button = self.button(worker, label)
        assert button.is_enabled(), f"{worker}'s {label} button is disabled"
        button.click()

    def enabled(self, worker: str) -> dict[str, bool]:
        return {label: self.button(worker, label).is_enabled()
                for label in ("kill -9", "stop", "continue")}

    def snap(self, name: str) -> None:
        """The widget at the top of the screen, at each width (the page as a person sees it)."""
        SHOTS.mkdir(parents=True, exist_ok=True)
        for width, height in WIDTHS.items():
            self.page.set_viewport_size({"width": width, "height": height})
            self.page.evaluate("() => window.jupyterapp.shell.collapseLeft()")
            self.cell.evaluate("el => el.querySelector('.jp-Cell-outputWrapper')"
                               ".scrollIntoView({block: 'start'})")
            self.page.wait_for_timeout(300)  # two frames of layout, the scroll settled
            self.page.screenshot(path=str(SHOTS / f"{name}-{width}.png"))
        self.page.set_viewport_size({"width": 1366, "height": 768})


@pytest.mark.timeout(lab.NOTEBOOK_TIMEOUT + 120)
def test_kill_stop_and_continue_from_the_buttons(jupyterlab: lab.JupyterLab, page: Any) -> None:
    run = driver.NotebookRun(jupyterlab, page, _demo(jupyterlab.root))
    try:
        run.open()
        run.run_all()
        run.settle_and_check()
        assert not run.result.problems, run.result.problems
        p = Page(run)
        p.shows("worker-a pid")
        assert p.enabled("worker-a") == {"kill -9": True, "stop": True, "continue": False}
        p.snap("before-kill")

        p.press("worker-a", "kill -9")
        p.shows("ready again at once")
        p.shows("worker-a's connection closed")
        assert p.enabled("worker-a") == {"kill -9": False, "stop": False, "continue": False}
        p.snap("after-kill-9")

        p.execute('b = watch.worker("worker-b", work=2)\n'
                  'watch.wait_for(photo7, "deleted")\n'
                  'photo8 = watch.put("resize photo 8", ttr=3)\n'
                  'b.wait_for("reserved", photo8)\n'
                  'c = watch.worker("worker-c", work=2)\n'
                  'jobs_view.refresh()')
        p.shows("worker-c pid")
        p.press("worker-b", "stop")
        p.shows("worker-b: SIGSTOP (holding it)")
        assert p.enabled("worker-b") == {"kill -9": True, "stop": False, "continue": True}
        p.snap("during-sigstop")

        p.execute('watch.wait_for(photo8, "reserved", by="worker-c")\njobs_view.refresh()')
        p.shows("its TTR of 3 s ran out")
        p.shows("reserved by worker-c")
        p.shows("stopped, thinks it holds job")  # worker-b does not know it lost the job
        p.snap("ttr-ran-out")

        p.press("worker-b", "continue")
        p.execute("b.answer(photo8)\njobs_view.refresh()")
        p.shows("worker-b's late delete: NOT_FOUND")
        p.snap("after-sigcont")
        p.execute("watch.close()")
        facts = page.evaluate(driver.JS_FACTS, [lab.CONTROL_KINDS, lab.MIN_FIGURE_PX])
        assert not [c["errors"] for c in facts if c["errors"]]
    finally:
        run.close()
