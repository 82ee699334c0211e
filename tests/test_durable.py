"""`stalksim.durable.attach`: a core server restored from, and journaling to, a binlog that the
real beanstalkd 1.12 reads and writes.

(1) Random operations on ``beanstalkd -b D`` (stopped by SIGKILL); a core server attached to
D holds, by its snapshot, the jobs a restarted beanstalkd holds (stats-job and peek). (2)
Random operations on an attached core server; ``beanstalkd -b D`` then holds its jobs, job by
job, and its next put continues the ids. Plus the errors and warnings of attach.
"""

from __future__ import annotations

import os
import random
import signal
import time

import greenstalk
import pytest

from stalksim import binlog
from stalksim.core import SEC, Refused, Server
from stalksim.durable import BinlogError, attach
from tests.test_binlog_helpers import ServerJob, copy_dir, real_on, server_jobs
from tests.test_binlog_real import TUBES, drive

ROUNDS: dict[str, dict[str, int]] = {  # counted for the report: sequences, jobs, mismatches
    way: {"sequences": 0, "jobs": 0, "mismatches": 0} for way in ("real->attach", "attach->real")
}


def count(way: str, jobs: int, problems: list[str]) -> None:
    ROUNDS[way]["sequences"] += 1
    ROUNDS[way]["jobs"] += jobs
    ROUNDS[way]["mismatches"] += len(problems)


def core_jobs(server: Server) -> dict[int, dict[str, object]]:
    """Each job of the server, by its snapshot, as stats-job would show it now."""
    out = {}
    for tube in server.snapshot().tubes.values():
        for jv in (*tube.ready, *tube.delayed, *tube.buried, *tube.reserved):
            j = server.jobs[jv.id]
            left = (jv.deadline - server.now) // SEC if jv.state == "delayed" else 0
            out[jv.id] = {
                "tube": jv.tube, "state": jv.state, "pri": jv.pri, "delay": jv.delay,
                "ttr": jv.ttr, "body": jv.body, "time_left": left, "reserves": j.reserves,
                "timeouts": j.timeouts, "releases": j.releases, "buries": j.buries,
                "kicks": j.kicks,
            }
    return out


def differences(mine: dict[int, dict[str, object]], real: dict[int, ServerJob],
                fields: tuple[str, ...]) -> list[str]:
    """Every field that differs, job by job (time-left within 2 s)."""
    out = [] if set(mine) == set(real) else [f"ids: core {sorted(mine)} real {sorted(real)}"]
    for i in sorted(set(mine) & set(real)):
        for k in fields:
            a, b = mine[i][k], getattr(real[i], k)
            close = k == "time_left" and abs(a - b) <= 2  # type: ignore[operator]
            matured = (k == "state" and {a, b} == {"delayed", "ready"}  # while being read
                       and mine[i]["time_left"] <= 2)  # type: ignore[operator]
            if a != b and not (close or matured):
                out.append(f"job {i}: {k} core {a!r} real {b!r}")
    return out


COUNTS = ("current-jobs-urgent", "current-jobs-ready", "current-jobs-reserved",
          "current-jobs-delayed", "current-jobs-buried", "total-jobs")


def stats_differences(server: Server, c: greenstalk.Client) -> list[str]:
    """The job counts of `stats` and of each tube's `stats-tube` (a restore is no put)."""
    def parse(yaml: str) -> dict[str, str]:
        return dict(line.split(": ", 1) for line in yaml.splitlines()[1:])

    me = server.connect(server.now)
    out = []
    pairs = [("stats", parse(server.stats(me, server.now)), c.stats())]
    pairs += [(f"stats-tube {t}", parse(server.stats_tube(me, server.now, t)), c.stats_tube(t))
              for t in c.tubes()]
    for what, mine, real in pairs:
        out += [f"{what} {k}: core {mine[k]} real {real[k]}" for k in COUNTS
                if int(mine[k]) != real[k]]
    server.close(me, server.now)
    return out


ALL = ("tube", "state", "pri", "delay", "ttr", "body", "time_left", "reserves", "timeouts",
       "releases", "buries", "kicks")


@pytest.mark.real
@pytest.mark.parametrize("seed", range(20))
def test_core_restores_a_real_binlog(tmp_path, seed: int) -> None:
    """A binlog written by beanstalkd: attach() restores what a restarted beanstalkd holds."""
    rng = random.Random(seed)
    d = str(tmp_path / "wal")
    os.mkdir(d)
    size = rng.choice(["2000", "9000", "100000"])
    with real_on(d, "-s", size) as run:
        conns = [run.client() for _ in range(3)]
        top = drive(conns, rng, 150)
        run.stop(signal.SIGKILL)
        for c in conns:
            c.close()
    with real_on(copy_dir(d, str(tmp_path / "copy")), "-s", size) as run2:
        c = run2.client()
        server = Server()
        log = attach(server, d, size=int(size), now_ns=time.time_ns())
        real = server_jobs(c, range(1, top + 1))
        problems = differences(core_jobs(server), real, ALL)
        problems += stats_differences(server, c)
        probe = c.put(b"probe")
        if probe != server.next_id:
            problems.append(f"next id: core {server.next_id} real {probe}")
        log.close()
    count("real->attach", len(real), problems)
    assert log.warnings == []
    assert problems == []
    assert real, "the sequence left no job to compare"
    server.check()


