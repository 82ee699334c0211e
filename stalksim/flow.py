"""The flow of jobs: a trace as places, token moves and narrated moments; the model FlowView draws.

    lay = layout(run_scenario("hung-consumer").trace)      # JSON-ready, for FlowView
    captions(lay)                                           # what the caption says, when
    f = fork("hung-consumer", seed=0, faults=[{"worker": "worker-2", "kind": "crash", "at": 6}])
    f.summary_line(fork("hung-consumer", seed=0))           # what the crash changed

Forks live in `stalksim.forks`.

Places: `producer:<name>`, `ready:<tube>`, `delayed:<tube>`, `buried:<tube>`, `worker:<name>`
(reserved by it), `deleted`. Each job transition is one step `from` -> `to` with its `cause`.
Priorities and TTRs come from a `JobBook` (a trace lacks them): without one, ready is in id
order and a TTR is known only where it ran out. Standard library only.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from stalksim.stories import secs
from stalksim.trace import NS, RawEvent, Trace, as_trace

if TYPE_CHECKING:
    from stalksim.simulation import Simulation

LAYOUT_VERSION = 1
SAFETY_MARGIN = 1.0
"""beanstalkd's DEADLINE_SOON margin: within 1 s of a held job's deadline a reserve gets it."""
FAULT_KINDS = ("crash", "hang", "slow")

# ---- priorities and TTRs, which the trace does not carry ----------------------------------


class JobBook:
    """Each job's TTR and its priority at each put, release and bury, recorded as they happen.

    `JobBook.attach(sim)` listens to the simulated server's journal (the core tells it every
    job transition, the job already holding its new values; a binlog model listening there
    still hears everything); jobs already there are read as they stand.
    """

    def __init__(self) -> None:
        self.ttr: dict[int, int] = {}
        self.pris: dict[int, list[int]] = {}  # job -> priority set by each put/release/bury
        self.known: dict[int, int] = {}  # job -> priority of a job put before attaching
        self.since = 0  # trace events before this index were not seen

    @classmethod
    def attach(cls, sim: Simulation) -> JobBook:
        """A book that records every later put, release and bury in `sim` (across restarts:
        the new server is listened to as well, and the jobs it restored are read as they
        stand)."""
        book = cls()
        book.since = len(sim.trace.raw) if sim.trace is not None else 0
        book._listen(sim.server)
        restart = sim.restart

        def restart_listened(*args: Any, **kw: Any) -> None:
            restart(*args, **kw)
            book._listen(sim.server)

        sim.restart = restart_listened  # type: ignore[method-assign]
        return book

    def _listen(self, server: Any) -> None:
        for job in server.jobs.values():
            self.ttr.setdefault(job.id, job.ttr)
            self.known.setdefault(job.id, job.pri)
        before = server.journal

        def journal(state: Any, id: int, cause: str, src: str, dst: str) -> None:
            if before is not None:
                before(state, id, cause, src, dst)
            if cause == "put":
                job = state.jobs[id]
                self.ttr[id], self.pris[id] = job.ttr, [job.pri]
            elif cause in ("release", "bury"):
                self.pris.setdefault(id, []).append(state.jobs[id].pri)

        server.journal = journal


# ---- the layout ------------------------------------------------------------------------------


def _place(state: str, tube: str, worker: str, producer: str) -> str:
    if state == "new":
        return f"producer:{producer}"
    if state == "reserved":
        return f"worker:{worker}"
    return "deleted" if state == "deleted" else f"{state}:{tube}"


def _step_words(cause: str, ref: str, actor: str, tube: str, dst: str, again: bool
                ) -> tuple[str, str]:
    """What a step does and the state it leaves the job in; `ref` names the job ("job 3", or
    "it" further on in one instant's story)."""
    where = "delayed" if dst == "delayed" else "ready"
    its = "its" if ref == "it" else f"{ref}'s"
    return {
        "put": (f"{actor} puts {ref} into {tube}", f"it is {where}"),
        "reserve": (f"{actor} reserves {ref}" + (" (delivered again)" if again else ""), ""),
        "reserve-job": (f"{actor} reserves {ref} by its id", ""),
        "delete": (f"{actor} deletes {ref}", "done"),
        "release": (f"{actor} releases {ref}", f"it is {where} again"),
        "bury": (f"{actor} buries {ref}", "it waits in buried for a kick"),
        "kick": (f"{actor} kicks {ref}", "it is ready again"),
        "kick-job": (f"{actor} kicks {ref}", "it is ready again"),
        "touch": (f"{actor} touches {ref}", "its TTR starts again"),
        "delay-matured": (f"{its} delay is over", "it is ready"),
        "ttr-expired": (f"{its} TTR expired while {actor} held it", "it is ready again"),
        "connection-closed": (f"{actor}'s connection closed", f"{ref} is ready again at once"),
        "restored": (f"the restarted server reads {ref} back from its binlog",
                     f"it is {dst}"),
        "lost": (f"{ref} did not survive the restart", "gone (not in the binlog)"),
    }.get(cause, (ref, cause))


def _step_caption(cause: str, job: int, actor: str, tube: str, dst: str, again: bool,
                  ref: str = "") -> str:
    head, tail = _step_words(cause, ref or f"job {job}", actor, tube, dst, again)
    return f"{head}: {tail}" if tail else head


def layout(trace: Trace | list[RawEvent], book: JobBook | None = None,
           title: str = "") -> dict[str, Any]:
    """The trace as FlowView draws it: places, one step per transition, holds, moments."""
    tr = as_trace(trace)
    raw = sorted(tr.raw, key=lambda ev: ev[0])  # stable: same-time events keep their order
    params = tr.meta.get("params") or {}
    default_ttr = params.get("ttr") if isinstance(params.get("ttr"), int) else None
    book = book or JobBook()
    pris = {j: list(v) for j, v in book.pris.items()}
    pri: dict[int, int | None] = dict(book.known)
    holder: dict[int, str] = {}
    open_holds: dict[int, dict[str, Any]] = {}
    steps: list[dict[str, Any]] = []
    holds: list[dict[str, Any]] = []
    marks: list[dict[str, Any]] = []
    delivered: set[int] = set()
    producers, tubes, workers = {}, {}, {}
    for i, (t_ns, job, tube, src, dst, cause, actor) in enumerate(raw):
        t = t_ns / NS
        if tube:
            tubes.setdefault(tube, None)
        if not job or not dst:
            marks.append({"t": t, "kind": cause, "actor": actor, "job": job, "tube": tube})
            if cause in ("crash", "hang", "wake", "deadline-soon"):
                workers.setdefault(actor, None)
            continue
        if cause in ("put", "release", "bury") and i >= book.since and pris.get(job):
            pri[job] = pris[job].pop(0)
        if src == "new":
            producers.setdefault(actor, None)
        if dst == "reserved":
            workers.setdefault(actor, None)
        was = holder.pop(job, actor) if src == "reserved" else ""
        step = {"t": t, "job": job, "tube": tube, "cause": cause, "actor": actor,
                "from": _place(src, tube, was, actor), "to": _place(dst, tube, actor, actor),
                "pri": pri.get(job), "caption": _step_caption(
                    cause, job, actor, tube, dst, job in delivered and cause == "reserve")}
        if src == "reserved" and job in open_holds and cause != "touch":
            h = open_holds.pop(job)
            h.update(end=t, end_cause=cause)
        if dst == "reserved":
            holder[job] = actor
            ttr = book.ttr.get(job, default_ttr)
            step["deadline"] = None if ttr is None else t + ttr
            if cause == "touch":
                open_holds[job]["deadline"] = step["deadline"]
            else:
                delivered.add(job)
                open_holds[job] = {"job": job, "worker": actor, "start": t, "end": None,
                                   "end_cause": None, "deadline": step["deadline"], "hung": []}
                holds.append(open_holds[job])
        steps.append(step)
    end = max(tr.end_time, float(tr.meta.get("until") or 0.0))
    hangs = _hangs(marks, raw, end)
    _infer_deadlines(holds, hangs)
    return {
        "version": LAYOUT_VERSION, "title": title or _title(tr.meta), "end": end,
        "scenario": tr.meta.get("scenario"), "seed": tr.meta.get("seed"), "params": params,
        "faults": tr.meta.get("faults", []), "priorities_known": bool(book.pris or book.known),
        "producers": list(producers), "tubes": list(tubes),
        "workers": sorted(workers, key=_natural),
        "steps": steps, "holds": holds, "hangs": hangs, "marks": marks,
        "crashes": [{"worker": m["actor"], "t": m["t"]} for m in marks if m["kind"] == "crash"],
        "moments": moments(steps, holds, marks),
    }


def _natural(name: str) -> tuple[Any, ...]:
    """worker-2 before worker-10: digit runs compare as numbers."""
    return tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in re.split(r"(\d+)", name))


