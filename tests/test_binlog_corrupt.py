"""Damaged binlogs: read() does what beanstalkd 1.12 does with them, messages included.

Each case damages a copy of a binlog a real beanstalkd wrote, then compares read() on one copy
with a real beanstalkd started on another: the same warnings (beanstalkd's stderr), the same
jobs, the same next id, and the same files deleted at start-up. Never a traceback.
"""

from __future__ import annotations

import os
import random
import re
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest

from stalksim import binlog
from stalksim.binlog import format as fmt
from tests.test_binlog_helpers import (
    copy_dir,
    mismatches,
    real_on,
    server_jobs,
    stderr_lines,
)

pytestmark = pytest.mark.real


@dataclass
class Rec:
    """Where one record lies in a file."""

    start: int
    namelen: int
    id: int
    state: int
    jobrec: int  # offset of the Jobrec
    body: int  # offset of the body (full records)
    end: int


def records(path: str) -> list[Rec]:
    """The version 7 records of an undamaged file, with their offsets."""
    data = open(path, "rb").read()
    pos, out = 4, []
    while pos + 84 <= len(data):
        (n,) = struct.unpack_from("<i", data, pos)
        rec = fmt.Jobrec.unpack(data[pos + 4 + n:pos + 84 + n])
        if rec.id == 0:
            break
        body = pos + 84 + n
        end = body + (rec.body_size if n else 0)
        out.append(Rec(pos, n, rec.id, rec.state, pos + 4 + n, body, end))
        pos = end
    return out


def base(d: str, size: str = "10485760") -> None:
    """A binlog from a real beanstalkd: ready, delayed, buried and kicked jobs, a delete."""
    with real_on(d, "-s", size) as run:
        c = run.client()
        c.use("orders")
        c.put(b"alpha", priority=5)
        c.put(b"bravo" * 20, priority=7)
        c.put(b"charlie", delay=1000)
        c.watch("orders")
        job = c.reserve(timeout=0)
        c.bury(job, priority=9)  # a short record for job 1
        c.use("default")
        c.put(b"delta")
        c.put(b"echo")
        c.delete(5)
        c.put(b"foxtrot", ttr=77)
        c.kick(1)  # nothing buried in default: no record
        c.use("orders")
        c.kick(1)  # job 1 kicked: a short record
        job = c.reserve(timeout=0)
        c.bury(job)  # and buried again


def file1(d: str) -> str:
    return os.path.join(d, "binlog.1")


def truncate_at(offset: Callable[[list[Rec]], int]) -> Callable[[str], None]:
    def damage(d: str) -> None:
        os.truncate(file1(d), offset(records(file1(d))))
    return damage


def write_at(offset: Callable[[list[Rec]], int], data: bytes) -> Callable[[str], None]:
    def damage(d: str) -> None:
        where = offset(records(file1(d)))
        with open(file1(d), "r+b") as f:
            f.seek(where)
            f.write(data)
    return damage


def unlink(name: str) -> Callable[[str], None]:
    def damage(d: str) -> None:
        os.unlink(os.path.join(d, name))
    return damage


def empty_file(d: str) -> None:
    open(os.path.join(d, "binlog.2"), "wb").close()


def too_big(d: str) -> None:
    """A job of the largest size -z allows: its stored size (+2) is over the limit."""
    with real_on(d) as run:
        c = run.client()
        c.put(b"x" * 65535)
        c.put(b"small")


def second_full_record(rs: list[Rec]) -> Rec:
    return [r for r in rs if r.namelen][1]


def short_record(rs: list[Rec]) -> Rec:
    return [r for r in rs if not r.namelen][0]


CASES: dict[str, tuple[Callable[[str], None], str]] = {
    "cut-in-body": (truncate_at(lambda rs: second_full_record(rs).body + 30), ""),
    "cut-in-jobrec": (truncate_at(lambda rs: second_full_record(rs).jobrec + 41), ""),
    "cut-in-name": (truncate_at(lambda rs: second_full_record(rs).start + 6), ""),
    "cut-in-namelen": (truncate_at(lambda rs: rs[3].start + 2), ""),
    "cut-after-header": (truncate_at(lambda rs: 4), ""),
    "cut-in-header": (truncate_at(lambda rs: 2), ""),
    "wrong-version": (write_at(lambda rs: 0, struct.pack("<i", 8)), ""),
    "version-5-header": (write_at(lambda rs: 0, struct.pack("<i", 5)), ""),
    "namelen-too-long": (write_at(lambda rs: rs[1].start, struct.pack("<i", 201)), ""),
    "namelen-negative": (write_at(lambda rs: rs[1].start, struct.pack("<i", -3)), ""),
    "state-unknown": (write_at(lambda rs: short_record(rs).jobrec + 76, b"\x07"), ""),
    "state-copy": (write_at(lambda rs: rs[0].jobrec + 76, b"\x05"), ""),
    "state-deleted": (write_at(lambda rs: short_record(rs).jobrec + 76, b"\x00"), ""),
    "state-reserved": (write_at(lambda rs: rs[1].jobrec + 76, b"\x02"), ""),
    "body-bytes-flipped": (write_at(lambda rs: rs[1].body + 3, b"\xff\x00"), ""),
    "id-zeroed": (write_at(lambda rs: rs[2].jobrec, bytes(8)), ""),
    "id-changed": (write_at(lambda rs: short_record(rs).jobrec, struct.pack("<Q", 99)), ""),
    "body-size-negative": (write_at(lambda rs: rs[1].jobrec + 32, struct.pack("<i", -5)), ""),
    "short-record-size-smaller": (write_at(lambda rs: short_record(rs).jobrec + 32,
                                           struct.pack("<i", 4)), ""),
    "missing-middle-file": (unlink("binlog.2"), "500"),
    "missing-first-file": (unlink("binlog.1"), "500"),
    "dead-files-deleted-at-start": (unlink("binlog.5"), "300"),
    "empty-file": (empty_file, "500"),
    "too-big-job": (too_big, "skip-base"),
}

