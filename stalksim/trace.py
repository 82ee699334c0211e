"""Job traces: flat records of every job transition, as JSON Lines or a DataFrame.

The core appends one plain tuple per event to a list it owns (see docs/design.md, "Trace
events"); `Trace` wraps that list without copying it, so a Trace made before a run sees every
event appended during it. Tuples become `Record`s (time in seconds) only when read, which keeps
tracing cheap. Long runs can bound what is kept: `Simulation(trace=N)` keeps the latest N
events in memory (a ring), and `TraceFile(path, meta, max_events=N)` (`stalksim serve --trace
FILE --trace-max N`) spills to disk, rotating to `FILE.1`. This module imports nothing beyond
the standard library.
"""

from __future__ import annotations

import json
import os
from bisect import bisect_right
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from typing import IO, Any, NamedTuple

NS = 1_000_000_000
"""Nanoseconds per second: raw tuples carry integer nanoseconds, Records carry seconds."""

STATES = ("ready", "reserved", "delayed", "buried")
"""The states a live job can be in, in the order every view and metric uses."""
ALL_STATES = ("new", *STATES, "deleted")
"""Every `src`/`dst` word of a job transition ("new" before put, "deleted" after delete)."""
RESERVE_CAUSES = ("reserve", "reserve-job")
REDELIVERY_CAUSES = ("ttr-expired", "connection-closed")
"""Causes that take a reserved job away from a worker that did not give it back."""
CAUSES = (
    "put", *RESERVE_CAUSES, "delete", "release", "bury", "kick", "kick-job", "touch",
    "delay-matured", *REDELIVERY_CAUSES, "restored", "lost",
)
"""Causes of job transitions (events with a job id)."""
TUBE_EVENTS = ("pause", "pause-ended")
"""Tube events: job 0, empty src/dst, tube set."""
MARKS = ("crash", "hang", "wake", "not-found", "deadline-soon")
"""Worker marks written by simulated workers: job 0, empty src/dst, actor set."""
SERVER_EVENTS = ("restart",)
"""Server events (`Simulation.restart`): job 0, tube, src, dst and actor all empty; the jobs
that come back follow as `restored`, those that do not as `lost` (to deleted)."""

class TraceError(ValueError):
    """A trace that does not describe a possible sequence of job transitions."""


# ---- the schema: declared once, here ---------------------------------------------------

class Record(NamedTuple):
    """One trace event, with `time` in (virtual) seconds: the named form of a RawEvent."""

    time: float
    job: int  # 0 for tube events and worker marks
    tube: str  # "" for worker marks
    src: str  # one of ALL_STATES for a job transition, "" otherwise
    dst: str
    cause: str  # one of CAUSES, TUBE_EVENTS or MARKS
    actor: str  # the connection that caused it (or lost the job); "" for the server


FIELDS: tuple[str, ...] = Record._fields
"""The field names, in the order of every RawEvent, Record, JSON Lines object and column."""
RawEvent = tuple[int, int, str, str, str, str, str]
"""What the core (and the live recorder) appends: a plain tuple in FIELDS' order with `time`
in integer nanoseconds. A tuple, not a Record, because making one is several times cheaper;
readers unpack all seven fields by name or index one with the positions below."""
TIME, JOB, TUBE, SRC, DST, CAUSE, ACTOR = range(len(FIELDS))
"""Positions of FIELDS in a RawEvent: `ev[TUBE]` where only one field is read."""


def raw_event(time_ns: int, job: int, tube: str, src: str, dst: str, cause: str,
              actor: str) -> RawEvent:
    """A RawEvent from its fields (for writers that are not on a hot path: the live recorder,
    tests); the core builds the same tuple inline."""
    return (time_ns, job, tube, src, dst, cause, actor)


