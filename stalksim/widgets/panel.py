"""`ServerPanel`: drive a simulated server by hand (put, reserve, delete, release, bury, kick,
touch, stats-job, advance time, crash or hang a client) and, if asked, see the protocol lines
each action sent and got back; `snapshot(sim)`: its state as HTML, for each step of a lesson,
with connections named after the learner's variables."""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from types import FrameType
from typing import Any

import greenstalk
import ipywidgets as widgets
from IPython.display import HTML

from stalksim.client import EXCEPTIONS, SimClient
from stalksim.core import SEC
from stalksim.palette import ERROR, OK
from stalksim.simulation import Simulation
from stalksim.trace import STATES
from stalksim.widgets._render import esc, state_tables, table
from stalksim.widgets.wirepane import WirePane
from stalksim.widgets.wording import at, be, count, job_list, why_timed_out
from stalksim.wiretap import WireClient

WORDS = {cls: word for word, cls in EXCEPTIONS.items()}
_OWNER_ONLY = ("this connection has not reserved job {job}: release, bury and touch work only "
               "on a job reserved by this connection (once its TTR runs out the job is ready "
               "again, or another connection may have reserved it)")
_TUBE_NAME = ("not a valid tube name: 1 to 200 letters, digits and - + / ; . $ _ ( ), not "
              "starting with -")
#: What an error reply means, per command (each one checked against a real beanstalkd 1.12
#: in tests/test_panel_hints.py).
HINTS: dict[tuple[str, str], str] = {
    ("delete", "NOT_FOUND"): "job {job} does not exist, or another connection has it reserved "
                             "(any client may delete a ready, delayed or buried job; a reserved "
                             "job only the connection that reserved it)",
    ("release", "NOT_FOUND"): _OWNER_ONLY,
    ("bury", "NOT_FOUND"): _OWNER_ONLY,
    ("touch", "NOT_FOUND"): _OWNER_ONLY,
    ("kick-job", "NOT_FOUND"): "job {job} is not buried or delayed, or does not exist (kick-job "
                               "moves one buried or delayed job, in any tube, to ready)",
    ("reserve", "TIMED_OUT"): "no job is ready in the tubes this client watches (another "
                              "client holds it, its delay has not run out, its tube is paused, "
                              "it is buried, or it is in a tube not watched)",
    ("reserve", "DEADLINE_SOON"): "a job this client holds is less than a second from its "
                                  "TTR: delete, touch or release it first",
    ("reserve", "BAD_FORMAT"): _TUBE_NAME,
    ("put", "BAD_FORMAT"): _TUBE_NAME,
    ("kick", "BAD_FORMAT"): _TUBE_NAME,
    ("put", "JOB_TOO_BIG"): "the body is larger than the server's max job size (65535 bytes "
                            "unless beanstalkd was started with -z)",
    ("stats-job", "NOT_FOUND"): "job {job} does not exist (stats-job answers for a job in any "
                                "state and any tube, reserved by anyone)",
}
LOG_LINES = 8
#: Buttons never shrink below their label: about this many pixels per character, plus padding.
CHAR_PX, BUTTON_PAD_PX, ICON_PX = 8, 30, 20


def hint(command: str, word: str, job: int = 0) -> str:
    """What `word` means as the reply to `command` (empty when there is nothing to add)."""
    return HINTS.get((command, word), "").format(job=job)


def _secs(ns: int) -> str:
    return f"{ns / SEC:g}s"


def server_state(sim: Simulation, labels: Mapping[int, str] | None = None,
                 ) -> tuple[dict[str, dict[str, list[str]]], dict[str, list[str]]]:
    """Each tube's jobs by state (labels like "3 p1024") and what each connection holds;
    `labels` names connections by number (else their own name)."""
    snap, now = sim.server.snapshot(), sim.now_ns()
    labels = labels or {}
    tube_labels = {name: name + (f" (paused, {_secs(t.paused_until - now)} left)"
                                 if t.paused_until is not None else "")
                   for name, t in snap.tubes.items()}
    when = {"delayed": " in ", "reserved": " ttr "}
    tubes = {tube_labels[name]: {  # each state in the server's own order
        state: [f"{j.id} p{j.pri}" + (f"{when[state]}{_secs(j.deadline - now)}"
                                      if state in when else "") for j in getattr(t, state)]
        for state in STATES} for name, t in snap.tubes.items()}
    held = {}
    for c in snap.conns.values():
        who = f"{labels.get(c.number, c.name)} (use {c.use}; watch {','.join(c.watch)})"
        held[who] = [f"{j.id} ttr {_secs(j.deadline - now)}" for j in c.reserved]
    return tubes, held


