"""Matplotlib views of a trace: job timeline, tube depth, worker swimlanes, one job's lanes
(`job_lanes`, `crash_vs_hang`: see `stalksim._jobview`).

Each view reads only a Trace (never the simulator), returns a `matplotlib.figure.Figure` built
without pyplot (so nothing is shown twice or leaks between notebook cells), and can draw into
axes you pass instead. States and events keep one colour and marker across views (see
`stalksim._viewutil`). `TraceIndex` / `state_at` are re-exported here for time controls.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from stalksim import _viewutil as vu
from stalksim._jobview import crash_vs_hang, job_lanes
from stalksim.metrics import depth, handoffs, job_spans
from stalksim.trace import (
    JOB,
    MARKS,
    NS,
    REDELIVERY_CAUSES,
    STATES,
    TUBE,
    RawEvent,
    Trace,
    TraceIndex,
    as_trace,
    state_at,
)

__all__ = ["job_timeline", "tube_depth", "worker_swimlanes", "overview", "job_lanes",
           "crash_vs_hang", "view_end", "story_end", "TraceIndex", "state_at"]

AnyTrace = Trace | list[RawEvent]
MANY_ARROWS = 40  # above this, hand-offs are drawn as one quiver without text


class _Span(NamedTuple):
    """A job's span in one swimlane: ready in its tube's lane, or held in a worker's."""

    lane: str
    start: float
    stop: float
    job: int
    end_cause: str  # what ended it ("" for a wait, or a hold still open)


def _title(tr: Trace, what: str) -> str:
    name = tr.meta.get("scenario")
    seed = tr.meta.get("seed")
    return what + (f": {name}" if name else "") + (f" (seed {seed})" if seed is not None else "")


def view_end(trace: AnyTrace) -> float:
    """Where the views' time axis ends: the end of the run (`meta["until"]`, so quiet time after
    the last event shows) or the last event, whichever is later."""
    return vu.run_end(as_trace(trace))


def job_timeline(trace: AnyTrace, *, jobs: Iterable[int] | None = None,
                 until: float | None = None, ax: Axes | None = None) -> Figure:
    """A row per job, spans coloured by state, markers where it was taken back and why.

    `jobs` picks and orders the rows (default: every job, by id); `until` cuts the trace at
    that many seconds. A reserved span is hatched while its worker is hung, and worker marks
    that name a job sit on its row. One PolyCollection per state keeps 10,000-job traces fast.
    """
    tr = as_trace(trace)
    end = view_end(tr) if until is None else until
    spans = job_spans(tr, until=end)
    order = list(dict.fromkeys(jobs)) if jobs is not None else sorted(set(spans["job"]))
    row = {job: i for i, job in enumerate(order)}
    fig, ax = vu.new_axes(ax, vu.FIG_WIDTH, vu.rows_height(len(order), 0.32))
    few = len(order) <= vu.MAX_ROW_LABELS

    cols: dict[str, tuple[list[float], list[float], list[int]]] = {
        s: ([], [], []) for s in (*STATES, "hung")}
    held: list[tuple[float, float, str]] = []
    held_row: list[int] = []
    for job, state, start, stop, actor in zip(spans["job"], spans["state"], spans["start"],
                                              spans["end"], spans["actor"], strict=True):
        r = row.get(job)
        if r is None or stop <= start:
            continue
        if state == "reserved":  # cut where the holder was hung, below
            held.append((start, stop, actor))
            held_row.append(r)
            continue
        x0, x1, ys = cols[state]
        x0.append(start)
        x1.append(stop)
        ys.append(r)
    pieces_by_state = vu.split_holds(held, vu.hung_periods(tr.raw, end))
    for state, pieces in zip(("reserved", "hung"), pieces_by_state, strict=True):
        x0, x1, ys = cols[state]
        for i, a, b in pieces:
            x0.append(a)
            x1.append(b)
            ys.append(held_row[i])
    height = 0.7 if few else 1.0
    present = [s for s in STATES if cols[s][0]]  # any bar's start
    for s in present:
        vu.bars(ax, *cols[s], height, vu.STATE_COLOURS[s], s, edges=few)
    stuck = vu.hung_bars(ax, *cols["hung"], height)

    hi = round(end * NS)
    events: dict[str, tuple[list[float], list[int]]] = {
        k: ([], []) for k in (*REDELIVERY_CAUSES, "lost", "deleted")}
    for t, job, _tube, _src, dst, cause, _actor in tr.raw:
        kind = (cause if cause in REDELIVERY_CAUSES or cause == "lost"
                else "deleted" if dst == "deleted" else "")
        if kind and t <= hi and job in row:
            xs, ys = events[kind]
            xs.append(t / NS)
            ys.append(row[job])
    marks = [k for k, (xs, _ys) in events.items() if xs]
    row_pt = ax.bbox.height * 72 / fig.dpi / max(1, len(order))  # marks shrink with rows
    for k in marks:
        full = vu.MARKS[k]["ms"]
        if k == "deleted":
            vu.points(ax, k, *events[k], ms=min(full, max(2.0, row_pt)),
                      mew=min(2.5, max(0.4, row_pt / 6)))
        else:
            vu.points(ax, k, *events[k], ms=min(full, max(5.0, 1.5 * row_pt)))
    shown = _job_marks(ax, tr, row, hi, row_pt)

    vu.label_rows(ax, order, "job id")
    vu.time_axis(ax, end)
    ax.set_title(_title(tr, "Job timeline"), loc="left")
    items = vu.handles(present, [*marks, *shown])
    if stuck is not None:
        items.insert(len(present), vu.hung_handle())
    restart = vu.restart_lines(ax, tr.raw, end)
    vu.legend(ax, [*items, *([restart] if restart else [])], title="job state")
    return fig


