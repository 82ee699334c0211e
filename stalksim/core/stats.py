"""stats, stats-job, stats-tube and list replies, rendered as beanstalkd 1.12 prints them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from stalksim.core.model import DELAYED, RESERVED

if TYPE_CHECKING:
    from stalksim.core.model import Job, Tube
    from stalksim.core.state import State

SEC = 1_000_000_000

#: The `cmd-*` fields of `stats`, in the server's order, and the counter behind each.
CMD_FIELDS = (
    "put", "peek", "peek-ready", "peek-delayed", "peek-buried", "reserve",
    "reserve-with-timeout", "delete", "release", "use", "watch", "ignore", "bury", "kick",
    "touch", "stats", "stats-job", "stats-tube", "list-tubes", "list-tube-used",
    "list-tubes-watched", "pause-tube",
)


def seconds(ns: int) -> int:
    """Whole seconds, truncated toward zero as C integer division does."""
    return ns // SEC if ns >= 0 else -(-ns // SEC)


def remaining(ns: int) -> int:
    """Whole seconds left, as a real server prints them: some time always passes between two
    commands, so a span of exactly 3 s reads 2 (the simulator's commands take no time)."""
    return (ns - 1) // SEC if ns > 0 else seconds(ns)


def yaml_list(names: Iterable[str]) -> str:
    return "---\n" + "".join(f"- {n}\n" for n in names)


def _yaml(fields: Iterable[tuple[str, object]]) -> str:
    return "---\n" + "".join(f"{k}: {v}\n" for k, v in fields)


def stats_job(job: Job, now: int) -> str:
    left = remaining(job.deadline - now) if job.state in (RESERVED, DELAYED) else 0
    return _yaml((
        ("id", job.id), ("tube", job.tube.name), ("state", job.state), ("pri", job.pri),
        ("age", seconds(now - job.created_at)), ("delay", job.delay), ("ttr", job.ttr),
        ("time-left", left), ("file", 0), ("reserves", job.reserves),
        ("timeouts", job.timeouts), ("releases", job.releases), ("buries", job.buries),
        ("kicks", job.kicks),
    ))


def stats_tube(t: Tube, now: int) -> str:
    left = remaining(t.unpause_at - now) if t.pause else 0
    return _yaml((
        ("name", t.name), ("current-jobs-urgent", t.urgent_n),
        ("current-jobs-ready", t.ready_n), ("current-jobs-reserved", t.reserved_n),
        ("current-jobs-delayed", t.delayed_n), ("current-jobs-buried", t.buried_n),
        ("total-jobs", t.total_jobs), ("current-using", t.using_n),
        ("current-watching", t.watching_n), ("current-waiting", len(t.waiting)),
        ("cmd-delete", t.total_deletes), ("cmd-pause-tube", t.pause_count),
        ("pause", seconds(t.pause)), ("pause-time-left", left),
    ))


BINLOG_FIELDS = ("binlog-oldest-index", "binlog-current-index", "binlog-records-migrated",
                 "binlog-records-written", "binlog-max-size")
NO_BINLOG = (0, 0, 0, 0, 10485760)  # beanstalkd without -b


def _binlog(s: State) -> tuple[int, ...]:
    """The binlog's numbers, from a journal that keeps files (`stalksim.durable.Binlog`)."""
    numbers = getattr(s.journal, "binlog_stats", None)
    return tuple(numbers()) if numbers is not None else NO_BINLOG


def stats(s: State) -> str:
    info = s.info
    utime, stime = s.rusage()
    ops = s.ops
    conns = s.conns.values()
    fields: list[tuple[str, object]] = [
        ("current-jobs-urgent", s.urgent_n), ("current-jobs-ready", s.ready_n),
        ("current-jobs-reserved", s.reserved_n),
        ("current-jobs-delayed", sum(t.delayed_n for t in s.tubes)),
        ("current-jobs-buried", s.buried_n),
    ]
    fields += [(f"cmd-{name}", ops.get(name, 0)) for name in CMD_FIELDS]
    fields += [
        ("job-timeouts", s.job_timeouts), ("total-jobs", s.total_jobs),
        ("max-job-size", s.max_job_size), ("current-tubes", len(s.tubes)),
        ("current-connections", len(s.conns)),
        ("current-producers", sum(1 for c in conns if c.producer)),
        ("current-workers", sum(1 for c in conns if c.worker)),
        ("current-waiting", s.waiting_n), ("total-connections", s.total_connections),
        ("pid", info["pid"]), ("version", '"1.12"'),
        ("rusage-utime", f"{utime:.6f}"), ("rusage-stime", f"{stime:.6f}"),
        ("uptime", seconds(s.now - s.started_at)),
        *zip(BINLOG_FIELDS, _binlog(s), strict=True),
        ("draining", "true" if s.draining else "false"),
        ("id", info["id"]), ("hostname", info["hostname"]), ("os", info["os"]),
        ("platform", info["platform"]),
    ]
    return _yaml(fields)
