"""Numbers computed from a trace: waits, deliveries, throughput, depth, busy time, duplicates.

Every function takes a `Trace` (or the core's raw list) and nothing else, so it works the same
on a live simulation and on a trace read back from JSON Lines. Tables come back as a dict of
equal-length column lists, Ciw style: `pandas.DataFrame(job_stats(trace))` is a table, and
nothing here needs pandas. Times are in seconds.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Sequence
from typing import Any

from stalksim.trace import (
    NS,
    REDELIVERY_CAUSES,
    RESERVE_CAUSES,
    STATES,
    TIME,
    RawEvent,
    Trace,
    as_trace,
)

Columns = dict[str, list[Any]]
_STATE_INDEX = {s: i for i, s in enumerate(STATES)}


def _columns(names: str) -> Columns:
    return {name: [] for name in names.split()}


def _window(trace: Trace | list[RawEvent], until: float | None) -> tuple[list[RawEvent], int]:
    """The raw events and the end of the observed window (ns): `until` or the last event."""
    raw = as_trace(trace).raw
    if until is not None:
        hi = round(until * NS)
        return [ev for ev in raw if ev[TIME] <= hi], hi
    return raw, raw[-1][TIME] if raw else 0


def _secs(ns: int | None) -> float | None:
    return None if ns is None else ns / NS


def _diff(later: int | None, earlier: int | None) -> float | None:
    return None if later is None or earlier is None else (later - earlier) / NS


# -- per job ---------------------------------------------------------------------------------

def job_spans(trace: Trace | list[RawEvent], *, until: float | None = None) -> Columns:
    """The intervals each job spent in each state.

    Columns: job, tube, state, start, end, actor (who moved the job into the state: for
    "reserved", the worker holding it), end_cause (what ended the span; "" if it was still open
    at the end of the trace or at `until`). A touch does not split a reserved span.
    """
    raw, hi = _window(trace, until)
    out = _columns("job tube state start end actor end_cause")
    cur: dict[int, tuple[str, int, str, str]] = {}

    def emit(job: int, span: tuple[str, int, str, str], end: int, cause: str) -> None:
        state, start, tube, actor = span
        for name, value in zip(out, (job, tube, state, start / NS, end / NS, actor, cause),
                               strict=True):
            out[name].append(value)

    for t, job, tube, _src, dst, cause, actor in raw:
        if not job or not dst or cause == "touch":
            continue
        prev = cur.pop(job, None)
        if prev is not None:
            emit(job, prev, t, cause)
        if dst != "deleted":
            cur[job] = (dst, t, tube, actor)
    for job, span in cur.items():
        emit(job, span, hi, "")
    return out


class _Job:
    """What one pass over the trace learns about one job."""

    __slots__ = ("tube", "put", "ready", "reserved", "deliveries", "done", "state", "ended_by",
                 "redeliveries", "lost")

    def __init__(self, tube: str) -> None:
        self.tube = tube
        self.put: int | None = None
        self.ready: int | None = None  # first time it was ready
        self.reserved: int | None = None  # first reserve
        self.deliveries = 0
        self.done: int | None = None
        self.state = "new"
        self.ended_by = ""  # what ended its latest reservation
        self.redeliveries: list[str] = []  # for each reserve after the first, why it came back
        self.lost: Counter[str] = Counter()  # how its reservations ended

    def wait(self) -> float | None:
        start = self.ready if self.ready is not None else self.put
        return _diff(self.reserved, start)


def _jobs(raw: Iterable[RawEvent]) -> dict[int, _Job]:
    jobs: dict[int, _Job] = {}
    for t, job, tube, src, dst, cause, _actor in raw:
        if not job or not dst:
            continue
        j = jobs.get(job)
        if j is None:
            j = jobs[job] = _Job(tube)
        j.state = dst
        if cause == "put":
            j.put = t
        elif cause in RESERVE_CAUSES:
            if j.deliveries:
                j.redeliveries.append(j.ended_by)
            else:
                j.reserved = t
            j.deliveries += 1
        elif dst == "deleted":
            j.done = t
        if src == "reserved" and cause != "touch":
            j.ended_by = cause
            j.lost[cause] += 1
        if dst == "ready" and j.ready is None:
            j.ready = t
    return jobs


def job_stats(trace: Trace | list[RawEvent], *, until: float | None = None) -> Columns:
    """One row per job.

    Columns: job, tube, put_at, ready_at (first time ready), first_reserved_at, wait (ready, or
    put, to first reserve), deliveries (reserves), redeliveries, redelivery_causes (why each
    redelivered job had come back, comma-separated: ttr-expired, connection-closed, release,
    bury), done_at, time_to_done (put to delete), state (final: "deleted" or a state), and how
    many of its reservations ended by ttr_expired / connection_closed / release / bury.
    """
    raw, _hi = _window(trace, until)
    out = _columns("job tube put_at ready_at first_reserved_at wait deliveries redeliveries "
                   "redelivery_causes done_at time_to_done state ttr_expired connection_closed "
                   "release bury")
    for job, j in sorted(_jobs(raw).items()):
        row = (job, j.tube, _secs(j.put), _secs(j.ready), _secs(j.reserved), j.wait(),
               j.deliveries, len(j.redeliveries), ",".join(j.redeliveries), _secs(j.done),
               _diff(j.done, j.put), j.state, j.lost["ttr-expired"], j.lost["connection-closed"],
               j.lost["release"], j.lost["bury"])
        for name, value in zip(out, row, strict=True):
            out[name].append(value)
    return out


def waits(trace: Trace | list[RawEvent], *, until: float | None = None) -> list[float]:
    """Each reserved job's wait for its first reserve, in job order."""
    raw, _hi = _window(trace, until)
    return [w for _, j in sorted(_jobs(raw).items()) if (w := j.wait()) is not None]


