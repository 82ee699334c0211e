"""Load and hostile clients on loopback, for `stalksim serve` and beanstalkd alike.

`run_load(address, connections=1000, jobs=...)` holds idle connections open, moves `jobs` jobs
from pipelining producers to reserve/delete consumers and, meanwhile, lets hostile clients
loose: garbage, half lines, a 10 MB line, a body that never ends, clients that never read,
hang up mid-command, flood then reset, flood behind a blocking reserve then reset, and one
that pipelines 10,000 commands and reads its replies slowly. `Proc` counts what a server
process holds, from /proc. Used by tests/test_serve_*.py and row 8 of `python -m benchmarks`.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

BATCH = 50  # puts pipelined per round trip by a producer


class Line:
    """A blocking raw connection that reads CRLF replies (and the bodies that follow)."""

    def __init__(self, address: tuple[str, int], timeout: float = 30) -> None:
        self.sock = socket.create_connection(address, timeout=timeout)
        self.file = self.sock.makefile("rb")

    def ask(self, data: bytes, replies: int = 1) -> list[bytes]:
        self.sock.sendall(data)
        return [self.reply() for _ in range(replies)]

    def reply(self) -> bytes:
        """One reply: its line, plus the body of RESERVED, FOUND and OK."""
        line = self.file.readline()
        word = line.split(b" ", 1)[0]
        if word in (b"RESERVED", b"FOUND"):
            line += self.file.read(int(line.split()[2]) + 2)
        elif word == b"OK":
            line += self.file.read(int(line.split()[1]) + 2)
        return line

    def stats(self) -> dict[str, str]:
        (reply,) = self.ask(b"stats\r\n")
        return dict(ln.split(": ", 1) for ln in reply.decode().splitlines() if ": " in ln)

    def close(self) -> None:
        self.file.close()
        self.sock.close()


def stats(address: tuple[str, int]) -> dict[str, str]:
    """The server's `stats`, on a connection of its own (counted in current-connections)."""
    c = Line(address, timeout=10)
    try:
        return c.stats()
    finally:
        c.close()


