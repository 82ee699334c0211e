"""The beanstalkd 1.12 text protocol over the core: a byte-in, byte-out `Session` per connection.

A session reads its input the way beanstalkd's `conn_data` does (a 224-byte line buffer, the
body read to exactly `bytes + 2`, an oversized body thrown away as it streams), so the quirks
of 1.12 come out byte for byte: the 225-byte line that swallows the next one, a stray CR that
stalls a line, a put line that fails to parse leaving its body to be read as a command. The
parsing rules are in `stalksim._parse`; what a command does is the core's business.

Commands of one connection run strictly in order: while it waits in `reserve`, its further
input is kept and processed once the reserve is answered. The core never calls back: it puts
the answers to waiting reserves in its outbox, and the driver (wire server, simulation) calls
`Sessions.settle()` after every core call, which hands each answer to its session, where the
reply is written and the queued input runs -- after the command that answered it, never
inside it.

A session is the one state machine of its connection. The simulated client's fast path runs
commands on it at command level (`call`, `reserve`: values and jobs, no bytes); greenstalk's
byte path feeds it bytes. Both see the same waiting state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stalksim import _parse as P
from stalksim.core import U32, U64, Answer, Conn, Inconsistent, Job, Refused, Server
from stalksim.core import words as R

_COMMAND, _ENDLINE, _BODY, _SKIP, _WAIT, _CLOSED = range(6)
_COMPACT = 1 << 16  # drop consumed input once this much has piled up at the front


class Sessions:
    """The sessions of one core server, by connection: where the core's answers are handed
    out. `owner` of each session is the driver's object for it (a TCP connection, a client)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.by_conn: dict[Conn, Session] = {}

    def open(self, now: int, name: str | None = None, owner: Any = None) -> Session:
        """A new connection and its session (settle afterwards: connecting moves the clock)."""
        s = Session(self.server, self.server.connect(now, name))
        s.owner = owner
        self.by_conn[s.conn] = s
        return s

    def drop(self, s: Session) -> None:
        """Forget a closed session."""
        self.by_conn.pop(s.conn, None)

    def check(self) -> None:
        """The core's `check()`, and each session waiting exactly while its connection waits
        in the core or has an answer in the outbox (the core's `conn.waiting` is the truth)."""
        self.server.check()
        answered = {c for c, _ in self.server.outbox}
        for conn, s in self.by_conn.items():
            if s.waiting != (conn.waiting or conn in answered):
                raise Inconsistent(f"{conn.name}: session waiting={s.waiting}, core "
                                   f"waiting={conn.waiting}")

    def settle(self) -> list[Session]:
        """Hand every answer in the core's outbox to its session (which runs its queued input,
        possibly answering others in turn) until none is left; the sessions answered."""
        answered = []
        server = self.server
        by_conn = self.by_conn
        while server.outbox:
            for conn, answer in server.take_answers():
                s = by_conn.get(conn)
                if s is not None and s.answer(answer):
                    answered.append(s)
        return answered


def _job_reply(word: bytes, job: Job) -> bytes:
    return b"%s %d %d\r\n%s\r\n" % (word, job.id, len(job.body), job.body)


def _ok(yaml: str) -> bytes:
    data = yaml.encode("latin-1")
    return b"OK %d\r\n%s\r\n" % (len(data), data)