def percentile(values: Sequence[float], q: float) -> float | None:
    """The q-th percentile (0-100) with linear interpolation, as numpy's default; None if empty."""
    if not values:
        return None
    xs = sorted(values)
    pos = (len(xs) - 1) * q / 100
    lo = math.floor(pos)
    hi = min(lo + 1, len(xs) - 1)
    return xs[lo] + (xs[hi] - xs[lo]) * (pos - lo)


def wait_percentiles(trace: Trace | list[RawEvent], qs: Sequence[float] = (50, 90, 99)
                     ) -> dict[str, float | None]:
    """`{"p50": ..., "p90": ..., "p99": ...}` of first-reserve waits (None if nothing waited)."""
    ws = waits(trace)
    return {f"p{q:g}": percentile(ws, q) for q in qs}


# -- hand-offs and duplicate work -------------------------------------------------------------

def handoffs(trace: Trace | list[RawEvent], causes: Sequence[str] = REDELIVERY_CAUSES,
             *, until: float | None = None) -> Columns:
    """Jobs taken from one worker (by one of `causes`) and reserved again, maybe by another.

    Columns: job, tube, cause, lost_by, reserved_at (when lost_by got it), lost_at, next_by,
    next_at. Jobs that were never reserved again do not appear.
    """
    raw, _hi = _window(trace, until)
    out = _columns("job tube cause lost_by reserved_at lost_at next_by next_at")
    holder: dict[int, int] = {}  # job -> when its current holder reserved it
    pending: dict[int, tuple[str, str, int, int]] = {}  # job -> (cause, lost_by, since, at)
    for t, job, tube, src, dst, cause, actor in raw:
        if not job or not dst or cause == "touch":
            continue
        if dst == "reserved":
            holder[job] = t
            lost = pending.pop(job, None)
            if lost is not None:
                why, lost_by, since, at = lost
                row = (job, tube, why, lost_by, since / NS, at / NS, actor, t / NS)
                for name, value in zip(out, row, strict=True):
                    out[name].append(value)
        elif src == "reserved" and cause in causes:
            pending[job] = (cause, actor, holder.get(job, t), t)
    return out


def duplicate_work(trace: Trace | list[RawEvent]) -> dict[str, Any]:
    """Work that may have been done twice: jobs reserved again after their TTR expired.

    Returns `{"count": hand-offs, "jobs": sorted job ids, "wasted": seconds the losing workers
    had held those jobs}`.
    """
    h = handoffs(trace, ("ttr-expired",))
    wasted = sum(b - a for a, b in zip(h["reserved_at"], h["lost_at"], strict=True))
    return {"count": len(h["job"]), "jobs": sorted(set(h["job"])), "wasted": wasted}


# -- per worker --------------------------------------------------------------------------------

def busy_time(trace: Trace | list[RawEvent], *, until: float | None = None) -> Columns:
    """One row per actor that ever reserved a job.

    Columns: actor, busy (seconds holding at least one job), held (job-seconds held, summed
    over jobs), reserves, deletes (of jobs it held), ttr_expired and connection_closed (jobs
    it lost), utilisation (busy / trace duration, None for an empty trace).
    """
    raw, hi = _window(trace, until)
    holder: dict[int, tuple[str, int]] = {}  # job -> (actor, since)
    count: Counter[str] = Counter()
    since: dict[str, int] = {}
    acc: dict[str, Counter[str]] = {}
    for t, job, _tube, src, dst, cause, actor in raw:
        if not job or not dst or cause == "touch":
            continue
        if src == "reserved" and job in holder:
            who, start = holder.pop(job)
            acc[who]["held"] += t - start
            acc[who][cause] += 1
            count[who] -= 1
            if not count[who]:
                acc[who]["busy"] += t - since[who]
        if dst == "reserved":
            c = acc.setdefault(actor, Counter())
            c["reserves"] += 1
            holder[job] = (actor, t)
            if not count[actor]:
                since[actor] = t
            count[actor] += 1
    for who, start in holder.values():  # still held at the end
        acc[who]["held"] += hi - start
    for who, n in count.items():
        if n:
            acc[who]["busy"] += hi - since[who]
    out = _columns("actor busy held reserves deletes ttr_expired connection_closed utilisation")
    for who, c in acc.items():
        row = (who, c["busy"] / NS, c["held"] / NS, c["reserves"], c["delete"],
               c["ttr-expired"], c["connection-closed"], c["busy"] / hi if hi else None)
        for name, value in zip(out, row, strict=True):
            out[name].append(value)
    return out


