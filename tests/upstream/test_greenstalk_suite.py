"""greenstalk's own test suite, unchanged (tests/upstream/greenstalk), passes against
`stalksim serve` as a drop-in for the beanstalkd binary: 44 of 44, ten runs in a row (issue
14), and against the real beanstalkd 1.12 too, for comparison."""

from __future__ import annotations

import fcntl
import os
import re
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.realserver import require_beanstalkd

ROOT = Path(__file__).resolve().parents[2]
SUITE = Path(__file__).resolve().parent / "greenstalk" / "test_greenstalk.py"
TESTS = 44  # the suite's test functions at the vendored commit
RUNS = 10
LOCK = Path(tempfile.gettempdir()) / "greenstalk-test.lock"
"""The suite listens on fixed addresses (127.0.0.1:4444, /tmp/greenstalk-test.sock): one run
at a time on this machine, whichever pytest worker asks."""


def stalksim_binary(directory: Path) -> str:
    """An executable that runs `stalksim serve "$@"` from this checkout."""
    path = directory / "stalksim-serve"
    path.write_text(f'#!/bin/sh\nPYTHONPATH={str(ROOT)!r} exec {sys.executable!r} '
                    '-m stalksim serve "$@"\n')
    path.chmod(path.stat().st_mode | stat.S_IXUSR)
    return str(path)


@contextmanager
def _one_at_a_time() -> Iterator[None]:
    with open(LOCK, "w") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def run_suite(binary: str, workdir: Path) -> tuple[dict[str, int], str, float]:
    """Run the vendored suite once with BEANSTALKD_PATH=`binary`: the outcome counts of its
    summary line ({"passed": 44}), its output and its wall time in seconds."""
    cmd = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist",
           "--noconftest", "-c", os.devnull, "--rootdir", str(workdir), "-o", "addopts=",
           str(SUITE)]
    env = {**os.environ, "BEANSTALKD_PATH": binary}
    with _one_at_a_time():
        t0 = time.monotonic()
        proc = subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True,
                              timeout=300)
        seconds = time.monotonic() - t0
    summary = proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else ""
    counts = {k: int(n) for n, k in re.findall(r"(\d+) (passed|failed|errors?|skipped)",
                                                summary)}
    return counts, proc.stdout + proc.stderr, seconds


def test_the_vendored_suite_is_the_one_counted() -> None:
    assert SUITE.read_text().count("\ndef test_") == TESTS
    assert (SUITE.parent / "LICENSE").read_text().startswith("Copyright (c) 2017 Justin Mayhew")


@pytest.mark.real
def test_greenstalk_suite_passes_against_beanstalkd(tmp_path: Path) -> None:
    counts, output, _ = run_suite(require_beanstalkd(), tmp_path)
    assert counts == {"passed": TESTS}, output[-3000:]


@pytest.mark.slow
def test_greenstalk_suite_passes_against_stalksim_serve_ten_runs_in_a_row(
        tmp_path: Path) -> None:
    binary = stalksim_binary(tmp_path)
    times = []
    for run in range(RUNS):
        counts, output, seconds = run_suite(binary, tmp_path)
        assert counts == {"passed": TESTS}, f"run {run + 1}: {output[-3000:]}"
        times.append(seconds)
    print(f"greenstalk suite vs stalksim serve: {RUNS} x {TESTS} passed, "
          f"{sum(times):.1f} s in all (each {min(times):.1f} to {max(times):.1f} s)")