def _job_marks(ax: Axes, tr: Trace, row: dict[int, int], hi: int, row_pt: float) -> list[str]:
    """Worker marks that name a job (hang, crash, wake, not-found...) on that job's row, most at
    the top edge of its bar (clear of the redelivery marker at the centre); the kinds drawn."""
    found: dict[str, tuple[list[float], list[float]]] = {}
    for t, job, _tube, _src, dst, cause, actor in tr.raw:
        if job in row and not dst and actor and cause in MARKS and t <= hi:
            xs, ys = found.setdefault(cause, ([], []))
            xs.append(t / NS)
            ys.append(row[job] + _JOB_MARK_DY.get(cause, -0.3))
    shown = [k for k in MARKS if k in found]
    for k in shown:
        vu.points(ax, k, *found[k], ms=min(vu.MARKS[k]["ms"], max(5.0, 1.5 * row_pt)))
    return shown


def tube_depth(trace: AnyTrace, *, tubes: Iterable[str] | None = None,
               ax: Axes | Sequence[Axes] | None = None) -> Figure:
    """Stacked step areas of ready/reserved/delayed/buried jobs over time, a panel per tube.

    Paused intervals are shaded. Pass `ax` as one Axes (for one tube) or one per tube.
    """
    tr = as_trace(trace)
    end = view_end(tr)
    d = depth(tr, tubes=tubes, until=end)
    names = list(dict.fromkeys(d["tube"]))
    if ax is None:
        fig = vu.new_figure(vu.FIG_WIDTH, min(12.0, 1.2 + 2.3 * max(1, len(names))))
        axes = list(fig.subplots(max(1, len(names)), 1, sharex=True, squeeze=False)[:, 0])
        vu.fixed_margins(fig, len(axes))
    else:
        axes = [ax] if isinstance(ax, Axes) else list(ax)
        if len(axes) != max(1, len(names)):
            raise ValueError(f"tube_depth needs one Axes per tube ({len(names)}: {names}); "
                             "pass tubes=[...] to choose")
        fig = axes[0].figure  # type: ignore[assignment]
    times, tube_of = np.asarray(d["time"]), np.asarray(d["tube"], dtype=object)
    counts = [np.asarray(d[s]) for s in STATES]
    pauses = _pauses(tr, end)
    for a, name in zip(axes, names, strict=False):
        sel = tube_of == name
        a.stackplot(times[sel], *(c[sel] for c in counts), step="post", linewidth=0,
                    colors=[vu.STATE_COLOURS[s] for s in STATES], labels=STATES)
        for start, stop in pauses.get(name, []):
            a.axvspan(start, stop, facecolor="none", edgecolor="#555555", hatch="//",
                      linewidth=0, label="paused")
        a.set_ylim(bottom=0)
        a.yaxis.set_major_locator(MaxNLocator(integer=True, nbins=5))
        a.set_ylabel(f"jobs in {name!r}")  # not a title: it collided with the figure's
        vu.time_axis(a, end)
    if not names:
        axes[0].text(0.5, 0.5, "no jobs in this trace", ha="center", va="center",
                     transform=axes[0].transAxes)
        vu.time_axis(axes[0], end)
    for a in axes[:-1]:
        a.set_xlabel("")
    extra = [Patch(facecolor="none", edgecolor="#555555", hatch="//", label="paused")] if any(
        pauses.get(n) for n in names) else []
    restart = [line for a in axes if (line := vu.restart_lines(a, tr.raw, end))][:1]
    axes[0].set_title(_title(tr, "Tube depth"), loc="left")
    vu.legend(axes[0], [*vu.handles(STATES), *extra, *restart], title="jobs by state")
    return fig


