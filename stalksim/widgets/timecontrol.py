"""`TimeControl`: Play, a slider and step buttons to move through a simulated run, forwards or
backwards, showing each tube's jobs and each worker's job at that moment beside a figure with a
time cursor that moves (the figure is drawn once and cached; a step draws only the cursor over
it, so stepping through a 1,000-job run stays well under 50 ms)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from stalksim import views
from stalksim._viewutil import natural_key
from stalksim.trace import NS, RawEvent, Trace, TraceIndex, as_trace
from stalksim.widgets._render import FigureImage, state_tables

MAX_EVENT_FRAMES = 400


def frame_times(trace: Trace, frames: int | str = "auto") -> list[float]:
    """The moments the control steps through: every event time (when there are few), or
    `frames` evenly spaced times from 0 to the end of the run (`views.view_end`)."""
    event_times = sorted({ev[0] / NS for ev in trace.raw})
    end = views.view_end(trace)
    if frames == "events" or (frames == "auto" and len(event_times) <= MAX_EVENT_FRAMES):
        return sorted({0.0, *event_times, end})
    n = 201 if frames in ("auto", "events") else max(2, int(frames))
    end = end or 1.0
    return [end * i / (n - 1) for i in range(n)]


class TimeControl(widgets.VBox):
    """Step through a trace: `value` is the frame index, `time` the moment it shows."""

    def __init__(self, trace: Trace | list[RawEvent], *, frames: int | str = "auto",
                 figure: Callable[[Trace], Figure] | Figure | None = None,
                 interval_ms: int = 400) -> None:
        self.trace = as_trace(trace)
        self.index = TraceIndex(self.trace)
        self.times = frame_times(self.trace, frames)
        fig = figure if isinstance(figure, Figure) else (figure or views.job_timeline)(
            self.trace)
        self.cursors = [ax.axvline(0.0, color="#D55E00", linewidth=2, zorder=10, gid="cursor")
                        for ax in fig.axes]  # every view has time on its x axis
        self.holders = sorted({ev[6] for ev in self.trace.raw if ev[4] == "reserved"},
                              key=natural_key)
        self.figure = FigureImage(fig, animated=self.cursors)
        last = len(self.times) - 1
        self.play = widgets.Play(value=0, min=0, max=last, step=1, interval=interval_ms,
                                 description="play")
        self.slider = widgets.IntSlider(value=0, min=0, max=last, description="step",
                                        readout=False, continuous_update=True,
                                        layout=widgets.Layout(width="420px"))
        widgets.jslink((self.play, "value"), (self.slider, "value"))
        self.back = widgets.Button(description="◀ back", layout=widgets.Layout(width="80px"))
        self.forward = widgets.Button(description="forward ▶",
                                      layout=widgets.Layout(width="95px"))
        self.back.on_click(lambda _b: self.step(-1))
        self.forward.on_click(lambda _b: self.step(+1))
        self.clock = widgets.HTML()
        self.state = widgets.HTML()
        self.slider.observe(self._moved, names="value")
        super().__init__([
            widgets.HBox([self.play, self.back, self.slider, self.forward, self.clock]),
            widgets.HBox([self.figure.image]),
            self.state])
        self.show(0)

    @property
    def value(self) -> int:
        return self.slider.value

    @value.setter
    def value(self, i: int) -> None:
        self.slider.value = max(0, min(len(self.times) - 1, int(i)))

    @property
    def time(self) -> float:
        return self.times[self.slider.value]

    def step(self, by: int) -> None:
        """Move `by` frames (negative: backwards)."""
        self.value = self.slider.value + by

    def seek(self, t: float) -> None:
        """Move to the last frame at or before `t` seconds."""
        self.value = max(0, sum(1 for x in self.times if x <= t) - 1)

    def _moved(self, change: dict[str, Any]) -> None:
        self.show(change["new"])

    def show(self, i: int) -> None:
        """Draw frame `i`: move the cursor over the cached figure, rebuild the state tables."""
        t = self.times[i]
        for line in self.cursors:
            line.set_xdata([t, t])
        self.figure.render()
        snap = self.index.state_at(t)
        tubes = {name: {s: [str(j) for j in ids] for s, ids in by_state.items()}
                 for name, by_state in snap["tubes"].items()}
        held = {who: [str(j) for j in snap["held"].get(who, [])] for who in self.holders}
        self.clock.value = f"<b>t = {t:.3g} s</b> &nbsp;({i + 1}/{len(self.times)})"
        self.state.value = state_tables(tubes, held)