class Session:
    """One client connection speaking the beanstalkd 1.12 protocol to a core `Server`.

    `feed()` the bytes the client sent; replies accumulate in `out` (the transport deletes what
    it has sent). `max_out`, if set, pauses command processing while `out` holds that many
    bytes; `feed(b"", now)` continues (the wire server uses it for backpressure). `call` and
    `reserve` run a command at command level instead; a reserve made so that has to wait gets
    its answer in `result`.
    """

    def __init__(self, server: Server, conn: Conn) -> None:
        self.server = server
        self.conn = conn
        self.out = bytearray()
        self.closed = False
        self.owner: Any = None
        self.log: Callable[[str], None] | None = None  # gets one line per command (verbose)
        self.max_out: int | None = None
        self.result: Answer | None = None  # the answer to a command-level reserve that waited
        self._direct = False  # waiting for a command-level reserve (answer to `result`)
        self._in = bytearray()  # input not consumed yet (what would still sit in the socket)
        self._pos = 0
        self._state = _COMMAND
        self._need = 0  # body bytes still to read (or to throw away)
        self._body = bytearray()
        self._put: tuple[int, int, int, int, int] = (0, 0, 0, 0, 0)  # id, pri, delay, ttr, since
        self._skip_word = R.JOB_TOO_BIG
        self._now = 0

    # ---- the transport's side --------------------------------------------------------------
    def feed(self, data: bytes, now: int) -> None:
        """Take bytes from the client and run every command they complete."""
        if self.closed:
            return
        if data:
            self._in += data
        self._now = max(self._now, now)
        self._run()

    def idle(self) -> bool:
        """No partial input buffered, no pending body, not waiting in reserve."""
        return self._state == _COMMAND and self._pos == len(self._in)

    def in_sync(self) -> bool:
        """Idle with no reply left unread: a command may run at command level."""
        return self._state == _COMMAND and self._pos == len(self._in) and not self.out

    # ---- command level (the simulated client's fast path) ----------------------------------
    def call(self, method: str, now: int, *args: Any) -> Any:
        """Run the core's `method` for this connection: its value, or Refused."""
        if now > self._now:
            self._now = now
        return getattr(self.server, method)(self.conn, self._now, *args)

    def reserve(self, now: int, timeout: int | None) -> Job | None:
        """`reserve` (timeout None) or `reserve-with-timeout`: the job, or None while the
        connection waits (its answer then comes to `result`); Refused for an error word."""
        if now > self._now:
            self._now = now
        if timeout is None:
            job = self.server.reserve(self.conn, self._now)
        else:
            job = self.server.reserve_with_timeout(self.conn, self._now, timeout)
        if job is None:
            self._state, self._direct, self.result = _WAIT, True, None
        return job

    def take_result(self) -> Answer | None:
        """The answer a command-level reserve got while it waited (once), or None."""
        answer, self.result = self.result, None
        return answer

    def buffered(self) -> int:
        """Input bytes received but not consumed yet (bounded by what the transport feeds)."""
        return len(self._in) - self._pos

    @property
    def waiting(self) -> bool:
        """Blocked in reserve: later input stays buffered until the reserve is answered."""
        return self._state == _WAIT

    @property
    def stalled(self) -> bool:
        """Command processing stopped because `out` reached `max_out` with input left."""
        return (self.max_out is not None and len(self.out) >= self.max_out
                and self._state not in (_WAIT, _CLOSED) and self.buffered() > 0)

    def close(self, now: int) -> None:
        """The transport closed: the core releases the connection's reserved jobs."""
        self._now = max(self._now, now)
        self._shut()
        self.server.close(self.conn, self._now)

    def hangup(self, now: int) -> None:
        """The client half-closed (EOF) while its reserve waited: 1.12 answers TIMED_OUT (the
        session goes on with the commands it had already received; the transport closes
        after)."""
        if self._state == _WAIT:
            self._now = max(self._now, now)
            self.server.hangup(self.conn, self._now)

    def cancel(self, now: int) -> None:
        """Withdraw a waiting reserve (the simulator gives up on it): nothing is sent."""
        if self._state == _WAIT:
            self._now = max(self._now, now)
            self.server.cancel_wait(self.conn, self._now)

    def answer(self, answer: Answer) -> bool:
        """The core answers this connection's waiting reserve (from `Sessions.settle`): write
        the reply (or keep it in `result`) and run the input queued behind the reserve.
        False if the session was not waiting."""
        if self._state != _WAIT:
            return False
        self._state = _COMMAND
        if self._direct:
            self._direct = False
            self.result = answer
            return True
        if isinstance(answer, Job):
            self.out += _job_reply(b"RESERVED", answer)
        elif answer != R.CANCELLED:
            self._word(answer)
        self._run()
        return True

    # ---- input -----------------------------------------------------------------------------
    def _shut(self) -> None:
        self.closed = True
        self._state = _CLOSED
        self._in = bytearray()
        self._pos = 0
        self._body = bytearray()

    def _run(self) -> None:
        """Consume input as beanstalkd's read loop would, until it needs more or must wait."""
        buf = self._in
        while True:
            state = self._state
            if state in (_WAIT, _CLOSED):
                break
            if self.max_out is not None and len(self.out) >= self.max_out:
                break
            pos, size = self._pos, len(buf) - self._pos
            if size == 0:
                break
            if state in (_BODY, _SKIP):
                take = min(size, self._need)
                if state == _BODY:
                    self._body += buf[pos:pos + take]
                self._pos += take
                self._need -= take
                if not self._need:
                    self._state = _COMMAND
                    self._finish_put() if state == _BODY else self._word(self._skip_word)
                continue
            window = min(size, P.LINE_MAX)
            # scan_line_end: the first CR among the window's first size-1 bytes must be
            # followed by LF; a CR followed by anything else leaves the line incomplete.
            cr = buf.find(b"\r", pos, pos + window - 1)
            if cr >= 0 and buf[cr + 1] == 0x0A:
                self._pos = cr + 2
                if state == _ENDLINE:
                    self._state = _COMMAND
                    self._word(R.BAD_FORMAT)
                else:
                    self._dispatch(bytes(buf[pos:cr]))
            elif window == P.LINE_MAX:  # a full buffer and no line end: discard it
                self._pos += P.LINE_MAX
                self._state = _ENDLINE
            else:
                break
        if self._pos >= _COMPACT or (self._pos and self._pos == len(self._in)):
            del self._in[:self._pos]
            self._pos = 0

    # ---- output ----------------------------------------------------------------------------
    def _word(self, word: str) -> None:
        self.out += word.encode() + b"\r\n"

    def _line(self, text: str) -> None:
        self.out += text.encode("latin-1") + b"\r\n"

    # ---- commands --------------------------------------------------------------------------
    def _dispatch(self, line: bytes) -> None:
        if b"\0" in line:
            return self._word(R.BAD_FORMAT)
        found = P.which(line)
        if found is None:
            return self._word(R.UNKNOWN_COMMAND)
        name, arg = found
        if self.log is not None:
            self.log(f"{self.conn.name} {line[:80].decode('latin-1')!r}")
        try:
            if name in _EXACT:
                if arg:
                    raise P.BadFormat
                _EXACT[name](self)
            else:
                _WITH_ARG[name](self, arg)
        except P.BadFormat:
            self._word(R.BAD_FORMAT)
        except Refused as e:
            self._word(e.word)

    def _put_line(self, arg: bytes) -> None:
        (pri, delay, ttr, size), trailing = P.numbers(arg, U32, U32, U32, U32)
        try:
            id = self.server.put_header(self.conn, self._now, size, trailing)
        except Refused as e:
            if e.word != R.JOB_TOO_BIG:
                raise
            self._state, self._need, self._skip_word = _SKIP, size + 2, e.word
            return
        self._put = (id, pri, delay, ttr, self._now)
        self._state, self._need, self._body = _BODY, size + 2, bytearray()

    def _finish_put(self) -> None:
        id, pri, delay, ttr, since = self._put
        body, self._body = bytes(self._body), bytearray()
        try:
            self.server.put_body(self.conn, self._now, id, pri, delay, ttr, body[:-2],
                                 crlf=body[-2:] == b"\r\n", since=since)
        except Refused as e:
            self._word(e.word)
            return
        self._line(f"INSERTED {id}")

    def _reserve_answer(self, job: Job | None) -> None:
        if job is None:
            self._state, self._direct = _WAIT, False
        else:
            self.out += _job_reply(b"RESERVED", job)

    def _quit(self) -> None:
        self._shut()
        self.server.quit(self.conn, self._now)

    def _pause_tube(self, arg: bytes) -> None:
        name, delay = P.pause_args(arg)
        self.server.pause_tube(self.conn, self._now, name, delay)
        self._word("PAUSED")


