"""Where one job is at every moment (`job_lanes`), and a crash above a hang (`crash_vs_hang`).

A lane for the job's tube (ready: waiting for a worker; delayed and buried too) above a lane
per worker that held it (reserved: working, or hatched while the worker was hung). The other
jobs those workers held are drawn in light grey (why a ready job had to wait), arrows follow
the job from lane to lane, and each hand-back (connection closed, TTR expired) is marked and
named in words on the figure. Re-exported by `stalksim.views`.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from stalksim import _viewutil as vu
from stalksim.metrics import job_spans
from stalksim.palette import INK, MOVE_COLOURS, OTHER_JOB, ink_on
from stalksim.trace import DST, JOB, NS, REDELIVERY_CAUSES, TUBE, RawEvent, Trace, as_trace

AnyTrace = Trace | list[RawEvent]
EVENT_LABEL = "event-label"
"""gid of the words naming an event; a time control shows each once its time (`xy[0]`) comes."""
OTHER = {"facecolor": OTHER_JOB, "text": "#555555", "label": "worker busy with another job"}
BAR_H = 0.56
HEADROOM = 1.15  # lanes' worth of room above the tube lane for the hand-back labels
_MOVE = {"connection-closed": ("-", 2.2), "ttr-expired": ("--", 2.2)}  # arrow style, width
_MARK_DY = {"hang": -0.3, "wake": -0.3, "deadline-soon": -0.3}  # off the bar's centre line
_BOX = {"boxstyle": "round,pad=0.25", "fc": "white", "ec": "none", "alpha": 0.9}


def _secs(t: float) -> str:
    return f"{t:.3g} s"


def handback_text(cause: str, t: float) -> str:
    """The words put on the figure where a job was handed back to its tube."""
    if cause == "connection-closed":
        return f"connection closed: ready at once {_secs(t)}"
    return f"TTR expired {_secs(t)}: ready again"


def story(tr: Trace, job: int) -> str:
    """A plain panel title from the trace's own marks: what happened to the job's worker."""
    for t, j, _tube, _src, dst, cause, actor in tr.raw:
        if j == job and not dst and cause == "crash":
            return f"Crash: {actor} dies at {_secs(t / NS)}, its connection closes"
        if j == job and not dst and cause == "hang":
            return f"Hang: {actor} stops at {_secs(t / NS)}, its connection stays open"
    name = tr.meta.get("scenario")
    return f"job {job}" + (f": {name}" if name else "")


class _Span(NamedTuple):
    """One span of the job: a state from `start` to `stop`, held by `actor` if reserved."""

    state: str
    start: float
    stop: float
    actor: str
    end_cause: str


def _rows(tr: Trace, job: int, end: float) -> list[_Span]:
    """Each span of `job`, in time order."""
    s = job_spans(tr.for_job(job), until=end)
    return list(map(_Span, s["state"], s["start"], s["end"], s["actor"], s["end_cause"]))


def _draw(ax: Axes, tr: Trace, job: int, end: float) -> list[Any]:
    """Draw job `job`'s lanes into `ax`; return the legend entries of what was drawn."""
    rows = _rows(tr, job, end)
    tube = next((ev[TUBE] for ev in tr.raw if ev[JOB] == job and ev[DST]), "?")
    holders = sorted({r.actor for r in rows if r.state == "reserved"}, key=vu.natural_key)
    lanes = {name: i for i, name in enumerate([f"tube {tube}", *holders])}
    vu.label_rows(ax, list(lanes), f"where job {job} is")
    ax.set_ylim(len(lanes) - 0.5, -0.5 - HEADROOM)
    ax.set_yticks(range(len(lanes)), list(lanes))
    if not rows:
        ax.text(0.5, 0.5, f"job {job} is not in this trace", ha="center", va="center",
                transform=ax.transAxes)
        return []
    present = [s for s in ("ready", "delayed", "buried") if any(
        r.state == s and r.stop > r.start for r in rows)]
    for state in present:
        sel = [r for r in rows if r.state == state and r.stop > r.start]
        vu.bars(ax, [r.start for r in sel], [r.stop for r in sel], [0] * len(sel), BAR_H,
                vu.STATE_COLOURS[state], state, edges=True)
        on_bar = ink_on(vu.STATE_COLOURS[state])
        for r in sel:
            words = f"waits {_secs(r.stop - r.start)}" if state == "ready" else state
            if not _bar_text(ax, r.start, r.stop, 0, words, on_bar) and state == "ready":
                ax.annotate(f"{words} for a free worker", xy=(r.stop, 0), xytext=(5, 0),
                            textcoords="offset points", ha="left", va="center",
                            fontsize=vu.LEGEND_PT, gid=EVENT_LABEL, annotation_clip=False)
    items: list[Any] = vu.handles(present)
    items += _holds(ax, tr, job, rows, lanes, end)
    items += _moves(ax, tr, job, rows, lanes)
    return items


