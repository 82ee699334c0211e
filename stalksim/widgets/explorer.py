"""`ScenarioExplorer`: controls for a named scenario's parameters; each change re-runs the
scenario and redraws its figure in the same place, with the headline numbers beside it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets
from matplotlib.figure import Figure

from stalksim import _viewutil as vu
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


def make_control(name: str, spec: Any, default: Any, label: str | None = None
                 ) -> widgets.Widget | None:
    """A control from a short spec: (lo, hi[, step]) a slider, a list a dropdown, a bool a
    checkbox, a widget itself; anything else is a fixed value (None is returned). `label` is
    what the learner reads (default: `name`)."""
    label = label or name
    common: dict[str, Any] = {"description": label, "style": {"description_width": "initial"},
                              "layout": _control_layout(label)}
    if isinstance(spec, widgets.Widget):
        return spec
    if isinstance(spec, bool):
        return widgets.Checkbox(value=spec, indent=False, **common)
    if isinstance(spec, list):
        return widgets.Dropdown(options=spec, value=default if default in spec else spec[0],
                                **common)
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        lo, hi = spec[0], spec[1]
        value = default if isinstance(default, int | float) and lo <= default <= hi else lo
        kind = widgets.IntSlider if all(isinstance(x, int) for x in (*spec, value)) else (
            widgets.FloatSlider)
        step = spec[2] if len(spec) == 3 else (1 if kind is widgets.IntSlider else
                                                (hi - lo) / 20)
        return kind(value=value, min=lo, max=hi, step=step, continuous_update=False, **common)
    return None


#: A control is its label (about this many px per character) plus a slider this wide; rows
#: wrap, so controls never squeeze or run off the output area.
CHAR_PX, SLIDER_PX = 8, 280


def _control_layout(label: str) -> widgets.Layout:
    width = f"{CHAR_PX * len(label) + SLIDER_PX}px"
    return widgets.Layout(width=width, min_width=width, max_width="100%", flex="0 0 auto")


def param_text(label: str, value: Any) -> str:
    """ "hang for (s)", 8.0 -> "hang for 8 s"; "touch", True -> "touch: yes"."""
    if isinstance(value, bool):
        return f"{label}: {'yes' if value else 'no'}"
    shown = f"{value:g}" if isinstance(value, int | float) else str(value)
    head, sep, unit = label.rpartition(" (")
    return f"{head} {shown} {unit.rstrip(')')}" if sep and unit.endswith(")") else (
        f"{label} {shown}")


def summary_html(result: Result, lines: list[str] | None = None) -> str:
    s = result.summary()
    rows = [[k.replace("_", " "), "-" if s[k] is None else
             f"{s[k]:.3g}" if isinstance(s[k], float) else str(s[k])] for k in SUMMARY_KEYS]
    lines = result.story() + result.outcome() if lines is None else lines
    story = "".join(f"<li>{esc(line)}</li>" for line in lines)
    return table(["", "value"], rows) + (f"<ul style='max-width:900px'>{story}</ul>"
                                         if story else "")


def _wrap_row(children: list[widgets.Widget]) -> widgets.HBox:
    return widgets.HBox(children, layout=widgets.Layout(flex_flow="row wrap", width="100%",
                                                        align_items="center"))


class ScenarioExplorer(widgets.VBox):
    """Re-run scenario `name` whenever a control changes; `controls` name its parameters,
    e.g. `ScenarioExplorer("many-workers", workers=(1, 8), rate=(1.0, 12.0))`.

    The title, the description, the story under the figure and the figure's own title are
    computed from each run's parameters and trace, so they always match the sliders."""

    def __init__(self, name: str, *, view: str | Callable[[Trace], Figure] = "overview",
                 seed: int = 0, until: float | None = None, **controls: Any) -> None:
        self.scenario = find(name)
        self.view = VIEWS[view] if isinstance(view, str) else view
        defaults = {**self.scenario.params, "seed": seed,
                    "until": self.scenario.default_until if until is None else until}
        self.fixed: dict[str, Any] = {"seed": seed, "until": defaults["until"]}
        self.controls: dict[str, widgets.Widget] = {}
        for key, spec in controls.items():
            w = make_control(key, spec, defaults.get(key), self.scenario.label(key))
            if w is None:
                self.fixed[key] = spec
            else:
                self.controls[key] = w
                w.observe(lambda _c: self.rerun(), names="value")
        self.figure = FigureImage()
        self.numbers = widgets.HTML()
        self.title = widgets.HTML()
        self.runs = 0
        self.result: Result | None = None
        super().__init__([self.title, _wrap_row(list(self.controls.values())),
                          self.figure.image, self.numbers],
                         layout=widgets.Layout(width="100%"))
        self.rerun()

    def params(self) -> dict[str, Any]:
        """The scenario's parameters as the controls set them now."""
        return {**self.fixed, **{k: w.value for k, w in self.controls.items()}}

    def setting(self) -> str:
        """The controls' values in words: "hang at 3.5 s, TTR 5 s, hang for 8 s"."""
        return ", ".join(param_text(self.scenario.label(k), w.value)
                         for k, w in self.controls.items())

    def story(self) -> list[str]:
        """What happened in the current run: `Result.story()` then `Result.outcome()`."""
        assert self.result is not None
        return self.result.story() + self.result.outcome()

    def rerun(self) -> Result:
        """Run the scenario with the current parameters and redraw."""
        p = self.params()
        self.result = r = run_scenario(self.scenario.name, **p)
        fig = self.view(r.trace)
        self._label_figure(fig)
        self.figure.show(fig)
        self.title.value = (f"<b>{esc(self.scenario.name)}: {esc(r.title)}</b>"
                            f"<div style='max-width:900px'>{esc(r.description)}</div>")
        self.numbers.value = summary_html(r, self.story())
        self.runs += 1
        return r

    def _label_figure(self, fig: Figure) -> None:
        """Put the controls' values in the figure's title, in place of the seed (the seed
        stays when it is one of the controls)."""
        setting = self.setting()
        if not setting or not fig.axes:
            return
        ax, name = fig.axes[0], self.scenario.name
        for loc in ("left", "center", "right"):
            text = ax.get_title(loc=loc)
            if name in text:
                ax.set_title(text.split(name)[0] + f"{name}: {setting}", loc=loc)
                return


def side_by_side(left: Trace, right: Trace, *, view: str = "swimlanes",
                 titles: tuple[str, str] = ("simulated", "live")) -> Figure:
    """Two traces in one figure, one above the other on the same time axis."""
    draw = VIEWS[view]
    fig = vu.new_figure(vu.FIG_WIDTH, 6.5)
    axes = fig.subplots(2, 1, sharex=True)
    fixed_margins(fig, 2, gap=0.8)
    for ax, trace, title in zip(axes, (left, right), titles, strict=True):
        draw(trace, ax=ax)
        ax.set_title(f"{title}: {ax.get_title(loc='left')}", loc="left")
    time_axis(axes[0], max(views.view_end(left), views.view_end(right)))
    axes[0].set_xlabel("")
    return fig