def _title(meta: dict[str, Any]) -> str:
    name = meta.get("scenario")
    return f"{name} (seed {meta.get('seed')})" if name else "trace"


def _hangs(marks: list[dict[str, Any]], raw: list[RawEvent], end: float) -> list[dict[str, Any]]:
    """When each worker was hung: from its `hang` mark to its next sign of life (wake, crash,
    any command; losing a job to its TTR is none) or the end of the run."""
    out: list[dict[str, Any]] = []
    since: dict[str, float] = {}
    for t_ns, _job, _tube, _src, dst, cause, actor in raw:
        if cause == "hang" and not dst:
            since.setdefault(actor, t_ns / NS)
        elif actor in since and cause != "ttr-expired":
            out.append({"worker": actor, "start": since.pop(actor), "end": t_ns / NS})
    out += [{"worker": a, "start": s, "end": end} for a, s in since.items()]
    return sorted(out, key=lambda h: (h["start"], h["worker"]))


def _infer_deadlines(holds: list[dict[str, Any]], hangs: list[dict[str, Any]]) -> None:
    """Mark hung pieces of each hold; where no TTR was known, take it from a TTR that ran out
    (whole seconds, as beanstalkd keeps them) for every hold of that job."""
    learnt = {h["job"]: round(h["end"] - h["start"]) for h in holds
              if h["end_cause"] == "ttr-expired" and h["deadline"] is None}
    for h in holds:
        if h["deadline"] is None and h["job"] in learnt:
            h["deadline"] = h["start"] + learnt[h["job"]]
        stop = h["end"] if h["end"] is not None else float("inf")
        for g in hangs:
            a, b = max(h["start"], g["start"]), min(stop, g["end"])
            if g["worker"] == h["worker"] and a < b:
                h["hung"].append([a, b])