def _holds(ax: Axes, tr: Trace, job: int, rows: list[_Span], lanes: dict[str, int],
           end: float) -> list[Any]:
    """The job's holds (working, hung) and the other jobs its workers held; legend entries."""
    held = [r for r in rows if r.state == "reserved"]
    working, stuck = vu.split_holds([(r.start, r.stop, r.actor) for r in held],
                                    vu.hung_periods(tr.raw, end))
    ys = [lanes[r.actor] for r in held]
    vu.bars(ax, [p.start for p in working], [p.stop for p in working],
            [ys[p.span] for p in working], BAR_H, vu.STATE_COLOURS["reserved"], "reserved",
            edges=True)
    hung = vu.hung_bars(ax, [p.start for p in stuck], [p.stop for p in stuck],
                        [ys[p.span] for p in stuck], BAR_H)
    for i, a, b in working:
        _bar_text(ax, a, b, ys[i], f"job {job}", ink_on(vu.STATE_COLOURS["reserved"]))
    for i, a, b in stuck:
        _bar_text(ax, a, b, ys[i], "hung: still reserved", vu.HUNG["color"], box=True)
    s = job_spans(tr, until=end)
    other = [(j, a, b, w) for j, st, a, b, w in zip(s["job"], s["state"], s["start"], s["end"],
                                                    s["actor"], strict=True)
             if st == "reserved" and j != job and w in lanes and b > a]
    if other:
        _jobs, x0, x1, workers = zip(*other, strict=True)
        vu.bars(ax, x0, x1, [lanes[w] for w in workers], BAR_H * 0.8, OTHER["facecolor"],
                "other-job", edges=True)
        for j, a, b, w in other:
            _bar_text(ax, a, b, lanes[w], f"job {j}", OTHER["text"])
    items: list[Any] = vu.handles(["reserved"] if working else [])
    if hung is not None:
        items.append(vu.hung_handle())
    if other:
        items.append(Patch(facecolor=OTHER["facecolor"], edgecolor="white",
                           label=OTHER["label"]))
    return items


def _moves(ax: Axes, tr: Trace, job: int, rows: list[_Span], lanes: dict[str, int]
           ) -> list[Any]:
    """Arrows from lane to lane where the job moved, marks for its events, words for each
    hand-back; the legend entries of the marks drawn."""
    where = [lanes.get(r.actor, 0) if r.state == "reserved" else 0 for r in rows]
    for k in range(1, len(rows)):
        t, cause = rows[k].start, rows[k - 1].end_cause
        if where[k] != where[k - 1]:
            style, width = _MOVE.get(cause, ("-", 1.0))
            colour = MOVE_COLOURS.get(cause, INK)
            ax.annotate("", xy=(t, where[k]), xytext=(t, where[k - 1]), gid=f"move:{cause}",
                        arrowprops={"arrowstyle": "-|>", "color": colour, "lw": width,
                                    "linestyle": style, "shrinkA": 3, "shrinkB": 9})
    marks: dict[str, tuple[list[float], list[float]]] = {}
    for t, j, _tube, _src, dst, cause, actor in tr.raw:
        if j != job:
            continue
        if not dst and cause in vu.MARKS and actor in lanes:
            xs, ys = marks.setdefault(cause, ([], []))
            xs.append(t / NS)
            ys.append(lanes[actor] + _MARK_DY.get(cause, 0.0))
        elif cause in REDELIVERY_CAUSES or dst == "deleted":
            kind = cause if cause in REDELIVERY_CAUSES else "deleted"
            xs, ys = marks.setdefault(kind, ([], []))
            xs.append(t / NS)
            ys.append(0.0 if kind != "deleted" else lanes.get(actor, 0))
            if kind != "deleted":
                ax.annotate(handback_text(cause, t / NS), xy=(t / NS, -BAR_H / 2),
                            xytext=(-4, 14), textcoords="offset points", ha="left",
                            va="bottom", color=vu.MARKS[cause]["color"], fontweight="bold",
                            fontsize=vu.LEGEND_PT + 1.5, bbox=_BOX, gid=EVENT_LABEL,
                            annotation_clip=False)
    kinds = [k for k in vu.MARKS if k in marks]
    for k in kinds:
        vu.points(ax, k, *marks[k])
    return vu.handles([], kinds)