def check_event(ev: object) -> RawEvent:
    """`ev` if it is a well-formed RawEvent (types, words, and job 0 exactly for tube events
    and marks), else TraceError naming what is wrong; for tests of every writer."""
    if not (isinstance(ev, tuple) and len(ev) == len(FIELDS)):
        raise TraceError(f"not a {len(FIELDS)}-field tuple: {ev!r}")
    t, job, tube, src, dst, cause, actor = ev
    if not (type(t) is int and t >= 0 and type(job) is int and job >= 0):
        raise TraceError(f"time_ns and job must be ints >= 0: {ev!r}")
    if not all(isinstance(x, str) for x in (tube, src, dst, cause, actor)):
        raise TraceError(f"tube, src, dst, cause and actor must be str: {ev!r}")
    if cause in CAUSES:
        ok = job > 0 and bool(tube) and src in ALL_STATES and dst in ALL_STATES
    elif cause in TUBE_EVENTS:
        ok = job == 0 and bool(tube) and src == dst == ""
    elif cause in MARKS:
        ok = src == dst == "" and bool(actor)
    elif cause in SERVER_EVENTS:
        ok = job == 0 and tube == src == dst == actor == ""
    else:
        raise TraceError(f"unknown cause {cause!r}: {ev!r}")
    if not ok:
        raise TraceError(f"fields do not fit a {cause!r} event: {ev!r}")
    return ev  # type: ignore[return-value]


def _record(ev: RawEvent) -> Record:
    return Record(ev[TIME] / NS, *ev[JOB:])


class Trace:
    """A sequence of trace events, backed by the core's list of raw tuples.

    `Trace(raw)` keeps a reference to `raw` (no copy); `Trace.from_records(...)` and
    `Trace.read_jsonl(...)` build one from Records. `meta` holds the scenario name, seed and
    the like, and travels with the trace through JSON Lines.
    """

    __slots__ = ("raw", "meta")
    __hash__ = None  # type: ignore[assignment]  # mutable: the core keeps appending

    def __init__(self, raw: list[RawEvent] | None = None, meta: dict[str, Any] | None = None):
        self.raw: list[RawEvent] = raw if raw is not None else []
        self.meta: dict[str, Any] = dict(meta) if meta else {}

    @classmethod
    def from_records(cls, records: Iterable[Record | tuple], meta: dict[str, Any] | None = None
                     ) -> Trace:
        """Build a Trace from Records (time in seconds); times are rounded to nanoseconds."""
        raw = [(round(r[TIME] * NS), int(r[JOB]), *r[TUBE:]) for r in records]
        return cls(raw, meta)  # type: ignore[arg-type]

    # -- sequence protocol -------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.raw)

    def __iter__(self) -> Iterator[Record]:
        return map(_record, self.raw)

    def __getitem__(self, i: int) -> Record:
        return _record(self.raw[i])

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Trace):
            return NotImplemented
        return self.meta == other.meta and list(map(tuple, self.raw)) == list(
            map(tuple, other.raw))

    def __repr__(self) -> str:
        name = f" {self.meta['scenario']!r}" if "scenario" in self.meta else ""
        return (f"<Trace{name}: {len(self.raw)} events, {len(self.jobs())} jobs, "
                f"{self.end_time:g} s>")

    def records(self) -> Iterator[Record]:
        """The events as Records, converted one at a time as you iterate."""
        return iter(self)

    # -- summaries -------------------------------------------------------------------
    def jobs(self) -> list[int]:
        """Ids of every job that appears, ascending."""
        ids = set(map(itemgetter(JOB), self.raw))  # map + itemgetter: C speed on 1M events
        ids.discard(0)
        return sorted(ids)

    def tubes(self) -> list[str]:
        """Tube names in order of first appearance."""
        return _first_seen(self.raw, TUBE)

    def actors(self) -> list[str]:
        """Connection/worker names in order of first appearance ("" for the server left out)."""
        return _first_seen(self.raw, ACTOR)

    @property
    def end_time(self) -> float:
        """Time of the last event in seconds (0.0 for an empty trace)."""
        return self.raw[-1][TIME] / NS if self.raw else 0.0

    # -- filters (each returns a new Trace with the same meta) ---------------------------
    def filter(self, keep: Callable[[Record], bool]) -> Trace:
        """Events whose Record satisfies `keep`."""
        return Trace([ev for ev in self.raw if keep(_record(ev))], self.meta)

    def for_job(self, job: int) -> Trace:
        """The events of one job."""
        return Trace([ev for ev in self.raw if ev[JOB] == job], self.meta)

    def for_tube(self, tube: str) -> Trace:
        """The events in one tube (job transitions and pauses)."""
        return Trace([ev for ev in self.raw if ev[TUBE] == tube], self.meta)

    def for_actor(self, actor: str) -> Trace:
        """The events caused by (or, for TTR/connection loss, suffered by) one actor."""
        return Trace([ev for ev in self.raw if ev[ACTOR] == actor], self.meta)

    def between(self, start: float | None = None, end: float | None = None) -> Trace:
        """Events with start <= time <= end (seconds; None means unbounded)."""
        lo = -1 if start is None else round(start * NS)
        hi = None if end is None else round(end * NS)
        return Trace([ev for ev in self.raw
                      if ev[TIME] >= lo and (hi is None or ev[TIME] <= hi)], self.meta)

    # -- export ------------------------------------------------------------------------
    def to_jsonl(self, dest: str | os.PathLike[str] | IO[str]) -> None:
        """Write `{"meta": ...}` then one JSON object per event (a path or a text file).

        Each event carries `time` in seconds for readers and `time_ns` so reading back is
        exact.
        """
        with _open(dest, "w") as f:
            f.write(json.dumps({"meta": self.meta}) + "\n")
            f.writelines(map(_jsonl_line, self.raw))

    @classmethod
    def read_jsonl(cls, src: str | os.PathLike[str] | IO[str]) -> Trace:
        """Read a trace written by `to_jsonl` (a path or a text file)."""
        raw: list[RawEvent] = []
        meta: dict[str, Any] = {}
        with _open(src, "r") as f:
            for n, line in enumerate(f, 1):
                if not line.strip():
                    continue
                obj = json.loads(line)
                if n == 1 and set(obj) == {"meta"}:
                    meta = obj["meta"]
                    continue
                try:
                    t = obj["time_ns"] if "time_ns" in obj else round(obj["time"] * NS)
                    raw.append((int(t), int(obj["job"]), *(str(obj[k]) for k in FIELDS[TUBE:])))
                except (KeyError, TypeError, ValueError) as e:
                    raise TraceError(f"line {n}: not a trace event: {line.strip()[:80]}") from e
        return cls(raw, meta)

    def to_dataframe(self) -> Any:
        """The events as a pandas DataFrame, one row per event, `time` in seconds."""
        try:
            import pandas as pd
        except ImportError as e:  # pragma: no cover - depends on the environment
            raise ImportError("Trace.to_dataframe needs pandas: "
                              "pip install 'stalksim[notebook]' (or pip install pandas)") from e
        df = pd.DataFrame(self.raw, columns=list(FIELDS))
        df["time"] = df["time"] / NS
        return df