def _pauses(tr: Trace, end: float) -> dict[str, list[tuple[float, float]]]:
    """Per tube, the (start, end) seconds of each pause; an open pause runs to `end`."""
    out: dict[str, list[tuple[float, float]]] = {}
    since: dict[str, float] = {}
    for t, job, tube, _src, _dst, cause, _actor in tr.raw:
        if job == 0 and cause == "pause":
            since.setdefault(tube, t / NS)
        elif job == 0 and cause == "pause-ended" and tube in since:
            out.setdefault(tube, []).append((since.pop(tube), t / NS))
    for tube, start in since.items():
        out.setdefault(tube, []).append((start, end))
    return out


def worker_swimlanes(trace: AnyTrace, *, ax: Axes | None = None) -> Figure:
    """A lane per worker (in natural name order): the jobs it held, hatched while it was hung,
    crash and hang marks, and an arrow from a worker that lost a job (TTR expired / connection
    closed) to the worker that reserved it next. Above the workers, a lane per tube in which a
    job waited shows each wait (ready, waiting for a worker) as its own bar. The legend names
    both kinds of lane, and the time axis ends where the story ends (`story_end`)."""
    tr = as_trace(trace)
    spans = job_spans(tr, until=view_end(tr))
    end = story_end(tr, spans)
    marks: dict[str, tuple[list[float], list[str]]] = {k: ([], []) for k in MARKS}
    names: set[str] = set()
    for t, _job, _tube, _src, dst, cause, actor in tr.raw:
        if actor and (dst == "reserved" or (not dst and cause in marks)):
            names.add(actor)
            if not dst:  # a worker mark (it may name a job)
                times, actors = marks[cause]
                times.append(t / NS)
                actors.append(actor)
    waits = [_Span(f"tube {tube}", s, e, j, "") for j, tube, st, s, e in zip(
        spans["job"], spans["tube"], spans["state"], spans["start"], spans["end"], strict=True)
        if st == "ready" and e > s]
    tube_lanes = sorted({w.lane for w in waits}, key=vu.natural_key)
    lanes = {name: i for i, name in enumerate(
        [*tube_lanes, *sorted(names, key=vu.natural_key)])}
    fig, ax = vu.new_axes(ax, vu.FIG_WIDTH, vu.rows_height(len(lanes), 0.75))
    _waits(ax, waits, lanes, len(tube_lanes), end)
    held = [_Span(a, s, e, j, c) for j, st, s, e, a, c in zip(
        spans["job"], spans["state"], spans["start"], spans["end"], spans["actor"],
        spans["end_cause"], strict=True) if st == "reserved"]
    ys, heights = _slots(held, lanes)
    working, stuck = vu.split_holds([(h.start, h.stop, h.lane) for h in held],
                                   vu.hung_periods(tr.raw, end))
    crowded = len(held) > 200
    vu.bars(ax, *_piece_cols(working, ys, heights), vu.STATE_COLOURS["reserved"], "reserved",
            edges=not crowded)
    hung = vu.hung_bars(ax, *_piece_cols(stuck, ys, heights))
    if len(held) <= vu.MAX_ROW_LABELS:
        _job_labels(ax, [h.job for h in held], ys, working, stuck, end)
    done = [] if crowded else [(h.stop, y) for h, y in zip(held, ys, strict=True)
                               if h.end_cause == "delete"]
    if done:
        slot_pt = min(heights) * ax.bbox.height * 72 / fig.dpi / max(1, len(lanes))
        vu.points(ax, "deleted", *zip(*done, strict=True), ms=min(14.0, max(3.0, slot_pt)),
                  mew=1.0 if len(done) > vu.MAX_ROW_LABELS else 2.5)
    shown = [k for k in MARKS if marks[k][0]]  # any mark's time
    for k in shown:
        dy = _MARK_DY.get(k, 0.0)
        times, actors = marks[k]
        vu.points(ax, k, times, [lanes[a] + dy for a in actors])
    causes = _arrows(ax, handoffs(tr), lanes)

    vu.label_rows(ax, list(lanes), "tube / worker" if tube_lanes else "worker")
    vu.time_axis(ax, end)
    ax.set_title(_title(tr, "Tube and worker lanes" if tube_lanes else "Worker swimlanes"),
                 loc="left")
    arrows = [Line2D([], [], color=vu.MARKS[c]["color"], linestyle=_ARROW_STYLE[c],
                     label=f"handed on:\n{vu.ARROW_LABELS[c]}") for c in causes]
    states = ["ready", "reserved"] if waits else ["reserved"]
    items = vu.handles(states, [*(["deleted"] if done else []), *shown])
    for item, state in zip(items, states, strict=False):
        item.set_label(LANE_LABELS[state])  # which lanes hold which bars
    if hung is not None:
        items.insert(len(states), vu.hung_handle())
    restart = vu.restart_lines(ax, tr.raw, end)
    vu.legend(ax, [*items, *arrows, *([restart] if restart else [])], title="where the jobs are")
    return fig