def state_html(sim: Simulation, labels: Mapping[int, str] | None = None) -> str:
    tubes, held = server_state(sim, labels)
    return state_tables(tubes, held, f"server at t = {sim.now:g} s")


def client_names(sim: Simulation, frame: FrameType | None = None) -> dict[int, str]:
    """Connection number -> the variable naming its client, for `sim`'s clients that carry no
    name of their own: the caller's locals, its globals, then the IPython user namespace."""
    spaces: list[Mapping[str, Any]] = []
    if frame is not None:
        spaces += [frame.f_locals, frame.f_globals]
    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    if shell is not None:
        spaces.append(shell.user_ns)
    names: dict[int, str] = {}
    for space in spaces:
        for var, value in list(space.items()):
            if (isinstance(value, SimClient) and value._sim is sim and not var.startswith("_")
                    and value._conn.name == f"conn-{value._conn.number}"):
                names.setdefault(value._conn.number, var)
    return names


def snapshot(sim: Simulation, names: Mapping[str, SimClient] | None = None) -> HTML:
    """The simulated server's tubes (jobs by state, with priorities) and connections, as HTML.

    Connections are labelled by the variables that hold their clients (`producer =
    sim.client()` shows as "producer"), or by `names` ({"label": client}) when given;
    `conn-N` when nothing names them."""
    if names is None:
        labels = client_names(sim, sys._getframe(1))
    else:
        labels = {c._conn.number: label for label, c in names.items()}
    return HTML(state_html(sim, labels))


def _fit(label: str, *, icon: bool = False) -> str:
    return f"{CHAR_PX * len(label) + BUTTON_PAD_PX + (ICON_PX if icon else 0)}px"


def _box(children: Sequence[widgets.Widget]) -> widgets.HBox:
    """A row that wraps onto the next line instead of squeezing or clipping its controls."""
    return widgets.HBox(list(children), layout=widgets.Layout(
        flex_flow="row wrap", align_items="center", width="100%"))


def _field(kind: type, description: str, width: str, **kw: Any) -> widgets.Widget:
    return kind(description=description, style={"description_width": "initial"},
                layout=widgets.Layout(width=width, min_width=width, flex="0 0 auto"), **kw)


def _int(description: str, value: int, width: str) -> widgets.Widget:
    return _field(widgets.BoundedIntText, description, width, value=value, min=0,
                  max=2**32 - 1)


