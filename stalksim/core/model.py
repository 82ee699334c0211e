"""The core's records: jobs, tubes and connections. Plain slotted objects, no behaviour.

A job lives in exactly one container at a time (a tube's ready heap, its delayed heap, its
buried list, or a connection's reserved set). Heaps and the buried list drop entries lazily:
an entry is live only while `job.entry is entry`, so moving a job costs O(log n) and leaves
the stale entry to be skipped later.
"""

from __future__ import annotations

from collections import deque
from heapq import heapify, heappop
from typing import Any

from stalksim.core.ms import Ms

READY = "ready"
RESERVED = "reserved"
DELAYED = "delayed"
BURIED = "buried"
NEW = "new"
DELETED = "deleted"


class Job:
    """One job. `ttr` and `delay` are whole seconds as given; times are nanoseconds."""

    __slots__ = (
        "id", "tube", "pri", "delay", "ttr", "body", "state", "created_at", "deadline",
        "reserver", "entry", "reserves", "timeouts", "releases", "buries", "kicks",
    )

    def __init__(self, id: int, tube: Tube, pri: int, delay: int, ttr: int, body: bytes,
                 now: int) -> None:
        self.id = id
        self.tube = tube
        self.pri = pri
        self.delay = delay
        self.ttr = ttr
        self.body = body
        self.state = NEW
        self.created_at = now
        self.deadline = 0
        self.reserver: Conn | None = None
        self.entry: Any = None
        self.reserves = 0
        self.timeouts = 0
        self.releases = 0
        self.buries = 0
        self.kicks = 0

    def __lt__(self, other: Job) -> bool:
        # Only reached when a stale heap entry ties with the live entry of the same job;
        # either order is right then, since their keys are equal.
        return False

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.state} pri={self.pri} tube={self.tube.name}>"


class Tube:
    """A named queue: ready heap keyed (pri, id), delayed heap keyed (deadline, id), buried FIFO."""

    __slots__ = (
        "name", "ready", "delayed", "buried", "ready_n", "delayed_n", "buried_n",
        "urgent_n", "reserved_n", "waiting", "refs", "using_n", "watching_n",
        "total_jobs", "total_deletes", "pause_count", "pause", "unpause_at",
    )

    def __init__(self, name: str) -> None:
        self.name = name
        self.ready: list[tuple[int, int, Job]] = []
        self.delayed: list[tuple[int, int, Job]] = []
        self.buried: deque[tuple[Job]] = deque()
        self.ready_n = 0
        self.delayed_n = 0
        self.buried_n = 0
        self.urgent_n = 0
        self.reserved_n = 0
        self.waiting: Ms[Conn] = Ms()
        self.refs = 0
        self.using_n = 0
        self.watching_n = 0
        self.total_jobs = 0
        self.total_deletes = 0
        self.pause_count = 0
        self.pause = 0  # requested pause in ns while paused, else 0
        self.unpause_at = 0

    def __repr__(self) -> str:
        return f"<Tube {self.name}>"


#: The core's answer to a waiting reserve: the job it reserved, or a word (TIMED_OUT,
#: DEADLINE_SOON, or CANCELLED when the simulator withdrew the reserve).
Answer = Job | str


class Conn:
    """A client connection: used tube, watch list, reserved jobs, and whether it waits in a
    reserve (`waiting`, the one truth about it; its answer goes to `Server.outbox`)."""

    __slots__ = (
        "number", "name", "use", "watch", "reserved", "waiting", "timeout_at", "timer",
        "producer", "worker", "closed", "soonest",
    )

    def __init__(self, number: int, name: str) -> None:
        self.number = number
        self.name = name
        self.use: Tube | None = None
        self.watch: Ms[Tube] = Ms()
        self.reserved: dict[int, Job] = {}
        self.waiting = False
        self.timeout_at: int | None = None  # absolute ns, None = wait forever
        self.timer: tuple[int, int, Conn] | None = None
        self.producer = False
        self.worker = False
        self.closed = False
        self.soonest: Job | None = None

    def __lt__(self, other: Conn) -> bool:
        return self.number < other.number

    def __repr__(self) -> str:
        return f"<Conn {self.name}>"


def _compact(heap: list, live: int) -> None:
    """Drop a lazy heap's stale entries once they outnumber the live ones (jobs deleted or
    kicked out of the middle would otherwise stay referenced until they reach the top)."""
    if len(heap) > 64 and len(heap) > 2 * live:
        heap[:] = [e for e in heap if e[2].entry is e]
        heapify(heap)


def _top(heap: list) -> tuple:
    """The live top entry of a lazy heap (stale entries are dropped on the way)."""
    while heap[0][2].entry is not heap[0]:
        heappop(heap)
    return heap[0]