LANE_LABELS = {"ready": "ready: waiting\nin a tube lane",
               "reserved": "reserved: held\nin a worker lane"}
"""The swimlanes' legend entries for its two kinds of bar, naming the lanes they are drawn in."""


def story_end(trace: AnyTrace, spans: dict[str, list[Any]] | None = None) -> float:
    """Where the swimlanes' time axis ends: the last event, where the story ends (the quiet
    time after it, up to the run's `until`, would only squeeze the story to the left), unless a
    job is still waiting in a tube or held by a worker then: its bar runs on to the end of the
    run (`view_end`). `spans` are the trace's `job_spans` up to `view_end`, if at hand."""
    tr = as_trace(trace)
    run_end = view_end(tr)
    if spans is None:
        spans = job_spans(tr, until=run_end)
    going_on = any(not cause and state in ("ready", "reserved")
                   for state, cause in zip(spans["state"], spans["end_cause"], strict=True))
    return run_end if going_on or tr.end_time <= 0 else tr.end_time


def _piece_cols(pieces: list[vu.Piece], ys: list[float], heights: list[float]
                ) -> tuple[list[float], list[float], list[float], list[float]]:
    """x0, x1, y, height columns for `vu.bars` from pieces of held spans."""
    return ([p.start for p in pieces], [p.stop for p in pieces], [ys[p.span] for p in pieces],
            [heights[p.span] for p in pieces])


def _waits(ax: Axes, waits: list[_Span], lanes: dict[str, int], n_tubes: int, end: float
           ) -> None:
    """Ready spans as bars in their tube's lane (jobs waiting at once share it in slots), each
    named when there are few; a line parts the tube lanes from the worker lanes."""
    if not waits:
        return
    ys, heights = _slots(waits, lanes)
    vu.bars(ax, [w.start for w in waits], [w.stop for w in waits], ys, heights,
            vu.STATE_COLOURS["ready"], "ready", edges=len(waits) <= 200)
    if len(waits) <= vu.MAX_ROW_LABELS:
        _job_labels(ax, [w.job for w in waits], ys,
                    [vu.Piece(i, w.start, w.stop) for i, w in enumerate(waits)], [], end,
                    colour="black")
    ax.axhline(n_tubes - 0.5, color="#999999", linewidth=0.8, gid="tube-lanes-end")


def _job_labels(ax: Axes, jobs: list[int], ys: list[float], working: list[vu.Piece],
                stuck: list[vu.Piece], end: float, colour: str = "white") -> None:
    """Name each held job on its longest piece, if the name fits in it (a live run's job can
    wait a millisecond: its bar is a hairline, and a name there would spill over its
    neighbours): white on working blue, dark on hung."""
    best: dict[int, tuple[float, float, bool]] = {}  # span -> its longest (start, stop, hung)
    for pieces, is_hung in ((working, False), (stuck, True)):
        for i, a, b in pieces:
            if i not in best or b - a > best[i][1] - best[i][0]:
                best[i] = (a, b, is_hung)
    size = FontProperties(size="small").get_size_in_points()
    span = (end if end > 0 else 1.0) * (1 + vu.X_MARGIN)  # the time axis (vu.time_axis)
    per_point = span / max(1.0, ax.bbox.width * 72 / ax.figure.dpi)  # seconds per point
    for i, (a, b, is_hung) in sorted(best.items()):
        text = f"job {jobs[i]}" if len(jobs) <= 12 else str(jobs[i])
        if b - a < len(text) * _CHAR_EM * size * per_point:
            continue
        ax.text((a + b) / 2, ys[i], text,
                ha="center", va="center", color=vu.HUNG["color"] if is_hung else colour,
                fontsize="small", clip_on=True, gid="job-label",
                bbox=_LABEL_BOX if is_hung else None)


