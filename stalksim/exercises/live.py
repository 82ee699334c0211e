"""Lesson 6: going live. The same client code against a real beanstalkd.

In the browser (the JupyterLite course) there is no beanstalkd: `l6-live` says so in its
feedback, and `ex-live-drain` checks the simulator half and says where the live half runs."""

from __future__ import annotations

import socket
import uuid
from typing import Any

import greenstalk

from stalksim import _browser
from stalksim.client import SimClient
from stalksim.exercises._core import (
    Exercise,
    Feedback,
    Hint,
    failed,
    passed,
    plural,
    register,
)
from stalksim.exercises._progress import tick
from stalksim.exercises._sandbox import (
    LearnerError,
    OutOfVirtualTime,
    call,
    guard,
    learner_function,
)
from stalksim.live import default_address
from stalksim.simulation import Simulation, WouldWaitForever

START_BEANSTALKD = Hint(
    "start a beanstalkd first. Debian/Ubuntu: `sudo apt-get install beanstalkd`, then "
    "`beanstalkd -l 127.0.0.1 -p 11300 &`; macOS: `brew install beanstalkd`, then the same "
    "command; on Binder, the `start` script already runs one on 127.0.0.1:11300. Then make a "
    "new client, with that address.",
    "start a beanstalkd first. Debian/Ubuntu: `sudo apt-get install beanstalkd`, then "
    "`beanstalkd -l 127.0.0.1 -p 11300 &`; macOS: `brew install beanstalkd`, then the same "
    "command; on Binder, the `start` script already runs one on 127.0.0.1:11300. Then make a "
    "new client: `greenstalk.Client((\"127.0.0.1\", 11300))`.")
IN_BROWSER = f"this check needs {_browser.NO_BEANSTALKD}"
SIM_HINT = Hint("that's still the simulator: a live server needs a greenstalk client made "
                "with the server's address (host and port) instead of the simulation's "
                "client; lesson 6 shows the one line to change.",
                "that's still the simulator: change sim.client() to greenstalk.Client((host, "
                "port)), e.g. greenstalk.Client((\"127.0.0.1\", 11300)).")


L6_TUBE, L6_PRIORITY = "l6-exercise", 10
#: How many of the newest job ids the check looks through for the learner's job.
SCAN = 5000


def held_jobs(client: greenstalk.Client, inspector: greenstalk.Client, tube: str,
              wanted: int) -> list[int]:
    """Ids of jobs in `tube` reserved by `client` (only the holder may touch a reserved job),
    looking at the newest SCAN job ids until `wanted` reserved jobs of the tube were seen."""
    inspector.use(f"stalksim-check-{uuid.uuid4().hex[:12]}")
    newest = inspector.put(b"probe" if inspector.encoding is None else "probe")
    inspector.delete(newest)
    seen, mine = 0, []
    for jid in range(newest - 1, max(0, newest - 1 - SCAN), -1):
        tick((newest - jid) / SCAN, "asking the live server about its newest jobs")
        try:
            stats = inspector.stats_job(jid)
        except greenstalk.NotFoundError:
            continue
        if stats["tube"] != tube or stats["state"] != "reserved":
            continue
        seen += 1
        try:
            client.touch(greenstalk.Job(jid, b""))
            mine.append(jid)
        except greenstalk.NotFoundError:
            pass
        if seen >= wanted:
            break
    return mine


def judge_live(ex: str, client: greenstalk.Client, where: str) -> Feedback:
    """Does `client` hold a job it put into L6_TUBE with L6_PRIORITY? Delete it if so."""
    with greenstalk.Client(client._address) as inspector:
        try:
            stats = inspector.stats_tube(L6_TUBE)
        except greenstalk.NotFoundError:
            return failed(ex, f"there is no tube `{L6_TUBE}` on the server: no job was put "
                          f"there (or it was deleted and nobody uses or watches the tube).",
                          Hint("with your client, use the tube the instructions name and put "
                               "a job there, with the priority they give.",
                               f"with your client: client.use(\"{L6_TUBE}\"), then "
                               f"client.put(body, priority={L6_PRIORITY})."))
        reserved, ready = stats["current-jobs-reserved"], stats["current-jobs-ready"]
        mine = held_jobs(client, inspector, L6_TUBE, reserved) if reserved else []
        pri = {j: inspector.stats_job(j)["pri"] for j in mine}
    if not mine:
        state = (f"{plural(reserved, 'job')} reserved by another connection" if reserved
                 else f"{plural(ready, 'ready job')} and none reserved")
        mine_no_more = (" A job you reserved and then deleted or released is no longer yours."
                        if ready or not reserved else "")
        return failed(ex, f"your client holds no job from `{L6_TUBE}` (the tube has {state}).",
                      Hint("the check looks for a job that your client holds: with the "
                           "client you give as the answer, watch that tube and reserve the job, "
                           "and do not delete it before the check." + mine_no_more,
                           f"reserve the job with the client you give as the answer: "
                           f"client.watch(\"{L6_TUBE}\"), then job = "
                           f"client.reserve(timeout=5); do not delete it before the check."
                           + mine_no_more))
    good = [j for j in mine if pri[j] == L6_PRIORITY]
    if not good:
        held = ", ".join(f"job {j} (priority {pri[j]})" for j in mine)
        return failed(ex, f"your client holds {held} from `{L6_TUBE}`: the priority is not "
                      f"{L6_PRIORITY}.",
                      Hint("put the job with the priority the instructions give; release "
                           "or delete the job you hold first.",
                           f"put the job with priority={L6_PRIORITY}; release the job you hold "
                           f"first, or delete it."),
                      right="Your client reserved a job from the live server.")
    client.delete(good[0])
    return passed(ex, f"Right: your client holds job {good[0]} of `{L6_TUBE}`, priority "
                  f"{L6_PRIORITY}, reserved on {where}; the check deleted it for you.")