_POSITION = re.compile(r"^\S+\.c:\d+ in \w+: ")  # twarn's source position


def normalised(lines: list[str], d: str) -> list[str]:
    return [_POSITION.sub("", line).replace(d, "D") for line in lines]


@pytest.mark.parametrize("case", sorted(CASES))
def test_damaged_binlog_as_beanstalkd_reads_it(tmp_path, case: str) -> None:
    damage, size = CASES[case]
    src = str(tmp_path / "src")
    os.makedirs(src)
    if size != "skip-base":
        base(src, *([size] if size else []))
    damage(src)
    mine_dir = copy_dir(src, str(tmp_path / "mine"))
    real_dir = copy_dir(src, str(tmp_path / "real"))
    before = sorted(os.listdir(real_dir))

    restored = binlog.read(mine_dir)
    kept = agree_with_beanstalkd(restored, mine_dir, real_dir)
    created = f"binlog.{max([0, *restored.files]) + 1}"
    assert kept == sorted({n for n in before if n.startswith("binlog.")}
                          - {f"binlog.{n}" for n in restored.unused} | {created})
    assert sorted(os.listdir(mine_dir)) == sorted(n for n in before)  # read() deletes nothing


def agree_with_beanstalkd(restored: Any, mine_dir: str, real_dir: str,
                          ids: list[int] | tuple[int, ...] = ()) -> list[str]:
    """Start beanstalkd on `real_dir`: it and `restored` (read() of the same files) must agree
    on the jobs (ids 1-11 and `ids`), the warnings and the next id. Returns the binlog files
    beanstalkd kept."""
    with real_on(real_dir) as run:
        c = run.client()
        real = server_jobs(c, sorted(set(range(1, 12)) | set(ids)))
        kept = sorted(n for n in os.listdir(real_dir) if n.startswith("binlog."))
        problems = mismatches(restored, real)
        probe = c.put(b"probe")
        run.stop()
    assert normalised(restored.warnings, mine_dir) == normalised(stderr_lines(run.stderr),
                                                                 real_dir)
    assert problems == []
    assert probe == restored.next_id
    return kept


def flip_random_bytes(seed: int) -> Callable[[str], None]:
    """Overwrite a few random bytes of a random file's header, name lengths or job records
    (tube names are left alone: a stats-job reply with a non-UTF-8 name would stop greenstalk)."""
    def damage(d: str) -> None:
        rng = random.Random(seed)
        names = sorted(n for n in os.listdir(d) if n.startswith("binlog."))
        path = os.path.join(d, rng.choice(names))
        spots = list(range(4))
        for r in records(path):
            spots += range(r.start, r.start + 4)
            spots += range(r.jobrec, r.jobrec + 80)
        data = bytearray(open(path, "rb").read())
        for _ in range(rng.randrange(1, 4)):
            data[rng.choice(spots)] = rng.choice([0, 1, 2, 3, 4, 5, 9, 0x7F, 0xFF])
        os.chmod(path, 0o600)
        with open(path, "wb") as f:
            f.write(data)
    return damage


@pytest.mark.parametrize("seed", range(30))
def test_random_damage_as_beanstalkd_reads_it(tmp_path, seed: int) -> None:
    """Random overwritten bytes: read() and beanstalkd agree on jobs, next id and messages."""
    src = str(tmp_path / "src")
    os.makedirs(src)
    base(src, "500")
    flip_random_bytes(seed)(src)
    mine_dir = copy_dir(src, str(tmp_path / "mine"))
    real_dir = copy_dir(src, str(tmp_path / "real"))
    restored = binlog.read(mine_dir)
    if any(w.endswith("size changed") for w in restored.warnings):
        with pytest.raises(RuntimeError, match="did not start"):  # beanstalkd overruns its
            with real_on(real_dir):  # heap and aborts: only read()'s warning is comparable
                pass
        return
    agree_with_beanstalkd(restored, mine_dir, real_dir, sorted(j.id for j in restored.jobs))
