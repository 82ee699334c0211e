"""The ServerPanel's sentences: jobs counted and listed in proper English ("job 1 is", "jobs 1
and 2 are"), times exact to the nanosecond, and why a reserve timed out, read from a snapshot
of the server (who holds which job and until when, paused tubes, delays, buried jobs, ready
jobs in tubes the client does not watch)."""

from __future__ import annotations

from collections.abc import Collection, Mapping

from stalksim.core import SEC, ConnView, JobView, Snapshot
from stalksim.stories import and_list, be, count, job_list

MAX_REASONS = 4  # a TIMED_OUT hint names at most this many reasons, then "and N more"


def at(ns: int) -> str:
    """A virtual time, exact: "t = 5 s", "t = 5.000000001 s"."""
    whole, part = divmod(ns, SEC)
    return f"t = {whole}.{part:09d}".rstrip("0") + " s" if part else f"t = {whole} s"


def _held(j: JobView, me: ConnView, holder: str, hung: bool, rule: bool) -> str:
    """Why a reserved job cannot be had: who holds it and when its TTR runs out (a job times
    out only once `now > deadline`, the first nanosecond after it)."""
    back = at(j.deadline + 1)
    if j.holder == me.number:
        text = f"job {j.id} is reserved by {holder} itself until its TTR runs out at {back}"
    elif hung:
        text = f"job {j.id} is still reserved by {holder} (hung) until its TTR runs out at {back}"
    else:
        text = (f"job {j.id} is reserved by {holder} until it deletes, releases or buries it, "
                f"or until its TTR runs out at {back}")
    if rule:
        text += (f" (just after its deadline, {at(j.deadline)}: beanstalkd times a job out only "
                 f"once its deadline has passed)")
    return text


def why_timed_out(snap: Snapshot, me: int, names: Mapping[int, str],
                  hung: Collection[int] = ()) -> str:
    """Why connection `me`'s reserve found nothing ready, from `snap`: the jobs in the tubes it
    watches and where each one is. `names` labels connections by number, `hung` lists the
    numbers of hung ones."""
    conn = snap.conns[me]
    who = names.get(me, conn.name)
    watched = [snap.tubes[n] for n in conn.watch if n in snap.tubes]
    reasons = []
    for t in watched:
        if t.paused_until is not None:
            reasons.append(f"{t.name!r} is paused until {at(t.paused_until)} (it hands out no "
                           f"job until then)")
    held = [j for t in watched for j in t.reserved]
    for n, j in enumerate(held):  # the rule is said once, with the first TTR
        holder = names.get(j.holder, snap.conns[j.holder].name) if j.holder else "?"
        reasons.append(_held(j, conn, holder, j.holder in hung, rule=n == 0))
    for t in watched:
        reasons += [f"job {j.id} is delayed until {at(j.deadline)}" for j in t.delayed]
        if t.buried:
            ids = [j.id for j in t.buried]
            reasons.append(f"{job_list(ids)} {be(ids)} buried in {t.name!r} (a kick brings "
                           f"{'it' if len(ids) == 1 else 'them'} back)")
    for name, t in snap.tubes.items():
        if name not in conn.watch and t.ready:
            ids = [j.id for j in t.ready]
            reasons.append(f"{job_list(ids)} {be(ids)} ready in {name!r}, which {who} does not "
                           f"watch")
    if len(reasons) > MAX_REASONS:
        reasons[MAX_REASONS:] = [f"and {count(len(reasons) - MAX_REASONS, 'more reason')}"]
    one = len(conn.watch) == 1
    where = (f"{and_list([repr(t) for t in conn.watch])}, the tube{'' if one else 's'} {who} "
             f"watches")
    if not reasons:
        return f"nothing is ready in {where}, and {'it holds' if one else 'they hold'} no job"
    return f"nothing is ready in {where}: " + "; ".join(reasons)
