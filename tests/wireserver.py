"""Start and stop `stalksim serve` like a beanstalkd binary: the twin of `RealBeanstalkd`.

`StalksimServe(*args)` takes beanstalkd's options (`-z 10`, ...) and runs the server in a
subprocess on 127.0.0.1 and a free port, stopped by process id, exactly as RealBeanstalkd runs
the real binary: the "binary" is a small launcher script that runs `stalksim serve` (cli.main)
on this checkout. `make_server` gives either kind by name, for tests parametrized over both.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import socket
import stat
import sys
import tempfile
import time
from functools import cache
from pathlib import Path

from tests.realserver import RealBeanstalkd, connect, require_beanstalkd

ROOT = Path(__file__).resolve().parents[1]
KINDS = ["real", "stalksim"]
NETS = ["tcp", "unix"]
"""How a server listens: `-l 127.0.0.1 -p PORT`, or `-l unix:PATH`."""


@cache
def launcher() -> str:
    """An executable that behaves like `stalksim serve` (made once per test session)."""
    path = Path(tempfile.mkdtemp(prefix="stalksim-serve-")) / "stalksim-serve"
    path.write_text(
        f"#!{sys.executable}\n"
        "import sys\n"
        f"sys.path.insert(0, {str(ROOT)!r})\n"
        "from stalksim.cli import main\n"
        "sys.exit(main(['serve', *sys.argv[1:]]))\n"
    )
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


class StalksimServe(RealBeanstalkd):
    """One `stalksim serve` process; the same interface as RealBeanstalkd."""

    def __init__(self, *args: str) -> None:
        super().__init__(*args, binary=launcher())


class UnixServer(RealBeanstalkd):
    """A server binary (beanstalkd, or `stalksim serve` with `binary=launcher()`) listening
    on `-l unix:PATH`, PATH in a directory of its own; `address` is PATH (as greenstalk takes
    it), and `connect(server.address)` opens a raw connection."""

    TABLE = "/proc/net/unix"

    def __init__(self, *args: str, binary: str | None = None) -> None:
        super().__init__(*args, binary=binary)
        self.dir = tempfile.mkdtemp(prefix="stalksim-unix-")
        self.path = os.path.join(self.dir, "beanstalkd.sock")

    @property
    def address(self) -> str:  # type: ignore[override]
        return self.path

    def _command(self) -> list[str]:
        return [self.binary, "-l", f"unix:{self.path}", *self.args]

    def _where(self) -> str:
        return f"unix:{self.path}"

    def _accepted_inode(self, rows: list[list[str]], probe: socket.socket) -> str | None:
        """The inode of an accepted connection to our path in /proc/net/unix's `rows` (not the
        listening socket, flag 00010000; state 03, connected; an inode), else None. Only the
        probe connects while the server starts, so it is the probe's."""
        return next((f[6] for f in rows if f[-1] == self.path and f[3] != "00010000"
                     and f[5] == "03" and f[6] != "0"), None)

    def stop(self) -> None:
        super().stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def make_server(kind: str, *args: str, net: str = "tcp") -> RealBeanstalkd:
    """A started server of `kind` ("real" or "stalksim") with beanstalkd options `args`,
    listening as `net` says (see NETS)."""
    if kind not in KINDS or net not in NETS:
        raise ValueError(f"unknown server kind {kind!r} or net {net!r}")
    binary = require_beanstalkd() if kind == "real" else launcher()
    if net == "unix":
        return UnixServer(*args, binary=binary).start()
    return RealBeanstalkd(*args).start() if kind == "real" else StalksimServe(*args).start()



# ---- raw transcripts ---------------------------------------------------------------------

class Yaml:
    """Expect `OK <n>\r\n<yaml>\r\n` whose `key: value` lines include `fields`."""

    def __init__(self, **fields: object) -> None:
        self.fields = {k.replace("_", "-"): str(v) for k, v in fields.items()}

    def __repr__(self) -> str:
        return f"Yaml({self.fields})"


class Timed:
    """Expect `reply`, arriving between `low` and `high` seconds after the send."""

    def __init__(self, reply: bytes, low: float, high: float = 5.0) -> None:
        self.reply, self.low, self.high = reply, low, high

    def __repr__(self) -> str:
        return f"Timed({self.reply!r}, {self.low}, {self.high})"


