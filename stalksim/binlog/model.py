"""Plain job values for the binlog: what a caller hands the writer and what a read gives back."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from stalksim.binlog.format import STATE_CODES, STATE_NAMES, Jobrec


@dataclass(frozen=True)
class JobImage:
    """One job as the binlog holds it. Times are wall-clock ns (beanstalkd uses gettimeofday).

    ``body`` is the job's body as a client sees it (the file adds "\\r\\n"). ``deadline_at_ns``
    is when a delayed job becomes ready (or a reserved job's TTR runs out). ``file`` is the N of
    the ``binlog.N`` holding the job's full record: beanstalkd's stats-job "file".
    """

    id: int
    tube: str
    priority: int
    ttr_ns: int
    body: bytes
    state: str = "ready"
    delay_ns: int = 0
    created_at_ns: int = 0
    deadline_at_ns: int = 0
    reserves: int = 0
    timeouts: int = 0
    releases: int = 0
    buries: int = 0
    kicks: int = 0
    file: int = 0

    def delay_left_ns(self, now_ns: int) -> int:
        """Remaining delay of a delayed job at ``now_ns`` (0 for any other state)."""
        if self.state != "delayed":
            return 0
        return max(0, self.deadline_at_ns - now_ns)

    def after_restart(self, now_ns: int) -> JobImage:
        """This job as beanstalkd's start-up replay leaves it: a reserved job is ready, a
        delayed job whose time has come is ready, a buried job is buried again (counting one
        more bury, as beanstalkd 1.12 does)."""
        if self.state == "buried":
            return replace(self, buries=self.buries + 1)
        if self.state == "delayed" and now_ns < self.deadline_at_ns:
            return self
        return self if self.state == "ready" else replace(self, state="ready")

    def jobrec(self, state: int | None = None) -> Jobrec:
        """This job as a record (``state`` overrides, e.g. 0 for a delete)."""
        if state is None:
            if self.state not in STATE_CODES:
                raise ValueError(f"job {self.id}: state {self.state!r} is not one a binlog holds")
            state = STATE_CODES[self.state]
        return Jobrec(
            self.id, self.priority, self.delay_ns, self.ttr_ns, len(self.body) + 2,
            self.created_at_ns, self.deadline_at_ns, self.reserves, self.timeouts,
            self.releases, self.buries, self.kicks, state,
        )

    @classmethod
    def from_record(cls, rec: Jobrec, tube: str, body: bytes, file: int) -> JobImage:
        """The job a record describes; ``body`` is the stored body with its "\\r\\n"."""
        return cls(
            id=rec.id, tube=tube, priority=rec.pri, ttr_ns=rec.ttr, body=body[:-2],
            state=STATE_NAMES.get(rec.state, "invalid"), delay_ns=rec.delay,
            created_at_ns=rec.created_at, deadline_at_ns=rec.deadline_at,
            reserves=rec.reserve_ct, timeouts=rec.timeout_ct, releases=rec.release_ct,
            buries=rec.bury_ct, kicks=rec.kick_ct, file=file,
        )


@dataclass
class Restored:
    """What beanstalkd 1.12 would restore from a binlog directory at ``now_ns``.

    ``jobs`` come in beanstalkd's replay order (a tube's buried jobs are kicked in this order),
    with the state they get back: a reserved job is ready, a delayed job whose time has come is
    ready. ``next_id`` is the id the next put gets. ``warnings`` are beanstalkd's own messages
    for what it could not read (its stderr, without the program name). ``files`` are the N of
    the ``binlog.N`` files it found; ``unused`` the ones it would delete at once as no live job
    refers to them (read() itself never deletes anything).
    """

    jobs: list[JobImage]
    next_id: int
    warnings: list[str]
    now_ns: int
    files: list[int] = field(default_factory=list)
    unused: list[int] = field(default_factory=list)

    def by_id(self) -> dict[int, JobImage]:
        """The jobs keyed by id."""
        return {j.id: j for j in self.jobs}
