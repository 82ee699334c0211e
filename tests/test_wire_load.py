"""Load on loopback: 500 idle connections held open, 20 producers and 20 consumers moving
20,000 jobs through `stalksim serve`, while robustness clients send garbage, half lines, a
huge line, a body that never finishes, never read their replies, or hang up mid-command.

Every job put is reserved and deleted exactly once; afterwards the server still answers and
`stats` shows no lost job.
"""

from __future__ import annotations

import socket
import threading
import time
from collections import Counter

import pytest

from tests.wireserver import StalksimServe

pytestmark = pytest.mark.slow

IDLE = 500
PRODUCERS = 20
CONSUMERS = 20
JOBS = 20_000
BATCH = 50  # puts pipelined per round trip by a producer


class Line:
    """A blocking raw connection that reads CRLF replies (and job bodies)."""

    def __init__(self, address: tuple[str, int]) -> None:
        self.sock = socket.create_connection(address, timeout=30)
        self.file = self.sock.makefile("rb")

    def ask(self, data: bytes, replies: int = 1) -> list[bytes]:
        self.sock.sendall(data)
        return [self.reply() for _ in range(replies)]

    def reply(self) -> bytes:
        line = self.file.readline()
        if line.startswith(b"RESERVED"):
            line += self.file.read(int(line.split()[2]) + 2)
        return line

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def producer(address: tuple[str, int], first: int, count: int, ids: list[int]) -> None:
    c = Line(address)
    for start in range(first, first + count, BATCH):
        n = min(BATCH, first + count - start)
        data = b"".join(b"put 100 0 120 %d\r\n%d\r\n" % (len(str(i)), i)
                        for i in range(start, start + n))
        for r in c.ask(data, n):
            assert r.startswith(b"INSERTED "), r
            ids.append(int(r.split()[1]))
    c.close()


def consumer(address: tuple[str, int], done: threading.Event, got: list[int]) -> None:
    c = Line(address)
    while True:
        (r,) = c.ask(b"reserve-with-timeout 1\r\n")
        if r.startswith(b"TIMED_OUT"):
            if done.is_set():
                break
            continue
        assert r.startswith(b"RESERVED "), r
        id = int(r.split()[1])
        assert c.ask(b"delete %d\r\n" % id) == [b"DELETED\r\n"]
        got.append(id)
    c.close()


def troublemakers(address: tuple[str, int], held: list[socket.socket]) -> None:
    """Clients that misbehave while the load runs; the ones left open are kept in `held`."""
    def conn() -> socket.socket:
        s = socket.create_connection(address, timeout=30)
        held.append(s)
        return s

    conn().sendall(bytes((i * 7919) % 251 for i in range(100_000)))  # garbage
    conn().sendall(b"put 0 0 1")  # half a line, forever
    conn().sendall(b"put 0 0 1 60000\r\n" + b"b" * 1000)  # a body that never finishes
    conn().sendall(b"stats\r\n" * 5000)  # never reads its replies
    huge = conn()
    huge.sendall(b"h" * 10_000_000 + b"\r\nlist-tube-used\r\n")
    huge.settimeout(30)
    assert huge.recv(100) == b"BAD_FORMAT\r\nUSING default\r\n"
    for data in (b"put 0 0 1 10\r\nabc", b"reserve-with-timeout 5\r\n", b"peek 1\r", b"use"):
        s = socket.create_connection(address, timeout=30)
        s.sendall(data)
        s.close()  # hang up mid-command
    drop = Line(address)  # reserves a job, then hangs up: the job must come back
    replies = drop.ask(b"use drop\r\nwatch drop\r\nignore default\r\nput 0 0 100 1\r\nd\r\n"
                       b"reserve\r\n", 5)
    assert replies[4].startswith(b"RESERVED ") and replies[4].endswith(b" 1\r\nd\r\n"), replies
    drop.close()


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS"))


def test_load_every_job_once() -> None:
    server = StalksimServe().start()
    held: list[socket.socket] = []
    try:
        address = server.address
        held += [socket.create_connection(address, timeout=30) for _ in range(IDLE)]
        t0 = time.monotonic()
        per = JOBS // PRODUCERS
        put_ids: list[int] = []
        got: list[int] = []
        done = threading.Event()
        producers = [threading.Thread(target=producer, args=(address, i * per, per, put_ids))
                     for i in range(PRODUCERS)]
        consumers = [threading.Thread(target=consumer, args=(address, done, got))
                     for _ in range(CONSUMERS)]
        trouble = threading.Thread(target=troublemakers, args=(address, held))
        for t in (*producers, *consumers, trouble):
            t.start()
        for t in (*producers, trouble):
            t.join(120)
        done.set()
        for t in consumers:
            t.join(120)
        elapsed = time.monotonic() - t0

        assert len(put_ids) == JOBS and len(set(put_ids)) == JOBS
        dupes = [id for id, n in Counter(got).items() if n > 1]
        assert not dupes, f"reserved and deleted twice: {dupes[:10]}"
        assert sorted(got) == sorted(put_ids)

        check = Line(address)
        (head,) = check.ask(b"stats\r\n")
        body = check.file.read(int(head.split()[1]) + 2).decode()
        fields = dict(line.split(": ", 1) for line in body.splitlines() if ": " in line)
        assert fields["current-jobs-reserved"] == "0"
        assert fields["current-jobs-ready"] == "1"  # the job of the client that hung up
        assert int(fields["total-jobs"]) == JOBS + 1
        assert int(fields["current-connections"]) >= IDLE
        rss = rss_kib(server.proc.pid)
        print(f"\n{IDLE} idle connections, {PRODUCERS}+{CONSUMERS} clients, {JOBS} jobs "
              f"in {elapsed:.1f} s; server RSS {rss // 1024} MiB")
        assert elapsed < 60
        assert rss < 512 * 1024
        check.close()
    finally:
        for s in held:
            s.close()
        server.stop()
