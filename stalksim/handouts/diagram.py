"""The job life-cycle diagram, drawn from `lifecycle.derive()`'s edges on an A4 landscape page.

Commands the client sends are solid arrows; events that happen to a job (the TTR runs out, the
delay ends, the connection closes) are dashed. Arrows between the same two states with the
same kind are merged, one label line per edge. `draw()` returns the figure and the edges it
drew, so a test can hold the drawing to the derivation.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from stalksim.handouts.lifecycle import Edge

A4_LANDSCAPE = (11.69, 8.27)
POSITIONS = {"new": (1.0, 6.35), "delayed": (5.6, 6.35), "ready": (2.9, 4.0),
             "reserved": (8.3, 4.0), "buried": (5.6, 1.95), "deleted": (5.6, 0.45)}
"""Where each state sits, in inches on the page."""
FILL = {"new": "#ffffff", "ready": "#56B4E9", "reserved": "#E69F00", "delayed": "#F0E442",
        "buried": "#CC79A7", "deleted": "#dddddd"}
"""The Okabe-Ito colours the views use for the states (stalksim._viewutil)."""
BENDS = {("ready", "reserved", False): -0.2, ("reserved", "ready", False): -0.2,
         ("reserved", "ready", True): -0.32, ("delayed", "ready", False): 0.2,
         ("delayed", "ready", True): -0.2, ("delayed", "deleted", False): -1.85,
         ("new", "delayed", False): 0.0, ("new", "ready", False): 0.0,
         ("ready", "deleted", False): 0.0, ("reserved", "deleted", False): 0.0,
         ("buried", "deleted", False): 0.0}
"""How much an arrow curves (matplotlib's arc3 rad), where straight would overlap."""
COMMAND_WORDS = {"put": "put", "put with delay": "put with delay",
                 "reserve": "reserve", "reserve-job": "reserve-job <id>",
                 "release": "release", "release with delay": "release with delay",
                 "bury": "bury", "touch": "touch\n(TTR starts again)", "kick": "kick <bound>",
                 "kick-job": "kick-job <id>", "delete": "delete"}
EVENT_WORDS = {"ttr-expired": "TTR runs out", "delay-matured": "delay ends",
               "connection-closed": "connection closes"}


def label(edge: Edge) -> str:
    """The words on the arrow: the command, or the event named by the engine's cause."""
    if edge.event:
        return EVENT_WORDS.get(edge.cause, edge.cause or edge.action)
    return COMMAND_WORDS.get(edge.action, edge.action)


def _bezier_middle(p: tuple[float, float], q: tuple[float, float], rad: float
                   ) -> tuple[float, float]:
    """The middle of matplotlib's arc3 curve from p to q (its control point is the chord's
    middle moved by rad times the chord, turned a quarter)."""
    (x1, y1), (x2, y2) = p, q
    cx, cy = (x1 + x2) / 2 + rad * (y2 - y1), (y1 + y2) / 2 - rad * (x2 - x1)
    return 0.25 * x1 + 0.5 * cx + 0.25 * x2, 0.25 * y1 + 0.5 * cy + 0.25 * y2


def draw(edges: Sequence[Edge]) -> tuple[Any, list[Edge]]:
    """The figure (A4 landscape, 1 data unit = 1 inch) and the edges drawn on it."""
    from matplotlib.figure import Figure
    from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

    fig = Figure(figsize=A4_LANDSCAPE)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, A4_LANDSCAPE[0])
    ax.set_ylim(0, A4_LANDSCAPE[1])
    ax.set_aspect("equal")
    ax.axis("off")
    boxes = {}
    for state, (x, y) in POSITIONS.items():
        w, h = (1.35, 0.6) if state == "new" else (1.7, 0.75)
        box = FancyBboxPatch((x - w / 2, y - h / 2), w, h,
                             boxstyle="round,pad=0.02,rounding_size=0.15",
                             facecolor=FILL[state], edgecolor="#222222", linewidth=1.6,
                             linestyle=":" if state == "new" else "-", zorder=3, gid=state)
        ax.add_patch(box)
        boxes[state] = box
        ax.text(x, y, "(no job yet)" if state == "new" else state.upper(), ha="center",
                va="center", fontsize=12 if state == "new" else 17, weight="bold", zorder=4)
    groups: dict[tuple[str, str, bool], list[Edge]] = defaultdict(list)
    for e in edges:
        groups[(e.src, e.dst, e.event)].append(e)
    drawn: list[Edge] = []
    for (src, dst, event), group in groups.items():
        colour = "#b22222" if event else "#222222"
        words = "\n".join(dict.fromkeys(label(e) for e in group))
        if src == dst:  # touch: a loop on the box's top right corner
            x, y = POSITIONS[src]
            arrow = FancyArrowPatch((x + 0.2, y + 0.39), (x + 0.75, y + 0.39),
                                    connectionstyle="arc3,rad=-1.3", arrowstyle="-|>",
                                    mutation_scale=18, linewidth=1.6, color=colour, zorder=2)
            where = (x + 0.5, y + 1.05)
        else:
            rad = BENDS.get((src, dst, event), 0.12)
            arrow = FancyArrowPatch(POSITIONS[src], POSITIONS[dst], patchA=boxes[src],
                                    patchB=boxes[dst], connectionstyle=f"arc3,rad={rad}",
                                    arrowstyle="-|>", mutation_scale=20, linewidth=1.6,
                                    color=colour, linestyle="--" if event else "-",
                                    shrinkA=2, shrinkB=2, zorder=2)
            where = _bezier_middle(POSITIONS[src], POSITIONS[dst], rad)
        ax.add_patch(arrow)
        ax.text(*where, words, ha="center", va="center", fontsize=10.5, color=colour,
                style="italic" if event else "normal", zorder=5, linespacing=1.15,
                bbox={"boxstyle": "round,pad=0.2", "facecolor": "white", "edgecolor": "none",
                      "alpha": 0.9}, gid=f"label:{src}->{dst}:{'event' if event else 'command'}")
        drawn.extend(group)
    ax.text(0.3, 7.95, "The life of a beanstalkd job", fontsize=22, weight="bold", va="top")
    ax.text(0.3, 7.45, "Solid: a command a client sends.  Dashed, italic: what happens to "
            "the job without one.", fontsize=11, va="top", color="#444444")
    ax.text(0.3, 7.1, "Each arrow was found by trying every command and event in every state "
            "on the simulator (python -m stalksim handouts).", fontsize=9, va="top",
            color="#666666")
    return fig, drawn