EOF = "EOF"  # expect the server to close the connection (after any bytes before it)
QUIET = 0.15  # seconds of silence that count as "no reply"


class Transcript:
    """Raw connections to one server; `run(steps)` sends and checks, in the style of testserv.c.

    A step is `(conn, data, expect)`: send `data` (bytes) on connection `conn` (opened on first
    use), then read exactly the expected bytes (`b""` means no reply for QUIET seconds; see
    also `Yaml`, `Timed`, `EOF`). Other steps: `("sleep", s)`, `("close", conn)`,
    `("shut", conn)` (half-close), `("drain",)` (SIGUSR1).
    """

    def __init__(self, server: RealBeanstalkd) -> None:
        self.server = server
        self.socks: dict[int, socket.socket] = {}
        self.log: list[str] = []

    def sock(self, i: int) -> socket.socket:
        if i not in self.socks:
            self.socks[i] = connect(self.server.address)
        return self.socks[i]

    def read(self, s: socket.socket, n: int, timeout: float = 5.0) -> bytes:
        s.settimeout(timeout)
        data = b""
        while len(data) < n:
            try:
                chunk = s.recv(n - len(data))
            except TimeoutError:
                break
            if not chunk:
                break
            data += chunk
        return data

    def quiet(self, s: socket.socket, seconds: float = QUIET) -> bytes:
        """Bytes that arrive within `seconds` (b"" if none); EOF reads as b"<EOF>"."""
        r, _, _ = select.select([s], [], [], seconds)
        if not r:
            return b""
        s.settimeout(0.5)
        try:
            chunk = s.recv(65536)
        except (TimeoutError, ConnectionError):
            return b"<ERR>"
        return chunk or b"<EOF>"

    def run(self, steps: list[tuple]) -> None:
        for step in steps:
            self.log.append(repr(step)[:160])
            self.step(step)
        for i, s in self.socks.items():
            extra = self.quiet(s, 0.05)
            assert extra in (b"", b"<EOF>"), f"conn {i}: unexpected extra bytes {extra!r}"

    def step(self, step: tuple) -> None:
        kind = step[0]
        if kind == "sleep":
            time.sleep(step[1])
        elif kind == "close":
            self.socks.pop(step[1]).close()
        elif kind == "shut":
            self.sock(step[1]).shutdown(socket.SHUT_WR)
        elif kind == "drain":
            os.kill(self.server.proc.pid, signal.SIGUSR1)
            time.sleep(0.1)
        else:
            i, data, expect = step
            s = self.sock(i)
            if data:
                s.sendall(data)
            self.expect(i, s, expect)

    def expect(self, i: int, s: socket.socket, expect: object) -> None:
        where = f"conn {i} after {self.log[-1]}"
        if isinstance(expect, Timed):
            t0 = time.monotonic()
            got = self.read(s, len(expect.reply), expect.high + 1)
            took = time.monotonic() - t0
            assert got == expect.reply, f"{where}: got {got!r}"
            assert expect.low <= took <= expect.high, f"{where}: took {took:.3f} s"
        elif isinstance(expect, Yaml):
            head = b""
            while not head.endswith(b"\r\n"):
                c = self.read(s, 1)
                assert c, f"{where}: connection ended after {head!r}"
                head += c
            assert head.startswith(b"OK "), f"{where}: got {head!r}"
            body = self.read(s, int(head[3:-2]) + 2)
            fields = dict(ln.split(": ", 1) for ln in body.decode().splitlines() if ": " in ln)
            want = expect.fields
            assert {k: fields.get(k) for k in want} == want, f"{where}: got {fields}"
        elif expect == EOF:
            got = self.read(s, 65536, 3.0)
            assert got == b"", f"{where}: got {got!r} before EOF"
        elif expect == b"":
            got = self.quiet(s)
            assert got == b"", f"{where}: expected no reply, got {got!r}"
        else:
            got = self.read(s, len(expect))
            assert got == expect, f"{where}: expected {expect!r}, got {got!r}"

    def close(self) -> None:
        for s in self.socks.values():
            s.close()
