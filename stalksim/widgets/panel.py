"""`ServerPanel`: put, reserve, delete, release, bury, kick and advance time by hand on a
simulated server, seeing the server's state after every action. `snapshot(sim)` is the same
state table on its own, for printing after each step of a lesson."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import greenstalk
import ipywidgets as widgets
from IPython.display import HTML

from stalksim import replies
from stalksim.client import SimClient
from stalksim.core import SEC
from stalksim.simulation import Simulation
from stalksim.trace import STATES
from stalksim.widgets._render import esc, state_tables, table

WORDS = {cls: word for word, cls in replies.EXCEPTIONS.items()}
HINTS = {
    "NOT_FOUND": "no such job, or it is not reserved by this client (only the client holding "
                 "a reserved job may delete, release, bury or touch it)",
    "TIMED_OUT": "no job is ready in the tubes this client watches",
    "DEADLINE_SOON": "a job this client holds is less than a second from its TTR: finish, "
                     "touch or release it first",
    "NOT_IGNORED": "a client must watch at least one tube",
    "JOB_TOO_BIG": "the body is larger than the server's max job size",
    "BAD_FORMAT": "the server could not parse that command (check the numbers)",
}
LOG_LINES = 8


def _secs(ns: int) -> str:
    return f"{ns / SEC:g}s"


def server_state(sim: Simulation) -> tuple[dict[str, dict[str, list[str]]], dict[str, list[str]]]:
    """Each tube's jobs by state (labels like "3 p1024") and what each connection holds."""
    core, now = sim.server, sim.now_ns()
    labels = {name: name + (f" (paused, {_secs(t.unpause_at - now)} left)" if t.pause else "")
              for name, t in core.tube_by_name.items()}
    tubes: dict[str, dict[str, list[str]]] = {lab: {s: [] for s in STATES}
                                              for lab in labels.values()}
    order = {"ready": lambda j: (j.pri, j.id), "delayed": lambda j: (j.deadline, j.id)}
    for state in STATES:
        jobs = [j for j in core.jobs.values() if j.state == state]
        if state == "buried":  # buried jobs come back (kick) in the order they were buried
            jobs = [e[0] for t in core.tube_by_name.values() for e in t.buried
                    if e[0].entry is e]
        for j in sorted(jobs, key=order.get(state, lambda j: j.id)):
            text = f"{j.id} p{j.pri}"
            if state == "delayed":
                text += f" in {_secs(j.deadline - now)}"
            elif state == "reserved":
                text += f" ttr {_secs(j.deadline - now)}"
            tubes[labels[j.tube.name]][state].append(text)
    held = {}
    for c in core.conns.values():
        watching = ",".join(t.name for t in c.watch.items)
        who = f"{c.name} (use {c.use.name}; watch {watching})"
        held[who] = [f"{j.id} ttr {_secs(j.deadline - now)}" for j in c.reserved.values()]
    return tubes, held


def state_html(sim: Simulation) -> str:
    tubes, held = server_state(sim)
    return state_tables(tubes, held, f"server at t = {sim.now:g} s")


def snapshot(sim: Simulation) -> HTML:
    """The simulated server's tubes (jobs by state, with priorities) and connections, as HTML."""
    return HTML(state_html(sim))


def _int(description: str, value: int, width: str = "150px") -> widgets.IntText:
    return widgets.BoundedIntText(value=value, min=0, max=2**32 - 1, description=description,
                                  layout=widgets.Layout(width=width),
                                  style={"description_width": "initial"})


