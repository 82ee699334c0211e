"""`ScenarioExplorer`: controls for a named scenario's parameters; each change re-runs the
scenario and redraws its figure in the same place, with the headline numbers beside it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from stalksim import views
from stalksim._viewutil import fixed_margins, time_axis
from stalksim.scenarios import Result, find, run_scenario
from stalksim.trace import Trace
from stalksim.widgets._render import FigureImage, esc, table

VIEWS: dict[str, Callable[[Trace], Figure]] = {
    "overview": views.overview, "timeline": views.job_timeline, "depth": views.tube_depth,
    "swimlanes": views.worker_swimlanes,
}
SUMMARY_KEYS = ("jobs_put", "jobs_done", "jobs_buried", "jobs_left",
                "redeliveries_ttr_expired", "redeliveries_connection_closed", "duplicate_work",
                "wait_mean", "wait_p90")
RUN_KEYS = ("seed", "until")


def make_control(name: str, spec: Any, default: Any) -> widgets.Widget | None:
    """A control from a short spec: (lo, hi[, step]) a slider, a list a dropdown, a bool a
    checkbox, a widget itself; anything else is a fixed value (None is returned)."""
    style = {"description_width": "initial"}
    if isinstance(spec, widgets.Widget):
        return spec
    if isinstance(spec, bool):
        return widgets.Checkbox(value=spec, description=name, style=style)
    if isinstance(spec, list):
        return widgets.Dropdown(options=spec, value=default if default in spec else spec[0],
                                description=name, style=style)
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        lo, hi = spec[0], spec[1]
        value = default if isinstance(default, int | float) and lo <= default <= hi else lo
        kind = widgets.IntSlider if all(isinstance(x, int) for x in (*spec, value)) else (
            widgets.FloatSlider)
        step = spec[2] if len(spec) == 3 else (1 if kind is widgets.IntSlider else
                                                (hi - lo) / 20)
        return kind(value=value, min=lo, max=hi, step=step, description=name, style=style,
                    continuous_update=False)
    return None


def summary_html(result: Result) -> str:
    s = result.summary()
    rows = [[k.replace("_", " "), "-" if s[k] is None else
             f"{s[k]:.3g}" if isinstance(s[k], float) else str(s[k])] for k in SUMMARY_KEYS]
    story = "".join(f"<li>{esc(line)}</li>" for line in result.story())
    return table(["", "value"], rows) + (f"<ul style='max-width:900px'>{story}</ul>"
                                         if story else "")


class ScenarioExplorer(widgets.VBox):
    """Re-run scenario `name` whenever a control changes; `controls` name its parameters,
    e.g. `ScenarioExplorer("many-workers", workers=(1, 8), rate=(1.0, 12.0))`."""

    def __init__(self, name: str, *, view: str | Callable[[Trace], Figure] = "overview",
                 seed: int = 0, until: float | None = None, **controls: Any) -> None:
        self.scenario = find(name)
        self.view = VIEWS[view] if isinstance(view, str) else view
        defaults = {**self.scenario.params, "seed": seed,
                    "until": self.scenario.default_until if until is None else until}
        self.fixed: dict[str, Any] = {"seed": seed, "until": defaults["until"]}
        self.controls: dict[str, widgets.Widget] = {}
        for key, spec in controls.items():
            w = make_control(key, spec, defaults.get(key))
            if w is None:
                self.fixed[key] = spec
            else:
                self.controls[key] = w
                w.observe(lambda _c: self.rerun(), names="value")
        self.figure = FigureImage()
        self.numbers = widgets.HTML()
        self.title = widgets.HTML(f"<b>{esc(self.scenario.name)}</b>: "
                                  f"{esc(self.scenario.description)}")
        self.runs = 0
        self.result: Result | None = None
        super().__init__([self.title, widgets.HBox(list(self.controls.values())),
                          widgets.HBox([self.figure.image]), self.numbers])
        self.rerun()

    def params(self) -> dict[str, Any]:
        """The scenario's parameters as the controls set them now."""
        return {**self.fixed, **{k: w.value for k, w in self.controls.items()}}

    def rerun(self) -> Result:
        """Run the scenario with the current parameters and redraw."""
        p = self.params()
        self.result = run_scenario(self.scenario.name, **p)
        self.figure.show(self.view(self.result.trace))
        self.numbers.value = summary_html(self.result)
        self.runs += 1
        return self.result


def side_by_side(left: Trace, right: Trace, *, view: str = "swimlanes",
                 titles: tuple[str, str] = ("simulated", "live")) -> Figure:
    """Two traces in one figure, one above the other on the same time axis."""
    draw = VIEWS[view]
    fig = Figure(figsize=(11.0, 6.5))
    axes = fig.subplots(2, 1, sharex=True)
    fixed_margins(fig, 2, gap=0.8)
    for ax, trace, title in zip(axes, (left, right), titles, strict=True):
        draw(trace, ax=ax)
        ax.set_title(f"{title}: {ax.get_title(loc='left')}", loc="left")
    time_axis(axes[0], max(views.view_end(left), views.view_end(right)))
    axes[0].set_xlabel("")
    return fig
