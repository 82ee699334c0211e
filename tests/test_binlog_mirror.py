"""Writer writes the very files beanstalkd 1.12 writes: same names, sizes and bytes.

The same random operations run on a real ``beanstalkd -b D1 -s SIZE`` and, as job values read
back with stats-job after each one, on ``Writer(D2, size=SIZE)``. Then every ``binlog.N`` must
match byte for byte, except the two wall-clock fields (created_at, deadline_at): so the
reservations, the rotation at SIZE, the truncation of finished files, the compaction that
copies old jobs forward and the deletion of files no live job needs are beanstalkd's.
"""

from __future__ import annotations

import os
import random
import signal

import greenstalk
import pytest

from stalksim import binlog
from tests.test_binlog_corrupt import records
from tests.test_binlog_helpers import NS, copy_dir, real_on

pytestmark = pytest.mark.real

TUBES = ["default", "orders", "a-much-longer-tube-name-for-bigger-records"]
COMPARED = {"runs": 0, "files": 0, "records": 0}  # counted for reports


def image(c: greenstalk.Client, jid: int) -> binlog.JobImage:
    """The job as the server holds it now (times left out: they are masked)."""
    s = c.stats_job(jid)
    return binlog.JobImage(
        id=jid, tube=s["tube"], priority=s["pri"], ttr_ns=s["ttr"] * NS,
        body=c.peek(jid).body, state=s["state"], delay_ns=s["delay"] * NS,
        reserves=s["reserves"], timeouts=s["timeouts"], releases=s["releases"],
        buries=s["buries"], kicks=s["kicks"],
    )


def mirror(c: greenstalk.Client, w: binlog.Writer, rng: random.Random, steps: int) -> int:
    """Random operations on the server, told to the writer as beanstalkd logs them.

    Jobs the writer restored are live from the start, their buried ones in replay order
    (which is the order a kick takes them in, if the replay order is beanstalkd's).
    """
    held: list[int] = []
    buried: dict[str, list[int]] = {t: [] for t in TUBES}  # a tube's buried jobs, kick order
    live = {j.id for j in w.restored.jobs}
    for j in w.restored.jobs:
        if j.state == "buried":
            buried[j.tube].append(j.id)
    for t in TUBES:
        c.watch(t)
    for _ in range(steps):
        op = rng.choices(["put", "reserve", "release", "bury", "kick", "kick-job", "delete"],
                         [5, 3, 2, 2, 1, 1, 3])[0]
        if op == "put":
            tube = rng.choice(TUBES)
            c.use(tube)
            body = bytes(rng.randrange(256) for _ in range(rng.choice([0, 10, 120, 400])))
            jid = c.put(body, priority=rng.randrange(2000), delay=rng.choice([0, 0, 5000]),
                        ttr=rng.choice([1000, 9000]))
            w.put(image(c, jid))
            live.add(jid)
        elif op == "reserve":
            try:
                jid = c.reserve(timeout=0).id
            except greenstalk.TimedOutError:
                continue
            held.append(jid)
            w.update(image(c, jid), write=False)
        elif op in ("release", "bury") and held:
            jid = held.pop(rng.randrange(len(held)))
            job = greenstalk.Job(jid, b"")
            if op == "bury":
                c.bury(job, priority=rng.randrange(2000))
                buried[c.stats_job(jid)["tube"]].append(jid)
                w.update(image(c, jid))
            else:
                delay = rng.choice([0, 7000])
                c.release(job, priority=rng.randrange(2000), delay=delay)
                w.update(image(c, jid), write=delay > 0)
        elif op == "kick":
            tube = rng.choice(TUBES)
            if not buried[tube]:
                continue  # a kick in a tube without buried jobs kicks delayed ones
            c.use(tube)
            n = c.kick(rng.choice([1, 2, 10]))
            for jid in buried[tube][:n]:
                w.update(image(c, jid))
            del buried[tube][:n]
        elif op == "kick-job" and live:
            jid = rng.choice(sorted(live))
            state = c.stats_job(jid)["state"]
            if state not in ("buried", "delayed"):
                continue
            c.kick_job(jid)
            for t in TUBES:
                if jid in buried[t]:
                    buried[t].remove(jid)
            w.update(image(c, jid))
        elif op == "delete" and live:
            jid = rng.choice(sorted(live))
            if c.stats_job(jid)["state"] == "reserved" and jid not in held:
                continue
            c.delete(jid)
            w.delete(jid)
            live.discard(jid)
            for t in TUBES:
                if jid in buried[t]:
                    buried[t].remove(jid)
            if jid in held:
                held.remove(jid)
    return len(live)