# -- per tube ----------------------------------------------------------------------------------

def throughput(trace: Trace | list[RawEvent], window: float = 1.0, *,
               until: float | None = None) -> Columns:
    """Deletes per second in consecutive windows of `window` seconds from time 0, per tube.

    Columns: tube, start, end, deletes, rate. Every tube gets every window, zeros included.
    """
    if window <= 0:
        raise ValueError("window must be positive")
    raw, hi = _window(trace, until)
    tr = Trace(raw)
    n = max(1, math.ceil(hi / NS / window))
    counts = {tube: [0] * n for tube in tr.tubes()}
    for t, job, tube, _src, dst, _cause, _actor in raw:
        if job and dst == "deleted":
            counts[tube][min(int(t / NS / window), n - 1)] += 1
    out = _columns("tube start end deletes rate")
    for tube, bins in counts.items():
        for i, k in enumerate(bins):
            for name, value in zip(out, (tube, i * window, (i + 1) * window, k, k / window),
                                   strict=True):
                out[name].append(value)
    return out


def depth(trace: Trace | list[RawEvent], *, tubes: Iterable[str] | None = None,
          until: float | None = None) -> Columns:
    """How many jobs each tube holds in each state over time, as a step series.

    Columns: tube, time, ready, reserved, delayed, buried. Rows are grouped by tube; each row
    holds from its time until the next row's (plot with step "post"). Each tube starts with a
    row at time 0 and ends with one at the end of the trace (or `until`).
    """
    raw, hi = _window(trace, until)
    wanted = set(tubes) if tubes is not None else None
    series: dict[str, tuple[list[int], list[list[int]]]] = {}
    for t, job, tube, src, dst, _cause, _actor in raw:
        if not job or not dst or src == dst or (wanted is not None and tube not in wanted):
            continue
        if tube not in series:
            series[tube] = ([0], [[0] * len(STATES)])
        times, rows = series[tube]
        row = list(rows[-1])
        if src in _STATE_INDEX:
            row[_STATE_INDEX[src]] -= 1
        if dst in _STATE_INDEX:
            row[_STATE_INDEX[dst]] += 1
        if times[-1] == t:
            rows[-1] = row
        else:
            times.append(t)
            rows.append(row)
    out = _columns("tube time " + " ".join(STATES))
    for tube in (wanted if wanted is not None else series):
        times, rows = series.get(tube, ([0], [[0] * len(STATES)]))
        if times[-1] < hi:
            times, rows = [*times, hi], [*rows, rows[-1]]
        out["tube"].extend([tube] * len(times))
        out["time"].extend(t / NS for t in times)
        for i, state in enumerate(STATES):
            out[state].extend(r[i] for r in rows)
    return out


# -- the headline numbers ----------------------------------------------------------------------

def summary(trace: Trace | list[RawEvent]) -> dict[str, Any]:
    """The numbers a run is judged by, flat: jobs put/done/buried/left, redeliveries by cause
    (ttr-expired vs connection-closed, plus release and bury under `redeliveries_by_cause`),
    duplicate work, and wait-time mean and p50/p90/p99 (None when no job was reserved)."""
    tr = as_trace(trace)
    jobs = _jobs(tr.raw)
    by_cause = Counter(c for j in jobs.values() for c in j.redeliveries)
    ws = sorted(w for j in jobs.values() if (w := j.wait()) is not None)
    states = Counter(j.state for j in jobs.values())
    return {
        "duration": tr.end_time,
        "jobs_put": sum(j.put is not None for j in jobs.values()),
        "jobs_done": states["deleted"],
        "jobs_buried": states["buried"],
        "jobs_left": states["ready"] + states["reserved"] + states["delayed"],
        "redeliveries": sum(by_cause.values()),
        "redeliveries_ttr_expired": by_cause["ttr-expired"],
        "redeliveries_connection_closed": by_cause["connection-closed"],
        "redeliveries_by_cause": dict(by_cause),
        "duplicate_work": duplicate_work(tr)["count"],
        "wait_mean": sum(ws) / len(ws) if ws else None,
        **{f"wait_p{q}": percentile(ws, q) for q in (50, 90, 99)},
    }