def check_live(answer: Any) -> Feedback:
    ex = "l6-live"
    if isinstance(answer, SimClient):
        return failed(ex, "this client talks to the simulated server, not a live beanstalkd.",
                      SIM_HINT)
    if not isinstance(answer, greenstalk.Client):
        return failed(ex, f"the answer must be a greenstalk.Client, not "
                      f"{type(answer).__name__}.", Hint(
                          "the answer is a greenstalk client connected to the live server.",
                          "answer = greenstalk.Client((host, port))."))
    if _browser.in_browser():
        return failed(ex, IN_BROWSER + ".", f"open lesson 6 {_browser.elsewhere()}.")
    try:
        version = answer.stats().get("version", "?")
        address = answer._address
        at = f"{address[0]}:{address[1]}" if isinstance(address, tuple) else str(address)
        return judge_live(ex, answer, f"the live server at {at} (beanstalkd {version})")
    except (OSError, greenstalk.TimedOutError) as e:
        return failed(ex, f"the client cannot talk to its server ({type(e).__name__}: {e}).",
                      START_BEANSTALKD)


register(Exercise(
    "l6-live", 6, "Going live",
    f"""Connect to a live server and do one job's round on it: the same greenstalk code as in
the simulator, with one line changed.

With a `greenstalk.Client` connected to a live beanstalkd (or to `stalksim serve`):

1. `use` the tube `{L6_TUBE}` and put a job into it with priority {L6_PRIORITY} (any body);
2. `watch` `{L6_TUBE}` and reserve that job, and keep it: do not delete it yet.

**Answer:** that client. The check asks the server which job of `{L6_TUBE}` your client holds
(only the connection that reserved a job may `touch` it), checks its priority, and deletes it
for you. The address comes from `BEANSTALKD_HOST` / `BEANSTALKD_PORT` where those are set
(127.0.0.1:11300 otherwise).""",
    "import stalksim\n\nsim = stalksim.Simulation()\nclient = sim.client()  # change this line\n"
    "answer = client\n",
    f"""import os

import greenstalk

address = (os.environ.get("BEANSTALKD_HOST", "127.0.0.1"),
           int(os.environ.get("BEANSTALKD_PORT", "11300")))
client = greenstalk.Client(address)
client.use("{L6_TUBE}")
client.put("my first live job", priority={L6_PRIORITY})
client.watch("{L6_TUBE}")
client.ignore("default")   # reserve from {L6_TUBE} only
job = client.reserve(timeout=5)
answer = client
""",
    check_live,
    explanation="SimClient is a greenstalk.Client; greenstalk.Client((host, port)) is the "
                "same API over TCP: use, put, watch and reserve do the same on a live server."))


# ---- ex-live-drain ------------------------------------------------------------------------------
class _WatchedClient(SimClient):
    """A SimClient that remembers blocking reserves the simulator had to cut short."""

    horizon = 3600.0

    def __init__(self, sim: Simulation, **kwargs: Any) -> None:
        super().__init__(sim, **kwargs)
        self.would_hang = False

    def reserve(self, timeout: int | None = None) -> greenstalk.Job:
        if self._sim.now > self.horizon:
            raise OutOfVirtualTime(f"your code was still reserving after {self.horizon:g} "
                                   f"virtual seconds")
        try:
            return super().reserve(timeout)
        except WouldWaitForever:
            self.would_hang = self.would_hang or timeout is None
            raise


BODIES = ["m1", "m2", "m3", "m4"]


def _drain_sim(drain: Any) -> tuple[Any, _WatchedClient, dict[str, Any]]:
    sim = Simulation(seed=0, max_wait=600.0, max_events=100_000)
    producer = sim.client(use="inbox")
    for body in BODIES:
        producer.put(body)
    client = _WatchedClient(sim, watch="inbox")
    with guard():
        try:
            got = call(drain, client, what="Your drain()")
        except OutOfVirtualTime as e:
            err = LearnerError(f"{e}: your drain() never stops once the tube is empty.")
            err.hint = Hint("an empty tube is the signal to stop: when a reserve finds no "
                            "job, return what you have instead of trying again.",
                            "when reserve(timeout=0) raises greenstalk.TimedOutError, the tube "
                            "is empty: return then instead of trying again.")
            raise err from None
    return got, client, producer.stats_tube("inbox")


