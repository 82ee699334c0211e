"""`LiveView`: a real beanstalkd's tubes (jobs per state, from stats-tube), refreshed by a
button or by a bounded background thread, with what changed since the last look highlighted.

`refresh()` also returns that table as static HTML: a cell that ends with `view.refresh()`
keeps, as its own output, the server as it was after that cell (the live widget above shows
only the latest state once a notebook has run top to bottom).

With `watch=` (a `stalksim.live.JobWatch`) it also has a row of buttons per worker process
(kill -9, stop, continue) and draws the watch's jobs: where each was, on the server's word, and
its story in words (`stalksim.live.jobview`); the snapshot `refresh()` returns has them too.

It lives in `stalksim.live` (as `stalksim.live.LiveView`), not in `stalksim.widgets`: it needs
the live server's default address and the widgets' HTML helpers, and with it here `live`
imports from `widgets` and never the other way round (no import circle)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

import greenstalk
import ipywidgets as widgets
from IPython.display import HTML

from stalksim._browser import refuse
from stalksim.live.process import address_of
from stalksim.widgets._render import TABLE_CSS, esc

if TYPE_CHECKING:
    from stalksim.live.controls import WorkerControls
    from stalksim.live.watch import JobWatch

COLUMNS = ("current-jobs-ready", "current-jobs-reserved", "current-jobs-delayed",
           "current-jobs-buried", "current-waiting", "total-jobs")
HEADERS = ("ready", "reserved", "delayed", "buried", "waiting", "total put")


class LiveView(widgets.VBox):
    """A live table of the server's tubes. `refresh()` reads it again; auto-refresh polls every
    `interval` seconds for at most `max_seconds`, and stops when the widget is closed. With
    `watch`, the watch's tube (unless `tubes` says otherwise), worker buttons and jobs."""

    def __new__(cls, *args: Any, **kwargs: Any) -> LiveView:
        refuse("stalksim.live.LiveView()")  # before a widget exists: none is left to close
        return super().__new__(cls, *args, **kwargs)

    def __init__(self, target: greenstalk.Client | tuple[str, int] | None = None, *,
                 tubes: Iterable[str] | None = None, match: str = "", interval: float = 1.0,
                 max_seconds: float = 600.0, watch: JobWatch | None = None) -> None:
        self.address = address_of(watch if target is None and watch is not None else target)
        if tubes is None and watch is not None:
            tubes = [watch.tube]
        self.watch = watch
        self.controls: WorkerControls | None = None
        self.jobs = widgets.HTML()
        self._lines = 0  # the watch's event lines already shown
        self.client = greenstalk.Client(self.address)  # its own: threads never share one
        self.only = list(tubes) if tubes is not None else None
        self.match = match
        self.interval = interval
        self.max_seconds = max_seconds
        self.counts: dict[str, dict[str, int]] = {}
        self.changed: set[tuple[str, str]] = set()
        self.refreshes = 0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        fixed = {"flex": "0 0 auto", "width": "auto"}
        self.button = widgets.Button(description="Refresh", icon="refresh",
                                     layout=widgets.Layout(min_width="110px", **fixed))
        label = f"auto-refresh every {interval:g} s"
        self.auto = widgets.Checkbox(value=False, description=label, indent=False,
                                     style={"description_width": "initial"},
                                     layout=widgets.Layout(min_width=f"{8 * len(label) + 40}px",
                                                           **fixed))
        self.table = widgets.HTML()
        self.button.on_click(lambda _b: self.refresh())
        self.auto.observe(self._toggle, names="value")
        row = widgets.HBox([self.button, self.auto], layout=widgets.Layout(
            flex_flow="row wrap", align_items="center", width="100%"))
        parts: list[widgets.Widget] = [row, self.table]
        if watch is not None:
            from stalksim.live.controls import WorkerControls

            self.controls = WorkerControls(watch, on_change=self.refresh)
            parts = [row, self.controls, self.table, self.jobs]
        super().__init__(parts, layout=widgets.Layout(width="100%"))
        self.refresh()

    def read(self) -> dict[str, dict[str, int]]:
        """Counts per tube, read from the server now."""
        names = self.only if self.only is not None else self.client.tubes()
        out = {}
        for name in sorted(n for n in names if self.match in n):
            try:
                stats = self.client.stats_tube(name)
            except greenstalk.NotFoundError:  # the tube went away
                continue
            out[name] = {k: int(stats[k]) for k in COLUMNS}
            out[name]["paused"] = int(stats["pause-time-left"])
        return out

    def refresh(self) -> HTML:
        """Read the server and redraw, marking the numbers that changed; return the same
        table as static HTML (display it, or end a cell with `view.refresh()`, to keep the
        state after that cell in the notebook)."""
        with self._lock:
            try:
                now = self.read()
            except (OSError, greenstalk.Error) as e:
                self.table.value = f"<span style='color:#b00020'>{esc(e) or type(e).__name__}"\
                                   f" ({self.address[0]}:{self.address[1]})</span>"
                return HTML(self.table.value)
            before, self.counts = self.counts, now
            self.changed = {(t, k) for t, row in now.items() for k in COLUMNS
                            if self.refreshes and before.get(t, {}).get(k, 0) != row[k]}
            self.refreshes += 1
            self.table.value = self.html(before)
            if self.watch is None:
                return HTML(self.table.value)
            from stalksim.live.jobview import html

            self.jobs.value, self._lines = html(self.watch, self._lines)
        if self.controls is not None:
            self.controls.update()
        return HTML(self.table.value + self.jobs.value)

    def html(self, before: dict[str, dict[str, int]]) -> str:
        def cell(tube: str, key: str) -> str:
            value = self.counts[tube][key]
            if (tube, key) not in self.changed:
                return f"<td>{value}</td>"
            delta = value - before.get(tube, {}).get(key, 0)
            return f"<td class='stalk-chg'>{value} ({delta:+d})</td>"

        head = "".join(f"<th>{h}</th>" for h in ("tube", *HEADERS))
        rows = "".join(
            f"<tr><td><b>{esc(t)}</b>{' (paused)' if row['paused'] else ''}</td>"
            + "".join(cell(t, k) for k in COLUMNS) + "</tr>" for t, row in self.counts.items())
        stamp = time.strftime("%H:%M:%S")
        return (f"{TABLE_CSS}<div>beanstalkd at {esc(self.address[0])}:{self.address[1]}, read "
                f"at {stamp} (refresh {self.refreshes}); changes since the last read are "
                f"highlighted</div><table class='stalk-t'><tr>{head}</tr>{rows}</table>")

    # ---- auto-refresh --------------------------------------------------------------------
    def _toggle(self, change: dict[str, Any]) -> None:
        if change["new"]:
            self.start()
        else:
            self.stop()

    def start(self) -> None:
        """Refresh every `interval` seconds in a background thread (at most `max_seconds`)."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._poll, name="stalksim-liveview",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop auto-refreshing (and wait for the thread to end)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=self.interval + 5)
        self._thread = None

    def _poll(self) -> None:
        end = time.monotonic() + self.max_seconds
        while not self._stop.wait(self.interval) and time.monotonic() < end:
            self.refresh()
        if not self._stop.is_set():
            self.auto.value = False  # ran out of time: show that it stopped

    def close(self) -> None:
        """Stop the thread and the connection, then close the widget."""
        self.stop()
        with self._lock:
            try:
                self.client.close()
            except OSError:
                pass
        super().close()
