"""Shared look and drawing helpers for stalksim.views: one palette, one set of markers.

Colours come from stalksim.palette (Okabe-Ito, safe for the common colour-vision
deficiencies), the one palette the widgets, the flow view and the handouts use too: every state
and event keeps its colour and marker in every view, so a learner reads one legend once.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator

from stalksim.palette import CRASH, DEADLINE, HUNG_FILL, INK, OKABE_ITO, STATE_COLOURS, TTR
from stalksim.trace import NS, RawEvent, Trace

# Event markers: crash and connection-closed share vermillion and an X (one causes the other);
# hang and ttr-expired share reddish purple (likewise), with different shapes.
MARKS: dict[str, dict[str, Any]] = {
    "connection-closed": {"marker": "X", "color": CRASH, "ms": 9,
                          "label": "connection closed (crash)"},
    "ttr-expired": {"marker": "$\u29d7$", "color": TTR, "ms": 12,
                    "label": "TTR expired (hang)"},
    "deleted": {"marker": "|", "color": OKABE_ITO["black"], "ms": 14, "mew": 2.5,
                "label": "deleted"},
    "crash": {"marker": "X", "color": CRASH, "ms": 13, "label": "crash"},
    "hang": {"marker": "$\\parallel$", "color": TTR, "ms": 18, "mew": 0.3,
             "label": "hang (connection stays open)"},
    "wake": {"marker": ">", "color": TTR, "ms": 8, "label": "wake"},
    "not-found": {"marker": "$?$", "color": OKABE_ITO["black"], "ms": 10,
                  "label": "not-found (job no longer ours)"},
    "deadline-soon": {"marker": "$!$", "color": DEADLINE, "ms": 10,
                      "label": "deadline-soon"},
    "lost": {"marker": "$\\emptyset$", "color": OKABE_ITO["vermillion"], "ms": 12,
             "label": "lost in a restart"},
}
# A server restart (`Simulation.restart`): a dashed line across the whole plot, in the crash's
# vermillion (the server crashed), so what came back and what was lost line up with it.
RESTART = {"color": CRASH, "linestyle": (0, (6, 3)), "linewidth": 1.8,
           "label": "server restart"}
# A hold while its worker is hung: the job is still reserved, but no work is being done, so the
# reserved blue turns into a light, hatched box (outlined in the reserved blue).
HUNG = {"facecolor": HUNG_FILL, "hatch": "////", "color": STATE_COLOURS["reserved"],
        "label": "hung: connection open,\njob still reserved"}
CURSOR = INK  # the time cursor: near-black, a colour no event mark or state uses
VEIL = "#F2F2F2"  # what covers the future (x > cursor) in a time control
ARROW_LABELS = {"ttr-expired": "TTR expired", "connection-closed": "connection closed"}
TIME_LABEL = "time (s)"
MAX_ROW_LABELS = 40
FIGURE_DPI = 110
"""Every figure's dots per inch (>= 100 for projectors; 110 also survives PNG's pHYs rounding,
which stores pixels per metre: 100 dpi would read back as 99.9998)."""
LEGEND_PT = 9.5
"""Legend text size in points: 9.5 pt at 110 dpi is 14.5 px on screen."""
FIG_WIDTH, LEFT_IN, LEGEND_IN = 9.0, 1.25, 2.75  # inches: figure (990 px), y labels, legend
X_MARGIN = 0.02  # of the time span, after the end


def new_axes(ax: Axes | None, width: float, height: float) -> tuple[Figure, Axes]:
    """The given axes and its figure, or a fresh pyplot-free figure of the given size."""
    if ax is not None:
        return ax.figure, ax  # type: ignore[return-value]
    fig = new_figure(width, height)
    ax = fig.add_subplot()
    fixed_margins(fig, 1)
    return fig, ax


def new_figure(width: float, height: float) -> Figure:
    """A pyplot-free figure of the given size in inches, at FIGURE_DPI."""
    return Figure(figsize=(width, height), dpi=FIGURE_DPI)


def fixed_margins(fig: Figure, n_rows: int, gap: float = 0.5) -> None:
    """Margins in inches, room for the legend on the right.

    Fixed margins rather than constrained layout: measuring every tick label on each draw
    would double the redraw time of a 1,000-row timeline (issue 7 asks for <= 100 ms).
    """
    w, h = fig.get_size_inches()
    top, bottom = 0.45, 0.6
    axes_h = max(0.1, (h - top - bottom - gap * (n_rows - 1)) / n_rows)
    fig.subplots_adjust(left=LEFT_IN / w, right=1 - LEGEND_IN / w, top=1 - top / h,
                        bottom=bottom / h, hspace=gap / axes_h)


def rows_height(n: int, per_row: float, lo: float = 2.5, hi: float = 9.0) -> float:
    """A figure height that grows with the number of rows, within sensible bounds."""
    return min(hi, max(lo, 1.3 + per_row * n))


def natural_key(name: str) -> tuple[Any, ...]:
    """Sort key that orders "worker-2" before "worker-10" (digit runs compare as numbers)."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                 for p in re.split(r"(\d+)", name) if p)


