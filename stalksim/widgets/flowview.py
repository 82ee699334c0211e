"""`FlowView`: watch the jobs move. An anywidget whose JavaScript animates an SVG of producers,
tubes and workers from a layout sent once (`stalksim.flow.layout`), in time-true playback.

    FlowView(run_scenario("hung-consumer", seed=0))   # a scenario run (forks by click)
    FlowView(trace)                                    # any trace, e.g. from run_live
    view = FlowView(sim); ...; view.refresh()          # a Simulation driven by hand
    FlowView(simulated, beside=live)                   # two runs on one clock (lesson 6)
    FlowView(crash, beside=hang, side=True)            # side by side, compact (lesson 3)

Pause, click a worker and choose crash, hang or slow: Python re-runs the scenario with that
fault (`stalksim.forks.fork`) and the view shows the new run under the old (side by side: in the
place of the run that was clicked), with a summary line.
The JavaScript ships in the package (stalksim/widgets/static); nothing is fetched at run time.
A notebook saved with widget state, or exported by `jupyter nbconvert --to html`, still plays
(forks need the kernel).
"""

from __future__ import annotations

import json
from typing import Any

import anywidget
import traitlets

from stalksim.flow import JobBook, captions, layout
from stalksim.forks import Fault, Fork, _finish, _outcome, fork, fork_of
from stalksim.palette import CSS_VARIABLES
from stalksim.scenarios import SCENARIOS, Result
from stalksim.simulation import Simulation
from stalksim.trace import RawEvent, Trace, as_trace
from stalksim.widgets.assets import STATIC, scripts

PALETTE = CSS_VARIABLES
"""The one palette (stalksim.palette), as the view's CSS variables."""


def _esm() -> str:
    return scripts() + "\nexport default { render };\n"


