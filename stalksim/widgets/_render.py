"""Shared rendering for the widgets: a Figure shown as a PNG image, and HTML state tables.

Figures are drawn without pyplot and shown through an `ipywidgets.Image`: updating the PNG
replaces the picture in place (no pile-up of figures, no flicker), works with the inline
backend and in any browser, and needs no ipympl. Artists that move (a time cursor) are drawn
over a cached picture of the rest of the figure, so a step costs a blit and a PNG encode.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import ipywidgets as widgets
from matplotlib.artist import Artist
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from PIL import Image

from stalksim._viewutil import FIGURE_DPI
from stalksim.palette import END_FILLS, STATE_COLOURS, ink_on
from stalksim.trace import STATES

DPI = FIGURE_DPI  # every widget figure, like every view, at >= 100 dpi (see _viewutil)
PNG_LEVEL = 1  # zlib level: a fast encode matters more than a few KB per frame

TABLE_CSS = (
    "<style>.stalk-t{border-collapse:collapse;font-family:monospace;font-size:12px;"
    "margin:2px 0}.stalk-t th,.stalk-t td{border:1px solid #ccc;padding:2px 6px;"
    "text-align:left;vertical-align:top}.stalk-t th{background:#f3f3f3}"
    ".stalk-chg{background:#ffe9a8;font-weight:bold}</style>"
)


class FigureImage:
    """A matplotlib Figure rendered into an `ipywidgets.Image`; `render()` after each change.

    Rendered at `dpi` (default FIGURE_DPI), which the PNG also records (pHYs), so a browser
    test can tell the on-screen size of its text.

    `animated` artists (e.g. cursors) are left out of the cached background and drawn over it
    on each `render()`; call `invalidate()` after changing anything else in the figure.
    """

    def __init__(self, fig: Figure | None = None, *, dpi: int = DPI,
                 animated: Iterable[Artist] = ()) -> None:
        self.dpi = dpi
        # never wider than the output (no margin past 100%), never stretched past its pixels (a
        # VBox stretches its children: that blurred text at 1366 and 1920 px)
        self.image = widgets.Image(format="png", layout=widgets.Layout(
            max_width="100%", margin="0", align_self="flex-start", height="auto"))
        self.fig: Figure | None = None
        self.animated: list[Artist] = []
        self._canvas: FigureCanvasAgg | None = None
        self._background: Any = None
        if fig is not None:
            self.show(fig, animated=animated)

    def show(self, fig: Figure, *, animated: Iterable[Artist] = ()) -> None:
        """Show another figure in the same place."""
        self.fig = fig
        self.animated = list(animated)
        for artist in self.animated:
            artist.set_animated(True)  # left out of canvas.draw(), still in savefig
        self._canvas = None
        self.invalidate()
        self.render()

    def invalidate(self) -> None:
        """Forget the cached background: the next `render()` draws the whole figure."""
        self._background = None

    def render(self) -> None:
        """Draw the current figure (only the animated artists, when the rest is cached) and
        replace the image's PNG."""
        if self.fig is None:
            return
        with self._drawing(self.fig) as canvas:
            if self._background is None:
                canvas.draw()
                self._background = canvas.copy_from_bbox(self.fig.bbox)
            else:
                canvas.restore_region(self._background)
            renderer = canvas.get_renderer()
            for artist in self.animated:
                artist.draw(renderer)
            rgba = canvas.buffer_rgba()
            size = (int(renderer.width), int(renderer.height))
            picture = Image.frombuffer("RGBA", size, rgba, "raw", "RGBA", 0, 1).convert("RGB")
        buf = io.BytesIO()
        picture.save(buf, format="png", compress_level=PNG_LEVEL, dpi=(self.dpi, self.dpi))
        self.image.value = buf.getvalue()

    @contextmanager
    def _drawing(self, fig: Figure) -> Iterator[FigureCanvasAgg]:
        """Our Agg canvas at our dpi, put back as the figure had them afterwards (as savefig
        does), so a figure the caller shows elsewhere is left as it was."""
        canvas, dpi = fig.canvas, fig.dpi
        if self._canvas is None:
            self._canvas = FigureCanvasAgg(fig)
        fig.set_canvas(self._canvas)
        fig.dpi = self.dpi
        try:
            yield self._canvas
        finally:
            fig.dpi = dpi
            fig.set_canvas(canvas)


def esc(value: Any) -> str:
    return html.escape(str(value))


def chip(text: str, state: str) -> str:
    """A job id drawn in its state's colour (stalksim.palette: the colours the figures, the
    flow view and the handout use), its text black or white, whichever reads better."""
    colour = STATE_COLOURS.get(state, END_FILLS["deleted"])
    fg = ink_on(colour)
    return (f"<span style='background:{colour};color:{fg};border-radius:3px;"
            f"padding:0 4px;margin-right:3px'>{esc(text)}</span>")


def table(header: Sequence[str], rows: Iterable[Sequence[str]], *, raw: bool = False) -> str:
    """An HTML table; cells are escaped unless `raw` (then they are HTML already)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{c if raw else esc(c)}</td>" for c in row) + "</tr>"
        for row in rows)
    return f"{TABLE_CSS}<table class='stalk-t'><tr>{head}</tr>{body}</table>"


def state_tables(tubes: Mapping[str, Mapping[str, Sequence[str]]],
                 held: Mapping[str, Sequence[str]], title: str = "") -> str:
    """Each tube's jobs by state, then what each client/worker holds, as HTML."""
    tube_rows = [[f"<b>{esc(name)}</b>",
                  *(" ".join(chip(j, s) for j in by_state.get(s, ())) or "&ndash;"
                    for s in STATES)]
                 for name, by_state in tubes.items()]
    out = f"<div><b>{esc(title)}</b></div>" if title else ""
    out += table(["tube", *STATES], tube_rows or [["(no tubes)", "", "", "", ""]], raw=True)
    if held:
        out += table(["who", "holds (reserved)"],
                     [[esc(who), " ".join(chip(j, "reserved") for j in jobs) or "&ndash;"]
                      for who, jobs in held.items()], raw=True)
    return out