def masked(path: str) -> bytes:
    """A file's bytes with created_at and deadline_at (wall-clock times) zeroed."""
    data = bytearray(open(path, "rb").read())
    for r in records(path):
        data[r.jobrec + 40:r.jobrec + 56] = bytes(16)
    return bytes(data)


def binlog_files(d: str) -> list[str]:
    return sorted((n for n in os.listdir(d) if n.startswith("binlog.")),
                  key=lambda n: int(n.split(".")[1]))


@pytest.mark.parametrize("size", [700, 1600, 6000])
@pytest.mark.parametrize("seed", range(3))
def test_writer_writes_beanstalkds_files(tmp_path, seed: int, size: int) -> None:
    rng = random.Random(seed * 31 + size)
    real_d, mine_d = tmp_path / "real", tmp_path / "mine"
    real_d.mkdir()
    mine_d.mkdir()
    with real_on(str(real_d), "-s", str(size)) as run, \
            binlog.Writer(str(mine_d), size=size, fsync_ms=None) as w:
        c = run.client()
        left = mirror(c, w, rng, 160)
        run.stop()
        names = assert_same_files(real_d, mine_d)
    assert len(names) > 1 and left > 0, "the run should rotate and keep jobs"


def assert_same_files(real_d, mine_d) -> list[str]:
    """Both directories hold the same binlog files, byte for byte (times masked); counted."""
    names = binlog_files(str(real_d))
    assert binlog_files(str(mine_d)) == names
    for name in names:
        assert masked(str(real_d / name)) == masked(str(mine_d / name)), name
        COMPARED["records"] += len(records(str(real_d / name)))
    COMPARED["runs"] += 1
    COMPARED["files"] += len(names)
    return names


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGKILL], ids=["SIGTERM", "SIGKILL"])
@pytest.mark.parametrize(("seed", "size"), [(0, 700), (1, 1600), (2, 6000)])
def test_writer_adopts_a_real_binlog_as_beanstalkd_does(tmp_path, seed: int, size: int,
                                                         sig: int) -> None:
    """A Writer opened on a real beanstalkd's binlog carries on as a restarted beanstalkd."""
    rng = random.Random(seed)
    real_d, mine_d, scratch = tmp_path / "real", tmp_path / "mine", tmp_path / "scratch"
    real_d.mkdir()
    scratch.mkdir()
    with real_on(str(real_d), "-s", str(size)) as run, \
            binlog.Writer(str(scratch), size=size, fsync_ms=None) as w:
        mirror(run.client(), w, rng, 120)
        run.stop(sig)
    copy_dir(str(real_d), str(mine_d))
    with real_on(str(real_d), "-s", str(size)) as run, \
            binlog.Writer(str(mine_d), size=size, fsync_ms=None) as w:
        assert w.restored.jobs and w.restored.warnings == []
        names = binlog_files(str(real_d))
        assert binlog_files(str(mine_d)) == names  # start-up gc and the new file
        left = mirror(run.client(), w, rng, 120)
        run.stop()
        names = assert_same_files(real_d, mine_d)
    assert left > 0


def test_restored_jobs_copied_forward_as_the_replay_left_them(tmp_path) -> None:
    """Compaction after a restart writes a restored job as beanstalkd's replay left it in
    memory (a buried job's bury counted once more), so the copy matches beanstalkd's."""
    size = 600
    real_d, mine_d = tmp_path / "real", tmp_path / "mine"
    real_d.mkdir()
    with real_on(str(real_d), "-s", str(size)) as run:
        c = run.client()
        c.put(b"a" * 50, priority=3)
        c.bury(c.reserve(timeout=0))
        c.put(b"kept ready")
    copy_dir(str(real_d), str(mine_d))
    with real_on(str(real_d), "-s", str(size)) as run, \
            binlog.Writer(str(mine_d), size=size, fsync_ms=None) as w:
        c = run.client()
        for _ in range(30):  # churn: files fill with dead jobs, compaction copies 1 and 2
            jid = c.put(b"x" * 100)
            w.put(image(c, jid))
            c.delete(jid)
            w.delete(jid)
        assert w.migrations > 0 and w.file_of(1) == c.stats_job(1)["file"] > 1
        assert c.stats_job(1)["buries"] == 2
        run.stop()
        names = binlog_files(str(real_d))
        assert binlog_files(str(mine_d)) == names
        for name in names:
            assert masked(str(real_d / name)) == masked(str(mine_d / name)), name
