"""Slide metadata for the lessons, so each presents as slides with jupyterlab-rise.

A markdown cell that opens with a heading starts a slide (the first cell always does); a code
cell that only imports (and sets `%matplotlib inline`) is skipped: RISE does not show it, it is
set-up rather than something to present (run the lesson, or at least that cell, before
presenting); every other cell continues the slide above it. Slides scroll, so a long output
never falls off the projector. Run `python scripts/slides.py` after editing a lesson;
`--check` (the tests) says which lessons are out of date without writing.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parent.parent
RISE = {"autolaunch": False, "scroll": True, "theme": "simple", "transition": "none",
        "enable_chalkboard": False, "start_slideshow_at": "beginning"}


def lessons() -> list[Path]:
    return sorted((ROOT / "notebooks").glob("[0-9][0-9]-*.ipynb"))


def only_imports(cell: nbformat.NotebookNode) -> bool:
    """A code cell whose statements are all imports (IPython's `%` lines aside)."""
    if cell.cell_type != "code":
        return False
    code = "\n".join(ln for ln in cell.source.splitlines() if not ln.lstrip().startswith("%"))
    try:
        body = ast.parse(code).body
    except SyntaxError:
        return False
    return bool(body) and all(isinstance(s, ast.Import | ast.ImportFrom) for s in body)


def slide_type(cell: nbformat.NotebookNode, first: bool) -> str:
    heading = cell.cell_type == "markdown" and cell.source.lstrip().startswith("#")
    if first or heading:
        return "slide"
    return "skip" if only_imports(cell) else "-"


def apply(nb: nbformat.NotebookNode) -> bool:
    """Set the slide metadata of `nb`; True when something changed."""
    changed = nb.metadata.get("rise") != RISE
    nb.metadata["rise"] = dict(RISE)
    for i, cell in enumerate(nb.cells):
        want = slide_type(cell, i == 0)
        if cell.metadata.get("slideshow", {}).get("slide_type") != want:
            cell.metadata["slideshow"] = {"slide_type": want}
            changed = True
    return changed


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for path in lessons():
        nb = nbformat.read(path, as_version=4)
        if apply(nb):
            stale.append(path.name)
            if not check:
                nbformat.write(nb, path)
    if check and stale:
        print("slide metadata out of date (run python scripts/slides.py): " + ", ".join(stale))
        return 1
    print(("checked " if check else "wrote ") + f"{len(lessons())} lessons")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
