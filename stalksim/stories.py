"""Plain-English stories of a trace: each crash, hang, TTR that ran out, and command on a job
that came too late, told from the trace alone (what the lessons and `Result.story()` show)."""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stalksim.trace import Trace


def secs(t: float) -> str:
    return f"{round(t, 3):g} s"


def and_list(items: Sequence[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    if len(items) < 2:
        return "".join(items)
    return f"{', '.join(items[:-1])} and {items[-1]}"


def count(n: int, noun: str) -> str:
    """"1 job", "0 jobs", "2 jobs"."""
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def job_list(ids: Iterable[int | str]) -> str:
    """"job 1", "jobs 1 and 2", "jobs 1, 2 and 3"."""
    names = [str(i) for i in ids]
    return f"job{'s' if len(names) != 1 else ''} {and_list(names)}"


def be(ids: Collection[object]) -> str:
    """The verb agreeing with that many jobs: "is" or "are"."""
    return "is" if len(ids) == 1 else "are"


def explain(trace: Trace, limit: int = 4) -> list[str]:
    """One line per crash, hang, TTR that ran out and command on a job that came too late,
    from the trace alone."""
    recs = list(trace)
    lines: list[str] = []
    lost: dict[tuple[int, str], float] = {}  # (job, actor) -> when its TTR ran out
    hung: set[str] = set()
    for i, r in enumerate(recs):
        if r.cause == "crash":
            lines.append(_crash_line(recs, i))
        elif r.cause == "hang":
            hung.add(r.actor)
            lines.append(_hang_line(recs, i))
        elif r.cause == "wake":
            hung.discard(r.actor)
        elif r.cause == "ttr-expired":
            lost[r.job, r.actor] = r.time
            nxt = next((e for e in _after(recs, i) if e.dst != "ready"), None)
            own_delete = nxt is not None and nxt.cause == "delete" and nxt.actor == r.actor
            if r.actor not in hung and not own_delete:  # those lines tell the expiry
                lines.append(_expired_line(recs, i))
        elif (r.cause == "not-found" and r.job) or (
                r.cause == "delete" and r.src != "reserved" and (r.job, r.actor) in lost):
            lines.append(_late_line(recs, i, lost.pop((r.job, r.actor), None)))
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more like these."]
    return lines


def _after(recs: list[Any], i: int) -> list[Any]:
    """The job's transitions after record `i` (marks left out)."""
    return [e for e in recs[i + 1:] if e.job == recs[i].job and e.dst]


def _reserved_since(recs: list[Any], i: int) -> float | None:
    r = recs[i]
    return next((e.time for e in reversed(recs[:i]) if e.job == r.job and e.dst == "reserved"
                 and e.cause != "touch" and e.actor == r.actor), None)


def _next_holder(recs: list[Any], i: int) -> str:
    """Who reserved the job next after record `i` (it was ready then), as a clause."""
    nxt = next((e for e in _after(recs, i) if e.dst != "ready"), None)
    if nxt is None:
        return "nobody reserved it before the run ended"
    if nxt.dst == "reserved":
        wait = nxt.time - recs[i].time
        waited = f", after it waited {secs(wait)} in ready" if wait > 1e-3 else ""
        return f"{nxt.actor} reserved it at {secs(nxt.time)}{waited}"
    return f"{nxt.actor or 'the server'} moved it to {nxt.dst} at {secs(nxt.time)} ({nxt.cause})"


def _crash_line(recs: list[Any], i: int) -> str:
    r = recs[i]
    if not r.job:
        return f"{r.actor} crashed at {secs(r.time)} holding no job: nothing to give back."
    back = next((k for k in range(i + 1, len(recs)) if recs[k].job == r.job
                 and recs[k].cause == "connection-closed"), None)
    then = f"; {_next_holder(recs, back)}" if back is not None else ""
    return (f"{r.actor} crashed at {secs(r.time)} holding job {r.job}: its connection closed, "
            f"so beanstalkd made job {r.job} ready again at once ({secs(r.time)}){then}.")


def _hang_line(recs: list[Any], i: int) -> str:
    r = recs[i]
    wake = next((e.time for e in recs[i + 1:] if e.cause == "wake" and e.actor == r.actor),
                None)
    woke = (f"; {r.actor} woke at {secs(wake)}" if wake is not None else
            f"; {r.actor} was still hung when the run ended")
    if not r.job:
        return f"{r.actor} hung at {secs(r.time)} holding no job: nothing was held up{woke}."
    exp = next((k for k in range(i + 1, len(recs)) if recs[k].job == r.job and
                recs[k].cause == "ttr-expired" and recs[k].actor == r.actor), None)
    head = f"{r.actor} hung at {secs(r.time)} holding job {r.job} with its connection still open"
    if exp is None or (wake is not None and recs[exp].time > wake):
        if wake is None:
            return (f"{head}: job {r.job} was still reserved to it when the run ended (until "
                    f"its TTR runs out or {r.actor} wakes, nobody else can have it).")
        return (f"{head}; it woke at {secs(wake)}, before job {r.job}'s TTR ran out, so the "
                f"job stayed reserved to {r.actor} all along and nobody else could take it.")
    at, since = recs[exp].time, _reserved_since(recs, exp)
    ago = f" ({secs(at - since)} after {r.actor} reserved it at {secs(since)})" if since else ""
    return (f"{head}: job {r.job} stayed reserved until its TTR expired at {secs(at)}{ago}; "
            f"then {_next_holder(recs, exp)}{woke}.")


def _expired_line(recs: list[Any], i: int) -> str:
    r, since = recs[i], _reserved_since(recs, i)
    held = f" (reserved at {secs(since)})" if since is not None else ""
    return (f"Job {r.job}'s TTR ran out at {secs(r.time)} while {r.actor} still had it{held}: "
            f"the job was ready again and {_next_holder(recs, i)}.")


def _late_line(recs: list[Any], i: int, expired: float | None) -> str:
    r = recs[i]
    head = f"{r.actor} finished job {r.job} at {secs(r.time)}" + (
        f", after its TTR ran out at {secs(expired)}" if expired is not None else "")
    if r.cause == "delete":
        return (f"{head}: nobody had reserved it meanwhile, so its delete succeeded (DELETED: "
                f"any client may delete a ready, delayed or buried job).")
    before = [e for e in recs[:i] if e.job == r.job and e.dst]
    last = before[-1] if before else None
    if last is not None and last.dst == "reserved":
        twice = any(e.cause == "delete" and e.actor == last.actor for e in _after(recs, i))
        return (f"{head}: its delete got NOT_FOUND, because {last.actor} had reserved it at "
                f"{secs(last.time)}" + (" and finished it too: the work was done twice."
                                      if twice else "."))
    if last is not None and last.dst == "deleted":
        return (f"{head}: its delete got NOT_FOUND, because {last.actor} had deleted it "
                f"already at {secs(last.time)}" + (": the work was done twice."
                                                 if last.actor != r.actor else "."))
    return f"{head}: its command got NOT_FOUND (the job was no longer reserved by it)."
