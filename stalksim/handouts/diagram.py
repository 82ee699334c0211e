"""The job life-cycle diagram, drawn from `lifecycle.derive()`'s edges on an A4 landscape page.

Commands the client sends are solid arrows; events that happen to a job (the TTR runs out, the
delay ends, the connection closes) are dashed. Every colour is stalksim.palette's: a state's
box is filled as the views draw that state, an arrow is its cause's colour (as in the flow
view). Arrows between the same two states of the same kind and colour are merged, one label
line per edge. `draw()` returns the figure and the edges it drew, so a test can hold the
drawing to the derivation; arrows and labels have gids ("arrow:KEY", "label:KEY", KEY from
`groups`) so a test can read their colours and check that no label is hidden.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from stalksim.handouts.lifecycle import Edge
from stalksim.palette import (
    END_FILLS,
    INK,
    INK_FAINT,
    INK_SOFT,
    MOVE_COLOURS,
    STATE_COLOURS,
    ink_on,
)

A4_LANDSCAPE = (11.69, 8.27)
POSITIONS = {"new": (1.0, 6.35), "delayed": (5.6, 6.35), "ready": (2.7, 4.0),
             "reserved": (8.4, 4.0), "buried": (5.6, 1.75), "deleted": (5.6, 0.42)}
"""Where each state sits, in inches on the page."""
FILL = {**END_FILLS, **STATE_COLOURS}
"""Each state's box, in the colours every view and widget draws it in (stalksim.palette)."""
ROUTES = {("ready", "reserved", "reserve"): (-0.2, 0.5),
          ("reserved", "ready", "release"): (-0.13, 0.55),
          ("reserved", "ready", "ttr-expired"): (-0.26, 0.55),
          ("reserved", "ready", "connection-closed"): (-0.39, 0.55),
          ("delayed", "ready", "kick"): (0.2, 0.45),
          ("delayed", "ready", "delay-matured"): (-0.2, 0.55),
          ("delayed", "reserved", "reserve-job"): (0.2, 0.3),
          ("reserved", "delayed", "release"): (0.25, 0.35),
          ("reserved", "buried", "bury"): (0.1, 0.7),
          ("buried", "reserved", "reserve-job"): (0.35, 0.5),
          ("buried", "ready", "kick"): (0.0, 0.3),
          ("ready", "deleted", "delete"): (0.1, 0.6),
          ("reserved", "deleted", "delete"): (-0.45, 0.5),
          ("delayed", "deleted", "delete"): (-1.85, 0.5),
          ("new", "delayed", "put"): (0.0, 0.5), ("new", "ready", "put"): (0.0, 0.5),
          ("buried", "deleted", "delete"): (0.0, 0.5)}
"""Per arrow (from, to, its first cause): how much it curves (matplotlib's arc3 rad), where
straight would overlap, and where its label sits along it (0: at `from`, 1: at `to`), clear
of every other arrow and label (tests/test_handouts.py checks)."""
ROUTE = (0.12, 0.5)
"""Any other arrow's curve and label place."""
BESIDE = {("buried", "deleted", "delete"): (0.42, 0.0)}
"""Labels moved off their arrow by (dx, dy) inches, beside it: where the arrow is too short
to show its head past its label."""
TOUCH_LOOP = ((0.85, 0.22), (0.85, -0.22), -1.4)
"""The loop from a state to itself (touch): its ends from the box's centre, and its bend."""
TOUCH_LABEL = (1.55, -0.7)
"""Where the loop's label sits, from the box's centre (below right: clear of the arrows)."""
COMMAND_WORDS = {"put": "put", "put with delay": "put with delay",
                 "reserve": "reserve", "reserve-job": "reserve-job <id>",
                 "release": "release", "release with delay": "release\nwith delay",
                 "bury": "bury", "touch": "touch\n(TTR starts again)", "kick": "kick <bound>",
                 "kick-job": "kick-job <id>", "delete": "delete"}
EVENT_WORDS = {"ttr-expired": "TTR runs out", "delay-matured": "delay ends",
               "connection-closed": "connection closes"}


def label(edge: Edge) -> str:
    """The words on the arrow: the command, or the event named by the engine's cause."""
    if edge.event:
        return EVENT_WORDS.get(edge.cause, edge.cause or edge.action)
    return COMMAND_WORDS.get(edge.action, edge.action)


def cause(edge: Edge) -> str:
    """The engine's cause of the move (its first, if several), else the action's name."""
    return edge.cause.split(",")[0] if edge.cause else edge.action


def colour(edge: Edge) -> str:
    """The arrow's colour: its cause's in the one palette (a kick orange, a TTR expiry reddish
    purple, a crash's connection-closed vermillion...), as the flow view draws it."""
    return MOVE_COLOURS.get(cause(edge), INK)