_ARROW_STYLE = {"ttr-expired": "--", "connection-closed": "-"}
_MARK_DY = {"hang": -0.3, "wake": -0.3, "deadline-soon": -0.3}  # so marks at one time don't hide
_LABEL_BOX = {"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.9}
_CHAR_EM = 0.55  # a label character's mean width, in ems (DejaVu Sans digits and lower case)
_JOB_MARK_DY = {"not-found": 0.0}  # on a job's row the rest sit at -0.3



def _slots(spans: list[_Span], lanes: dict[str, int]) -> tuple[list[float], list[float]]:
    """Y centre and height of each span: spans in one lane at once share it in slots."""
    slot = [0] * len(spans)
    per_lane: dict[str, list[float]] = {}  # lane -> end time of each slot
    for i in sorted(range(len(spans)), key=lambda i: spans[i].start):
        sp = spans[i]
        ends = per_lane.setdefault(sp.lane, [])
        free = next((k for k, e in enumerate(ends) if e <= sp.start), len(ends))
        if free == len(ends):
            ends.append(0.0)
        ends[free] = sp.stop
        slot[i] = free
    ys, hs = [], []
    for sp, k in zip(spans, slot, strict=True):
        h = 0.7 / len(per_lane[sp.lane])
        ys.append(lanes[sp.lane] - 0.35 + h * (k + 0.5))
        hs.append(h)
    return ys, hs


def _arrows(ax: Axes, h: dict[str, list[Any]], lanes: dict[str, int]) -> list[str]:
    """Draw hand-off arrows (annotated when few); return the causes drawn, legend order."""
    causes = [c for c in REDELIVERY_CAUSES if c in h["cause"]]
    rows = list(zip(h["cause"], h["lost_by"], h["lost_at"], h["next_by"], h["next_at"],
                    strict=True))
    if len(rows) > MANY_ARROWS:
        for c in causes:
            sel = [(lanes[by], at, lanes[to], then) for cause, by, at, to, then in rows
                   if cause == c]
            y0, x0, y1, x1 = (np.array(col, float) for col in zip(*sel, strict=True))
            ax.quiver(x0, y0, x1 - x0, y1 - y0, angles="xy",
                      scale_units="xy", scale=1, color=vu.MARKS[c]["color"], width=0.002,
                      alpha=0.6, gid=f"handoff:{c}")
        return causes
    for cause, lost_by, lost_at, next_by, next_at in rows:
        colour = vu.MARKS[cause]["color"]
        y0, y1 = lanes[lost_by], lanes[next_by]
        ax.annotate("", xy=(next_at, y1), xytext=(lost_at, y0), gid=f"handoff:{cause}",
                    arrowprops={"arrowstyle": "-|>", "color": colour, "lw": 1.6,
                                "linestyle": _ARROW_STYLE[cause], "shrinkA": 4, "shrinkB": 6,
                                "connectionstyle": "arc3,rad=-0.25"})
        if len(rows) <= 12:
            ax.annotate(vu.ARROW_LABELS[cause], xy=((lost_at + next_at) / 2, (y0 + y1) / 2),
                        xytext=(8, 0), textcoords="offset points", ha="left", va="center",
                        color=colour, fontsize="small", fontweight="bold",
                        bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none",
                              "alpha": 0.85}, gid="handoff-label")
    return causes


def overview(trace: AnyTrace) -> Figure:
    """Swimlanes, job timeline and tube depth in one figure (what `--plot` saves)."""
    tr = as_trace(trace)
    n_tubes = max(1, len({ev[TUBE] for ev in tr.raw if ev[JOB]}))
    n_jobs, n_lanes = len(tr.jobs()), len(tr.actors())
    ratios = [min(4.0, 1 + 0.5 * n_lanes), min(6.0, 1 + 0.3 * n_jobs), *[1.6] * n_tubes]
    fig = vu.new_figure(vu.FIG_WIDTH, min(16.0, 2 + 1.1 * sum(ratios)))
    axes = fig.subplots(len(ratios), 1, sharex=True, height_ratios=ratios)
    vu.fixed_margins(fig, len(ratios))
    worker_swimlanes(tr, ax=axes[0])
    job_timeline(tr, ax=axes[1])
    tube_depth(tr, ax=list(axes[2:]))
    for a in axes[:-1]:
        a.set_xlabel("")
    return fig
