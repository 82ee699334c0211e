"""A worker process's main: the lesson's consumer, alone in its own process.

    python -m stalksim.live.child FD NAME TUBE WORK

`stalksim.live.WorkerProcess` starts this, handing it FD: a connection to beanstalkd that the
parent opened (see `stalksim.live.process` for why). It runs the consumer written once
(`stalksim.consumer`, a `stalksim.workers.Worker` doing `WORK` seconds per job) with the
real-time driver of `stalksim.live.driver`, on that connection, watching TUBE. Each step it
takes is reported to the parent on stdout, one JSON object a line, with its `time.monotonic()`
(one clock for every process on the machine):

    {"t": 12.5, "event": "ready", "pid": 4242}                 connected, about to reserve
    {"t": 12.6, "event": "reserved", "job": 7, "reserves": 1, "ttr": 30}
    {"t": 13.6, "event": "delete", "job": 7, "answer": "DELETED"}
    {"t": 19.0, "event": "not-found", "job": 8, "answer": "NOT_FOUND"}

Right after each reserve it asks the server `stats-job` for the job on the same connection
(which reserve of the job this was, and its TTR).

When its stdin closes (the parent is gone, however it died) the process exits.
"""

from __future__ import annotations

import json
import math
import os
import socket
import sys
import threading
import time
from typing import Any, TextIO

import greenstalk

from stalksim.live.driver import LiveRun, LiveWorker
from stalksim.live.recorder import Recorder
from stalksim.workers import Worker

ANSWERS = {"delete": "DELETED", "release": "RELEASED", "bury": "BURIED", "touch": "TOUCHED"}


class Reporter(Recorder):
    """The driver's recorder, turned into reports to the parent: what this worker did and
    what the server answered (the parent's `JobWatch` records what the server did)."""

    def __init__(self, out: TextIO) -> None:
        super().__init__(speed=1.0)
        self.out = out
        self.client: greenstalk.Client | None = None  # the worker's own connection

    def say(self, event: str, **fields: Any) -> None:
        with self.lock:
            self.out.write(json.dumps({"t": time.monotonic(), "event": event, **fields}) + "\n")
            self.out.flush()

    def reserved(self, actor: str, live_id: int) -> None:
        stats: dict[str, Any] = {}
        if self.client is not None:
            try:
                stats = self.client.stats_job(live_id)
            except greenstalk.NotFoundError:  # deleted by someone else already
                pass
        self.say("reserved", job=live_id, reserves=stats.get("reserves"), ttr=stats.get("ttr"))

    def finished(self, actor: str, live_id: int, dst: str, cause: str, delay: float = 0.0,
                 sent: float | None = None) -> None:
        self.say(cause, job=live_id, answer=ANSWERS[cause])

    def touched(self, actor: str, live_id: int) -> None:
        self.say("touch", job=live_id, answer=ANSWERS["touch"])

    def not_found(self, actor: str, live_id: int) -> None:
        self.say("not-found", job=live_id, answer="NOT_FOUND")

    def mark(self, actor: str, cause: str, t: float, live_id: int | None = None) -> None:
        self.say(cause, job=live_id or 0)


def _exit_when_orphaned() -> None:
    """Read stdin to its end (the parent holds the other end), then exit at once."""
    for _line in sys.stdin:
        pass
    os._exit(0)


def main(argv: list[str] | None = None) -> None:
    fd, name, tube, work = argv if argv is not None else sys.argv[1:]
    conn = socket.socket(fileno=int(fd))
    reporter = Reporter(sys.stdout)
    run = LiveRun(conn.getpeername(), 1.0, math.inf, "", {}, rec=reporter)
    worker = LiveWorker(run, Worker(tube, service=float(work), name=name), rng=None)
    worker.c = reporter.client = greenstalk.Client(conn, watch=[tube])
    threading.Thread(target=_exit_when_orphaned, daemon=True).start()
    run.start_clock()
    reporter.say("ready", pid=os.getpid())
    worker.main()


if __name__ == "__main__":
    main()
