"""`-l unix:PATH` against the real beanstalkd 1.12: what each does with a fresh path, a stale
socket file, a socket a live server listens on, a file that is not a socket, a directory, a
missing directory and a path too long; the same exit status, the same message, the same file
left behind. (Transcripts and the differential test also run over unix sockets.)"""

from __future__ import annotations

import os
import socket
import stat
import subprocess
import time
from pathlib import Path

import pytest

from tests.realserver import require_beanstalkd
from tests.wireserver import connect, launcher

pytestmark = pytest.mark.real
RUNNING = "running"
KINDS = ["real", "stalksim"]


def binary(kind: str) -> str:
    return require_beanstalkd() if kind == "real" else launcher()


def _message(line: str) -> str:
    """The text after beanstalkd's `beanstalkd: file.c:N in func: ` prefix (or ours)."""
    return line.rsplit(": ", 1)[-1] if "another file" in line else line.split(": ", 1)[-1]


def outcome(kind: str, path: Path) -> tuple[object, list[str]]:
    """Start `kind` on unix:PATH: RUNNING if it serves a put there (then stopped), else its
    exit status; and its stderr lines, prefixes removed."""
    proc = subprocess.Popen([binary(kind), "-l", f"unix:{path}"], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    code: object = None
    while code is None and time.monotonic() < deadline:
        if proc.poll() is not None:
            code = proc.returncode
            break
        try:
            with connect(str(path)) as c:
                c.sendall(b"put 0 0 10 1\r\nx\r\n")
                if c.recv(64) == b"INSERTED 1\r\n":
                    code = RUNNING
        except OSError:
            time.sleep(0.005)
    if proc.poll() is None:
        proc.terminate()
    err = proc.communicate(timeout=10)[1]
    lines = [ln for ln in err.splitlines() if "make_server_socket()" not in ln]
    return code, [_message(ln) for ln in lines]


def _socket_file(path: Path) -> socket.socket:
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.bind(str(path))
    return s


def prepare(case: str, path: Path) -> object:
    """Put what `case` names at PATH; returns what must be closed after."""
    if case == "stale socket":
        _socket_file(path).close()
    elif case == "live socket":
        s = _socket_file(path)
        s.listen()
        return s
    elif case == "regular file":
        path.write_text("keep me\n")
    elif case == "directory":
        path.mkdir()
    return None


CASES = ["fresh", "stale socket", "live socket", "regular file", "directory"]


@pytest.mark.parametrize("case", CASES)
def test_unix_path_as_beanstalkd(tmp_path: Path, case: str) -> None:
    results = {}
    for kind in KINDS:
        d = tmp_path / kind
        d.mkdir()
        path = d / "beanstalkd.sock"
        held = prepare(case, path)
        try:
            results[kind] = outcome(kind, path)
        finally:
            if isinstance(held, socket.socket):
                held.close()
        mode = path.lstat().st_mode  # what is left at PATH after the server exits
        left = ("socket" if stat.S_ISSOCK(mode) else "dir" if stat.S_ISDIR(mode) else
                path.read_text())
        results[kind] = (*results[kind], left)
    real, ours = results["real"], results["stalksim"]
    assert (ours[0], ours[2]) == (real[0], real[2]), results
    assert len(ours[1]) == len(real[1]) <= 1, results  # one line, or none
    if real[1]:
        assert ours[1][0].endswith(real[1][0]), results


@pytest.mark.parametrize("kind", KINDS)
def test_unix_path_errors_exit_111_in_one_line(tmp_path: Path, kind: str) -> None:
    for path in (tmp_path / "no-such-dir" / "s.sock", tmp_path / ("x" * 120)):
        code, lines = outcome(kind, path)
        assert code == 111 and len(lines) == 1, (path, lines)
        if "x" * 120 in str(path):
            assert "is too long" in lines[0] and "maximum allowed is 107" in lines[0]
        else:
            assert "No such file or directory" in lines[0]


def test_a_live_servers_socket_is_taken_over(tmp_path: Path) -> None:
    """Two `stalksim serve` on one path: the second removes the first's socket file and
    serves there (the first keeps running, unreachable), as two beanstalkd do."""
    path = tmp_path / "s.sock"
    first = subprocess.Popen([launcher(), "-l", f"unix:{path}"], stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while not path.exists():
            assert time.monotonic() < deadline and first.poll() is None
            time.sleep(0.005)
        time.sleep(0.2)
        with connect(str(path)) as c:
            c.sendall(b"put 0 0 10 1\r\nx\r\n")
            assert c.recv(64) == b"INSERTED 1\r\n"
        code, lines = outcome("stalksim", path)  # its own job 1: a fresh server
        assert (code, lines) == (RUNNING, ["removing existing local socket to replace it"])
        assert first.poll() is None
    finally:
        first.terminate()
        first.wait(timeout=10)
    assert os.path.exists(path)