def bars(ax: Axes, x0: Sequence[float], x1: Sequence[float], y: Sequence[float],
         height: float | Sequence[float], colour: str, label: str, *, edges: bool
         ) -> PolyCollection:
    """Horizontal bars [x0, x1] centred on y, drawn as one PolyCollection (fast for 10^5)."""
    a, b, c = np.asarray(x0, float), np.asarray(x1, float), np.asarray(y, float)
    h = np.broadcast_to(np.asarray(height, float), c.shape) / 2
    verts = np.stack([np.column_stack([a, c - h]), np.column_stack([a, c + h]),
                      np.column_stack([b, c + h]), np.column_stack([b, c - h])], axis=1)
    coll = PolyCollection(verts, facecolors=colour, edgecolors="white" if edges else "none",
                          linewidths=0.6 if edges else 0, label=label, gid=label)
    ax.add_collection(coll, autolim=False)
    return coll


def hung_bars(ax: Axes, x0: Sequence[float], x1: Sequence[float], y: Sequence[float],
              height: float | Sequence[float]) -> PolyCollection | None:
    """Holds while the worker is hung: light, hatched bars (gid "hung"); None if there are none."""
    if not len(x0):
        return None
    coll = bars(ax, x0, x1, y, height, HUNG["facecolor"], "hung", edges=False)
    coll.set(hatch=HUNG["hatch"], edgecolor=HUNG["color"], linewidth=0.8, label=HUNG["label"])
    return coll


def hung_handle() -> Patch:
    """The legend entry for `hung_bars`."""
    return Patch(facecolor=HUNG["facecolor"], edgecolor=HUNG["color"], hatch=HUNG["hatch"],
                 linewidth=0.8, label=HUNG["label"])


def points(ax: Axes, kind: str, x: Sequence[float], y: Sequence[float], **style: Any) -> Line2D:
    """One marker artist for every event of one kind, styled from MARKS."""
    spec = {k: v for k, v in MARKS[kind].items() if k != "label"}
    spec.update(style)
    (line,) = ax.plot(x, y, linestyle="none", mec="black", mew=spec.pop("mew", 0.6),
                      zorder=4, label=MARKS[kind]["label"], gid=kind, **spec)
    return line


def handles(states: Iterable[str], marks: Iterable[str] = ()) -> list[Any]:
    """Legend entries: a patch per state, then a marker per event kind, in the given order."""
    out: list[Any] = [Patch(facecolor=STATE_COLOURS[s], edgecolor="#555555", linewidth=0.5,
                            label=s) for s in states]
    for kind in marks:
        spec = dict(MARKS[kind])
        out.append(Line2D([], [], linestyle="none", mec="black",
                          mew=spec.pop("mew", 0.6), **spec))
    return out