def _id_cmd(method: str, reply: Callable[[Session, object], None]) -> Callable:
    def run(self: Session, arg: bytes) -> None:
        reply(self, getattr(self.server, method)(self.conn, self._now, P.job_id(arg)))
    return run


def _tube_cmd(method: str, fmt: str) -> Callable:
    def run(self: Session, arg: bytes) -> None:
        value = getattr(self.server, method)(self.conn, self._now, P.tube_name(arg))
        self._line(fmt.format(value))
    return run


def _plain(method: str, reply: Callable[[Session, object], None]) -> Callable:
    def run(self: Session) -> None:
        reply(self, getattr(self.server, method)(self.conn, self._now))
    return run


def _found(self: Session, job: Job) -> None:
    self.out += _job_reply(b"FOUND", job)


def _yaml(self: Session, text: str) -> None:
    self.out += _ok(text)


def _const(word: str) -> Callable[[Session, object], None]:
    return lambda self, _value: self._word(word)


def _release(self: Session, arg: bytes) -> None:
    id, pos = P.number(arg, 0, U64)
    pri, pos = P.u32(arg, pos, last=False)
    delay, _ = P.u32(arg, pos)
    self.server.release(self.conn, self._now, id, pri, delay)
    self._word("RELEASED")


def _bury(self: Session, arg: bytes) -> None:
    id, pos = P.number(arg, 0, U64)
    pri, _ = P.u32(arg, pos)
    self.server.bury(self.conn, self._now, id, pri)
    self._word("BURIED")


