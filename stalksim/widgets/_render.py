"""Shared rendering for the widgets: a Figure shown as a PNG image, and HTML state tables.

Figures are drawn without pyplot and shown through an `ipywidgets.Image`: updating the PNG
replaces the picture in place (no pile-up of figures, no flicker), works with the inline
backend and in any browser, and needs no ipympl.
"""

from __future__ import annotations

import html
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from stalksim._viewutil import STATE_COLOURS
from stalksim.trace import STATES

DPI = 72

TABLE_CSS = (
    "<style>.stalk-t{border-collapse:collapse;font-family:monospace;font-size:12px;"
    "margin:2px 0}.stalk-t th,.stalk-t td{border:1px solid #ccc;padding:2px 6px;"
    "text-align:left;vertical-align:top}.stalk-t th{background:#f3f3f3}"
    ".stalk-chg{background:#ffe9a8;font-weight:bold}</style>"
)


class FigureImage:
    """A matplotlib Figure rendered into an `ipywidgets.Image`; `render()` after each change."""

    def __init__(self, fig: Figure | None = None, *, dpi: int = DPI) -> None:
        self.dpi = dpi
        self.image = widgets.Image(format="png", layout=widgets.Layout(max_width="100%"))
        self.fig: Figure | None = None
        if fig is not None:
            self.show(fig)

    def show(self, fig: Figure) -> None:
        """Show another figure in the same place."""
        self.fig = fig
        self.render()

    def render(self) -> None:
        """Draw the current figure and replace the image's PNG."""
        if self.fig is None:
            return
        buf = io.BytesIO()
        self.fig.savefig(buf, format="png", dpi=self.dpi)
        self.image.value = buf.getvalue()


def esc(value: Any) -> str:
    return html.escape(str(value))


def chip(text: str, state: str) -> str:
    """A job id drawn in its state's colour (the colours the figures use)."""
    colour = STATE_COLOURS.get(state, "#ddd")
    fg = "white" if state in ("reserved", "buried") else "black"
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