def _first_seen(raw: list[RawEvent], field: int) -> list[str]:
    """The distinct non-empty values of one field, in order of first appearance."""
    seen = dict.fromkeys(map(itemgetter(field), raw))
    seen.pop("", None)
    return list(seen)


def _jsonl_line(ev: RawEvent) -> str:
    t, job, tube, src, dst, cause, actor = ev
    return json.dumps({"time": t / NS, "job": job, "tube": tube, "src": src, "dst": dst,
                       "cause": cause, "actor": actor, "time_ns": t}) + "\n"


class TraceFile:
    """A JSON Lines trace written as it happens (`Trace.to_jsonl`'s format), bounded on disk.

    `write(events)` appends raw events. With `max_events`, once `path` holds that many events
    it is renamed to `path + ".1"` (replacing an older one) and a fresh `path` starts with the
    same meta line: the two files hold the latest events and never more than 2 x max_events.
    Read them back with `Trace.read_jsonl` (`.1` is the older part).
    """

    def __init__(self, path: str | os.PathLike[str], meta: dict[str, Any],
                 max_events: int | None = None) -> None:
        if max_events is not None and max_events < 1:
            raise ValueError(f"max_events must be >= 1, not {max_events!r}")
        self.path = os.fspath(path)
        self.meta = dict(meta)
        self.max_events = max_events
        self.events = 0  # events in the current `path`
        self.rotations = 0
        self.file = self._start()

    def _start(self) -> IO[str]:
        f = open(self.path, "w", encoding="utf-8")  # noqa: SIM115 - closed in close()/_rotate()
        f.write(json.dumps({"meta": self.meta}) + "\n")
        self.events = 0
        return f

    def write(self, events: Iterable[RawEvent]) -> None:
        """Append `events` (raw tuples) and flush them to disk."""
        lines: list[str] = []
        cap = self.max_events
        for ev in events:
            if cap is not None and self.events >= cap:
                self.file.writelines(lines)
                lines = []
                self.file.close()
                os.replace(self.path, self.path + ".1")
                self.rotations += 1
                self.file = self._start()
            lines.append(_jsonl_line(ev))
            self.events += 1
        self.file.writelines(lines)
        self.file.flush()

    def close(self) -> None:
        self.file.close()


