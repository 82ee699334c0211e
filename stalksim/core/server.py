"""beanstalkd 1.12's commands, one method per protocol command, named after it.

Each method takes the connection and `now` (ns) and returns the success value, or raises
`Refused(word)`; a reserve that has to wait returns None (its answer comes through
`outbox`). Global `cmd-*` counters go up once the command has parsed, whatever the outcome;
argument errors (BAD_FORMAT) are raised before counting, as the server does.
"""

from __future__ import annotations

from heapq import heappop

from stalksim.core import stats as S
from stalksim.core import words as R
from stalksim.core.check import Snapshot, check, snapshot
from stalksim.core.model import BURIED, DELAYED, DELETED, READY, RESERVED, Conn, Job, _top
from stalksim.core.state import SEC, State, name_ok
from stalksim.core.words import Refused

U32 = 0xFFFFFFFF
U64 = 0xFFFFFFFFFFFFFFFF


def _u32(*values: int) -> None:
    for v in values:
        if not 0 <= v <= U32:
            raise Refused(R.BAD_FORMAT)


def _name(name: str) -> None:
    if not name_ok(name):
        raise Refused(R.BAD_FORMAT)


class Server(State):
    """A simulated beanstalkd 1.12. Adapters own the clock and the I/O."""

    __slots__ = ()

    # ---- put -----------------------------------------------------------------------------
    def put_header(self, c: Conn, now: int, size: int, trailing: bool = False) -> int:
        """The checks on a put line before its body is read (counted in cmd-put). Returns the
        job's id: beanstalkd takes it here, so a slow body keeps its place in the id order and
        an abandoned one leaves a gap."""
        self._op(c, now, "put")
        if size > self.max_job_size:
            raise Refused(R.JOB_TOO_BIG)
        if trailing:
            raise Refused(R.BAD_FORMAT)
        c.producer = True
        id = self.next_id
        self.next_id += 1
        return id

    def put_body(self, c: Conn, now: int, id: int, pri: int, delay: int, ttr: int,
                 body: bytes, *, crlf: bool = True, since: int | None = None) -> int:
        """Make job `id` (from put_header) once its body has been read. `since` is when the
        put line arrived (the job's age counts from then)."""
        self.advance(now)
        if not crlf:
            raise Refused(R.EXPECTED_CRLF)
        if self.draining:
            raise Refused(R.DRAINING)
        t = c.use
        job = Job(id, t, pri, delay, ttr if ttr > 0 else 1, body,
                  self.now if since is None else since)
        self.jobs[id] = job
        t.refs += 1
        t.total_jobs += 1
        self.total_jobs += 1
        self._enqueue(job, delay, "put", c.name)
        return id

    def put(self, c: Conn, now: int, pri: int, delay: int, ttr: int, body: bytes) -> int:
        """`put <pri> <delay> <ttr> <bytes>`: a new job in the used tube; returns its id."""
        _u32(pri, delay, ttr, len(body))
        id = self.put_header(c, now, len(body))
        return self.put_body(c, now, id, pri, delay, ttr, body)

    # ---- tubes of a connection -----------------------------------------------------------
    def use(self, c: Conn, now: int, name: str) -> str:
        _name(name)
        self._op(c, now, "use")
        t = self._tube(name)
        old = c.use
        t.refs += 1
        t.using_n += 1
        c.use = t
        old.using_n -= 1
        self._unref(old)
        return name

    def watch(self, c: Conn, now: int, name: str) -> int:
        _name(name)
        self._op(c, now, "watch")
        t = self._tube(name)
        if t not in c.watch:
            c.watch.append(t)
            t.watching_n += 1
            t.refs += 1
        return len(c.watch)

    def ignore(self, c: Conn, now: int, name: str) -> int:
        _name(name)
        self._op(c, now, "ignore")
        t = next((t for t in c.watch if t.name == name), None)
        if t is not None:
            if len(c.watch) < 2:
                raise Refused(R.NOT_IGNORED)
            c.watch.remove(t)
            t.watching_n -= 1
            self._unref(t)
        return len(c.watch)

    def list_tube_used(self, c: Conn, now: int) -> str:
        self._op(c, now, "list-tube-used")
        return c.use.name

    def list_tubes(self, c: Conn, now: int) -> str:
        self._op(c, now, "list-tubes")
        return S.yaml_list(t.name for t in self.tubes)

    def list_tubes_watched(self, c: Conn, now: int) -> str:
        self._op(c, now, "list-tubes-watched")
        return S.yaml_list(t.name for t in c.watch)

    # ---- reserving -----------------------------------------------------------------------
    def reserve(self, c: Conn, now: int) -> Job | None:
        """`reserve`: a job now, or None when the connection has to wait (`conn.waiting`)."""
        self._op(c, now, "reserve")
        return self._wait_for_job(c, None)

    def reserve_with_timeout(self, c: Conn, now: int, seconds: int) -> Job | None:
        """`reserve-with-timeout <s>`; a negative `s` waits forever, as in 1.12."""
        self._op(c, now, "reserve-with-timeout")
        return self._wait_for_job(c, None if seconds < 0 else self.now + seconds * SEC)

    def _wait_for_job(self, c: Conn, timeout_at: int | None) -> Job | None:
        c.worker = True
        if self._deadline_soon(c) and not self._conn_ready(c):
            raise Refused(R.DEADLINE_SOON)
        best = self._best_ready(c)
        if best is not None:
            # Shortcut for the common case, same outcome as waiting then process_queue: an
            # unpaused tube with a ready job has no other waiter, so this connection would be
            # the only one in that tube's waiting set and ms_take would leave its cursor at 1.
            job = best[2]
            t = job.tube
            heappop(t.ready)
            self._take_ready(job)
            t.waiting.last = 1
            self._reserve(c, job, "reserve")
            return job
        c.waiting = True
        c.timeout_at = timeout_at
        self.waiting_n += 1
        for t in c.watch:
            t.waiting.append(c)
            self._waited.add(t)
        mark = len(self.outbox)
        self._process_queue()
        if c.waiting:
            self._schedule(c)
            if c.timer is not None and c.timer[0] <= self.now:  # due at once
                c.timer = None
                self._conn_timeout(c)
        if len(self.outbox) == mark:
            return None
        # answered at once (a timeout of 0, DEADLINE_SOON): the reply is this command's own
        for i in range(mark, len(self.outbox)):
            if self.outbox[i][0] is c:
                answer = self.outbox.pop(i)[1]
                if isinstance(answer, str):
                    raise Refused(answer)
                return answer
        return None

    def hangup(self, c: Conn, now: int) -> bool:
        """The client half-closed while its reserve waited: 1.12 answers TIMED_OUT (to the
        outbox). False if the connection was not waiting."""
        return self._withdraw(c, now, R.TIMED_OUT)

    def cancel_wait(self, c: Conn, now: int) -> bool:
        """Withdraw a waiting reserve: its answer is CANCELLED, which sends nothing.

        Not a protocol command: the simulator uses it when nothing can ever answer the
        reserve, so that the connection is usable again instead of blocked forever. False if
        the connection was not waiting.
        """
        return self._withdraw(c, now, R.CANCELLED)

    def _withdraw(self, c: Conn, now: int, word: str) -> bool:
        self.advance(now)
        if not self._stop_waiting(c):
            return False
        c.timeout_at = None
        self._schedule(c)
        self._answer(c, word)
        return True

    def _best_ready(self, c: Conn) -> tuple | None:
        """The (pri, id, job) entry a reserve would get now from c's unpaused tubes."""
        best = None
        now = self.now
        for t in c.watch:
            if t.ready_n and not (t.pause and t.unpause_at > now):
                e = _top(t.ready)
                if best is None or e < best:
                    best = e
        return best

    def reserve_job(self, c: Conn, now: int, id: int) -> Job:
        """`reserve-job <id>`: a ready, delayed or buried job in any tube; never DEADLINE_SOON."""
        self._op(c, now, "reserve-job")
        job = self._find(id)
        if job.state == RESERVED:
            raise Refused(R.NOT_FOUND)
        self._take(job)
        c.worker = True
        self._reserve(c, job, "reserve-job")
        return job

    # ---- a reserved job ------------------------------------------------------------------
    def delete(self, c: Conn, now: int, id: int) -> None:
        """Owner's reserved job, or any ready, delayed or buried job."""
        self._op(c, now, "delete")
        job = self._find(id)
        src = job.state
        if src == RESERVED:
            if job.reserver is not c:
                raise Refused(R.NOT_FOUND)
            self._unreserve(c, job)
            self._schedule(c)
        else:
            self._take(job)
        t = job.tube
        t.total_deletes += 1
        job.state = DELETED
        del self.jobs[id]
        if self.trace is not None or self.journal is not None:  # the hot path: no call
            self.emit(id, t.name, src, DELETED, "delete", c.name)
        self._unref(t)

    def release(self, c: Conn, now: int, id: int, pri: int, delay: int) -> None:
        _u32(pri, delay)
        self._op(c, now, "release")
        job = self._own(c, id)
        self._unreserve(c, job)
        job.pri = pri
        job.delay = delay
        job.releases += 1
        self._enqueue(job, delay, "release", c.name)
        self._schedule(c)

    def bury(self, c: Conn, now: int, id: int, pri: int) -> None:
        _u32(pri)
        self._op(c, now, "bury")
        job = self._own(c, id)
        self._unreserve(c, job)
        job.pri = pri
        self._bury(job, c.name)
        self._schedule(c)

    def touch(self, c: Conn, now: int, id: int) -> None:
        """A full new TTR from now (it does not add time)."""
        self._op(c, now, "touch")
        job = self._own(c, id)
        job.deadline = self.now + job.ttr * SEC
        c.soonest = None
        self.emit(id, job.tube.name, RESERVED, RESERVED, "touch", c.name)
        self._schedule(c)

    # ---- peek and kick -------------------------------------------------------------------
    def peek(self, c: Conn, now: int, id: int) -> Job:
        self._op(c, now, "peek")
        return self._find(id)

    def peek_ready(self, c: Conn, now: int) -> Job:
        self._op(c, now, "peek-ready")
        t = c.use
        if not t.ready_n:
            raise Refused(R.NOT_FOUND)
        return _top(t.ready)[2]

    def peek_delayed(self, c: Conn, now: int) -> Job:
        self._op(c, now, "peek-delayed")
        t = c.use
        if not t.delayed_n:
            raise Refused(R.NOT_FOUND)
        return _top(t.delayed)[2]

    def peek_buried(self, c: Conn, now: int) -> Job:
        self._op(c, now, "peek-buried")
        t = c.use
        if not t.buried_n:
            raise Refused(R.NOT_FOUND)
        return _buried_head(t.buried)[0]

    def kick(self, c: Conn, now: int, bound: int) -> int:
        """Up to `bound` buried jobs of the used tube, or, if it has none, delayed ones."""
        self._op(c, now, "kick")
        t = c.use
        n = 0
        if t.buried_n:
            while n < bound and t.buried_n:
                job = _buried_head(t.buried)[0]
                t.buried.popleft()
                self._kick(job, "kick", c.name)
                n += 1
        else:
            while n < bound and t.delayed_n:
                job = _top(t.delayed)[2]
                heappop(t.delayed)
                self._kick(job, "kick", c.name)
                n += 1
        return n

    def kick_job(self, c: Conn, now: int, id: int) -> None:
        """A buried or delayed job in any tube."""
        self._op(c, now, "kick-job")
        job = self._find(id)
        if job.state not in (BURIED, DELAYED):
            raise Refused(R.NOT_FOUND)
        self._kick(job, "kick-job", c.name)

    def _kick(self, job: Job, cause: str, actor: str) -> None:
        self._take(job)
        job.kicks += 1
        self._enqueue(job, 0, cause, actor)

    # ---- pause and stats -----------------------------------------------------------------
    def pause_tube(self, c: Conn, now: int, name: str, delay: int) -> None:
        """Stop handing out the tube's jobs for `delay` s; 0 means resume at once (1 ns)."""
        _u32(delay)
        self._op(c, now, "pause-tube")  # 1.12 counts it before checking the name's rules
        _name(name)
        t = self.tube_by_name.get(name)
        if t is None:
            raise Refused(R.NOT_FOUND)
        t.pause_count += 1
        self.emit(0, t.name, "", "", "pause", c.name)
        if not delay:
            # beanstalkd pauses for 1 ns: over before any later command can arrive. The
            # simulator's commands take no time, so it resumes the tube right here.
            if t.pause:
                self._unpause(t)
                self._process_queue()
            return
        t.pause = delay * SEC
        t.unpause_at = self.now + t.pause
        if t not in self._paused:
            self._paused.append(t)
        if t.unpause_at < self._due:
            self._due = t.unpause_at

    def stats_job(self, c: Conn, now: int, id: int) -> str:
        self._op(c, now, "stats-job")
        return S.stats_job(self._find(id), self.now)

    def stats_tube(self, c: Conn, now: int, name: str) -> str:
        _name(name)
        self._op(c, now, "stats-tube")
        t = self.tube_by_name.get(name)
        if t is None:
            raise Refused(R.NOT_FOUND)
        return S.stats_tube(t, self.now)

    def stats(self, c: Conn, now: int) -> str:
        self._op(c, now, "stats")
        return S.stats(self)

    def quit(self, c: Conn, now: int) -> None:
        self.close(c, now)

    # ---- reading the state (not protocol commands) ---------------------------------------
    def snapshot(self) -> Snapshot:
        """The whole state as values: tubes' jobs by state in the server's orders, and
        connections (see `core.check`)."""
        return snapshot(self)

    def check(self) -> None:
        """Raise `Inconsistent` if any invariant of the state is broken (see `core.check`)."""
        check(self)


def _buried_head(buried) -> tuple[Job]:
    while buried[0][0].entry is not buried[0]:
        buried.popleft()
    return buried[0]


__all__ = ["Server", "Refused", "U32", "U64", "READY", "RESERVED", "DELAYED", "BURIED"]