def _kick(self: Session, arg: bytes) -> None:
    n = self.server.kick(self.conn, self._now, P.kick_bound(arg))
    self._line(f"KICKED {n}")


def _reserve_timeout(self: Session, arg: bytes) -> None:
    seconds = P.timeout_seconds(arg)
    self._reserve_answer(self.server.reserve_with_timeout(self.conn, self._now, seconds))


_EXACT: dict[str, Callable[[Session], None]] = {
    "peek-ready": _plain("peek_ready", _found),
    "peek-delayed": _plain("peek_delayed", _found),
    "peek-buried": _plain("peek_buried", _found),
    "reserve": _plain("reserve", Session._reserve_answer),
    "stats": _plain("stats", _yaml),
    "list-tubes-watched": _plain("list_tubes_watched", _yaml),
    "list-tube-used": _plain("list_tube_used", lambda self, name: self._line(f"USING {name}")),
    "list-tubes": _plain("list_tubes", _yaml),
}

_WITH_ARG: dict[str, Callable[[Session, bytes], None]] = {
    "put": Session._put_line,
    "peek": _id_cmd("peek", _found),
    "reserve-with-timeout": _reserve_timeout,
    "reserve-job": _id_cmd("reserve_job", Session._reserve_answer),
    "delete": _id_cmd("delete", _const("DELETED")),
    "release": _release,
    "bury": _bury,
    "kick": _kick,
    "kick-job": _id_cmd("kick_job", _const("KICKED")),
    "touch": _id_cmd("touch", _const("TOUCHED")),
    "stats-job": _id_cmd("stats_job", _yaml),
    "stats-tube": lambda self, arg: _yaml(
        self, self.server.stats_tube(self.conn, self._now, P.tube_name(arg))),
    "use": _tube_cmd("use", "USING {}"),
    "watch": _tube_cmd("watch", "WATCHING {}"),
    "ignore": _tube_cmd("ignore", "WATCHING {}"),
    "quit": lambda self, _arg: self._quit(),  # whatever follows `quit` is ignored
    "pause-tube": Session._pause_tube,
}
