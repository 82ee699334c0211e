"""`WorkerControls`: a row of buttons per worker process of a `JobWatch`: kill -9, stop,
continue. Each button sends its signal by pid (`WorkerProcess.kill/stop/cont`), waits until
the watch has looked at the server again, and calls `on_change` (a `LiveView` redraws).

    stalksim.live.WorkerControls(watch)   # or LiveView(client, watch=watch), which has them
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import ipywidgets as widgets

from stalksim._browser import refuse
from stalksim.live.process import WorkerProcess
from stalksim.live.watch import JobWatch
from stalksim.palette import ERROR
from stalksim.widgets._render import esc

ACTIONS = (("kill -9", "kill", "SIGKILL: the process dies at once; its socket closes"),
           ("stop", "stop", "SIGSTOP: the process freezes; its socket stays open"),
           ("continue", "cont", "SIGCONT: a stopped process goes on"))
ENABLED = {"kill": ("running", "stopped"), "stop": ("running",), "cont": ("stopped",)}


def _button(label: str, tip: str) -> widgets.Button:
    return widgets.Button(description=label, tooltip=tip, layout=widgets.Layout(
        flex="0 0 auto", width="auto", min_width=f"{9 * len(label) + 36}px"))


class _Row(widgets.HBox):
    """One worker: its name, pid, state and held job, and its three buttons."""

    def __init__(self, watch: JobWatch, worker: WorkerProcess,
                 act: Callable[[WorkerProcess, str], None]) -> None:
        self.watch, self.worker = watch, worker
        self.label = widgets.HTML(layout=widgets.Layout(flex="0 1 430px", min_width="200px"))
        self.buttons = {}
        for label, what, tip in ACTIONS:
            b = _button(label, tip)
            b.on_click(lambda _b, what=what: act(worker, what))
            self.buttons[what] = b
        super().__init__([self.label, *self.buttons.values()], layout=widgets.Layout(
            flex_flow="row wrap", align_items="center", width="100%"))
        self.update()

    def update(self) -> None:
        """The label and buttons as the worker is now. A job the worker still counts as its
        own but the server has handed on (its TTR ran out while it was stopped) is one it
        only *thinks* it holds."""
        w, job = self.worker, self.worker.held
        held = ""
        if job and w.state != "killed":
            ours = job not in self.watch.jobs or self.watch.holder(job) == w.name
            held = f", {'holds' if ours else 'thinks it holds'} job {job}"
        self.label.value = f"<code><b>{esc(w.name)}</b> pid {w.pid}: {w.state}{held}</code>"
        for what, b in self.buttons.items():
            b.disabled = w.state not in ENABLED[what]


class WorkerControls(widgets.VBox):
    """Buttons for each worker process `watch` started (rows appear as workers do)."""

    def __new__(cls, *args: Any, **kwargs: Any) -> WorkerControls:
        refuse("stalksim.live.WorkerControls()")
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, watch: JobWatch, on_change: Callable[[], object] | None = None
                 ) -> None:
        self.watch, self.on_change = watch, on_change
        self.rows: list[_Row] = []
        self.error = widgets.HTML()
        super().__init__([self.error], layout=widgets.Layout(width="100%"))
        self.update()

    def update(self) -> None:
        """A row for each new worker; every row's state and buttons as they are now."""
        known = {id(r.worker) for r in self.rows}
        fresh = [_Row(self.watch, w, self.act) for w in self.watch.workers
                 if id(w) not in known]
        if fresh:
            self.rows += fresh
            self.children = [*self.rows, self.error]
        for r in self.rows:
            r.update()

    def act(self, worker: WorkerProcess, what: str) -> None:
        """Send `what` ("kill", "stop" or "cont") to `worker`, then show what followed."""
        try:
            getattr(worker, what)()
            self.error.value = ""
        except OSError as e:  # it ended meanwhile
            self.error.value = f"<span style='color:{ERROR}'>{esc(e)}</span>"
        self.watch.settle()
        self.update()
        if self.on_change is not None:
            self.on_change()