def bezier_at(p: tuple[float, float], q: tuple[float, float], rad: float, t: float = 0.5
              ) -> tuple[float, float]:
    """The point at `t` (0 at p, 1 at q) on matplotlib's arc3 curve from p to q (its control
    point is the chord's middle moved by rad times the chord, turned a quarter)."""
    (x1, y1), (x2, y2) = p, q
    cx, cy = (x1 + x2) / 2 + rad * (y2 - y1), (y1 + y2) / 2 - rad * (x2 - x1)
    a, b, c = (1 - t) ** 2, 2 * t * (1 - t), t ** 2
    return a * x1 + b * cx + c * x2, a * y1 + b * cy + c * y2


def groups(edges: Sequence[Edge]) -> dict[str, list[Edge]]:
    """The arrows to draw: edges between the same two states, of the same kind (command or
    event) and colour, share one. Keyed "src->dst:cause+cause" (the gids' tail)."""
    by_arrow: dict[tuple[str, str, bool, str], list[Edge]] = defaultdict(list)
    for e in edges:
        by_arrow[(e.src, e.dst, e.event, colour(e))].append(e)
    return {f"{src}->{dst}:" + "+".join(dict.fromkeys(cause(e) for e in group)): group
            for (src, dst, _event, _colour), group in by_arrow.items()}


def _boxes(ax: Any) -> dict[str, Any]:
    """A rounded box per state, filled in its colour, its name on it; by state."""
    from matplotlib.patches import FancyBboxPatch

    boxes = {}
    for state, (x, y) in POSITIONS.items():
        w, h = (1.35, 0.6) if state == "new" else (1.7, 0.75)
        boxes[state] = ax.add_patch(FancyBboxPatch(
            (x - w / 2, y - h / 2), w, h, boxstyle="round,pad=0.02,rounding_size=0.15",
            facecolor=FILL[state], edgecolor=INK, linewidth=1.6,
            linestyle=":" if state == "new" else "-", zorder=3, gid=state))
        ax.text(x, y, "(no job yet)" if state == "new" else state.upper(), ha="center",
                va="center", fontsize=12 if state == "new" else 17, weight="bold", zorder=4,
                color=ink_on(FILL[state]))
    return boxes


def _arrow(ax: Any, key: str, group: list[Edge], boxes: dict[str, Any]) -> None:
    """One arrow for `group`, in its colour, and its words in a box framed in that colour."""
    from matplotlib.patches import FancyArrowPatch

    first = group[0]
    src, dst, event, ink = first.src, first.dst, first.event, colour(first)
    style = {"arrowstyle": "-|>", "linewidth": 2.0, "color": ink, "zorder": 2,
             "linestyle": "--" if event else "-", "gid": f"arrow:{key}"}
    x, y = POSITIONS[src]
    if src == dst:  # touch: a loop on the box's right side
        (dx0, dy0), (dx1, dy1), rad = TOUCH_LOOP
        arrow = FancyArrowPatch((x + dx0, y + dy0), (x + dx1, y + dy1), mutation_scale=18,
                                connectionstyle=f"arc3,rad={rad}", **style)
        where = (x + TOUCH_LABEL[0], y + TOUCH_LABEL[1])
    else:
        rad, t = ROUTES.get((src, dst, cause(first)), ROUTE)
        arrow = FancyArrowPatch(POSITIONS[src], POSITIONS[dst], patchA=boxes[src],
                                patchB=boxes[dst], connectionstyle=f"arc3,rad={rad}",
                                mutation_scale=20, shrinkA=2, shrinkB=2, **style)
        x, y = bezier_at(POSITIONS[src], POSITIONS[dst], rad, t)
        dx, dy = BESIDE.get((src, dst, cause(first)), (0.0, 0.0))
        where = (x + dx, y + dy)
    ax.add_patch(arrow)
    ax.text(*where, "\n".join(dict.fromkeys(label(e) for e in group)), ha="center",
            va="center", fontsize=10.5, color=INK, style="italic" if event else "normal",
            zorder=5, linespacing=1.15, gid=f"label:{key}",
            bbox={"boxstyle": "round,pad=0.25", "facecolor": "white", "edgecolor": ink,
                  "linewidth": 1.2, "linestyle": "--" if event else "-"})


def draw(edges: Sequence[Edge]) -> tuple[Any, list[Edge]]:
    """The figure (A4 landscape, 1 data unit = 1 inch) and the edges drawn on it."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=A4_LANDSCAPE)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, A4_LANDSCAPE[0])
    ax.set_ylim(0, A4_LANDSCAPE[1])
    ax.set_aspect("equal")
    ax.axis("off")
    boxes = _boxes(ax)
    drawn: list[Edge] = []
    for key, group in groups(edges).items():
        _arrow(ax, key, group, boxes)
        drawn.extend(group)
    ax.text(0.3, 7.95, "The life of a beanstalkd job", fontsize=22, weight="bold", va="top",
            color=INK)
    ax.text(0.3, 7.45, "Solid: a command a client sends.  Dashed, italic: what happens to "
            "the job without one.  Colours as in the lessons.", fontsize=11, va="top",
            color=INK_SOFT)
    ax.text(0.3, 7.1, "Each arrow was found by trying every command and event in every state "
            "on the simulator (python -m stalksim handouts).", fontsize=9, va="top",
            color=INK_FAINT)
    return fig, drawn