def drive_core(server: Server, rng: random.Random, steps: int, wall0: int) -> None:
    """Random commands on the core (several connections), its clock the wall clock's."""
    def now() -> int:
        return time.time_ns() - wall0

    conns = [server.connect(now()) for _ in range(3)]
    for c in conns:
        for t in TUBES:
            server.watch(c, now(), t)
    for _ in range(steps):
        k = rng.randrange(len(conns))
        c = conns[k]
        op = rng.choices(["put", "reserve", "release", "bury", "kick", "kick-job", "delete",
                          "touch", "close"], [6, 4, 2, 2, 1, 1, 2, 1, 0.3])[0]
        held = [j for j in c.reserved]
        top = server.next_id - 1
        try:
            if op == "put":
                server.use(c, now(), rng.choice(TUBES))
                body = bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 5, 300])))
                server.put(c, now(), rng.choice([0, 1, 1023, 2**31, 2**32 - 1]),
                           rng.choice([0, 0, 0, 1, 200, 5000]), rng.choice([1, 60, 3600]),
                           body)
            elif op == "reserve":
                server.reserve_with_timeout(c, now(), 0)
            elif held and op in ("release", "bury", "touch", "delete"):
                jid = rng.choice(held)
                if op == "release":
                    server.release(c, now(), jid, rng.randrange(5000), rng.choice([0, 3, 400]))
                elif op == "bury":
                    server.bury(c, now(), jid, rng.randrange(5000))
                elif op == "touch":
                    server.touch(c, now(), jid)
                else:
                    server.delete(c, now(), jid)
            elif op == "kick":
                server.use(c, now(), rng.choice(TUBES))
                server.kick(c, now(), rng.choice([1, 3, 100]))
            elif op == "kick-job" and top:
                server.kick_job(c, now(), rng.randint(1, top))
            elif op == "delete" and top:
                server.delete(c, now(), rng.randint(1, top))
            elif op == "close":
                server.close(c, now())
                conns[k] = server.connect(now())
        except Refused:
            pass
        server.take_answers()
    server.advance(now())


@pytest.mark.real
@pytest.mark.parametrize("seed", range(20))
def test_real_beanstalkd_restores_what_attach_wrote(tmp_path, seed: int) -> None:
    """Jobs journaled through attach() come back in beanstalkd, job by job."""
    rng = random.Random(1000 + seed)
    d = str(tmp_path / "wal")
    os.mkdir(d)
    size = rng.choice([3000, 20000, 10 << 20])
    wall0 = time.time_ns()
    server = Server()
    log = attach(server, d, size=size, fsync_ms=rng.choice([None, 0, 50]), now_ns=wall0)
    drive_core(server, rng, 200, wall0)
    log.close()
    assert log.warnings == []
    expect = core_jobs(server)
    for v in expect.values():  # what a restart makes of them
        if v["state"] == "reserved":
            v["state"] = "ready"
        elif v["state"] == "buried":
            v["buries"] = v["buries"] + 1  # type: ignore[operator]
    # The priority, delay and counters are the last record's: beanstalkd does not log a
    # reserve, a touch, a release without delay, a TTR running out (stalksim.binlog.read,
    # tested against beanstalkd, says which); the rest is the core's own values.
    on_disk = binlog.read(d).by_id()
    for i, v in expect.items():
        if i in on_disk:
            img = on_disk[i]
            v.update(pri=img.priority, delay=img.delay_ns // SEC, reserves=img.reserves,
                     timeouts=img.timeouts,
                     releases=img.releases, buries=img.buries, kicks=img.kicks)
    with real_on(d, "-s", str(size)) as run:
        c = run.client()
        real = server_jobs(c, range(1, server.next_id + 5))
        problems = differences(expect, real, ALL)
        probe = c.put(b"probe")
        if probe != server.next_id:
            problems.append(f"next id: core {server.next_id} real {probe}")
    count("attach->real", len(real), problems)
    assert problems == []
    assert real, "the sequence left no job to compare"


