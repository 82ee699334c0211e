"""The binlog module on its own: layout, the writer's files and fsync policy, reopening, errors.

The crossings with the real beanstalkd are in test_binlog_real / _mirror / _corrupt; the
version 5 reader and the directory lock are checked against the real binary here.
"""

from __future__ import annotations

import os
import random
import struct
import subprocess

import pytest

from stalksim import binlog
from stalksim.binlog import format as fmt
from tests.realserver import free_port, require_beanstalkd
from tests.test_binlog_helpers import NS, mismatches, real_on, server_jobs

JOB = binlog.JobImage(id=3, tube="orders", priority=7, ttr_ns=33 * NS, body=b"hello",
                      state="delayed", delay_ns=100 * NS, created_at_ns=11, deadline_at_ns=22,
                      reserves=1, timeouts=2, releases=3, buries=4, kicks=5)


def test_jobrec_layout_matches_the_table() -> None:
    """Field offsets as the format's table gives them (C alignment on x86_64)."""
    raw = JOB.jobrec().pack()
    assert len(raw) == 80
    assert struct.unpack_from("<Q", raw, 0)[0] == 3
    assert struct.unpack_from("<I", raw, 8)[0] == 7
    assert struct.unpack_from("<q", raw, 16)[0] == 100 * NS
    assert struct.unpack_from("<q", raw, 24)[0] == 33 * NS
    assert struct.unpack_from("<i", raw, 32)[0] == 7  # "hello\r\n"
    assert struct.unpack_from("<qq", raw, 40) == (11, 22)
    assert struct.unpack_from("<5I", raw, 56) == (1, 2, 3, 4, 5)
    assert raw[76] == fmt.DELAYED
    assert raw[12:16] == raw[36:40] == bytes(4) and raw[77:80] == bytes(3)  # padding


def test_writer_file_is_header_then_full_record_then_zeros(tmp_path) -> None:
    with binlog.Writer(str(tmp_path), size=5000) as w:
        w.put(JOB)
        data = open(tmp_path / "binlog.1", "rb").read()
    assert len(data) == 8192  # zero-filled in whole 4 KiB blocks, as rawfalloc does
    assert data[:4] == struct.pack("<i", 7)
    assert data[4:8] == struct.pack("<i", 6) and data[8:14] == b"orders"
    assert data[14:94] == JOB.jobrec().pack()
    assert data[94:101] == b"hello\r\n"
    assert data[101:] == bytes(len(data) - 101)
    # closed: cut to what it holds plus the room reserved for the job's delete
    assert os.path.getsize(tmp_path / "binlog.1") == 101 + fmt.SHORT_RECORD_SIZE


def test_read_back_what_was_written_and_reopen(tmp_path) -> None:
    d = str(tmp_path)
    jobs = [binlog.JobImage(id=i, tube=f"t{i % 3}", priority=i, ttr_ns=NS, body=bytes([i]) * i)
            for i in range(1, 40)]
    with binlog.Writer(d, size=1000) as w:
        for j in jobs:
            w.put(j)
        for j in jobs[:20]:
            w.delete(j.id)
        buried = binlog.JobImage(**{**jobs[20].__dict__, "state": "buried"})
        w.update(buried)
        files = {j.id: w.file_of(j.id) for j in jobs[20:]}
        assert w.removed, "files holding only deleted jobs are gone"
    r = binlog.read(d)
    assert [j.id for j in r.jobs] == sorted(files)
    assert {j.id: j.file for j in r.jobs} == files
    assert r.by_id()[21].state == "buried" and r.by_id()[21].buries == 1  # counted again
    assert [j.body for j in r.jobs] == [j.body for j in jobs[20:]]
    assert r.next_id == 40 and r.warnings == []
    with binlog.Writer(d, size=1000) as w2:  # reopening adopts the live jobs and their files
        assert [j.id for j in w2.restored.jobs] == sorted(files)
        assert w2.file_numbers[-1] > max(files.values())
        for jid in files:
            w2.delete(jid)
        w2.put(binlog.JobImage(id=40, tube="default", priority=0, ttr_ns=NS, body=b"last"))
    r = binlog.read(d)
    assert [j.id for j in r.jobs] == [40] and len(r.files) == 1