class FlowView(anywidget.AnyWidget):
    """Jobs as tokens moving through tubes to workers; Play, steps, scrub, moments, forks."""

    _esm = _esm()
    _css = STATIC / "flowview.css"
    data = traitlets.Dict().tag(sync=True)
    captions = traitlets.List().tag(sync=True)
    """`stalksim.flow.captions(data)`: the caption from each instant on (set with `data`; side
    by side, both runs' captions, each said to be the left's or the right's)."""
    fork_data = traitlets.Dict().tag(sync=True)
    summary = traitlets.Unicode("").tag(sync=True)
    fork_spec = traitlets.Unicode("").tag(sync=True)
    palette = traitlets.Dict(PALETTE).tag(sync=True)
    arrangement = traitlets.Unicode("stacked").tag(sync=True)
    """"stacked" (a run, a second one under it) or "side" (two compact runs side by side)."""

    def __init__(self, source: Result | Trace | Simulation | list[RawEvent],
                 beside: Result | Trace | None = None, side: bool = False,
                 **kwargs: Any) -> None:
        if side and beside is None:
            raise ValueError("side=True draws two runs side by side: give the second as beside=")
        super().__init__(**kwargs)
        self.arrangement = "side" if side else "stacked"
        self.sim: Simulation | None = None
        self.base: Fork | None = None
        self.beside_base: Fork | None = None  # the second run, when it is a scenario run
        self.forked: Fork | None = None
        self._book: JobBook | None = None
        self._trace = None if isinstance(source, Simulation) else as_trace(
            source.trace if isinstance(source, Result) else source)
        if isinstance(source, Result):
            self.base = fork_of(source)
            same = self.base.trace.raw == source.trace.raw
            self.show(self.base.layout() if same else layout(source.trace))
        elif isinstance(source, Simulation):
            self.sim, self._book = source, JobBook.attach(source)
            self.refresh()
        else:
            tr = self.trace
            self.base = _fork_from_meta(tr)
            same = self.base is not None and self.base.trace.raw == tr.raw
            self.show(self.base.layout() if same and self.base else layout(tr))
        if beside is not None:
            self.show_beside(beside)
        self.on_msg(self._on_msg)

    @property
    def trace(self) -> Trace:
        """The trace drawn (a followed Simulation's as it stands now)."""
        if self.sim is not None:
            return as_trace(self.sim.trace or [])
        assert self._trace is not None
        return self._trace

    def show_beside(self, other: Result | Trace, title: str = "") -> None:
        """Draw another run of the story under this one, on the same clock, with a line that
        compares them: lesson 6 shows the simulated run above and `run_live`'s below."""
        tr = as_trace(getattr(other, "trace", other))
        self.beside_base = fork_of(other) if isinstance(other, Result) else _fork_from_meta(tr)
        meta = tr.meta
        if not title and meta.get("live"):
            title = (f"live on a real beanstalkd: {meta.get('scenario')} (seed "
                     f"{meta.get('seed')}, run at {meta.get('speed', 1):g}× speed)")
        this, that = _outcome(self.trace), _outcome(tr)
        with self.hold_sync():
            self.fork_data = layout(tr, title=title)
            self._caption()
            where = "Left, then right" if self.arrangement == "side" else "Above, then below"
            self.summary = (f"{where}: re-deliveries {this['redeliveries']} and "
                            f"{that['redeliveries']}; {_finish(this)} and {_finish(that)}")
            self.fork_spec = ""

    def refresh(self) -> None:
        """Send the followed Simulation's trace so far (FlowView(sim) only)."""
        if self.sim is None:
            raise TypeError("refresh() follows a Simulation: FlowView(sim)")
        self.show(layout(self.sim.trace, self._book, f"simulation at {self.sim.now:g} s"))

    def show(self, lay: dict[str, Any]) -> None:
        """Draw a layout: it and its captions go to the page in one message."""
        with self.hold_sync():
            self.data = lay
            self._caption()

    def _caption(self) -> None:
        if self.arrangement == "side" and self.fork_data:
            self.captions = side_captions(self.data, self.fork_data)
        else:
            self.captions = captions(self.data)

    def add_fault(self, worker: str, kind: str, at: float, panel: str = "base",
                  **extra: Any) -> Fork:
        """What the click does: fork the clicked run (`panel`: "base", or "fork" for the run
        beside) with one more fault, and show it under the run (side by side: in its place)."""
        b = self.base if panel == "base" else self.beside_base
        if b is None:
            raise ValueError("forks need a scenario run: FlowView(run_scenario(...))")
        f = fork(b.scenario, b.seed, b.params, [*b.faults, Fault(worker, kind, at, **extra)],
                 b.until)
        self.forked = f
        if self.arrangement == "side" and panel == "base":
            self.show(f.layout())
        else:
            self.fork_data = f.layout()
            self._caption()
        self.summary = f.summary_line(b)
        self.fork_spec = f"{f.python()}\n{f.to_json()}"
        return f

    def _on_msg(self, _widget: Any, content: dict[str, Any], _buffers: Any) -> None:
        if content.get("type") != "fork":
            return
        try:
            self.add_fault(str(content["worker"]), str(content["kind"]), float(content["at"]),
                           str(content.get("panel", "base")))
        except (ValueError, TypeError, KeyError) as e:
            self.summary = f"no fork: {e}"
        self.send({"type": "forked"})  # the page stops waiting (and shows the summary)


def side_captions(left: dict[str, Any], right: dict[str, Any]) -> list[dict[str, Any]]:
    """Both runs' captions on one clock: at each instant, what happened on the left and on the
    right ("Left: ...; right: ..."), or once when it is the same ("In both: ...")."""
    at: dict[float, dict[str, Any]] = {}
    for side, lay in (("left", left), ("right", right)):
        for c in captions(lay):
            m = at.setdefault(c["t"], {"said": {}, "moment": False})
            m["said"][side] = c["text"]
            m["moment"] = m["moment"] or c["moment"]
    out = []
    for t, m in sorted(at.items()):
        said = m["said"]
        if len(said) == 2 and said["left"] == said["right"]:
            text = f"In both: {said['left']}"
        else:
            text = "; ".join(f"{side}: {x}" for side, x in said.items())
            text = text[0].upper() + text[1:]
        out.append({"t": t, "text": text, "moment": m["moment"]})
    return out


def _fork_from_meta(tr: Trace) -> Fork | None:
    """The run a trace's meta names (scenario, seed, params, faults), if it is one."""
    meta = tr.meta
    sc = SCENARIOS.get(meta.get("scenario") or "")
    if sc is None or "seed" not in meta:
        return None
    params = {k: v for k, v in (meta.get("params") or {}).items()
              if k in sc.params and sc.params[k] != v}
    try:
        return fork(sc.name, meta["seed"], params, meta.get("faults", []), meta.get("until"))
    except (TypeError, ValueError):
        return None


def layout_json(source: Result | Trace) -> str:
    """The JSON FlowView sends for `source` (for a static page or a file)."""
    view_data = fork_of(source).layout() if isinstance(source, Result) else layout(source)
    return json.dumps(view_data)
