"""Each lesson opens as a slideshow (jupyterlab-rise's /rise/ page): one slide per heading, the
title slide first, readable at a projector's 1024 px."""

from __future__ import annotations

import urllib.parse
from typing import Any

import nbformat
import pytest

from tests.browser import lab

LESSONS = [p for p in lab.notebook_paths() if p.parent == lab.NOTEBOOKS]


@pytest.mark.parametrize("path", LESSONS, ids=lambda p: p.stem)
def test_lesson_opens_as_slides(page: Any, jupyterlab: lab.JupyterLab, path) -> None:
    nb = nbformat.read(path, as_version=4)
    slides = sum(c.metadata.get("slideshow", {}).get("slide_type") == "slide" for c in nb.cells)
    title = nb.cells[0].source.lstrip("# ").splitlines()[0].strip()
    page.set_viewport_size({"width": 1024, "height": 768})
    url = (f"{jupyterlab.base_url}/rise/{urllib.parse.quote(jupyterlab.relpath(path))}"
           f"?token={jupyterlab.token}")
    page.goto(url, wait_until="domcontentloaded", timeout=90_000)
    page.wait_for_selector(".reveal .slides > section", timeout=90_000)
    page.wait_for_function(f"() => document.querySelectorAll('.reveal .slides > section')"
                           f".length >= {slides}", timeout=60_000)
    sections = page.locator(".reveal .slides > section")
    assert sections.count() == slides
    present = page.locator(".reveal .slides > section.present")
    assert title in present.inner_text(timeout=10_000)
    heading = present.locator("h1").first.bounding_box()
    assert heading is not None and heading["height"] >= 28  # a title the back row can read
    lab.ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(lab.ARTIFACTS / f"slides-{path.stem}-1024.png"))
    assert not page.stalk_page_errors, page.stalk_page_errors
