"""The flow view's JavaScript and CSS, shipped in the package (stalksim/widgets/static): read
by FlowView (an anywidget) and by the tour (a page that plays with no kernel). Standard library
only; nothing is fetched at run time."""

from __future__ import annotations

from pathlib import Path

STATIC = Path(__file__).parent / "static"


def read(*names: str) -> str:
    """The named files of static/, one after the other, as one text."""
    return "".join((STATIC / n).read_text(encoding="utf-8") for n in names)


def scripts(*names: str) -> str:
    """The view's JavaScript: flowpanel.js (drawing), flowview.js (playback), then `names`."""
    return read("flowpanel.js", "flowview.js", *names)