class ServerPanel(widgets.VBox):
    """Buttons and fields to drive a simulated server by hand; the state table follows.

    "crash" closes the chosen client's connection (its reserved jobs are ready again at once)
    and puts a fresh connection under the same name; "hang" stops the client with its
    connection open (its jobs stay reserved until their TTR) until "wake".

    "show the wire" (or `wire=True`) shows, for each action, the protocol lines its client sent
    and the server's replies. The panel's own clients are `WireClient`s: each of their calls
    goes as bytes through greenstalk's code into the simulated server, and what crossed is
    recorded. Clients passed in a mapping are shown as given (their bytes are not recorded
    unless they are WireClients).
    """

    def __init__(self, sim: Simulation | None = None,
                 clients: Sequence[str] | Mapping[str, SimClient] = ("producer", "worker"),
                 *, wire: bool = False) -> None:
        self.sim = sim if sim is not None else Simulation(seed=0)
        if isinstance(clients, Mapping):
            self.clients = dict(clients)
        else:
            self.clients = {n: WireClient(self.sim, name=n) for n in clients}
        self.hung: dict[str, list[tuple[int, str]]] = {}  # who -> jobs held when it hung
        self.lines: list[str] = []
        self.who = _field(widgets.Dropdown, "as", "190px", options=list(self.clients))
        self.tube = _field(widgets.Text, "tube", "170px", value="default")
        self.body = _field(widgets.Text, "body", "170px", value="hello")
        self.priority = _int("priority", greenstalk.DEFAULT_PRIORITY, "160px")
        self.delay = _int("delay", 0, "120px")
        self.ttr = _int("TTR", greenstalk.DEFAULT_TTR, "120px")
        self.watch = _field(widgets.Text, "watch", "230px", value="default",
                            placeholder="tubes, comma separated")
        self.job = _int("job id", 0, "140px")
        self.bound = _int("kick bound", 1, "150px")
        self.seconds = _field(widgets.BoundedFloatText, "seconds", "150px", value=1.0, min=0,
                              max=1e9, step=1)
        actions: dict[str, Callable[[SimClient], str]] = {
            "put": self._put, "reserve": self._reserve, "delete": self._delete,
            "release": self._release, "bury": self._bury, "touch": self._touch,
            "kick": self._kick, "kick-job": self._kick_job, "stats-job": self._stats_job,
            "advance": self._advance, "crash": self._crash, "hang": self._hang,
            "wake": self._wake,
        }
        self.buttons: dict[str, widgets.Button] = {}
        for name, action in actions.items():
            label = "advance time" if name == "advance" else name
            button = widgets.Button(description=label, tooltip=label, layout=widgets.Layout(
                width="auto", min_width=_fit(label), flex="0 0 auto"))
            button.on_click(lambda _b, a=action, n=name: self.act(n, a))
            self.buttons[name] = button
        self.wire = WirePane(wire, _fit(WirePane.LABEL, icon=True))
        self.message = widgets.HTML()
        self.state = widgets.HTML()
        self.history = widgets.HTML()
        b = self.buttons
        super().__init__([
            _box([self.who, b["crash"], b["hang"], b["wake"], self.wire.toggle]),
            _box([self.tube, self.body, self.priority, self.delay, self.ttr, b["put"]]),
            _box([self.watch, b["reserve"], self.job, b["delete"], b["release"], b["bury"],
                  b["touch"], b["kick-job"], b["stats-job"]]),
            _box([self.bound, b["kick"], self.seconds, b["advance"]]),
            self.message, self.wire.html, self.state, self.history],
            layout=widgets.Layout(width="100%"))
        self.refresh()

    # ---- actions (each returns what to log) ----------------------------------------------
    def _use(self, c: SimClient) -> str:
        """Use the tube in the tube field (sending `use` only when it is another tube)."""
        tube = self.tube.value.strip() or "default"
        if c._conn.use is None or c._conn.use.name != tube:
            c.use(tube)
        return tube

    def _put(self, c: SimClient) -> str:
        tube = self._use(c)
        jid = c.put(self.body.value, priority=self.priority.value, delay=self.delay.value,
                    ttr=self.ttr.value)
        self.job.value = jid
        return f"put {self.body.value!r} into {tube!r} -> job {jid}"

    def _reserve(self, c: SimClient) -> str:
        """Watch the tubes in the watch field (and only those), then reserve with timeout 0;
        watch and ignore are sent only for the tubes that change."""
        wanted = [t.strip() for t in self.watch.value.split(",") if t.strip()] or ["default"]
        have = [t.name for t in c._conn.watch]
        for t in wanted:
            if t not in have:
                c.watch(t)
        for t in have:
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
        tube = self._use(c)
        n = c.kick(self.bound.value)
        return f"kick {self.bound.value} in {tube!r} -> {count(n, 'job')} kicked"

    def _kick_job(self, c: SimClient) -> str:
        c.kick_job(self.job.value)
        return f"kick-job {self.job.value}"

    def _stats_job(self, c: SimClient) -> str:
        s = c.stats_job(self.job.value)
        return (f"stats-job {self.job.value} -> {s['state']} in {s['tube']!r}, priority "
                f"{s['pri']}, time-left {s['time-left']} s, {count(s['reserves'], 'reserve')}, "
                f"{count(s['timeouts'], 'timeout')}")

    def _advance(self, _c: SimClient) -> str:
        self.sim.advance(self.seconds.value)
        return f"advance time by {self.seconds.value:g} s"

    # ---- faults: crash, hang, wake -------------------------------------------------------
    def _holding(self, c: SimClient) -> list[tuple[int, str]]:
        return [(j.id, j.tube.name) for j in c._conn.reserved.values()]

    def _mark(self, c: SimClient, cause: str, jobs: list[tuple[int, str]]) -> None:
        for jid, tube in jobs or [(0, "")]:  # as simulated workers do: one mark per job
            self.sim.mark(c.name, cause, jid, tube)

    def _crash(self, c: SimClient) -> str:
        who, jobs = self.who.value, self._holding(c)
        self._mark(c, "crash", jobs)
        c.close()  # a dead process's socket closes: beanstalkd makes its jobs ready at once
        self.clients[who] = WireClient(self.sim, name=c.name)
        self.hung.pop(who, None)
        ids = [j for j, _ in jobs]
        lost = (f"holding {job_list(ids)}: its connection closed, so {job_list(ids)} "
                f"{be(ids)} ready again at once" if ids else
                "holding no job: its connection closed")
        return (f"crashed {lost}; {who!r} is now a fresh connection (same name, "
                f"watching default, holding nothing)")

    def _hang(self, c: SimClient) -> str:
        who, jobs = self.who.value, self._holding(c)
        self._mark(c, "hang", jobs)
        self.hung[who] = jobs
        now = self.sim.now_ns()
        held = "; ".join(f"job {j.id} stays reserved until its TTR runs out in "
                         f"{_secs(j.deadline - now)}, at {at(j.deadline + 1)}"
                         for j in c._conn.reserved.values())
        return (f"hangs with its connection open ({held or 'it holds no job'}); it does "
                f"nothing until you press wake")

    def _wake(self, c: SimClient) -> str:
        who = self.who.value
        if who not in self.hung:
            raise ValueError(f"{who} is not hung")
        jobs = self.hung.pop(who)
        self._mark(c, "wake", jobs)
        mine = set(c._conn.reserved)
        kept = [j for j, _ in jobs if j in mine]
        lost = [j for j, _ in jobs if j not in mine]
        out = "wakes up"
        if kept:
            out += f"; it still holds {job_list(kept)}"
        if lost:
            ttr = "its TTR" if len(lost) == 1 else "their TTRs"
            out += (f"; {job_list(lost)} {be(lost)} no longer reserved by it ({ttr} ran "
                    f"out): release, bury or touch would say NOT_FOUND")
        return out

    # ---- plumbing ------------------------------------------------------------------------
    def act(self, name: str, action: Callable[[SimClient], str] | None = None) -> None:
        """Run one action (as if its button were clicked) and show the result."""
        who = self.who.value
        client = self.clients[who]
        if who in self.hung and name not in ("wake", "crash", "advance"):
            self._say(f"{who}: {name} -> not sent: {who} is hung (it sends nothing until you "
                      f"press wake; crash kills it)", error=True)
            self.wire.add(self._title(who, name), name, client, who,
                          f"nothing sent: {who} is hung")
            self.refresh()
            return
        job = self.job.value
        try:
            done = (action or getattr(self, "_" + name.replace("-", "_")))(client)
        except greenstalk.Error as e:
            word = WORDS.get(type(e), type(e).__name__)
            self._say(f"{who}: {name} -> {word}: {self._why(name, word, job, client)}",
                      error=True)
        except (ValueError, TypeError) as e:
            self._say(f"{who}: {name} -> not sent: {e}", error=True)
        else:
            self._say(f"t={self.sim.now:g}s {who}: {done}")
        self.wire.add(self._title(who, name), name, client, who)
        self.refresh()

    def _why(self, name: str, word: str, job: int, c: SimClient) -> str:
        """What the error `word` means here: for a reserve that timed out, where the jobs are
        (who holds which until when, read from the server); else the command's hint."""
        if (name, word) != ("reserve", "TIMED_OUT"):
            return hint(name, word, job)
        names = {x._conn.number: who for who, x in self.clients.items()}
        hung = {self.clients[who]._conn.number for who in self.hung}
        return why_timed_out(self.sim.server.snapshot(), c._conn.number, names, hung)

    def _title(self, who: str, name: str) -> str:
        return f"t={self.sim.now:g}s {who}: {name}"

    def _say(self, line: str, *, error: bool = False) -> None:
        colour = ERROR if error else OK
        self.message.value = f"<span style='color:{colour}'>{esc(line)}</span>"
        self.lines = [*self.lines, line][-LOG_LINES:]

    def labels(self) -> dict[int, str]:
        """Connection number -> the name this panel shows (a hung client says so)."""
        return {c._conn.number: who + (" [hung]" if who in self.hung else "")
                for who, c in self.clients.items()}

    def refresh(self) -> None:
        """Redraw the state table and the log from the server as it is now."""
        self.state.value = state_html(self.sim, self.labels())
        self.history.value = table(["last actions"], [[line] for line in self.lines]) if (
            self.lines) else ""

    def state_text(self) -> str:
        """The state table as plain text (what tests and screen readers read)."""
        tubes, held = server_state(self.sim, self.labels())
        return repr({"tubes": tubes, "held": held})
