"""ServerPanel's wire pane in JupyterLab (issue 23), as a learner sees it: the panel of finding 6
(worker-1 hung at the TTR, worker-2's reserve timed out) with "show the wire" on, legible (text
of at least 14 px in the pane), clipped nowhere at 1024, 1366 and 1920 px, and of one height
whatever an action sends, so a click in the browser does not move the state table below it.
Screenshots: test-artifacts/panel/<width>/panel_wire.png (and a crop of each panel)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.browser import driver, lab, layout

ARTIFACTS = lab.REPO / "test-artifacts" / "panel"
NAME = "panel_wire.ipynb"
MIN_PANE_PX = 14

CELLS = [
    "import stalksim\nfrom stalksim.widgets import ServerPanel\n",
    # finding 6: TTR 5, worker-1 reserves and hangs, 5 s pass, worker-2 reserves (timeout 0)
    "def click(panel, who, button, **fields):\n"
    "    panel.who.value = who\n"
    "    for name, value in fields.items():\n"
    "        getattr(panel, name).value = value\n"
    "    panel.buttons[button].click()\n"
    "\n"
    "panel = ServerPanel(stalksim.Simulation(seed=3), clients=('producer', 'worker-1', "
    "'worker-2'), wire=True)\n"
    "click(panel, 'producer', 'put', ttr=5)\n"
    "click(panel, 'worker-1', 'reserve')\n"
    "click(panel, 'worker-1', 'hang')\n"
    "click(panel, 'worker-1', 'advance', seconds=5)\n"
    "click(panel, 'worker-2', 'reserve')\n"
    "panel\n",
    # a long reply: stats-job's YAML scrolls inside the pane
    "other = ServerPanel(stalksim.Simulation(seed=0), wire=True)\n"
    "click(other, 'producer', 'put', tube='orders', body='order 7')\n"
    "click(other, 'producer', 'stats-job')\n"
    "other\n",
]

# The i-th wire pane's box and text, whether its newest action shows whole without scrolling,
# and where the state table below it starts.
JS_PANE = """
(i) => {
  const pane = document.querySelectorAll('.stalk-wire')[i];
  if (!pane) return null;
  const table = pane.closest('.widget-vbox').querySelector('.stalk-t');
  const line = pane.querySelector('.sw-s, .sw-r');
  const newest = pane.querySelector('.sw-a').getBoundingClientRect();
  return {
    text: pane.innerText, height: pane.getBoundingClientRect().height,
    fontPx: parseFloat(getComputedStyle(line).fontSize),
    scrolls: pane.scrollHeight > pane.clientHeight + 1,
    newestFits: newest.bottom <= pane.getBoundingClientRect().bottom,
    tableTop: table.getBoundingClientRect().top - pane.getBoundingClientRect().top,
  };
}
"""


def _notebook() -> dict[str, Any]:
    cells = [{"cell_type": "code", "execution_count": None, "outputs": [], "source": src,
              "metadata": {"tags": ["widgets"] if "panel\n" in src or "other\n" in src
                           else []}} for src in CELLS]
    return {"cells": cells, "metadata": {"kernelspec": {
        "name": "python3", "display_name": "Python 3", "language": "python"}},
        "nbformat": 4, "nbformat_minor": 5}


@pytest.mark.browser
@pytest.mark.timeout(lab.NOTEBOOK_TIMEOUT + 120)
def test_the_wire_pane_in_jupyterlab(jupyterlab: lab.JupyterLab, page: Any) -> None:
    # the server's own copy of the fixtures: the repository is not written to
    (jupyterlab.root / "fixtures" / NAME).write_text(json.dumps(_notebook()))
    run = driver.NotebookRun(jupyterlab, page, lab.FIXTURES / NAME)
    try:
        run.open()
        run.run_all()
        run.settle_and_check()
        assert not run.result.problems, "\n".join(run.result.problems)
        page.wait_for_function("() => document.querySelectorAll('.stalk-wire').length === 2",
                               timeout=30_000)
        first, yaml = page.evaluate(JS_PANE, 0), page.evaluate(JS_PANE, 1)
        assert "reserve-with-timeout 0⏎\nTIMED_OUT⏎" in first["text"]
        assert first["fontPx"] >= MIN_PANE_PX and first["newestFits"]
        assert not yaml["newestFits"] and yaml["scrolls"] and yaml["height"] == first["height"]
        found = layout.LayoutCheck(run, ARTIFACTS).check()  # screenshots of finding 6
        assert not found.problems, "\n".join(found.problems)
        button = page.locator(".widget-button", has_text="put").first
        button.click()  # a put in the browser: three more lines, the same height
        page.wait_for_function("() => document.querySelector('.stalk-wire').innerText"
                               ".includes('INSERTED 2')", timeout=30_000)
        after = page.evaluate(JS_PANE, 0)
        assert (after["height"], after["tableTop"]) == (first["height"], first["tableTop"])
    finally:
        run.close()