class ServerPanel(widgets.VBox):
    """Buttons and fields to drive a simulated server by hand; the state table follows."""

    def __init__(self, sim: Simulation | None = None,
                 clients: Sequence[str] | Mapping[str, SimClient] = ("producer", "worker"),
                 ) -> None:
        self.sim = sim if sim is not None else Simulation(seed=0)
        if isinstance(clients, Mapping):
            self.clients = dict(clients)
        else:
            self.clients = {n: SimClient(self.sim, name=n) for n in clients}
        self.lines: list[str] = []
        text = {"style": {"description_width": "initial"}}
        self.who = widgets.Dropdown(options=list(self.clients), description="as", **text,
                                    layout=widgets.Layout(width="180px"))
        self.tube = widgets.Text(value="default", description="tube", **text,
                                 layout=widgets.Layout(width="170px"))
        self.body = widgets.Text(value="hello", description="body", **text,
                                 layout=widgets.Layout(width="170px"))
        self.priority = _int("priority", greenstalk.DEFAULT_PRIORITY)
        self.delay = _int("delay", 0, "110px")
        self.ttr = _int("TTR", greenstalk.DEFAULT_TTR, "110px")
        self.watch = widgets.Text(value="default", description="watch", **text,
                                  layout=widgets.Layout(width="220px"),
                                  placeholder="tubes, comma separated")
        self.job = _int("job id", 0, "140px")
        self.bound = _int("kick bound", 1, "140px")
        self.seconds = widgets.BoundedFloatText(value=1.0, min=0, max=1e9, step=1,
                                                description="seconds", **text,
                                                layout=widgets.Layout(width="150px"))
        actions: dict[str, Callable[[SimClient], str]] = {
            "put": self._put, "reserve": self._reserve, "delete": self._delete,
            "release": self._release, "bury": self._bury, "touch": self._touch,
            "kick": self._kick, "kick-job": self._kick_job, "advance": self._advance,
        }
        self.buttons = {name: widgets.Button(description=name.replace("advance", "advance time"),
                                             layout=widgets.Layout(width="auto"))
                        for name in actions}
        for name, action in actions.items():
            self.buttons[name].on_click(lambda _b, a=action, n=name: self.act(n, a))
        self.message = widgets.HTML()
        self.state = widgets.HTML()
        self.history = widgets.HTML()
        b = self.buttons
        super().__init__([
            widgets.HBox([self.who, self.tube, self.body, self.priority, self.delay, self.ttr,
                          b["put"]]),
            widgets.HBox([self.watch, b["reserve"], self.job, b["delete"], b["release"],
                          b["bury"], b["touch"], b["kick-job"]]),
            widgets.HBox([self.bound, b["kick"], self.seconds, b["advance"]]),
            self.message, self.state, self.history])
        self.refresh()

    # ---- actions (each returns what to log) ----------------------------------------------
    def _put(self, c: SimClient) -> str:
        c.use(self.tube.value.strip() or "default")
        jid = c.put(self.body.value, priority=self.priority.value, delay=self.delay.value,
                    ttr=self.ttr.value)
        self.job.value = jid
        return f"put {self.body.value!r} into {c.using()!r} -> job {jid}"

    def _reserve(self, c: SimClient) -> str:
        wanted = [t.strip() for t in self.watch.value.split(",") if t.strip()] or ["default"]
        for t in wanted:
            c.watch(t)
        for t in c.watching():
            if t not in wanted:
                c.ignore(t)
        job = c.reserve(timeout=0)
        self.job.value = job.id
        return f"reserve (watching {','.join(wanted)}) -> job {job.id} {job.body!r}"

    def _held(self) -> greenstalk.Job:
        return greenstalk.Job(self.job.value, "")

    def _delete(self, c: SimClient) -> str:
        c.delete(self.job.value)
        return f"delete {self.job.value}"

    def _release(self, c: SimClient) -> str:
        c.release(self._held(), priority=self.priority.value, delay=self.delay.value)
        return (f"release {self.job.value} (priority {self.priority.value}, "
                f"delay {self.delay.value})")

    def _bury(self, c: SimClient) -> str:
        c.bury(self._held(), priority=self.priority.value)
        return f"bury {self.job.value}"

    def _touch(self, c: SimClient) -> str:
        c.touch(self._held())
        return f"touch {self.job.value} (its TTR starts again)"

    def _kick(self, c: SimClient) -> str:
        c.use(self.tube.value.strip() or "default")
        n = c.kick(self.bound.value)
        return f"kick {self.bound.value} in {c.using()!r} -> {n} job(s) kicked"

    def _kick_job(self, c: SimClient) -> str:
        c.kick_job(self.job.value)
        return f"kick-job {self.job.value}"

    def _advance(self, _c: SimClient) -> str:
        self.sim.advance(self.seconds.value)
        return f"advance time by {self.seconds.value:g} s"

    # ---- plumbing ------------------------------------------------------------------------
    def act(self, name: str, action: Callable[[SimClient], str] | None = None) -> None:
        """Run one action (as if its button were clicked) and show the result."""
        who = self.who.value
        client = self.clients[who]
        try:
            done = (action or getattr(self, "_" + name.replace("-", "_")))(client)
        except greenstalk.Error as e:
            word = WORDS.get(type(e), type(e).__name__)
            self._say(f"{who}: {name} -> {word}: {HINTS.get(word, '')}", error=True)
        except (ValueError, TypeError) as e:
            self._say(f"{who}: {name} -> not sent: {e}", error=True)
        else:
            self._say(f"t={self.sim.now:g}s {who}: {done}")
        self.refresh()

    def _say(self, line: str, *, error: bool = False) -> None:
        colour = "#b00020" if error else "#1b5e20"
        self.message.value = f"<span style='color:{colour}'>{esc(line)}</span>"
        self.lines = [*self.lines, line][-LOG_LINES:]

    def refresh(self) -> None:
        """Redraw the state table and the log from the server as it is now."""
        self.state.value = state_html(self.sim)
        self.history.value = table(["last actions"], [[line] for line in self.lines]) if (
            self.lines) else ""

    def state_text(self) -> str:
        """The state table as plain text (what tests and screen readers read)."""
        tubes, held = server_state(self.sim)
        return repr({"tubes": tubes, "held": held})
