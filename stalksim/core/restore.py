"""Putting a job back at start-up, as beanstalkd's binlog replay does (no command, no client).

The values come from outside (a binlog read by `stalksim.durable`, or the simulator's model of
one); the core only places the job: a ready job in its tube's ready heap, a delayed job in the
delayed heap at its deadline, a buried job at the end of its tube's buried list (so a tube's
buried jobs are kicked in the order they are restored). Counters are taken as given.
"""

from __future__ import annotations

from heapq import heappush

from stalksim.core.model import BURIED, DELAYED, READY, Job
from stalksim.core.state import URGENT, State


def restore_job(state: State, id: int, tube: str, *, pri: int, delay: int, ttr: int,
                body: bytes, kind: str, created_at: int, deadline: int = 0,
                counts: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0),
                src: str = "new", cause: str = "restored") -> Job:
    """Job `id` back in `tube` as `kind` (ready, delayed or buried); `deadline` (ns) is when a
    delayed one becomes ready; `counts` are reserves, timeouts, releases, buries, kicks. The
    trace gets one `cause` event from `src`. The next put's id moves past `id`."""
    if id in state.jobs:
        raise ValueError(f"job {id} already exists")
    t = state._tube(tube)
    job = Job(id, t, pri, delay, ttr if ttr > 0 else 1, body, created_at)
    job.reserves, job.timeouts, job.releases, job.buries, job.kicks = counts
    state.jobs[id] = job
    t.refs += 1
    if kind == BURIED:
        e: tuple = (job,)
        t.buried.append(e)
        t.buried_n += 1
        state.buried_n += 1
    elif kind == DELAYED:
        job.deadline = deadline
        e = (deadline, id, job)
        heappush(t.delayed, e)
        t.delayed_n += 1
        if deadline < state._due:
            state._due = deadline
    elif kind == READY:
        e = (pri, id, job)
        heappush(t.ready, e)
        t.ready_n += 1
        state.ready_n += 1
        if pri < URGENT:
            t.urgent_n += 1
            state.urgent_n += 1
    else:
        raise ValueError(f"job {id}: cannot restore a job as {kind!r}")
    job.entry = e
    job.state = kind
    state.next_id = max(state.next_id, id + 1)
    state.emit(id, tube, src, kind, cause, "")
    if kind == READY and state.waiting_n:
        state._process_queue()
    return job