def restart_lines(ax: Axes, raw: Iterable[RawEvent], end: float) -> Line2D | None:
    """A dashed line at each server restart up to `end`; its legend entry (None if none)."""
    times = [t / NS for t, _j, _tube, _s, _d, cause, _a in raw if cause == "restart"]
    times = [t for t in times if t <= end]
    for t in times:
        ax.axvline(t, zorder=5, gid="restart", **{k: v for k, v in RESTART.items()
                                                  if k != "label"})
    return Line2D([], [], **RESTART) if times else None


def legend(ax: Axes, items: list[Any], title: str | None = None) -> None:
    """A legend outside the plot on the right, so it never hides data."""
    if items:
        ax.legend(handles=items, title=title, loc="upper left", bbox_to_anchor=(1.01, 1.0),
                  frameon=False, fontsize=LEGEND_PT, title_fontsize=LEGEND_PT)


def label_rows(ax: Axes, names: Sequence[Any], axis_label: str) -> None:
    """Rows 0..n-1 top to bottom, labelled with `names`; thinned out when there are many."""
    n = len(names)
    ax.set_ylim(max(n, 1) - 0.5, -0.5)
    ax.set_ylabel(axis_label)
    if n <= MAX_ROW_LABELS:
        ax.set_yticks(range(n), [str(x) for x in names])
    else:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(
            lambda v, _pos: str(names[int(v)]) if 0 <= v < n and v == int(v) else ""))
    ax.tick_params(axis="y", length=0)


def run_end(tr: Trace) -> float:
    """The end of the run (`meta["until"]`) or the last event, whichever is later."""
    return max(tr.end_time, float(tr.meta.get("until") or 0.0))


def time_axis(ax: Axes, end: float) -> None:
    """Seconds on x, from 0 to `end` (see `views.view_end`), with a light vertical grid."""
    end = end if end > 0 else 1.0
    ax.set_xlim(0, end * (1 + X_MARGIN))  # a little room so marks at the very end show
    ax.set_xlabel(TIME_LABEL)
    ax.grid(axis="x", color="#DDDDDD", linewidth=0.6)
    ax.set_axisbelow(True)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def hung_periods(raw: Iterable[RawEvent], end: float) -> dict[str, list[tuple[float, float]]]:
    """Per worker, when it was hung: from each `hang` mark to the worker's next sign of life
    (`wake`, `crash`, any command; losing a job to its TTR is none), or `end`."""
    out: dict[str, list[tuple[float, float]]] = {}
    since: dict[str, float] = {}
    for t, _job, _tube, _src, dst, cause, actor in raw:
        if cause == "hang" and not dst:
            since.setdefault(actor, t / NS)
        elif actor in since and cause != "ttr-expired":
            out.setdefault(actor, []).append((since.pop(actor), t / NS))
    for actor, start in since.items():
        out.setdefault(actor, []).append((start, end))
    return out


class Piece(NamedTuple):
    """A part of a held span, cut where its holder was hung."""

    span: int  # index of the span it was cut from
    start: float
    stop: float


def split_holds(spans: Sequence[tuple[float, float, str]],
                hung: dict[str, list[tuple[float, float]]]) -> tuple[list[Piece], list[Piece]]:
    """Cut (start, stop, holder) spans where the holder was hung: the working and hung pieces."""
    working: list[Piece] = []
    stuck: list[Piece] = []
    for i, (start, stop, actor) in enumerate(spans):
        for h0, h1 in hung.get(actor, ()):
            a, b = max(start, h0), min(stop, h1)
            if a < b:
                if start < a:
                    working.append(Piece(i, start, a))
                stuck.append(Piece(i, a, b))
                start = b
        if start < stop:
            working.append(Piece(i, start, stop))
    return working, stuck
