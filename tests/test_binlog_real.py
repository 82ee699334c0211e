"""Binlogs cross over both ways with the real beanstalkd 1.12 (``beanstalkd -b DIR``).

(1) Random operations on a real beanstalkd, stopped by SIGTERM or SIGKILL; then ``read(DIR)``
is compared job by job with what the server held before it stopped and with what a restarted
beanstalkd (on a copy of DIR) holds. (2) ``Writer`` writes random jobs; a beanstalkd started on
the directory holds exactly those jobs, and its next put continues the ids.
"""

from __future__ import annotations

import random
import signal
import time

import greenstalk
import pytest

from stalksim import binlog
from tests.test_binlog_helpers import (
    NS,
    ServerJob,
    copy_dir,
    job_differences,
    mismatches,
    real_on,
    server_jobs,
)

pytestmark = pytest.mark.real

TUBES = ["default", "orders", "mail-out", "x.y_z(1)"]
ROUNDS: dict[str, dict[str, int]] = {  # counted for reports: sequences, jobs, mismatches
    way: {"sequences": 0, "jobs": 0, "mismatches": 0} for way in ("real->read", "writer->real")
}


def count(way: str, jobs: int, problems: list[str]) -> None:
    ROUNDS[way]["sequences"] += 1
    ROUNDS[way]["jobs"] += jobs
    ROUNDS[way]["mismatches"] += len(problems)


def drive(c: list[greenstalk.Client], rng: random.Random, steps: int) -> int:
    """Random puts, reserves, releases, buries, kicks, touches and deletes; the highest id."""
    held: list[tuple[int, int]] = []  # (connection, job id) reserved and still held
    top = 0
    for conn in c:
        for t in TUBES:
            conn.watch(t)
    for _ in range(steps):
        k = rng.randrange(len(c))
        cl = c[k]
        op = rng.choices(["put", "reserve", "release", "bury", "kick", "kick-job", "delete",
                          "touch"], [6, 4, 2, 2, 1, 1, 2, 1])[0]
        try:
            if op == "put":
                cl.use(rng.choice(TUBES))
                body = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 5, 300])))
                top = cl.put(body, priority=rng.choice([0, 1, 1023, 2**31, 2**32 - 1]),
                             delay=rng.choice([0, 0, 0, 1, 200, 5000]),
                             ttr=rng.choice([1, 60, 3600]))
            elif op == "reserve":
                job = cl.reserve(timeout=0)
                held.append((k, job.id))
            elif held and op in ("release", "bury", "touch", "delete"):
                ck, jid = held.pop(rng.randrange(len(held)))
                owner = c[ck]
                if op == "release":
                    owner.release(greenstalk.Job(jid, b""), priority=rng.randrange(5000),
                                  delay=rng.choice([0, 3, 400]))
                elif op == "bury":
                    owner.bury(greenstalk.Job(jid, b""), priority=rng.randrange(5000))
                elif op == "touch":
                    owner.touch(greenstalk.Job(jid, b""))
                    held.append((ck, jid))
                else:
                    owner.delete(jid)
            elif op == "kick":
                cl.use(rng.choice(TUBES))
                cl.kick(rng.choice([1, 3, 100]))
            elif op == "kick-job" and top:
                cl.kick_job(rng.randint(1, top))
            elif op == "delete" and top:
                cl.delete(rng.randint(1, top))  # ready, delayed or buried (not others' jobs)
        except (greenstalk.NotFoundError, greenstalk.TimedOutError, greenstalk.DeadlineSoonError):
            pass
    return top


