"""Real worker processes against a real beanstalkd: kill -9, SIGSTOP and SIGCONT (issue 23).

What the server did is read here with a client of the test's own (`stats-job`), not only from
the JobWatch: SIGKILL while holding a job makes it ready at once (within a second, its TTR
being 30 s) and another worker reserves it; SIGSTOP leaves it reserved until just before its
TTR runs out and another worker's (or ready) just after; after SIGCONT the stopped worker's
late delete gets the server's answer (NOT_FOUND if another worker holds the job, DELETED if it
was ready). No test leaves a process behind: every child of this process is listed from /proc
before and after each test, and the worker processes are ended by their pids however the
code around them ends (an exception, a KeyboardInterrupt, garbage collection, interpreter exit,
or the parent killed).
"""

from __future__ import annotations

import gc
import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import greenstalk
import pytest

from stalksim import live
from stalksim.live import process as process_module
from stalksim.trace import replay
from tests.realserver import RealBeanstalkd

pytestmark = pytest.mark.real
REPO = Path(__file__).resolve().parents[1]


def children(parent: int | None = None) -> dict[int, str]:
    """The processes whose parent is `parent` (default: this one), with their /proc state
    (zombies included: a child not reaped is a child left behind)."""
    parent = os.getpid() if parent is None else parent
    found = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    fields = f.read().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == parent:
                found[int(entry)] = fields[0]
    return found


def gone(pid: int) -> bool:
    """No such process, or only a zombie (dead, waiting for init to reap it)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] in "ZX"
    except OSError:
        return True


def until(check, within: float, step: float = 0.005) -> float:
    """Poll `check()` until true (raise AssertionError after `within` s); seconds taken."""
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < within, f"not within {within} s: {check}"
        time.sleep(step)
    return time.monotonic() - start


@pytest.fixture(scope="module")
def server() -> Iterator[RealBeanstalkd]:
    with RealBeanstalkd() as b:
        yield b


@pytest.fixture(autouse=True)
def nothing_left_behind(server: RealBeanstalkd) -> Iterator[None]:
    before = set(children())
    yield
    deadline = time.monotonic() + 5
    while (left := {p: s for p, s in children().items() if p not in before}) and \
            time.monotonic() < deadline:
        time.sleep(0.02)
    assert not left, f"processes left behind (pid: state): {left}"


@pytest.fixture
def watch(server: RealBeanstalkd) -> Iterator[live.JobWatch]:
    with live.JobWatch(server.address, tube=f"kill-{secrets.token_hex(3)}") as w:
        yield w


@pytest.fixture
def look(server: RealBeanstalkd) -> Iterator[greenstalk.Client]:
    """The test's own client: stats-job, as the server answers it."""
    with greenstalk.Client(server.address) as c:
        yield c


def moves(trace, job: int) -> list[tuple[str, str]]:
    return [(r.cause, r.actor) for r in trace if r.job == job and r.dst]


def marks(trace, job: int) -> list[tuple[str, str]]:
    return [(r.cause, r.actor) for r in trace if r.job == job and not r.dst]


def test_sigkill_makes_the_job_ready_at_once_and_another_worker_takes_it(
        watch: live.JobWatch, look: greenstalk.Client) -> None:
    a = watch.worker("a", work=60)
    job = watch.put("resize photo 7", ttr=30)
    a.wait_for("reserved", job)
    assert look.stats_job(job)["state"] == "reserved" and a.held == job
    a.kill()
    took = until(lambda: look.stats_job(job)["state"] == "ready", within=1.0)
    stats = look.stats_job(job)
    assert took < 1.0 < 30  # ready at once: the TTR had 30 s to go
    assert (stats["reserves"], stats["timeouts"], stats["releases"]) == (1, 0, 0)
    assert a.state == "killed" and gone(a.pid)

    b = watch.worker("b", work=0.2)
    watch.wait_for(job, "deleted", within=5)
    trace = watch.trace()
    assert moves(trace, job) == [("put", "producer"), ("reserve", "a"),
                                 ("connection-closed", "a"), ("reserve", "b"),
                                 ("delete", "b")]
    assert marks(trace, job) == [("crash", "a")]
    crash, closed = (next(r for r in trace if r.cause == c) for c in ("crash", "connection-closed"))
    assert 0 <= closed.time - crash.time < 1.0
    assert replay(trace) == {job: "deleted"}
    assert b.answer(job) == "DELETED"
    assert "ready again at once" in watch.history(job)


def _stopped_holding(watch: live.JobWatch, ttr: int) -> tuple[live.WorkerProcess, int, float]:
    """Worker b holds a new job (ttr s, 1 s of work) and is stopped: (b, job, its deadline)."""
    b = watch.worker("b", work=1)
    job = watch.put("resize photo 8", ttr=ttr)
    deadline = b.wait_for("reserved", job).time + ttr  # no earlier than the server's
    return b, job, deadline


