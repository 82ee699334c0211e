"""Property: `Simulation.restart(binlog=True)` loses nothing acknowledged and brings back
nothing deleted; with `lost_ms` > 0 only jobs written within the window differ.

Random programs (puts with delays, reserves, releases, buries, kicks, deletes, touches, TTRs
running out, closes, time passing) run on fresh simulations; the same program twice gives the
same run (the simulator is deterministic), so a restart with `lost_ms=0` and one with a window
can be compared job by job.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable

import greenstalk
from hypothesis import given, settings
from hypothesis import strategies as st

from stalksim import binlog
from stalksim.durable import attach
from stalksim.simulation import Simulation

TUBES = ("default", "orders")
OPS = st.one_of(
    st.tuples(st.just("put"), st.integers(0, 1), st.sampled_from([0, 0, 2, 50]),
              st.sampled_from([1, 5, 2000]), st.sampled_from([0, 10, 2**31])),
    st.tuples(st.just("reserve"), st.integers(0, 1)),
    st.tuples(st.just("release"), st.integers(0, 1), st.sampled_from([0, 0, 3])),
    st.tuples(st.just("bury"), st.integers(0, 1)),
    st.tuples(st.just("kick"), st.integers(0, 1), st.sampled_from([1, 5])),
    st.tuples(st.just("delete"), st.integers(0, 1)),
    st.tuples(st.just("delete-any"), st.integers(1, 8)),
    st.tuples(st.just("kick-job"), st.integers(1, 8)),
    st.tuples(st.just("reserve-delete"), st.integers(0, 1)),
    st.tuples(st.just("touch"), st.integers(0, 1)),
    st.tuples(st.just("close"), st.integers(0, 1)),
    st.tuples(st.just("advance"), st.sampled_from([0.005, 0.02, 0.3, 1.5, 8.0])),
)
#: Work, a pause of 5 s, more work: with a window of up to 3 s, the later work is mostly in it.
PROGRAMS = st.tuples(st.lists(OPS, min_size=1, max_size=40), st.lists(OPS, max_size=20)).map(
    lambda ab: [*ab[0], ("advance", 5.0), *ab[1]])


def run(program: list[tuple], setup: Callable[[Simulation], object] | None = None
        ) -> tuple[Simulation, set[int], set[int]]:
    """Run `program` (after `setup(sim)`); the simulation, the ids of acknowledged puts and
    of acknowledged deletes."""
    sim = Simulation(seed=0, binlog=True)
    if setup is not None:
        setup(sim)
    clients = [sim.client(watch=TUBES) for _ in range(2)]
    held: list[list[int]] = [[], []]
    puts: set[int] = set()
    deletes: set[int] = set()
    for op, *args in program:
        try:
            if op == "put":
                c = clients[0]
                c.use(TUBES[args[0]])
                puts.add(c.put(f"b{len(puts)}", delay=args[1], ttr=args[2],
                               priority=args[3]))
            elif op == "reserve":
                held[args[0]].append(clients[args[0]].reserve(timeout=0).id)
            elif op in ("release", "bury", "delete", "touch") and held[args[0]]:
                k = args[0]
                jid = held[k].pop(0)
                job = greenstalk.Job(jid, "")
                if op == "release":
                    clients[k].release(job, delay=args[1])
                elif op == "bury":
                    clients[k].bury(job)
                elif op == "touch":
                    clients[k].touch(job)
                    held[k].append(jid)
                else:
                    clients[k].delete(job)
                    deletes.add(jid)
            elif op == "kick":
                clients[1].use(TUBES[args[0]])
                clients[1].kick(args[1])
            elif op == "reserve-delete":
                c = clients[args[0]]
                jid = c.reserve(timeout=0).id
                c.delete(jid)
                deletes.add(jid)
            elif op == "kick-job":
                clients[1].kick_job(args[0])
            elif op == "delete-any":
                clients[1].delete(args[0])
                deletes.add(args[0])
            elif op == "close":
                clients[args[0]].close()
                clients[args[0]] = sim.client(watch=TUBES)
                held[args[0]] = []
            elif op == "advance":
                sim.advance(args[0])
        except (greenstalk.NotFoundError, greenstalk.TimedOutError,
                greenstalk.DeadlineSoonError):
            pass
    return sim, puts, deletes


def jobs_of(sim: Simulation) -> dict[int, tuple]:
    out = {}
    for t in sim.server.snapshot().tubes.values():
        for j in (*t.ready, *t.delayed, *t.buried, *t.reserved):
            out[j.id] = (j.tube, j.state, j.pri, j.delay, j.ttr, j.deadline, j.body)
    return out


@settings(max_examples=150, deadline=None)
@given(PROGRAMS)
def test_no_acknowledged_put_lost_no_deleted_job_back(program: list[tuple]) -> None:
    sim, puts, deletes = run(program)
    before = jobs_of(sim)
    sim.restart(binlog=True, lost_ms=0)
    after = jobs_of(sim)
    assert set(after) == puts - deletes == set(before)
    for i, (tube, state, _pri, _delay, ttr, deadline, body) in before.items():
        a = after[i]
        assert (a[0], a[4], a[6]) == (tube, ttr, body)
        assert a[1] == ("ready" if state == "reserved" else state)
        if state == "delayed":
            assert a[5] == deadline
    sim.server.check()
    c = sim.client()
    # ids go on past every put while jobs keep the files; with none left, beanstalkd's
    # files are gone and ids start at 1 again
    assert c.put("next") == (max(puts) + 1 if after else 1)


def written_in_window(sim: Simulation, lost_ns: int) -> set[int]:
    """Jobs with a logged write (put, bury, kick, delete, delayed release) in the window."""
    cut = sim.now_ns() - lost_ns
    return {e[1] for e in sim.trace.raw
            if e[1] and e[0] > cut and e[4] and binlog.logged(e[5], e[4] == "delayed")}


@settings(max_examples=150, deadline=None)
@given(PROGRAMS, st.sampled_from([5, 30, 400, 3000]))
def test_only_jobs_written_in_the_window_differ(program: list[tuple], lost_ms: int) -> None:
    exact, puts, _ = run(program)
    lossy, _, _ = run(program)
    assert exact.trace.raw == lossy.trace.raw  # the same run
    window = written_in_window(lossy, lost_ms * 1_000_000)
    cut = lossy.now_ns() - lost_ms * 1_000_000
    put_in_window = {e[1] for e in lossy.trace.raw if e[5] == "put" and e[0] > cut}
    delete_undone = {e[1] for e in lossy.trace.raw
                     if e[4] == "deleted" and e[0] > cut and e[1] not in put_in_window}
    exact.restart(binlog=True)
    lossy.restart(binlog=True, lost_ms=lost_ms)
    a, b = jobs_of(exact), jobs_of(lossy)
    differ = {i for i in set(a) | set(b) if a.get(i) != b.get(i)}
    assert differ <= window
    assert not put_in_window & set(b)  # a put in the window is lost
    assert delete_undone <= set(b)  # a delete in the window is undone
    assert set(b) <= puts  # nothing that was never put
    lossy.server.check()


WALL = 1_800_000_000 * 10**9  # the wall-clock time of virtual 0 for the binlog files


@settings(max_examples=60, deadline=None)
@given(PROGRAMS)
def test_restart_restores_what_the_real_binlog_would(program: list[tuple]) -> None:
    """The simulator's binlog model against beanstalkd's format: the same run also journaled
    to a directory through `durable.attach`; `binlog.read` of it (what beanstalkd restores,
    tests/test_binlog_real.py) gives exactly the jobs and next id `restart` brings back."""
    with tempfile.TemporaryDirectory() as d:
        logs = []

        def tee(sim: Simulation) -> None:
            memory = sim.server.journal
            log = attach(sim.server, d, now_ns=WALL)
            logs.append(log)

            def both(*args: object) -> None:
                memory(*args)  # type: ignore[misc]
                log(*args)  # type: ignore[arg-type]
            sim.server.journal = both

        sim, _, _ = run(program, tee)
        logs[0].close()
        now = sim.now_ns()
        on_disk = binlog.read(d, now_ns=WALL + now)
        sim.restart(binlog=True)
        assert on_disk.warnings == [] and logs[0].warnings == []
        want = [(j.id, j.tube, j.state, j.priority, j.delay_ns, j.ttr_ns, j.body,
                 j.deadline_at_ns - WALL if j.state == "delayed" else 0, j.reserves,
                 j.timeouts, j.releases, j.buries, j.kicks) for j in on_disk.jobs]
        got = [(j.id, j.tube.name, j.state, j.pri, j.delay * 10**9, j.ttr * 10**9, j.body,
                j.deadline if j.state == "delayed" else 0, j.reserves, j.timeouts,
                j.releases, j.buries, j.kicks) for j in sim.server.jobs.values()]
        assert got == want  # in beanstalkd's replay order too (a tube's buried jobs: kick order)
        assert sim.server.next_id == on_disk.next_id