def restored_like_server(before: dict[int, ServerJob], restored: binlog.Restored) -> list[str]:
    """What read() restored against what the server held just before it was stopped.

    Ids, tubes, TTRs and bodies are what beanstalkd logs for sure; the state is the server's,
    with reserved read as ready (and a delayed job whose time came in between as ready).
    Priorities and counters are compared with the restarted server instead: beanstalkd does
    not log a release without delay, a reserve or a TTR expiry.
    """
    out = []
    mine = restored.by_id()
    if set(mine) != set(before):
        out.append(f"ids: read {sorted(mine)} server {sorted(before)}")
    for i in sorted(set(mine) & set(before)):
        j, s = mine[i], before[i]
        want_state = "ready" if s.state == "reserved" else s.state
        if j.state != want_state and not (s.state == "delayed" and j.state == "ready"
                                          and s.time_left <= 1):
            out.append(f"job {i}: state read {j.state} server {s.state}")
        for name, mine_v, real_v in (("tube", j.tube, s.tube), ("ttr", j.ttr_ns // NS, s.ttr),
                                     ("body", j.body, s.body)):
            if mine_v != real_v:
                out.append(f"job {i}: {name} read {mine_v!r} server {real_v!r}")
    return out


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize("seed", range(10))
def test_real_binlog_read_back(tmp_path, seed: int, sig: int) -> None:
    """A real beanstalkd's binlog, read by stalksim, gives the jobs it held and would restore."""
    rng = random.Random(seed * 7919 + sig)
    d = str(tmp_path / "wal")
    (tmp_path / "wal").mkdir()
    size = rng.choice(["2000", "9000", "100000"])  # small files: rotation and compaction too
    with real_on(d, "-s", size) as run:
        conns = [run.client() for _ in range(3)]
        top = drive(conns, rng, 150)
        before = server_jobs(conns[0], range(1, top + 1))
        run.stop(sig)
        for cl in conns:
            cl.close()
    restored = binlog.read(d)
    assert restored.warnings == []
    problems = restored_like_server(before, restored)

    again = copy_dir(d, str(tmp_path / "copy"))
    with real_on(again, "-s", size) as run2:
        c = run2.client()
        restored = binlog.read(d)  # read at about the time the server restores
        real = server_jobs(c, range(1, top + 1))
        problems += mismatches(restored, real)
        probe = c.put(b"probe")
        if probe != restored.next_id:
            problems.append(f"next id: read {restored.next_id} real {probe}")
    count("real->read", len(real), problems)
    assert problems == []
    assert before, "the sequence left no job to compare"


def random_jobs(rng: random.Random, now: int, n: int) -> list[binlog.JobImage]:
    """n jobs with gaps in their ids, every state a binlog holds, and counters set."""
    jobs, next_id = [], 1
    for _ in range(n):
        next_id += rng.choice([1, 1, 1, 2, 17])
        state = rng.choice(["ready", "reserved", "delayed", "buried"])
        delay = rng.choice([0, 30, 4000]) * NS
        jobs.append(binlog.JobImage(
            id=next_id, tube=rng.choice(TUBES), priority=rng.choice([0, 5, 1024, 2**32 - 1]),
            ttr_ns=rng.choice([1, 120, 86400]) * NS,
            body=bytes(rng.randrange(256) for _ in range(rng.choice([0, 3, 700]))),
            state=state, delay_ns=delay,
            created_at_ns=now - rng.randrange(0, 10**6) * NS,
            deadline_at_ns=now + (rng.choice([-100, 50, 3000]) if state == "delayed" else 0) * NS,
            reserves=rng.randrange(4), timeouts=rng.randrange(3), releases=rng.randrange(3),
            buries=rng.randrange(3), kicks=rng.randrange(3),
        ))
    return jobs


def expected_after_restart(j: binlog.JobImage, now: int) -> dict[str, object]:
    """What beanstalkd shows for a job it restored (reserved -> ready, a bury counted again)."""
    state = {"reserved": "ready", "delayed": "delayed" if j.deadline_at_ns > now else "ready"}
    return {
        "tube": j.tube, "state": state.get(j.state, j.state), "pri": j.priority,
        "delay": j.delay_ns // NS, "ttr": j.ttr_ns // NS, "body": j.body,
        "reserves": j.reserves, "timeouts": j.timeouts, "releases": j.releases,
        "buries": j.buries + (j.state == "buried"), "kicks": j.kicks,
    }


@pytest.mark.parametrize("seed", range(10))
def test_writer_restored_by_real_beanstalkd(tmp_path, seed: int) -> None:
    """Jobs written by Writer (puts, state changes, deletes, rotations) come back in beanstalkd."""
    rng = random.Random(seed)
    d = str(tmp_path / "wal")
    (tmp_path / "wal").mkdir()
    now = time.time_ns()
    size = rng.choice([3000, 20000, 10 << 20])
    live: dict[int, binlog.JobImage] = {}
    with binlog.Writer(d, size=size, fsync_ms=rng.choice([None, 0, 50])) as w:
        for job in random_jobs(rng, now, 60):
            w.put(job)
            live[job.id] = job
            if rng.random() < 0.3:  # delete some job
                victim = rng.choice(sorted(live))
                w.delete(victim)
                del live[victim]
            elif rng.random() < 0.3:  # a state change of some job
                jid = rng.choice(sorted(live))
                changed = binlog.JobImage(**{**live[jid].__dict__, "state": "buried",
                                             "buries": live[jid].buries + 1})
                w.update(changed)
                live[jid] = changed
        files = {j: w.file_of(j) for j in live}
    mine = binlog.read(d)
    assert mine.warnings == []
    assert {j.id: j.file for j in mine.jobs} == files
    with real_on(d, "-s", str(size)) as run:
        c = run.client()
        real = server_jobs(c, range(1, max(live) + 20))
        now = time.time_ns()
        problems = [] if set(real) == set(live) else [f"ids {sorted(real)} != {sorted(live)}"]
        for jid, job in live.items():
            if jid not in real:
                continue
            want = expected_after_restart(job, now)
            got = {k: getattr(real[jid], k) for k in want}
            if got != want:
                problems.append(f"job {jid}: {got} != {want}")
            if real[jid].file != files[jid]:
                problems.append(f"job {jid}: file {real[jid].file} != {files[jid]}")
            problems += [f"job {jid}: {p}" for p in job_differences(
                next(m for m in mine.jobs if m.id == jid), real[jid], now, 2)]
        probe = c.put(b"next")
        if probe != mine.next_id or probe <= max(live):
            problems.append(f"next id {probe}, read says {mine.next_id}, top {max(live)}")
    count("writer->real", len(live), problems)
    assert problems == []