@pytest.mark.parametrize(("fsync_ms", "expected"), [(None, 0), (0, 20), (50, 4)])
def test_fsync_policy(tmp_path, monkeypatch, fsync_ms: int | None, expected: int) -> None:
    """-F never syncs, -f 0 after every write, -f 50 at most every 50 ms (clock: 10 ms a write)."""
    now = [10**12]
    synced: list[int] = []
    monkeypatch.setattr(os, "fsync", lambda fd: synced.append(fd))

    def clock() -> int:
        now[0] += 10_000_000
        return now[0]

    w = binlog.Writer(str(tmp_path), fsync_ms=fsync_ms, clock=clock)
    for i in range(1, 21):
        w.put(binlog.JobImage(id=i, tube="default", priority=0, ttr_ns=NS, body=b"x"))
    assert len(synced) == expected
    w.close()


def test_api_errors(tmp_path) -> None:
    with binlog.Writer(str(tmp_path)) as w:
        w.put(JOB)
        with pytest.raises(ValueError):
            w.put(JOB)
        with pytest.raises(KeyError):
            w.delete(99)
        with pytest.raises(ValueError):
            w.update(binlog.JobImage(**{**JOB.__dict__, "state": "gone"}))
        with pytest.raises(ValueError):
            w.put(binlog.JobImage(id=4, tube="t" * 201, priority=0, ttr_ns=NS, body=b""))
    w.close()  # twice is fine


def test_logged_causes() -> None:
    assert all(binlog.logged(c) for c in ("put", "bury", "kick", "kick-job", "delete"))
    assert binlog.logged("release", delay_ns=NS) and not binlog.logged("release")
    assert not any(binlog.logged(c) for c in ("reserve", "touch", "ttr-expired",
                                              "delay-matured", "connection-closed"))


def test_read_never_raises_on_garbage(tmp_path) -> None:
    rng = random.Random(5)
    for n in range(150):
        d = tmp_path / f"d{n}"
        d.mkdir()
        with binlog.Writer(str(d), size=600) as w:
            for i in range(1, rng.randrange(2, 9)):
                w.put(binlog.JobImage(id=i, tube="t", priority=i, ttr_ns=NS, body=b"b" * i))
        path = d / "binlog.1"
        data = bytearray(path.read_bytes())
        for _ in range(rng.randrange(1, 6)):
            data[rng.randrange(len(data))] = rng.randrange(256)
        os.chmod(path, 0o600)
        path.write_bytes(bytes(data[:rng.randrange(len(data) + 1)]))
        binlog.read(str(d))
    assert binlog.read(str(tmp_path / "absent")).jobs == []


def version5_file(path: str, jobs: list[binlog.JobImage]) -> None:
    """A binlog file as beanstalkd 1.9 and older wrote it (version 5)."""
    with open(path, "wb") as f:
        f.write(struct.pack("<i", 5))
        for j in jobs:
            tube = j.tube.encode()
            f.write(struct.pack("<Q", len(tube)) + tube + j.jobrec().pack5() + j.body + b"\r\n")


@pytest.mark.real
def test_version5_read_as_beanstalkd_reads_it(tmp_path) -> None:
    d = str(tmp_path)
    now = 1_700_000_000 * NS
    jobs = [binlog.JobImage(id=i, tube=["default", "old"][i % 2], priority=i, ttr_ns=9 * NS,
                            body=b"v5 body %d" % i, state=["ready", "buried"][i % 2],
                            created_at_ns=now, reserves=i) for i in (2, 5, 6)]
    version5_file(os.path.join(d, "binlog.1"), jobs)
    restored = binlog.read(d)
    assert [(j.id, j.state, j.body) for j in restored.jobs] == [
        (2, "ready", b"v5 body 2"), (5, "buried", b"v5 body 5"), (6, "ready", b"v5 body 6")]
    with real_on(d) as run:
        c = run.client()
        assert mismatches(restored, server_jobs(c, range(1, 10))) == []
        assert c.put(b"next") == restored.next_id == 7


@pytest.mark.real
def test_directory_lock_is_beanstalkds(tmp_path) -> None:
    """A Writer holds DIR/lock as beanstalkd does: neither can use a directory the other has."""
    d = str(tmp_path)
    with binlog.Writer(d):
        p = subprocess.run([require_beanstalkd(), "-l", "127.0.0.1", "-p", str(free_port()),
                            "-b", d], capture_output=True, timeout=10)
        assert p.returncode == 10 and b"failed to lock wal dir" in p.stderr
    with real_on(d):
        with pytest.raises(OSError, match="failed to lock wal dir"):
            binlog.Writer(d)