@contextmanager
def _open(target: str | os.PathLike[str] | IO[str], mode: str) -> Iterator[IO[str]]:
    """Open a path, or pass an already open text file through without closing it."""
    if isinstance(target, str | os.PathLike):
        with open(target, mode, encoding="utf-8") as f:
            yield f
    else:
        yield target


def as_trace(obj: Trace | list[RawEvent]) -> Trace:
    """Accept a Trace or a bare list of raw tuples wherever a trace is expected."""
    return obj if isinstance(obj, Trace) else Trace(obj)


def replay(trace: Trace | list[RawEvent], *, strict: bool = True) -> dict[int, str]:
    """Each job's final state ("deleted" or one of STATES), by replaying its transitions.

    With `strict`, a transition whose `src` is not the job's current state raises TraceError:
    this is what property tests use to check that the core's trace is self-consistent.
    """
    state: dict[int, str] = {}
    for t, job, _tube, src, dst, cause, _actor in as_trace(trace).raw:
        if not job or not dst:
            continue
        if strict and state.get(job, "new") != src:
            raise TraceError(f"job {job} at {t / NS:g} s: {cause} from {src!r} "
                             f"but it was {state.get(job, 'new')!r}")
        state[job] = dst
    return state


class TraceIndex:
    """Who is where at any time: a precomputed index for time controls.

    Snapshots of every live job (tube, state, holder) are kept every `every` events; a query
    copies the nearest earlier snapshot and applies the few events after it, so `state_at`
    stays fast (well under 50 ms) for traces of 10,000+ jobs. The index is a snapshot of the
    trace when it was built.
    """

    def __init__(self, trace: Trace | list[RawEvent], every: int = 1024):
        raw = [ev for ev in as_trace(trace).raw if ev[JOB] and ev[DST]]
        if any(a[TIME] > b[TIME] for a, b in zip(raw, raw[1:], strict=False)):
            raw.sort(key=itemgetter(TIME))
        self._raw = raw
        self._times = [ev[TIME] for ev in raw]
        self._every = every
        self._snaps: list[dict[int, tuple[str, str, str]]] = []
        self._first_seen: dict[str, int] = {}  # tube -> index of its first event
        live: dict[int, tuple[str, str, str]] = {}
        for i, ev in enumerate(raw):
            if i % every == 0:
                self._snaps.append(dict(live))
            self._first_seen.setdefault(ev[TUBE], i)
            self._apply(live, ev)

    @staticmethod
    def _apply(live: dict[int, tuple[str, str, str]], ev: RawEvent) -> None:
        _t, job, tube, _src, dst, _cause, actor = ev
        if dst == "deleted":
            live.pop(job, None)
        else:
            live[job] = (tube, dst, actor if dst == "reserved" else "")

    def state_at(self, t: float) -> dict[str, Any]:
        """State after every event at or before `t` seconds.

        Returns `{"time": t, "tubes": {tube: {state: [job ids]}}, "held": {actor: [job ids]}}`;
        every tube seen so far lists all four STATES (possibly empty).
        """
        n = bisect_right(self._times, round(t * NS))
        tubes = {tube: {s: [] for s in STATES} for tube, i in self._first_seen.items() if i < n}
        held: dict[str, list[int]] = {}
        if n:
            k = (n - 1) // self._every
            live = dict(self._snaps[k])
            for ev in self._raw[k * self._every:n]:
                self._apply(live, ev)
            for job, (tube, state, actor) in sorted(live.items()):
                tubes[tube][state].append(job)
                if actor:
                    held.setdefault(actor, []).append(job)
        return {"time": t, "tubes": tubes, "held": held}


def state_at(trace: Trace | list[RawEvent], t: float) -> dict[str, Any]:
    """One-off `TraceIndex(trace).state_at(t)`; build a TraceIndex for repeated queries."""
    return TraceIndex(trace).state_at(t)