def _held_until(look: greenstalk.Client, job: int, deadline: float) -> None:
    """stats-job says reserved, reserved once, until just before the deadline."""
    while time.monotonic() < deadline - 0.3:
        stats = look.stats_job(job)
        assert (stats["state"], stats["reserves"], stats["timeouts"]) == ("reserved", 1, 0)
        time.sleep(0.05)


def test_sigstop_holds_the_job_until_its_ttr_and_the_late_delete_is_not_found(
        watch: live.JobWatch, look: greenstalk.Client) -> None:
    b, job, deadline = _stopped_holding(watch, ttr=3)
    c = watch.worker("c", work=3)  # waits in reserve
    b.stop()
    assert b.state == "stopped" and children()[b.pid] == "T"
    _held_until(look, job, deadline)
    until(lambda: look.stats_job(job)["reserves"] == 2, within=deadline + 1.0 - time.monotonic())
    taken = time.monotonic()
    assert taken > deadline - 0.3
    stats = look.stats_job(job)
    assert (stats["state"], stats["timeouts"]) == ("reserved", 1)
    watch.wait_for(job, "reserved", by="c", within=2)

    b.cont()
    assert b.answer(job) == "NOT_FOUND"  # what the server said: c holds the job
    assert look.stats_job(job)["state"] == "reserved" and c.held == job
    trace = watch.trace()
    assert moves(trace, job)[1:4] == [("reserve", "b"), ("ttr-expired", "b"), ("reserve", "c")]
    assert [m for m in marks(trace, job) if m[0] != "crash"] == [
        ("hang", "b"), ("wake", "b"), ("not-found", "b")]
    expired = next(r for r in trace if r.cause == "ttr-expired")
    reserved = next(r for r in trace if r.cause == "reserve" and r.actor == "b")
    assert 3.0 - 0.05 < expired.time - reserved.time < 4.0
    history = watch.history(job)
    assert "b held it (stopped)" in history and "b's late delete: NOT_FOUND" in history


def test_sigcont_once_the_job_is_ready_again_the_late_delete_is_deleted(
        watch: live.JobWatch, look: greenstalk.Client) -> None:
    b, job, deadline = _stopped_holding(watch, ttr=2)
    b.stop()
    _held_until(look, job, deadline)
    until(lambda: look.stats_job(job)["state"] == "ready", within=deadline + 1.0 - time.monotonic())
    assert look.stats_job(job)["timeouts"] == 1
    b.cont()
    assert b.answer(job) == "DELETED"  # any client may delete a ready job
    with pytest.raises(greenstalk.NotFoundError):
        look.stats_job(job)
    watch.wait_for(job, "deleted", within=2)
    assert moves(watch.trace(), job)[-2:] == [("ttr-expired", "b"), ("delete", "b")]


def test_only_a_stopped_worker_is_nudged(watch: live.JobWatch) -> None:
    b, job, _deadline = _stopped_holding(watch, ttr=2)
    with pytest.raises(RuntimeError, match="only a stopped worker"):
        b.nudge()
    b.stop()
    assert b.nudge().startswith("USING ")
    b.cont()
    assert b.answer(job, within=5) in ("DELETED", "NOT_FOUND")


# ---- nothing left behind -------------------------------------------------------------------

def test_a_keyboard_interrupt_in_a_with_block_ends_every_worker(server: RealBeanstalkd) -> None:
    pids = []
    with pytest.raises(KeyboardInterrupt):
        with live.JobWatch(server.address, tube="kill-interrupted") as watch:
            for name in ("a", "b"):
                pids.append(watch.worker(name, work=60).pid)
            watch.put("x", ttr=30)
            watch.workers[0].stop()
            raise KeyboardInterrupt
    assert all(gone(pid) for pid in pids)


