"""The lessons present as slides: jupyterlab-rise is installed and enabled in the lab, and every
lesson carries the slide metadata scripts/slides.py gives it (a slide per heading)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import slides  # noqa: E402


def test_slide_metadata_is_up_to_date() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "slides.py"), "--check"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.mark.parametrize("path", slides.lessons(), ids=lambda p: p.name)
def test_each_heading_starts_a_slide(path: Path) -> None:
    nb = nbformat.read(path, as_version=4)
    kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    assert kinds[0] == "slide" and kinds.count("slide") >= 4
    for cell, kind in zip(nb.cells, kinds, strict=True):
        heading = cell.cell_type == "markdown" and cell.source.lstrip().startswith("#")
        assert (kind == "slide") == (heading or cell is nb.cells[0])
    assert nb.metadata["rise"]["scroll"] is True  # a long output scrolls, never falls off


@pytest.mark.parametrize("path", slides.lessons(), ids=lambda p: p.stem)
def test_the_import_cell_is_not_a_slide(path: Path) -> None:
    """RISE's "skip": the cell that only imports is not shown in the slideshow (it is set-up,
    run before presenting); every other code cell is."""
    nb = nbformat.read(path, as_version=4)
    skipped = [c for c in nb.cells if c.metadata["slideshow"]["slide_type"] == "skip"]
    assert len(skipped) == 1 and "import stalksim" in skipped[0].source
    assert all(slides.only_imports(c) for c in skipped)


def test_only_imports() -> None:
    code = nbformat.v4.new_code_cell
    assert slides.only_imports(code("%matplotlib inline\nimport stalksim\nfrom x import y"))
    assert not slides.only_imports(code("import stalksim\nsim = stalksim.Simulation()"))
    assert not slides.only_imports(code("from stalksim.tour import Tour\n\nTour()"))
    assert not slides.only_imports(code("%matplotlib inline"))
    assert not slides.only_imports(nbformat.v4.new_markdown_cell("import stalksim"))


def test_check_notices_a_missing_slide(tmp_path: Path) -> None:
    nb = nbformat.read(slides.lessons()[0], as_version=4)
    del nb.cells[3].metadata["slideshow"]
    assert slides.apply(nb) is True and slides.apply(nb) is False


def test_rise_is_enabled_in_the_lab() -> None:
    done = subprocess.run([sys.executable, "-m", "jupyter", "labextension", "list"],
                          capture_output=True, text=True, timeout=120)
    line = next((ln for ln in (done.stdout + done.stderr).splitlines()
                 if "jupyterlab-rise" in ln), "")
    assert "enabled" in line and "OK" in line, done.stdout + done.stderr
