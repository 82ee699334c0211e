"""`TimeControl`: play a simulated run in true time, or step from event to event, forwards or
backwards, showing each tube's jobs and each worker's job at that moment beside a figure.

At cursor time t only what happened up to t is drawn: a veil covers x > t, and the marks and
the words naming events appear when their time comes. The figure is drawn once and cached; a
move draws only the veil, those marks and the cursor over it (a few ms plus the PNG encode).
Several traces (a crash and a hang) can share one clock: `TimeControl([a, b], figure=f)`.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets
import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from stalksim import _viewutil as vu
from stalksim import views
from stalksim._jobview import EVENT_LABEL
from stalksim.trace import RawEvent, Trace, TraceIndex, as_trace
from stalksim.widgets._render import FigureImage, state_tables

MAX_EVENT_FRAMES = 400
FRAME_MS = 100  # wall time between two frames of Play
SPEEDS = (0.5, 1.0, 2.0, 4.0)  # virtual seconds per wall second
MAX_ANIMATED_MARKS = 500  # above this many points, marks stay in the cached picture
EPS = 1e-9  # seconds: two times closer than this are one moment (traces count nanoseconds)
Traces = Trace | list[RawEvent] | Sequence[Trace]


def as_traces(trace: Traces) -> list[Trace]:
    """One trace (a Trace or a list of raw events) or several Traces, as a list of Traces."""
    if isinstance(trace, Trace):
        return [trace]
    items = list(trace)
    if items and all(isinstance(t, Trace) for t in items):
        return items  # type: ignore[return-value]
    return [as_trace(items)]  # type: ignore[arg-type]


def frame_times(trace: Traces, frames: int | str = "auto") -> list[float]:
    """The moments the step buttons go through: every event time (when there are few), or
    `frames` evenly spaced times from 0 to the end of the run (`views.view_end`)."""
    traces = as_traces(trace)
    event_times = sorted({r.time for tr in traces for r in tr})
    end = max(views.view_end(tr) for tr in traces)
    if frames == "events" or (frames == "auto" and len(event_times) <= MAX_EVENT_FRAMES):
        return sorted({0.0, *event_times, end})
    n = 201 if frames in ("auto", "events") else max(2, int(frames))
    end = end or 1.0
    return [end * i / (n - 1) for i in range(n)]


class _Now:
    """What a figure shows of moment t: a veil over the future, the marks and event words of
    the past, and the time cursor (all animated artists over the cached figure)."""

    def __init__(self, fig: Figure) -> None:
        self.veils, self.cursors, self.marks, self.words = [], [], [], []
        for ax in fig.axes:  # every view has time on its x axis
            self.veils.append(ax.axvspan(0.0, ax.get_xlim()[1], facecolor=vu.VEIL,
                                         linewidth=0, zorder=9, gid="veil"))
            self.cursors.append(ax.axvline(0.0, color=vu.CURSOR, linewidth=2.2, zorder=10,
                                           gid="cursor"))
            self.words += [a for a in ax.get_children() if a.get_gid() == EVENT_LABEL]
            lines = [a for a in ax.get_lines() if a.get_gid() in vu.MARKS]
            if sum(len(a.get_xdata()) for a in lines) <= MAX_ANIMATED_MARKS:
                self.marks += [(a, np.asarray(a.get_xdata(), float),
                                np.asarray(a.get_ydata(), float)) for a in lines]
        last: Axes = fig.axes[-1]
        self.clock = last.text(0.0, -0.02, "", transform=last.get_xaxis_transform(),
                               ha="center", va="top", color="white", fontweight="bold",
                               fontsize=vu.LEGEND_PT, zorder=11, gid="cursor-label",
                               bbox={"boxstyle": "round,pad=0.25", "fc": vu.CURSOR,
                                     "ec": "none"})

    def artists(self) -> list[Artist]:
        """In drawing order: veil first, then what it must not hide."""
        return [*self.veils, *(m[0] for m in self.marks), *self.words, *self.cursors,
                self.clock]

    def move(self, t: float) -> None:
        for veil in self.veils:
            veil.set_x(t)
            veil.set_width(max(0.0, veil.axes.get_xlim()[1] - t))
        for line in self.cursors:
            line.set_xdata([t, t])
        for line, xs, ys in self.marks:
            keep = xs <= t + EPS
            line.set_data(xs[keep], ys[keep])
        for word in self.words:
            word.set_visible(word.xy[0] <= t + EPS)
        self.clock.set_x(t)
        self.clock.set_text(f"{t:.1f} s")


class TimeControl(widgets.VBox):
    """Play a trace in true time (speed 0.5x to 4x) or step from event to event.

    `time` is the moment shown (seconds); `value` the index in `times` (the event frames) of
    the last frame at or before it. `figure` is a Figure, or a callable given the trace(s)
    (default: `views.job_timeline`; for two traces `views.crash_vs_hang`).
    """

    def __init__(self, trace: Traces, *, frames: int | str = "auto",
                 figure: Callable[..., Figure] | Figure | None = None, speed: float = 1.0,
                 interval_ms: int = FRAME_MS) -> None:
        self.traces = as_traces(trace)
        self.trace = self.traces[0]
        self.indexes = [TraceIndex(tr) for tr in self.traces]
        self.index = self.indexes[0]
        self.times = frame_times(self.traces, frames)
        self.end = self.times[-1]
        fig = figure if isinstance(figure, Figure) else (figure or _default_view(
            len(self.traces)))(*self.traces)
        self.now = _Now(fig)
        self.cursors = self.now.cursors
        self.holders_of = [sorted({r.actor for r in tr if r.dst == "reserved"},
                                  key=vu.natural_key) for tr in self.traces]
        self.holders = self.holders_of[0]
        self.figure = FigureImage(fig, animated=self.now.artists())
        self.tick = interval_ms / 1000 / 2  # seconds per Play step at 0.5x
        self.play = widgets.Play(value=0, min=0, max=int(np.ceil(self.end / self.tick)),
                                 step=1, interval=interval_ms, show_repeat=False,
                                 description="play")
        self.speed = widgets.ToggleButtons(
            options=[(f"{s:g}×", s) for s in SPEEDS], value=speed, description="speed",
            style={"button_width": "60px", "description_width": "44px"})
        self.slider = widgets.FloatSlider(value=0.0, min=0.0, max=self.end, step=self.tick,
                                          description="time (s)", readout_format=".2f",
                                          continuous_update=True,
                                          layout=widgets.Layout(width="min(620px, 100%)"))
        self.back = widgets.Button(description="◀ event", tooltip="previous event",
                                   layout=widgets.Layout(width="90px"))
        self.forward = widgets.Button(description="event ▶", tooltip="next event",
                                      layout=widgets.Layout(width="90px"))
        self.back.on_click(lambda _b: self.step(-1))
        self.forward.on_click(lambda _b: self.step(+1))
        self.clock = widgets.HTML()
        self.state = widgets.HTML()
        self._t = 0.0
        self._syncing = False
        self._set_speed({"new": speed})
        self.speed.observe(self._set_speed, names="value")
        self.play.observe(lambda c: self.seek(c["new"] * self.tick), names="value")
        self.slider.observe(lambda c: self.seek(c["new"]), names="value")
        wrap = widgets.Layout(flex_flow="row wrap", align_items="center")
        super().__init__([
            widgets.HBox([self.play, self.back, self.forward, self.speed, self.clock],
                         layout=wrap),
            widgets.HBox([self.slider], layout=wrap),
            widgets.HBox([self.figure.image]),
            self.state])
        self.show(0.0)

    @property
    def value(self) -> int:
        """Index in `times` of the last frame at or before `time`."""
        return max(0, bisect_right(self.times, self._t + EPS) - 1)

    @value.setter
    def value(self, i: int) -> None:
        self.seek(self.times[max(0, min(len(self.times) - 1, int(i)))])

    @property
    def time(self) -> float:
        return self._t

    def step(self, by: int) -> None:
        """Jump `by` event frames (negative: backwards) from the moment shown."""
        i = self.value
        if by < 0 and self.times[i] < self._t - EPS:
            i += 1  # between two frames: one step back lands on the one before
        self.value = i + by

    def seek(self, t: float) -> None:
        """Show moment `t` (seconds), within 0 and the end of the run."""
        t = max(0.0, min(self.end, float(t)))
        if self._syncing or abs(t - self._t) <= EPS and self.figure.image.value:
            return
        self._syncing = True
        try:
            self.slider.value = t
            self.play.value = int(round(t / self.tick)) if abs(
                self.play.value * self.tick - t) > self.tick / 2 else self.play.value
        finally:
            self._syncing = False
        self.show(t)

    def _set_speed(self, change: dict[str, Any]) -> None:
        self.play.step = max(1, int(round(change["new"] * 2)))  # ticks are half a 1x frame

    def show(self, t: float) -> None:
        """Draw moment `t`: the veil and cursor over the cached figure, and the state tables."""
        self._t = t
        self.now.move(t)
        self.figure.render()
        self.clock.value = (f"<b>t = {t:.2f} s</b> &nbsp;(event {self.value + 1}/"
                            f"{len(self.times)})")
        tables = [self._tables(k, t) for k in range(len(self.traces))]
        self.state.value = tables[0] if len(tables) == 1 else (
            "<div style='display:flex;flex-wrap:wrap;gap:24px'>"
            + "".join(f"<div>{x}</div>" for x in tables) + "</div>")

    def _tables(self, k: int, t: float) -> str:
        snap = self.indexes[k].state_at(t)
        tubes = {name: {s: [str(j) for j in ids] for s, ids in by_state.items()}
                 for name, by_state in snap["tubes"].items()}
        held = {who: [str(j) for j in snap["held"].get(who, [])] for who in self.holders_of[k]}
        title = str(self.traces[k].meta.get("scenario", "")) if len(self.traces) > 1 else ""
        return state_tables(tubes, held, title=title)


def _default_view(n: int) -> Callable[..., Figure]:
    if n == 1:
        return views.job_timeline
    if n == 2:
        return views.crash_vs_hang
    raise ValueError(f"TimeControl of {n} traces needs figure=: a callable taking {n} traces")