def reset(sock: socket.socket) -> None:
    """Close with an RST (SO_LINGER 0): the abrupt end of a crashed or killed client."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    sock.close()


def flood_then_reset(address: tuple[str, int], clients: int = 50, size: int = 200_000,
                     behind_reserve: bool = False) -> None:
    """`clients` connections each send `size` bytes of `stats` commands (behind a blocking
    `reserve`, if asked) without reading a reply, then reset."""
    data = (b"reserve\r\n" if behind_reserve else b"") + b"stats\r\n" * (size // 7)
    socks = []
    for _ in range(clients):
        s = socket.create_connection(address, timeout=10)
        s.setblocking(False)
        try:  # as much as the kernel takes; the server stops reading long before the end
            s.send(data)
        except BlockingIOError:
            pass
        socks.append(s)
    time.sleep(0.3)  # let the server read, run and stall on them
    for s in socks:
        reset(s)


PIPE_PRELUDE = (b"use pipe", b"watch pipe", b"ignore default")
PIPE_CYCLE = (b"put 0 0 60 5\r\nhello", b"peek-ready", b"stats", b"reserve-with-timeout 0")


def pipeline(address: tuple[str, int], n: int = 10_000, slow: bool = False) -> list[bytes]:
    """Send `n` commands in one write, in tube `pipe` (after a prelude of use/watch/ignore:
    puts, peek-readys, stats and reserves in turn), then read every reply, `slow`ly (a
    millisecond's pause every 8 replies) or at once; returns the replies' first words."""
    cmds = [*PIPE_PRELUDE, *(PIPE_CYCLE[i % 4] for i in range(n - len(PIPE_PRELUDE)))]
    sock = socket.create_connection(address, timeout=30)
    sender = threading.Thread(target=sock.sendall, args=(b"\r\n".join(cmds) + b"\r\n",))
    sender.start()  # the server stops reading while we do not read: send and read at once
    c = Line.__new__(Line)
    c.sock, c.file = sock, sock.makefile("rb", buffering=4096 if slow else 1 << 16)
    words = []
    for i in range(n):
        words.append(c.reply().split(b" ", 1)[0].rstrip(b"\r\n"))
        if slow and i % 8 == 0:
            time.sleep(0.001)
    sender.join()
    c.close()
    return words


def expected_pipeline_words(n: int = 10_000) -> list[bytes]:
    """What `pipeline(address, n)` must get back."""
    cycle = (b"INSERTED", b"FOUND", b"OK", b"RESERVED")
    return [b"USING", b"WATCHING", b"WATCHING", *(cycle[i % 4] for i in range(n - 3))]


@dataclass
class Proc:
    """What a server process holds right now, from /proc/PID."""

    pid: int

    def sockets(self) -> int:
        """Open sockets (the listening one and every connection)."""
        n = 0
        for fd in os.listdir(f"/proc/{self.pid}/fd"):
            try:
                n += os.readlink(f"/proc/{self.pid}/fd/{fd}").startswith("socket:")
            except FileNotFoundError:
                pass
        return n

    def fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def rss_kib(self) -> int:
        with open(f"/proc/{self.pid}/status") as f:
            return next(int(ln.split()[1]) for ln in f if ln.startswith("VmRSS"))


def idle_sockets(address: tuple[str, int], proc: Proc, timeout: float = 10) -> int:
    """The sockets a serving server holds when idle. It answers one command first: `stalksim
    serve` listens before its event loop (and the loop's own wake-up socket pair) exists, so a
    count taken as soon as the port accepts would be short. Then the count must hold still for
    0.2 s (the command's connection closed)."""
    stats(address)
    deadline = time.monotonic() + timeout
    last, since = proc.sockets(), time.monotonic()
    while time.monotonic() - since < 0.2 and time.monotonic() < deadline:
        time.sleep(0.02)
        if (n := proc.sockets()) != last:
            last, since = n, time.monotonic()
    return last


def settle(address: tuple[str, int], proc: Proc, sockets: int, timeout: float = 10) -> int:
    """Wait until the server holds at most `sockets` sockets; returns what it holds."""
    deadline = time.monotonic() + timeout
    while (n := proc.sockets()) > sockets and time.monotonic() < deadline:
        time.sleep(0.05)
    return n


def producer(address: tuple[str, int], first: int, count: int, ids: list[int]) -> None:
    """Put `count` jobs (bodies first, first+1, ...), BATCH per round trip; ids into `ids`."""
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
    """Reserve and delete jobs of `default` (ids into `got`) until `done` and none is left."""
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


def troublemakers(address: tuple[str, int], held: list[socket.socket], out: dict) -> None:
    """Clients that misbehave while the load runs; the ones left open go into `held`, what
    was checked into `out`."""
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
    got = b""
    while got.count(b"\r\n") < 2 and (chunk := huge.recv(100)):
        got += chunk
    out["huge_line"] = got
    for data in (b"put 0 0 1 10\r\nabc", b"reserve-with-timeout 5\r\n", b"peek 1\r", b"use"):
        s = socket.create_connection(address, timeout=30)
        s.sendall(data)
        s.close()  # hang up mid-command
    drop = Line(address)  # reserves a job, then hangs up: the job must come back
    out["drop"] = drop.ask(b"use drop\r\nwatch drop\r\nignore default\r\nput 0 0 100 1\r\nd\r\n"
                           b"reserve\r\n", 5)[4]
    drop.close()
    flood_then_reset(address, clients=20)
    flood_then_reset(address, clients=10, behind_reserve=True)
    out["pipeline"] = pipeline(address, 2_000, slow=True)


@dataclass
class LoadResult:
    jobs: int
    elapsed: float
    put_ids: list[int] = field(default_factory=list)
    got: list[int] = field(default_factory=list)
    hostile: dict = field(default_factory=dict)

    @property
    def rate(self) -> float:
        """Jobs put, reserved and deleted per second."""
        return self.jobs / self.elapsed


def run_load(address: tuple[str, int], connections: int = 1000, jobs: int = 5000,
             producers: int = 10, consumers: int = 10, hostile: bool = True) -> LoadResult:
    """`connections` connections in all (idle ones fill up the count), `jobs` jobs through
    them, hostile clients meanwhile; every socket of ours is closed on return."""
    held: list[socket.socket] = []
    try:
        held += [socket.create_connection(address, timeout=30)
                 for _ in range(max(0, connections - producers - consumers - 40))]
        per = jobs // producers
        res = LoadResult(per * producers, 0.0)
        done = threading.Event()
        threads = [threading.Thread(target=producer, args=(address, i * per, per, res.put_ids))
                   for i in range(producers)]
        workers = [threading.Thread(target=consumer, args=(address, done, res.got))
                   for _ in range(consumers)]
        trouble = [threading.Thread(target=troublemakers, args=(address, held, res.hostile))
                   ] if hostile else []
        t0 = time.monotonic()
        for t in (*trouble, *threads, *workers):
            t.start()
        for t in threads:
            t.join(120)
        while len(res.got) < len(res.put_ids) and time.monotonic() - t0 < 120:
            time.sleep(0.001)
        res.elapsed = time.monotonic() - t0  # the jobs' time; hostile clients may go on
        for t in trouble:
            t.join(120)
        done.set()
        for t in workers:
            t.join(120)
        return res
    finally:
        for s in held:
            s.close()
