"""How long an exercise's check takes, as a row of `python -m benchmarks`: every exercise's check
on its starter, its solution and the wrong answers the tests use (tests/test_exercises.py's
WRONG and LESSON_STARTERS, the starting points of tests/test_exercise_hints.py), each timed
once in this process, in registry order (so a check's first run pays for what it caches, as a
learner's first check does). The row reports the slowest.

    rows.append(checks.row("15"))

    python -m benchmarks.checks            # every timing, slowest first, then the row

Target (issue 23): every check answers within 1 s. The live exercises run against a private
real beanstalkd when the binary is installed (announced through BEANSTALKD_HOST/PORT, as the
tests do); without it their solutions are not timed, and the row says so.
"""

from __future__ import annotations

import contextlib
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

TARGET_S = 1.0


@dataclass(frozen=True)
class Timing:
    exercise: str
    kind: str
    """What was checked: "starter", "solution", "lesson starter" or "wrong: <answer>"."""
    seconds: float
    """Wall-clock time, what the learner waits."""
    cpu: float
    """This process's CPU time (less sensitive to a busy machine)."""
    ok: bool


def answers(exercise_id: str) -> Iterator[tuple[str, Any]]:
    """(kind, answer) for one exercise: code answers as the code that defines `answer`."""
    import stalksim.exercises as ex
    from tests.test_exercise_hints import CHAINS, SIZES, TTRS
    from tests.test_exercises import LESSON_STARTERS, WRONG

    e = ex.exercise(exercise_id)
    yield "starter", e.starter
    yield "solution", e.solution
    for i, answer in LESSON_STARTERS:
        if i == exercise_id:
            yield "lesson starter", answer
    wrong = [a for a, _ in WRONG.get(exercise_id, [])]
    wrong += [a for a, _ in CHAINS.get(exercise_id, [])]
    if exercise_id in TTRS:
        wrong += [TTRS[exercise_id][0] if s == "median" else s for s in (0, 3, "median", 15.5,
                                                                         600)]
    if exercise_id == "ex-size-workers":
        wrong += SIZES
    seen: list[Any] = []
    for answer in wrong:
        if answer not in seen:
            seen.append(answer)
            yield f"wrong: {label(answer)}", answer


def label(answer: Any) -> str:
    """A short name for an answer: a value's repr, or a code answer's first telling line."""
    if isinstance(answer, str) and "answer =" in answer:
        lines = [ln.strip() for ln in answer.splitlines()]
        telling = [ln for ln in lines if ln and not ln.startswith(("def ", "from ", "import "))]
        return f"code `{telling[0][:40]} ...`" if telling else "code"
    return f"{answer!r:.50}"


@contextlib.contextmanager
def live_server() -> Iterator[bool]:
    """A private beanstalkd for the live exercises, if the binary is installed."""
    if shutil.which("beanstalkd") is None:
        yield False
        return
    from stalksim.doctor import _server_env
    from tests.realserver import RealBeanstalkd

    server = RealBeanstalkd().start()
    try:
        with _server_env(server.address):
            yield True
    finally:
        server.stop()


def measure() -> tuple[list[Timing], list[str]]:
    """Every check's time, and what could not be timed (and why)."""
    import stalksim.exercises as ex
    from tests.test_exercises import _answer, learner

    timings, skipped = [], []
    with live_server() as live:
        for exercise_id in ex.list_exercises():
            for kind, answer in answers(exercise_id):
                try:
                    value = learner(answer) if kind in ("starter", "solution") else _answer(
                        answer)
                except OSError as err:  # a live solution with no server to connect to
                    skipped.append(f"{exercise_id} {kind}: {err}"
                                   + ("" if live else " (no beanstalkd installed)"))
                    continue
                start, cpu = time.perf_counter(), time.process_time()
                fb = ex.check(exercise_id, value)
                timings.append(Timing(exercise_id, kind, time.perf_counter() - start,
                                      time.process_time() - cpu, fb.ok))
    return timings, skipped


def slowest(timings: list[Timing] | None = None) -> tuple[str, str, float]:
    """(exercise, answer kind, seconds) of the slowest check (wall clock)."""
    worst = max(timings if timings is not None else measure()[0], key=lambda t: t.seconds)
    return worst.exercise, worst.kind, worst.seconds


def summary(timings: list[Timing], skipped: list[str]) -> str:
    name, kind, seconds = slowest(timings)
    over = sum(t.seconds > TARGET_S for t in timings)
    return (f"{seconds:.2f} s ({name}, {kind}; CPU {max(t.cpu for t in timings):.2f} s at "
            f"most); {over} of {len(timings)} checks over {TARGET_S:g} s"
            + (f"; {len(skipped)} not timed (no live server)" if skipped else ""))


def row(n: str) -> tuple[str, str, str, str, str]:
    """(#, workload, measured, target, met) for the benchmark table."""
    timings, skipped = measure()
    over = sum(t.seconds > TARGET_S for t in timings)
    return (n, f"slowest exercise check: {len(timings)} checks (starters, solutions, the tests' "
               "wrong answers)", summary(timings, skipped), f"<= {TARGET_S:g} s",
            "yes" if not over else "NO")


def main() -> int:
    timings, skipped = measure()
    for t in sorted(timings, key=lambda t: -t.seconds):
        print(f"{t.seconds:7.3f} s (CPU {t.cpu:6.3f} s)  {'ok ' if t.ok else 'not'}  "
              f"{t.exercise:22} {t.kind}")
    for s in skipped:
        print(f"not timed: {s}")
    print(f"slowest exercise check: {summary(timings, skipped)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
