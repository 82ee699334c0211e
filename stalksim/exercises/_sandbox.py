"""Running a learner's code: bounded in work done, and errors reported at the learner's line.

`guard()` traces only the learner's own frames (not stalksim, greenstalk, simpy or the standard
library) and stops code that runs too many lines or too long in real time. `LearnerError`
carries a message that names the exception and the learner's line instead of a traceback.
"""

from __future__ import annotations

import os
import sys
import sysconfig
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import greenstalk

import stalksim
from stalksim.exercises._core import Feedback, Hint, failed
from stalksim.exercises._progress import tick

_PKG = os.path.dirname(os.path.abspath(stalksim.__file__)) + os.sep
_LIBS = tuple(sorted({os.path.abspath(p) + os.sep for k in ("stdlib", "platstdlib", "purelib",
                                                             "platlib")
                      if (p := sysconfig.get_paths().get(k))}))
_learner_cache: dict[str, bool] = {}

#: Bytecode steps of learner code one check may run, and real seconds it may take.
MAX_STEPS = 20_000_000
MAX_SECONDS = 20.0


def is_learner_file(filename: str) -> bool:
    """True for code the learner wrote: a notebook cell, a script, a test; not a library."""
    known = _learner_cache.get(filename)
    if known is None:
        path = filename if filename.startswith("<") else os.path.abspath(filename)
        known = not (path.startswith(_PKG) or path.startswith(_LIBS)
                     or path.startswith("<frozen"))
        _learner_cache[filename] = known
    return known


class RunawayCode(BaseException):
    """The learner's code ran too long (a BaseException so `except Exception` cannot eat it)."""


class OutOfVirtualTime(BaseException):
    """The learner's code kept the simulation running past the check's horizon."""


class LearnerError(Exception):
    """The learner's code failed; `message` says how, at the learner's line."""

    def __init__(self, message: str, exc: BaseException | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exc = exc
        self.hint: Hint | str = hint_for(exc) if exc is not None else ""


@contextmanager
def guard(max_steps: int = MAX_STEPS, seconds: float = MAX_SECONDS) -> Iterator[None]:
    """Count the bytecode steps the learner's frames run (opcode tracing: a one-line
    `while True: pass` makes no line events); raise RunawayCode past either limit."""
    count = 0
    start = time.monotonic()
    deadline = start + seconds

    def local(frame: Any, event: str, arg: Any) -> Any:
        nonlocal count
        count += 1
        if count & 4095 == 0 or count > max_steps:
            now = time.monotonic()
            if count > max_steps or now > deadline:
                raise RunawayCode(f"kept running for {now - start:.1f} s ({count:,} steps of "
                                  f"your own code)")
            tick((now - start) / seconds, f"your code is running (it is stopped after "
                                          f"{seconds:g} s)")
        return local

    def calls(frame: Any, event: str, arg: Any) -> Any:
        if event == "call" and is_learner_file(frame.f_code.co_filename):
            frame.f_trace_opcodes = True
            return local
        return None

    old = sys.gettrace()
    sys.settrace(calls)
    try:
        yield
    finally:
        sys.settrace(old)


_HINTS: list[tuple[type[BaseException], Hint]] = [
    (greenstalk.NotFoundError, Hint(
        "NOT_FOUND: release, bury and touch need a job this connection still holds, and it no "
        "longer holds that job (it was already deleted, released or buried, or its TTR ran "
        "out); delete fails only when the job is gone or another connection has reserved "
        "it.")),
    (greenstalk.DeadlineSoonError, Hint(
        "DEADLINE_SOON: you still hold a job whose TTR is about to run out; finish it "
        "(delete/release/bury/touch) before reserving another.")),
    (greenstalk.TimedOutError, Hint(
        "TIMED_OUT: a reserve with a timeout found no job in time; where an empty queue is "
        "normal, your code should expect that error.",
        "TIMED_OUT: reserve(timeout=...) found no job in time; catch "
        "greenstalk.TimedOutError where an empty queue is normal.")),
    (KeyError, Hint(
        "the job's statistics are a dict whose keys are strings, spelled as beanstalkd "
        "spells them (with dashes where there are several words).",
        "stats_job() returns a dict with keys such as 'releases', 'reserves', 'timeouts', "
        "'buries', 'pri', 'ttr' (strings, with dashes: 'time-left').")),
    (AttributeError, Hint(
        "a greenstalk Job has only an id and a body; the commands are methods of the client, "
        "and they take the job.",
        "a greenstalk Job has only `.id` and `.body`; the client has the commands "
        "(client.delete(job), client.release(job, delay=...), ...).")),
    (TypeError, Hint(
        "look at the arguments at that line: greenstalk takes its options (priority, delay, "
        "TTR) as keyword arguments, in whole numbers.",
        "look at the arguments at that line: greenstalk takes keyword arguments priority=, "
        "delay=, ttr= as ints.")),
]


def describe(exc: BaseException, what: str) -> str:
    """`what` raised X: message, at line N: `source` (the learner's innermost line)."""
    name = type(exc).__name__
    if type(exc).__module__ == "greenstalk":
        name = f"greenstalk.{name}"
    text = str(exc).strip()
    if text in ("[]", "()"):  # greenstalk errors carry their reply's (empty) values
        text = ""
    frames = [f for f in traceback.extract_tb(exc.__traceback__)
              if is_learner_file(f.filename)]
    where = ""
    if frames:
        f = frames[-1]
        where = f" at line {f.lineno}" + (f": `{f.line.strip()}`" if f.line else "")
    return f"{what} raised {name}{': ' + text if text else ''}{where}."


def hint_for(exc: BaseException) -> Hint | str:
    """A general hint for a common exception, or ''."""
    for cls, hint in _HINTS:
        if isinstance(exc, cls):
            return hint
    return ""


def call(fn: Callable[..., Any], *args: Any, what: str) -> Any:
    """Call the learner's `fn`; its exceptions become LearnerError with a readable message."""
    try:
        return fn(*args)
    except (RunawayCode, OutOfVirtualTime):
        raise
    except Exception as exc:
        raise LearnerError(describe(exc, what), exc) from None


def check_callable(fn: Any, name: str, params: int) -> str | None:
    """Why `fn` cannot be the learner's `name(...)` taking `params` arguments, or None."""
    if not callable(fn):
        return f"the answer must be your function {name}, not {type(fn).__name__} {fn!r:.60}"
    try:
        import inspect

        inspect.signature(fn).bind(*range(params))
    except TypeError:
        return f"{name} must take exactly {params} arguments"
    except ValueError:
        pass
    return None


def learner_function(ex: str, answer: Any, signature: str) -> Feedback | None:
    """Why `answer` is not the learner's function `signature` (e.g. "handle(client, job)"),
    as a Feedback; None if it can be."""
    name, params = signature.split("(")[0], signature[:-1].split("(")[1].split(", ")
    problem = check_callable(answer, signature, len(params))
    if problem:
        return failed(ex, problem + ".", Hint(
            f"define a function {name} that takes {', '.join(params[:-1])} and {params[-1]}"
            f", and make it the answer, as the starter code does." if len(params) > 1 else
            f"define a function {name} that takes {params[0]}, and make it the answer, as "
            f"the starter code does.", f"define `def {signature}: ...` and set "
                                       f"`answer = {name}`."))
    return None