def _bar_text(ax: Axes, a: float, b: float, y: float, text: str, colour: str,
              box: bool = False) -> bool:
    """Words centred on a bar, only where they fit inside it; whether they did."""
    width_pt = (b - a) * ax.bbox.width / max(1e-9, abs(ax.get_xlim()[1] - ax.get_xlim()[0]))
    width_pt *= 72 / ax.figure.dpi
    if width_pt >= 0.58 * vu.LEGEND_PT * len(text) + 6:
        ax.text((a + b) / 2, y, text, ha="center", va="center", color=colour,
                fontsize=vu.LEGEND_PT, clip_on=True, gid="bar-label",
                bbox=_BOX if box else None)
        return True
    return False


def job_lanes(trace: AnyTrace, job: int, *, ax: Axes | None = None) -> Figure:
    """Where job `job` is at every moment: its tube's lane (ready: waiting for a worker) above
    a lane per worker that held it (reserved; hatched while that worker was hung)."""
    tr = as_trace(trace)
    end = vu.run_end(tr)
    fig, ax = vu.new_axes(ax, vu.FIG_WIDTH, 3.4)
    vu.time_axis(ax, end)  # first: bar labels measure the x scale
    items = _draw(ax, tr, job, end)
    ax.set_title(story(tr, job), loc="left")
    vu.legend(ax, items, title=f"job {job}")
    return fig


def crash_vs_hang(crash_trace: AnyTrace, hang_trace: AnyTrace, job: int = 3) -> Figure:
    """Job `job` in a crashed run above the same job in a hung run, on one time axis: after a
    crash the job is ready at once; after a hang it stays reserved until its TTR runs out."""
    traces = [as_trace(crash_trace), as_trace(hang_trace)]
    end = max(vu.run_end(tr) for tr in traces)
    fig = vu.new_figure(vu.FIG_WIDTH, 6.4)
    axes = fig.subplots(2, 1, sharex=True)
    w, h = fig.get_size_inches()
    fig.subplots_adjust(left=1.05 / w, right=1 - 0.2 / w, top=1 - 0.4 / h, bottom=1.55 / h,
                        hspace=0.55 / 2.2)
    items: dict[str, Any] = {}
    for ax, tr in zip(axes, traces, strict=True):
        vu.time_axis(ax, end)
        for item in _draw(ax, tr, job, end):
            items.setdefault(item.get_label(), item)
        ax.set_title(story(tr, job), loc="left", fontweight="bold")
    axes[0].set_xlabel("")
    order = [*vu.STATE_COLOURS, vu.HUNG["label"], OTHER["label"],
             *(m["label"] for m in vu.MARKS.values())]
    ranked = sorted(items.values(), key=lambda i: order.index(i.get_label()))
    fig.legend(handles=ranked, loc="lower center", ncol=3, frameon=False,
               fontsize=vu.LEGEND_PT, bbox_to_anchor=(0.5, 0.0))
    return fig
