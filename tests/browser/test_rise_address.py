"""The teaching guide's slideshow addresses work: on a server like lab.sh's (its root is the
learner's working copy, my-notebooks/) and on one like Binder's (its root is the repository,
reached through `?urlpath=`). The slides show, at a projector's 1366x768, and the lesson's
import cell is not one of them (slides.py marks it "skip"). Screenshots of the title slide and
of the slide the import cell belongs to: test-artifacts/browser/rise-*-1366.png. The guide's
other way, the notebook toolbar's button and the View menu's items, is there as it says."""

from __future__ import annotations

import re
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.browser import lab
from tests.browser.conftest import require_browser_stack

sys.path.insert(0, str(lab.REPO / "scripts"))
import workcopy  # noqa: E402

pytestmark = pytest.mark.browser

GUIDE = lab.REPO / "docs" / "teaching.md"
LESSON_1 = "01-jobs-and-tubes.ipynb"
VIEWPORT = {"width": 1366, "height": 768}


def guide_addresses() -> dict[str, str]:
    """The server paths the guide gives: for a lab.sh server, and Binder's `urlpath`."""
    text = " ".join(GUIDE.read_text(encoding="utf-8").split())
    local = re.search(r"http://127\.0\.0\.1:8888(/rise/[^\s`]+)", text)
    binder = re.search(r"https://mybinder\.org/v2/gh/\S*?\?urlpath=(rise(?:/|%2F)[^\s`&]+)", text)
    assert local and binder, "the guide gives no RISE address for lab.sh or for Binder"
    return {"lab-sh": local[1], "binder": "/" + urllib.parse.unquote(binder[1])}


class LabShServer(lab.JupyterLab):
    """A server like lab.sh's: its root is the learner's working copy that workcopy.py makes."""

    def copy_notebooks(self) -> None:
        workcopy.refresh(lab.NOTEBOOKS, self.root)


@pytest.fixture(scope="module")
def lab_sh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[lab.JupyterLab]:
    require_browser_stack()
    server = LabShServer(Path(tmp_path_factory.mktemp("lab-sh")))
    try:
        yield server.start()
    finally:
        server.stop()


@pytest.mark.parametrize("where", ["lab-sh", "binder"])
def test_the_guides_rise_address_shows_the_slides(where: str, chromium: Any,
                                                  jupyterlab: lab.JupyterLab,
                                                  lab_sh: lab.JupyterLab) -> None:
    server = lab_sh if where == "lab-sh" else jupyterlab  # the session one is laid out as Binder
    path = guide_addresses()[where]
    lesson = lab.NOTEBOOKS / urllib.parse.unquote(path.rsplit("/", 1)[1])
    title = lesson.read_text(encoding="utf-8")
    title = re.search(r'"# (Lesson [^"\\]+)', title)[1]
    context = chromium.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        # as a teacher would: lab.sh's (or Binder's) own address first, which logs in
        page.goto(f"{server.base_url}/lab?token={server.token}", wait_until="commit")
        page.goto(server.base_url + path, wait_until="domcontentloaded", timeout=90_000)
        page.wait_for_selector(".reveal .slides > section.present", timeout=90_000)
        present = page.locator(".reveal .slides > section.present")
        assert title in present.inner_text(timeout=30_000)
        lab.ARTIFACTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(lab.ARTIFACTS / f"rise-{where}-title-1366.png"))

        skipped = page.locator(".jp-CodeCell.reveal-skip")
        assert skipped.count() == 1
        assert "import stalksim" in skipped.text_content()
        section = skipped.locator("xpath=ancestor::section[last()]")  # its slide
        index = page.evaluate("(s) => [...s.parentElement.children].indexOf(s)",
                              section.element_handle())
        for _ in range(index):
            page.keyboard.press("ArrowRight")
        page.wait_for_function("(s) => s.classList.contains('present')",
                               arg=section.element_handle(), timeout=10_000)
        assert not skipped.is_visible()
        shown = section.inner_text()
        assert "import stalksim" not in shown and len(shown) > 40
        page.screenshot(path=str(lab.ARTIFACTS / f"rise-{where}-imports-slide-1366.png"))
    finally:
        context.close()
        server.shutdown_sessions()


def test_the_guides_toolbar_way_is_there(page: Any, jupyterlab: lab.JupyterLab) -> None:
    """The guide's other way: the notebook's toolbar button and the View menu's item."""
    guide = " ".join(GUIDE.read_text(encoding="utf-8").split())
    assert "(*Render as Reveal Slideshow*, Alt+R)" in guide
    assert "*View → Full screen slideshow*" in guide
    page.goto(f"{jupyterlab.base_url}/lab/tree/notebooks/{LESSON_1}?token={jupyterlab.token}",
              wait_until="domcontentloaded", timeout=90_000)
    button = page.locator(".jp-NotebookPanel-toolbar [data-command='RISE:preview']")
    button.wait_for(timeout=90_000)
    assert "Render the current notebook as Reveal Slideshow (Alt+R)" in (
        button.get_attribute("title") or "")
    page.locator(".lm-MenuBar-itemLabel", has_text="View").click()
    items = page.locator(".lm-Menu-itemLabel").all_text_contents()
    assert {"Render as Reveal Slideshow", "Full screen slideshow"} <= set(items)
