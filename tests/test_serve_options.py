"""`stalksim serve` options against the real beanstalkd 1.12 binary: for each command line,
the same outcome (still running, or the exit status) and the same messages on stderr."""

from __future__ import annotations

import os
import pwd
import subprocess
import time
from pathlib import Path

import pytest

from stalksim.serving import ServeExit, parse_serve_args
from tests.realserver import free_port as free_port_number
from tests.realserver import require_beanstalkd
from tests.wireserver import launcher

RUNNING = "running"
CASES = [
    ["-f", "50"], ["-f50"], ["-f"], ["-f", "abc"], ["-f", "-1"], ["-c"], ["-n"], ["-cn"],
    ["-F"], ["-z", "-1"], ["-z", "0"], ["-z", " 10"], ["-z", "+10"], ["-z", "abc"],
    ["-z", "10x"], ["-z", ""], ["-z", "0x10"], ["-zV"], ["-z", "99999999999999999999"],
    ["-z", "2000000000"], ["-s", "-5"], ["-s", "abc"], ["-b"], ["-u"], ["-l"], ["-p"], ["-x"],
    ["-Vx"], ["-"], ["extra"], ["-V"], ["-VV"], ["-h"], ["-v"], ["-v", "-x"], ["-x", "-v"],
]


def _message(line: str) -> str:
    return line.split(": ", 1)[1] if ": " in line else line


def real_outcome(args: list[str]) -> tuple[object, list[str], str]:
    proc = subprocess.Popen([require_beanstalkd(), "-l", "127.0.0.1", "-p", "0", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        out, err = proc.communicate(timeout=0.5)
        code: object = proc.returncode
    except subprocess.TimeoutExpired:
        proc.kill()
        out, err = proc.communicate()
        code, out = RUNNING, ""  # -V's own log lines are not compared
    messages = []
    for line in err.splitlines():
        if line.startswith("Use: "):  # the usage text follows
            break
        messages.append(_message(line))
    return code, messages, out


@pytest.mark.real
@pytest.mark.parametrize("args", CASES, ids=" ".join)
def test_options_match_beanstalkd(args: list[str]) -> None:
    code, messages, out = real_outcome(args)
    try:
        opts = parse_serve_args(["-l", "127.0.0.1", "-p", "0", *args])
    except ServeExit as e:
        assert (e.code, [e.err] if e.err else [], e.usage) == (code, messages, bool(code == 5 or
                                                                                   args == ["-h"]))
        assert e.out.split(" (")[0] == out.strip()
        return
    assert code == RUNNING
    assert set(messages) <= set(opts.warnings)  # ours also says what it ignores


def run_serve(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([launcher(), *args], capture_output=True, text=True, timeout=20)


@pytest.mark.real
@pytest.mark.parametrize("args", [["-p", "-1"], ["-p", "abc"], ["-l", "1.2.3.4"], ["-l", ""]])
def test_cannot_listen_exits_111_in_one_line(args: list[str]) -> None:
    assert real_outcome(["-p", "0", *args])[0] == 111
    r = run_serve("-p", "0", *args)
    assert r.returncode == 111 and len(r.stderr.splitlines()) == 1, r.stderr


@pytest.mark.real
def test_port_out_of_range_is_refused_where_beanstalkd_wraps_it() -> None:
    assert real_outcome(["-p", "99999"])[0] == RUNNING  # it listens on 99999 - 65536
    r = run_serve("-p", "99999")
    assert r.returncode == 111 and r.stderr.count("\n") == 1 and "34463" in r.stderr


@pytest.mark.parametrize("value", ["1e8", "1e300", "0", "-1", "nan", "inf", "fast", "0.0001"])
def test_speed_out_of_bounds_is_refused_in_one_line(value: str) -> None:
    with pytest.raises(ServeExit) as e:
        parse_serve_args(["--speed", value])
    assert e.value.code == 5 and not e.value.usage and "\n" not in e.value.err
    assert "0.001" in e.value.err and "10000" in e.value.err


def test_speed_and_trace_options() -> None:
    o = parse_serve_args(["--speed=1e4", "--trace", "t.jsonl", "--trace-max", "100"])
    assert (o.speed, o.trace, o.trace_max) == (1e4, "t.jsonl", 100)
    with pytest.raises(ServeExit):
        parse_serve_args(["--trace-max", "0"])


@pytest.mark.real
@pytest.mark.parametrize("user", ["no-such-user", ""])
def test_unknown_user_exits_33_as_beanstalkd(user: str) -> None:
    code, messages, _ = real_outcome(["-u", user])
    r = run_serve("-p", "0", "-u", user)
    ours = [_message(ln) for ln in r.stderr.splitlines()]
    assert code == r.returncode == 33 and len(messages) == len(ours) == 1, (messages, ours)
    assert messages[0].endswith(": " + ours[0])  # after beanstalkd's "main.c:22 in su"


def _uid_of_server(argv: list[str]) -> tuple[int, int]:
    """(uid, gid) of a server started with `argv`, read from /proc once it listens."""
    proc = subprocess.Popen([*argv, "-l", "127.0.0.1", "-p", str(free_port_number())],
                            stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 20
        while True:
            status = Path(f"/proc/{proc.pid}/status").read_text()
            ids = {ln.split(":")[0]: int(ln.split()[1]) for ln in status.splitlines()
                   if ln.startswith(("Uid:", "Gid:"))}
            if ids["Uid"] != os.getuid() or time.monotonic() > deadline:
                return ids["Uid"], ids["Gid"]
            time.sleep(0.01)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


@pytest.mark.real
@pytest.mark.skipif(os.geteuid() != 0, reason="becoming another user needs root")
def test_u_becomes_the_user_and_its_group_as_beanstalkd() -> None:
    nobody = pwd.getpwnam("nobody")
    real = _uid_of_server([require_beanstalkd(), "-u", "nobody"])
    ours = _uid_of_server([launcher(), "-u", "nobody"])
    assert ours == real == (nobody.pw_uid, nobody.pw_gid)


def test_binlog_options_are_read_for_b() -> None:
    o = parse_serve_args(["-b", "d", "-s", "8192", "-f10"])
    assert (o.binlog, o.binlog_size, o.fsync_ms, o.warnings) == ("d", 8192, 10, [])
    assert parse_serve_args(["-bd", "-F"]).fsync_ms is None
    assert parse_serve_args([]).fsync_ms == 50
    o = parse_serve_args(["-F", "-s", "1"])  # no -b: said, not silently ignored
    assert o.warnings == ["-F -s: no effect without -b DIR (no binlog)"]