def test_attach_then_attach_again_is_a_restart(tmp_path) -> None:
    """A directory attach() wrote is restored by attach(): same ids, reserved back to ready,
    a buried job counting one more bury, a delayed job delayed for what is left."""
    d = str(tmp_path)
    s1 = Server()
    log = attach(s1, d, now_ns=10**18)
    c = s1.connect(0)
    s1.use(c, 0, "orders")
    s1.watch(c, 0, "orders")
    ids = [s1.put(c, 0, p, delay, 30, b"x%d" % p) for p, delay in
           ((5, 0), (6, 0), (7, 100), (8, 0))]
    assert s1.reserve(c, SEC).id == ids[0]
    assert s1.reserve(c, SEC).id == ids[1]
    s1.bury(c, 2 * SEC, ids[1], 9)
    s1.delete(c, 3 * SEC, ids[3])
    log.close()
    s2 = Server(now=40 * SEC)
    log2 = attach(s2, d, now_ns=10**18 + 40 * SEC)
    snap = s2.snapshot().tubes["orders"]
    assert [j.id for j in snap.ready] == [ids[0]]
    assert [(j.id, j.pri) for j in snap.buried] == [(ids[1], 9)]
    assert [(j.id, j.deadline) for j in snap.delayed] == [(ids[2], 100 * SEC)]
    assert s2.jobs[ids[1]].buries == 2 and s2.jobs[ids[0]].reserves == 0
    assert s2.next_id == ids[3] + 1
    s2.check()
    log2.close()


def test_attach_errors(tmp_path) -> None:
    """One exception class, one line, beanstalkd's words."""
    afile = tmp_path / "afile"
    afile.write_text("")
    with pytest.raises(BinlogError, match=r"^failed to lock wal dir .*afile: open: Not a direc"):
        attach(Server(), str(afile), now_ns=0)
    with pytest.raises(BinlogError, match=r"^failed to lock wal dir .*: open: No such file"):
        attach(Server(), str(tmp_path / "missing"), now_ns=0)
    (tmp_path / "lockdir").mkdir()
    (tmp_path / "lockdir" / "lock").mkdir()  # the lock file cannot be opened for writing
    with pytest.raises(BinlogError, match=r"^failed to lock wal dir .*: open: Is a directory"):
        attach(Server(), str(tmp_path / "lockdir"), now_ns=0)
    first = attach(Server(), str(tmp_path), now_ns=0)
    with pytest.raises(BinlogError, match=r"^failed to lock wal dir .*: fcntl: Resource temp"):
        attach(Server(), str(tmp_path), now_ns=0)
    first.close()
    busy = Server()
    busy.put(busy.connect(0), 0, 0, 0, 1, b"x")
    with pytest.raises(BinlogError, match="without jobs"):
        attach(busy, str(tmp_path), now_ns=0)


@pytest.mark.real
def test_attach_refuses_a_directory_beanstalkd_holds(tmp_path) -> None:
    with real_on(str(tmp_path)) as run:
        run.client().stats()  # serving: past its lock (it listens before it locks)
        with pytest.raises(BinlogError) as e:
            attach(Server(), str(tmp_path), now_ns=0)
    assert str(e.value) == (f"failed to lock wal dir {tmp_path}: fcntl: Resource temporarily "
                            f"unavailable")


def test_attach_passes_on_read_warnings(tmp_path) -> None:
    """A cut file: attach() restores what read() restores and hands on its warnings."""
    d = str(tmp_path)
    with binlog.Writer(d, size=4096) as w:
        for i in (1, 2, 3):
            w.put(binlog.JobImage(id=i, tube="default", priority=i, ttr_ns=SEC, body=b"ab"))
    path = os.path.join(d, "binlog.1")
    data = open(path, "rb").read()
    os.truncate(path, data.rindex(b"ab\r\n") + 1)  # inside job 3's body
    expected = binlog.read(d)
    server = Server()
    log = attach(server, d, now_ns=time.time_ns())
    assert log.warnings == expected.warnings and log.warnings
    assert sorted(server.jobs) == [j.id for j in expected.jobs] == [1, 2]
    log.close()


@pytest.mark.real
@pytest.mark.parametrize("puts, delete, want", [(1, (1,), 1), (2, (2,), 3), (2, (1,), 3),
                                                (2, (1, 2), 1)],
                         ids=["only-job-deleted", "newest-deleted", "oldest-deleted", "all"])
def test_next_id_after_deletes_as_beanstalkd(tmp_path, puts: int, delete: tuple[int, ...],
                                             want: int) -> None:
    """Deleted jobs count for the next id while a live job keeps the files; with no job
    left beanstalkd deletes them and starts at 1 (what `Simulation.restart` models)."""
    d = str(tmp_path / "wal")
    os.mkdir(d)
    s = Server()
    log = attach(s, d, now_ns=time.time_ns())
    c = s.connect(0)
    for _ in range(puts):
        s.put(c, 0, 0, 0, 1, b"x")
    for i in delete:
        s.delete(c, 0, i)
    log.close()
    restarted = Server()
    attach(restarted, d, now_ns=time.time_ns()).close()
    assert restarted.next_id == want
    with real_on(copy_dir(d, str(tmp_path / "copy"))) as run:
        assert run.client().put(b"p") == want