def _drain_live(drain: Any, address: tuple[str, int]) -> str:
    """Run `drain` on a private tube of the live server; '' if it gave the right bodies."""
    tube = f"stalksim-drain-{uuid.uuid4().hex[:12]}"
    with greenstalk.Client(address, use=tube, watch=tube) as client:
        client._sock.settimeout(10)
        for body in BODIES:
            client.put(body)
        with guard(seconds=15):
            got = call(drain, client, what="Your drain() on the live server")
        left = client.stats_tube(tube)["current-jobs-ready"] if tube in client.tubes() else 0
    if got != BODIES or left:
        return f"on the live server it returned {got!r:.60} and left {left} jobs ready"
    return ""


def _reachable(address: tuple[str, int]) -> bool:
    try:
        with socket.create_connection(address, timeout=0.5):
            return True
    except OSError:
        return False


def check_drain(answer: Any) -> Feedback:
    ex = "ex-live-drain"
    bad = learner_function(ex, answer, "drain(client)")
    if bad is not None:
        return bad
    try:
        got, client, stats = _drain_sim(answer)
    except LearnerError as e:
        if isinstance(e.exc, WouldWaitForever):
            return failed(ex, e.message, Hint(
                "a reserve without a timeout waits for ever on an empty tube: ask for a job in "
                "a way that answers at once when none is ready, and stop then.",
                "reserve() without a timeout waits for ever on an empty tube; use "
                "reserve(timeout=0) and stop on greenstalk.TimedOutError."))
        raise
    if client.would_hang:
        return failed(ex, "your drain() calls reserve() without a timeout when the tube is "
                      "empty: the simulator cut it short, but a real beanstalkd would keep "
                      "it waiting for ever.", Hint(
                          "on a real server a reserve without a timeout never returns from an "
                          "empty tube: ask for a job in a way that answers at once when none "
                          "is ready.", "use reserve(timeout=0): it answers TIMED_OUT at once "
                          "when no job is ready."))
    if not isinstance(got, list) or got != BODIES:
        return failed(ex, f"drain() returned {got!r:.80}, but the tube held "
                      f"{len(BODIES)} ready jobs: it should return all their bodies, in the "
                      f"order it reserved them.", Hint(
                          "drain should return what it took: the body of every job it "
                          "reserved, in order, collected as it goes.",
                          "append job.body for each job you reserve, and return the list."))
    held = stats["current-jobs-reserved"]
    if held:
        return failed(ex, f"{held} jobs are still reserved after drain(): you did not delete "
                      f"them.", Hint("on a live server a job that is not deleted comes back "
                                     "to someone else when its TTR runs out.",
                                     "delete each job after taking its body; on a live server "
                                     "an undeleted job comes back to someone else when its TTR "
                                     "runs out."),
                      right="The bodies are right.")
    if _browser.in_browser():
        return passed(ex, f"Right on the simulator. The live half of {IN_BROWSER}: run this "
                      f"exercise on Binder or on your own machine (see its first cell).")
    address = default_address()
    if not _reachable(address):
        return passed(ex, f"Right on the simulator. No live beanstalkd answered at "
                      f"{address[0]}:{address[1]}, so the live run was skipped: "
                      f"{START_BEANSTALKD.recipe}")
    try:
        live = _drain_live(answer, address)
    except OSError as e:
        return failed(ex, f"the live run failed ({type(e).__name__}: {e}).", START_BEANSTALKD)
    if live:
        return failed(ex, live + ".", "the same code should behave the same on both servers.",
                      right="Right on the simulator.")
    return passed(ex, f"Right: the same drain() emptied a tube on the simulator and on the "
                  f"live beanstalkd at {address[0]}:{address[1]}.")


register(Exercise(
    "ex-live-drain", 6, "Code that runs on both servers",
    """Write `drain(client)`: reserve every job the client can get **without ever blocking**,
delete each one, and return the list of their bodies in order. It must work unchanged on the
simulator and on a live beanstalkd, so it cannot rely on the simulator telling it that a
`reserve()` would wait for ever.

The check runs it on a simulated `inbox` tube, then on a private tube of the live server at
`BEANSTALKD_HOST:BEANSTALKD_PORT` (127.0.0.1:11300 by default) if one answers.""",
    "import greenstalk\n\n\ndef drain(client):\n    bodies = []\n    job = client.reserve()\n"
    "    bodies.append(job.body)\n    return bodies\n\n\nanswer = drain\n",
    "import greenstalk\n\n\ndef drain(client):\n    bodies = []\n    while True:\n"
    "        try:\n            job = client.reserve(timeout=0)\n"
    "        except greenstalk.TimedOutError:\n            return bodies\n"
    "        bodies.append(job.body)\n        client.delete(job)\n\n\nanswer = drain\n",
    check_drain,
    explanation="reserve(timeout=0) returns a job or raises TimedOutError at once, on both "
                "servers; deleting each job keeps it from coming back after its TTR."))
