"""Lesson 6: going live. The same client code against a real beanstalkd."""

from __future__ import annotations

import os
import socket
import uuid
from typing import Any

import greenstalk

from stalksim.client import SimClient
from stalksim.exercises._core import Exercise, Feedback, failed, listing, passed, register
from stalksim.exercises._sandbox import LearnerError, OutOfVirtualTime, call, check_callable, guard
from stalksim.simulation import Simulation, WouldWaitForever

START_BEANSTALKD = (
    "start a beanstalkd first. Debian/Ubuntu: `sudo apt-get install beanstalkd`, then "
    "`beanstalkd -l 127.0.0.1 -p 11300 &`; macOS: `brew install beanstalkd`, then the same "
    "command; on Binder, the `start` script already runs one on 127.0.0.1:11300. Then make a "
    "new client: `greenstalk.Client((\"127.0.0.1\", 11300))`.")
SIM_HINT = ("that's still the simulator: change sim.client() to greenstalk.Client((host, "
            "port)), e.g. greenstalk.Client((\"127.0.0.1\", 11300)).")


def live_address() -> tuple[str, int]:
    """BEANSTALKD_HOST / BEANSTALKD_PORT, or 127.0.0.1:11300."""
    return (os.environ.get("BEANSTALKD_HOST", "127.0.0.1"),
            int(os.environ.get("BEANSTALKD_PORT", "11300")))


def is_simulated(client: greenstalk.Client) -> bool:
    """A SimClient, or a client talking to `stalksim serve` (the simulator on the wire)."""
    return isinstance(client, SimClient) or client.stats().get("os") == "stalksim"


def round_trip(client: greenstalk.Client) -> str:
    """Put, reserve and delete one job in a private tube; restore use/watch; '' if it worked."""
    tube = f"stalksim-check-{uuid.uuid4().hex[:12]}"
    used, watched = client.using(), client.watching()
    text = f"hello from {tube}"
    body: Any = text if client.encoding else text.encode()
    try:
        client.use(tube)
        client.watch(tube)
        for t in watched:
            if t != tube:
                client.ignore(t)
        jid = client.put(body, ttr=30)
        job = client.reserve(timeout=5)
        client.delete(job)
        if job.id != jid or job.body != body:
            return f"reserved job {job.id} ({job.body!r:.40}), not the job just put ({jid})"
        return ""
    finally:
        client.use(used)
        for t in watched:
            client.watch(t)
        client.ignore(tube)


def check_live(answer: Any) -> Feedback:
    ex = "l6-live"
    if isinstance(answer, SimClient):
        return failed(ex, "this client talks to the simulated server, not a live beanstalkd.",
                      SIM_HINT)
    if not isinstance(answer, greenstalk.Client):
        return failed(ex, f"the answer must be a greenstalk.Client, not "
                      f"{type(answer).__name__}.", "answer = greenstalk.Client((host, port)).")
    try:
        if is_simulated(answer):
            return failed(ex, "this client talks to `stalksim serve`, the simulator on the "
                          "wire, not a real beanstalkd.", SIM_HINT)
        problem = round_trip(answer)
    except (OSError, greenstalk.TimedOutError) as e:
        return failed(ex, f"the client cannot talk to its server ({type(e).__name__}: {e}).",
                      START_BEANSTALKD)
    if problem:
        return failed(ex, f"the round trip went wrong: {problem}.", "use a fresh client that "
                      "holds no reserved jobs, and run the check again.")
    version = answer.stats().get("version", "?")
    return passed(ex, f"Right: put, reserve and delete worked on a live beanstalkd "
                  f"(version {version}), in a private tube that is gone again.")


register(Exercise(
    "l6-live", 6, "Going live",
    """Connect to a real beanstalkd: the same greenstalk code, one line changed.

**Answer:** a `greenstalk.Client` connected to a live beanstalkd. The check puts, reserves and
deletes one job in a private tube of its own (and leaves your client's tubes as they were).
The address comes from `BEANSTALKD_HOST` / `BEANSTALKD_PORT` where those are set
(127.0.0.1:11300 otherwise).""",
    "import stalksim\n\nsim = stalksim.Simulation()\nanswer = sim.client()  # change this line\n",
    "import os\n\nimport greenstalk\n\naddress = (os.environ.get(\"BEANSTALKD_HOST\", "
    "\"127.0.0.1\"), int(os.environ.get(\"BEANSTALKD_PORT\", \"11300\")))\n"
    "answer = greenstalk.Client(address)\n",
    check_live,
    explanation="SimClient is a greenstalk.Client; greenstalk.Client((host, port)) is the "
                "same API over TCP."))


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
            err.hint = ("when reserve(timeout=0) raises greenstalk.TimedOutError, the tube is "
                        "empty: return then instead of trying again.")
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
    problem = check_callable(answer, "drain(client)", 1)
    if problem:
        return failed(ex, problem + ".", "define `def drain(client): ...` and set "
                      "`answer = drain`.")
    try:
        got, client, stats = _drain_sim(answer)
    except LearnerError as e:
        if isinstance(e.exc, WouldWaitForever):
            return failed(ex, e.message, "reserve() without a timeout waits for ever on an "
                          "empty tube; use reserve(timeout=0) and stop on "
                          "greenstalk.TimedOutError.")
        raise
    if client.would_hang:
        return failed(ex, "your drain() calls reserve() without a timeout when the tube is "
                      "empty: the simulator cut it short, but a real beanstalkd would keep "
                      "it waiting for ever.", "use reserve(timeout=0): it answers TIMED_OUT "
                      "at once when no job is ready.")
    if not isinstance(got, list) or got != BODIES:
        return failed(ex, f"drain() returned {got!r:.80}, expected the bodies "
                      f"{listing(BODIES)} in order.", "append job.body for each job you "
                      "reserve, and return the list.")
    held = stats["current-jobs-reserved"]
    if held:
        return failed(ex, f"{held} jobs are still reserved after drain(): you did not delete "
                      f"them.", "delete each job after taking its body; on a live server an "
                      "undeleted job comes back to someone else when its TTR runs out.",
                      right="The bodies are right.")
    address = live_address()
    if not _reachable(address):
        return passed(ex, f"Right on the simulator. No live beanstalkd answered at "
                      f"{address[0]}:{address[1]}, so the live run was skipped: "
                      f"{START_BEANSTALKD}")
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
