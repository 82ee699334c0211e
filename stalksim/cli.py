"""The `stalksim` command: list and run named scenarios, or serve the protocol over TCP.

    python -m stalksim list
    python -m stalksim run hung-consumer --plot hang.png --trace hang.jsonl
    python -m stalksim serve ...            (see stalksim.wire)

Bad arguments print one line on stderr and exit non-zero; no tracebacks.

`serve` is dispatched (to `stalksim.serving`) before anything else is imported: at the top this
module imports only what the interpreter has already loaded (not even typing or dataclasses),
and `list` and `run` import the scenarios (and with them simpy) when they run.
tests/test_imports.py holds serve to that.
"""

from __future__ import annotations

import math
import os
import sys

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing (~2 ms at start-up)
if TYPE_CHECKING:
    import argparse
    from collections.abc import Sequence
    from typing import IO, Any

    from stalksim.scenarios import Result

LONG_RUN = 500.0
"""Virtual seconds beyond which a run is long enough for a progress bar on a non-TTY."""


class UsageError(Exception):
    """A bad command line: reported as one line, exit status 2."""


def _parser() -> argparse.ArgumentParser:
    import argparse

    class _Parser(argparse.ArgumentParser):
        def error(self, message: str) -> Any:  # argparse would print usage and exit
            raise UsageError(message)

    p = _Parser(prog="stalksim", description="Learn beanstalkd with a simulator.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="the named scenarios")
    run = sub.add_parser("run", help="run a named scenario and summarise it")
    run.add_argument("scenario")
    run.add_argument("--seed", type=int, default=0)
    run.add_argument("--until", type=float, default=None, help="virtual seconds to run")
    run.add_argument("--plot", metavar="PNG", help="save job timeline and worker swimlanes")
    run.add_argument("--trace", metavar="JSONL", help="save the trace as JSON Lines")
    run.add_argument("--no-progress", action="store_true", help="never show a progress bar")
    sub.add_parser("serve", help="serve the beanstalkd protocol over TCP (stalksim.wire)",
                   add_help=False)
    sub.add_parser("doctor", help="the day-before check of a classroom machine", add_help=False)
    sub.add_parser("handouts", help="life-cycle diagram and answer key (PDF/PNG) into OUT/",
                   add_help=False)
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of `stalksim` and `python -m stalksim`; returns the exit status."""
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["serve"]:
        from stalksim.serving import main as serve
        return serve(args[1:])
    if args[:1] == ["doctor"]:
        from stalksim.doctor import main as doctor
        return doctor(args[1:])
    if args[:1] == ["handouts"]:
        from stalksim.handouts import main as handouts
        return handouts(args[1:])
    try:
        ns = _parser().parse_args(args)
        if ns.command == "list":
            return _list(sys.stdout)
        return _run(ns)
    except UsageError as e:
        return _fail(str(e), 2)
    except OSError as e:
        return _fail(f"{e.filename or ''}: {e.strerror or e}".lstrip(": "), 1)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)


def _fail(message: str, code: int) -> int:
    print(f"stalksim: error: {message}", file=sys.stderr)
    return code


def _list(out: IO[str]) -> int:
    from stalksim.scenarios import SCENARIOS

    width = max(map(len, SCENARIOS))
    for sc in SCENARIOS.values():
        print(f"{sc.name:<{width}}  {sc.title}", file=out)
    return 0


def _writable(path: str | None, what: str) -> None:
    """Refuse an output path we could not write, before spending time on the run."""
    if path is None:
        return
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path):
        raise UsageError(f"{what} {path!r} is a directory")
    if not os.path.isdir(parent):
        raise UsageError(f"{what} {path!r}: directory {parent!r} does not exist")
    existed = os.path.exists(path)
    try:  # the only reliable test (root, read-only mounts, /proc): try it
        with open(path, "a", encoding="utf-8"):
            pass
    except OSError as e:
        raise UsageError(f"{what} {path!r} is not writable ({e.strerror})") from None
    if not existed:
        os.remove(path)


def _run(ns: argparse.Namespace) -> int:
    from stalksim.scenarios import find, run_scenario

    try:
        sc = find(ns.scenario)
    except KeyError as e:
        raise UsageError(e.args[0]) from None
    until = sc.default_until if ns.until is None else ns.until
    if not (math.isfinite(until) and until >= 0):
        raise UsageError(f"--until must be a number of seconds >= 0, not {ns.until:g}")
    _writable(ns.plot, "--plot")
    _writable(ns.trace, "--trace")
    bar = None if ns.no_progress else _bar(sys.stderr, until, sc.long)
    result = run_scenario(sc.name, seed=ns.seed, until=until, progress=bar)
    print("\n".join(summary_lines(result)))
    if ns.trace:
        result.trace.to_jsonl(ns.trace)
        print(f"trace: {ns.trace} ({len(result.trace)} events)")
    if ns.plot:
        _plot(result, ns.plot)
        print(f"plot: {ns.plot}")
    return 0


def _bar(err: IO[str], until: float, long: bool) -> Any:
    """A plain-text progress callback: redrawn in place on a TTY, or a few lines for a long
    run written to a file or pipe; None when neither applies."""
    tty = err.isatty()
    if not (tty or long or until >= LONG_RUN):
        return None
    shown = [-1]

    def progress(done: float, total: float) -> None:
        frac = done / total if total else 1.0
        step = int(frac * (40 if tty else 4))
        if step == shown[0]:
            return
        shown[0] = step
        filled = int(frac * 30)
        text = f"[{'#' * filled}{'.' * (30 - filled)}] {frac:4.0%}  t={done:g}/{total:g} s"
        if tty:
            err.write("\r" + text + ("\n" if frac >= 1 else ""))
        else:
            err.write(text + "\n")
        err.flush()

    return progress


def _secs(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f} s"


def summary_lines(result: Result) -> list[str]:
    """What `run` prints: the scenario, jobs, re-deliveries by cause, waits, the story."""
    s = result.summary()
    by = s["redeliveries_by_cause"]
    other = ", ".join(f"{c}: {n}" for c, n in sorted(by.items())
                      if c not in ("connection-closed", "ttr-expired"))
    lines = [
        f"{result.scenario.name} (seed {result.seed}, {result.until:g} s): "
        f"{result.scenario.title}",
        f"jobs: {s['jobs_put']} put, {s['jobs_done']} done, {s['jobs_buried']} buried, "
        f"{s['jobs_left']} still queued",
        f"re-deliveries: {s['redeliveries']} (connection closed: "
        f"{s['redeliveries_connection_closed']}, TTR expired: {s['redeliveries_ttr_expired']}"
        + (f", {other}" if other else "") + ")",
        f"duplicate work (reserved again after TTR expired): {s['duplicate_work']}",
        f"wait to first reserve: p50 {_secs(s['wait_p50'])}, p90 {_secs(s['wait_p90'])}, "
        f"p99 {_secs(s['wait_p99'])}",
    ]
    lines += [f"what happened: {line}" for line in result.story()]
    return lines


def _plot(result: Result, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    from stalksim import views

    fig = views.overview(result.trace)
    fig.savefig(path, dpi=110, format="png")