def moments(steps: list[dict[str, Any]], holds: list[dict[str, Any]],
            marks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The chapters of a run, each with its caption: faults, TTRs that ran out, connections
    that closed, DEADLINE_SOON, buries, kicks, pauses, and the first put and the last delete."""
    out: list[dict[str, Any]] = []
    holding = {(h["worker"], h["job"]): h for h in holds}
    for m in marks:
        caption = _mark_caption(m, holding.get((m["actor"], m["job"])))
        if caption:
            out.append({"t": m["t"], "kind": m["kind"], "job": m["job"], "caption": caption})
    for s in steps:
        if s["cause"] in ("ttr-expired", "connection-closed", "bury", "kick", "kick-job"):
            out.append({"t": s["t"], "kind": s["cause"], "job": s["job"],
                        "caption": _moment_caption(s, holds)})
    for h in holds:
        d = h["deadline"]
        if d is not None and (h["end"] is None or h["end"] > d - SAFETY_MARGIN):
            w = h["worker"]
            hung = f" ({w} is hung and sends none)" if h["hung"] else ""
            out.append({"t": max(h["start"], d - SAFETY_MARGIN), "kind": "deadline-soon",
                        "job": h["job"], "caption":
                        f"job {h['job']}'s TTR ends in {secs(min(SAFETY_MARGIN, d - h['start']))}"
                        f": beanstalkd would answer a reserve from {w} with DEADLINE_SOON{hung}"})
    puts = [s for s in steps if s["cause"] == "put"]
    if puts:
        out.append({"t": puts[0]["t"], "kind": "start", "job": puts[0]["job"],
                    "caption": f"{puts[0]['caption']}: the run begins"})
    deletes = [s for s in steps if s["cause"] == "delete"]
    if deletes and not any(s["t"] > deletes[-1]["t"] and s["to"] != "deleted" for s in steps):
        out.append({"t": deletes[-1]["t"], "kind": "done", "job": deletes[-1]["job"],
                    "caption": f"{deletes[-1]['caption']}; all jobs are done at "
                               f"{secs(deletes[-1]['t'])}"})
    out.sort(key=lambda m: m["t"])
    return out


def _mark_caption(m: dict[str, Any], hold: dict[str, Any] | None) -> str:
    who, job, tube = m["actor"], m["job"], m["tube"]
    holding = f" holding job {job}" if job else ""
    until = (f" until its TTR runs out at {secs(hold['deadline'])}"
             if hold is not None and hold["deadline"] is not None else "")
    return {
        "crash": f"{who} crashes{holding}: its connection closes",
        "hang": f"{who} hangs{holding}, its connection still open" + (
            f": the job stays reserved to it{until}" if job else ""),
        "wake": f"{who} wakes up" + (f" and finishes job {job}" if job else ""),
        "not-found": f"{who}'s command on job {job} gets NOT_FOUND: the job is no longer its own",
        "deadline-soon": f"{who}'s reserve gets DEADLINE_SOON: a job it holds has under 1 s "
                         f"of TTR left",
        "pause": f"tube {tube} is paused", "pause-ended": f"the pause of tube {tube} ends",
    }.get(m["kind"], "")


def _moment_caption(s: dict[str, Any], holds: list[dict[str, Any]]) -> str:
    if s["cause"] != "ttr-expired":
        return s["caption"]
    h = next((h for h in holds if h["job"] == s["job"] and h["end"] == s["t"]), None)
    ago = f" ({secs(s['t'] - h['start'])} after {s['actor']} reserved it)" if h else ""
    hung = f"{s['actor']} is hung, so " if h and h["hung"] else ""
    return (f"job {s['job']}'s TTR expired{ago}: {hung}beanstalkd takes it from "
            f"{s['actor']} and it is ready again")


STEP_MOMENTS = ("ttr-expired", "connection-closed", "bury", "kick", "kick-job")


def captions(lay: dict[str, Any]) -> list[dict[str, Any]]:
    """What the caption under the view says from each instant on, until the next: all that
    happens at that instant, each job told up to where it ends up ("shop puts job 1 into
    orders: it is ready, and at once worker-1 reserves it"), so that the caption and the
    picture (every step at or before the time) agree at every time. `moment`: a chapter."""
    steps: dict[float, list[dict[str, Any]]] = {}
    for s in lay["steps"]:
        steps.setdefault(s["t"], []).append(s)
    marks: dict[float, list[dict[str, Any]]] = {}
    told: dict[tuple[float, int, str], str] = {}  # a step a moment tells in its own words
    for m in lay["moments"]:
        if m["kind"] in STEP_MOMENTS:
            told[m["t"], m["job"], m["kind"]] = m["caption"]
        else:
            marks.setdefault(m["t"], []).append(m)
    delivered: set[int] = set()
    out = []
    for t in sorted(set(steps) | set(marks)):
        chains: dict[int, list[dict[str, Any]]] = {}
        for s in steps.get(t, []):
            chains.setdefault(s["job"], []).append(s)
        parts = [m["caption"] for m in marks.get(t, []) if m["kind"] not in ("start", "done")]
        for job, chain in chains.items():
            said = []
            for s in chain:
                kind = s["to"].partition(":")[0]
                again = s["cause"] == "reserve" and job in delivered
                if kind == "worker" and s["cause"] != "touch":
                    delivered.add(job)
                own = told.get((t, job, s["cause"])) if not said else None
                said.append(own or _step_caption(s["cause"], job, s["actor"], s["tube"], kind,
                                                 again, "it" if said else ""))
            parts.append(", and at once ".join(said))
        kinds = {m["kind"] for m in marks.get(t, [])}
        text = "; ".join(parts)
        if "start" in kinds:
            text = f"the run begins: {text}"
        if "done" in kinds:
            text += f"; all jobs are done at {secs(t)}"
        out.append({"t": t, "text": text, "moment": t in marks or any(
            (t, job, s["cause"]) in told for job, c in chains.items() for s in c)})
    return out


def narration(lay: dict[str, Any]) -> list[tuple[float, str]]:
    """(time, caption) of each moment, in time order: the run told as it happens."""
    return [(m["t"], m["caption"]) for m in lay["moments"]]


def snapshot(lay: dict[str, Any], t: float) -> dict[str, Any]:
    """Where every job is after the steps at or before `t`: each tube's ready (priority, then
    id: the order reserve takes them), delayed and buried; each worker's jobs; deleted."""
    at: dict[int, dict[str, Any]] = {}
    for s in lay["steps"]:
        if s["t"] > t:
            break
        at[s["job"]] = s
    tubes = {tube: {"ready": [], "delayed": [], "buried": []} for tube in lay["tubes"]}
    held: dict[str, list[int]] = {w: [] for w in lay["workers"]}
    deleted: list[int] = []
    for job, s in sorted(at.items()):
        kind, _, name = s["to"].partition(":")
        if kind == "worker":
            held.setdefault(name, []).append(job)
        elif kind == "deleted":
            deleted.append(job)
        else:
            tubes[name][kind].append(job)
    for tube in tubes.values():
        tube["ready"].sort(key=lambda j: (at[j]["pri"] if at[j]["pri"] is not None else 2**32, j))
    return {"t": t, "tubes": tubes, "held": held, "deleted": deleted}


# ---- forks ----------------------------------------------------------------------------------