def test_an_interrupt_while_a_worker_starts_ends_it(server: RealBeanstalkd,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    started: list[int] = []
    popen = subprocess.Popen

    def spy(*args, **kwargs):
        proc = popen(*args, **kwargs)
        started.append(proc.pid)
        return proc

    def interrupted(self, *args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(process_module.subprocess, "Popen", spy)
    monkeypatch.setattr(live.WorkerProcess, "wait_for", interrupted)
    with pytest.raises(KeyboardInterrupt):
        live.WorkerProcess(server.address, "a")
    assert len(started) == 1 and gone(started[0])


def test_a_worker_nobody_holds_is_ended_by_its_finalizer(server: RealBeanstalkd) -> None:
    w = live.WorkerProcess(server.address, "a", tube="kill-dropped")
    pid = w.pid
    w.stop()
    del w
    gc.collect()
    until(lambda: gone(pid), within=5)


SCRIPT = """
import os, signal, sys, time
import stalksim.live as live
watch = live.JobWatch(("{host}", {port}), tube="kill-exit")
a, b = watch.worker("a", work=60), watch.worker("b", work=60)
watch.put("x", ttr=30)
b.stop()
print(a.pid, b.pid, flush=True)
sys.stdin.readline()  # the test has seen them
{ending}
"""
ENDINGS = {
    "exit": "",  # the interpreter exits with the watch and its workers still open
    "interrupt": "raise KeyboardInterrupt",  # a kernel interrupted, then shut down
    "killed": "time.sleep(60)",  # the parent is SIGKILLed: no atexit, no finalizer
}


@pytest.mark.parametrize("ending", ENDINGS)
def test_workers_end_with_their_parent_however_it_ends(server: RealBeanstalkd,
                                                       ending: str) -> None:
    code = SCRIPT.format(host=server.host, port=server.port, ending=ENDINGS[ending])
    parent = subprocess.Popen([sys.executable, "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        pids = [int(p) for p in parent.stdout.readline().split()]
        assert len(pids) == 2, parent.stderr.read()
        assert children(parent.pid) == {pids[0]: "S", pids[1]: "T"}
        parent.stdin.write("go\n")
        parent.stdin.flush()
        if ending == "killed":
            os.kill(parent.pid, signal.SIGKILL)
        parent.wait(timeout=15)
    finally:
        if parent.poll() is None:
            os.kill(parent.pid, signal.SIGKILL)
            parent.wait()
        for pipe in (parent.stdin, parent.stdout, parent.stderr):
            pipe.close()
    all_gone(server, pids, "kill-exit")


def all_gone(server: RealBeanstalkd, pids: list[int], tube: str) -> None:
    """The processes are gone, and so are their connections (nobody else watches `tube`, no
    job in it is reserved); then delete what a parent that never closed its watch left."""
    until(lambda: all(gone(pid) for pid in pids), within=10, step=0.05)
    with greenstalk.Client(server.address, use=tube, watch=tube) as c:
        until(lambda: c.stats_tube(tube)["current-watching"] == 1
              and c.stats_tube(tube)["current-jobs-reserved"] == 0, within=5)
        while c.stats_tube(tube)["current-jobs-ready"]:
            c.delete(c.reserve(timeout=0))



def test_a_worker_process_in_brief(server: RealBeanstalkd) -> None:
    with live.WorkerProcess(server.address, "solo", tube="kill-solo", work=0.1) as w:
        assert w.state == "running" and w.held is None
        assert repr(w) == f"<WorkerProcess solo (pid {w.pid}): running>"
        with greenstalk.Client(server.address, use="kill-solo") as c:
            job = c.put("x")
            assert w.answer(job) == "DELETED"
            assert w.wait_for("reserved", job).reserves == 1
    assert w.state == "exited" and gone(w.pid)
    with pytest.raises(ProcessLookupError, match="solo"):
        w.kill()


KERNEL_CELL = """
import stalksim.live as live
watch = live.JobWatch(("{host}", {port}), tube="kill-kernel")
a, b = watch.worker("a", work=60), watch.worker("b", work=60)
job = watch.put("x", ttr=30)
b.stop()
print(a.pid, b.pid)
"""


@pytest.mark.timeout(120)
@pytest.mark.parametrize("shutdown", ["graceful", "killed"])
def test_a_jupyter_kernel_interrupted_then_shut_down_leaves_no_worker(
        server: RealBeanstalkd, shutdown: str) -> None:
    """An interrupt stops the running cell, not the lesson's workers (their own process
    group: Jupyter sends SIGINT to the kernel's); shutting the kernel down ends them, also when
    the kernel is killed."""
    manager = pytest.importorskip("jupyter_client.manager")
    km, kc = manager.start_new_kernel(kernel_name="python3", startup_timeout=60,
                                      env={**os.environ, "PYTHONPATH": str(REPO)})
    try:
        printed: list[str] = []
        reply = kc.execute_interactive(
            KERNEL_CELL.format(host=server.host, port=server.port), timeout=60,
            output_hook=lambda msg: printed.append(msg["content"].get("text", "")))
        assert reply["content"]["status"] == "ok", reply["content"]
        pids = [int(p) for p in "".join(printed).split()]
        kc.execute('watch.wait_for(job, "deleted", within=60)')  # blocks: a holds the job
        time.sleep(0.5)
        km.interrupt_kernel()
        reply = kc.get_shell_msg(timeout=30)
        assert reply["content"]["ename"] == "KeyboardInterrupt"
        assert children(km.provisioner.process.pid) == {pids[0]: "S", pids[1]: "T"}
    finally:
        kc.stop_channels()
        km.shutdown_kernel(now=shutdown == "killed")
    all_gone(server, pids, "kill-kernel")
