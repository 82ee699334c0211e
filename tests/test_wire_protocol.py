"""Unit tests of `stalksim.protocol.Session`: bytes in, bytes out, no sockets, virtual time."""

from __future__ import annotations

from weakref import WeakKeyDictionary

import pytest

from stalksim import _parse as P
from stalksim.core import SEC, Server
from stalksim.protocol import Session, Sessions

_sessions: WeakKeyDictionary[Server, Sessions] = WeakKeyDictionary()


def session(server: Server) -> Session:
    return _sessions.setdefault(server, Sessions(server)).open(0)


def settle(server: Server) -> list[Session]:
    """What a driver does after every core call: hand the core's answers to the sessions."""
    return _sessions[server].settle()


def talk(s: Session, data: bytes, now: int = 0) -> bytes:
    s.feed(data, now)
    settle(s.server)
    out = bytes(s.out)
    del s.out[:]
    return out


@pytest.fixture
def server() -> Server:
    return Server()


def test_put_and_reserve_round_trip(server: Server) -> None:
    a = session(server)
    assert talk(a, b"put 1 0 5 3\r\nabc\r\nreserve\r\n") == b"INSERTED 1\r\nRESERVED 1 3\r\nabc\r\n"
    assert talk(a, b"delete 1\r\n") == b"DELETED\r\n"
    assert a.idle()


def test_input_split_at_every_byte(server: Server) -> None:
    a = session(server)
    data = b"use t\r\nput 0 0 1 4\r\na\r\nb\r\npeek 1\r\n"
    out = b"".join(talk(a, data[i:i + 1]) for i in range(len(data)))
    assert out == b"USING t\r\nINSERTED 1\r\nFOUND 1 4\r\na\r\nb\r\n"


def test_body_is_arbitrary_bytes(server: Server) -> None:
    a = session(server)
    body = bytes(range(256)) + b"\r\n\0\r"
    assert talk(a, b"put 0 0 1 %d\r\n%s\r\n" % (len(body), body)) == b"INSERTED 1\r\n"
    assert talk(a, b"peek 1\r\n") == b"FOUND 1 %d\r\n%s\r\n" % (len(body), body)


def test_line_buffer_quirks(server: Server) -> None:
    a = session(server)
    assert talk(a, b"x" * 223 + b"\r\nstats\r\n") == b"BAD_FORMAT\r\n"  # 225 swallows next
    assert talk(a, b"x" * 224 + b"\r\nlist-tube-used\r\n") == b"BAD_FORMAT\r\nUSING default\r\n"
    assert talk(a, b"a\rb\r\n") == b"" and not a.idle()  # stray CR: line never completes
    assert talk(a, b"y" * 300 + b"\r\n") == b"BAD_FORMAT\r\n"
    assert a.idle()


def test_partial_line_is_bounded(server: Server) -> None:
    a = session(server)
    for _ in range(1000):
        talk(a, b"z" * 1000)
    assert a.buffered() < P.LINE_MAX
    assert talk(a, b"\r\nlist-tube-used\r\n") == b"BAD_FORMAT\r\nUSING default\r\n"


def test_job_too_big_streams_away(server: Server) -> None:
    server.max_job_size = 10
    a = session(server)
    assert talk(a, b"put 0 0 1 100000\r\n") == b""
    for _ in range(100):
        assert talk(a, b"q" * 1000) == b""
        assert a.buffered() == 0
    assert talk(a, b"\r\nput 0 0 1 1\r\nx\r\n") == b"JOB_TOO_BIG\r\nINSERTED 1\r\n"


def test_put_id_taken_at_put_line(server: Server) -> None:
    a, b = session(server), session(server)
    assert talk(a, b"put 0 0 1 1\r\n") == b""
    assert talk(b, b"put 0 0 1 1\r\nb\r\n") == b"INSERTED 2\r\n"
    assert talk(a, b"a\r\n") == b"INSERTED 1\r\n"
    talk(a, b"put 0 0 1 5\r\nab")
    a.close(0)
    assert talk(b, b"put 0 0 1 1\r\nc\r\n") == b"INSERTED 4\r\n"


def test_put_errors(server: Server) -> None:
    a = session(server)
    assert talk(a, b"put 0 0 1 3 \r\nabc\r\n") == b"BAD_FORMAT\r\nUNKNOWN_COMMAND\r\n"
    assert talk(a, b"put 0 0 1 1\r\nxyz\r\n") == b"EXPECTED_CRLF\r\nUNKNOWN_COMMAND\r\n"
    server.draining = True
    assert talk(a, b"put 0 0 1 1\r\nx\r\n") == b"DRAINING\r\n"
    server.draining = False
    assert talk(a, b"put 0 0 1 1\r\nx\r\n") == b"INSERTED 3\r\n"


@pytest.mark.parametrize(("line", "reply"), [
    (b"", b"UNKNOWN_COMMAND"), (b"reserve ", b"BAD_FORMAT"), (b"stats-job", b"BAD_FORMAT"),
    (b"delete", b"UNKNOWN_COMMAND"), (b"delete ", b"BAD_FORMAT"), (b"peek +1", b"BAD_FORMAT"),
    (b"peek 18446744073709551616", b"BAD_FORMAT"), (b"peek 18446744073709551615", b"NOT_FOUND"),
    (b"use a\0", b"BAD_FORMAT"), (b"kick -1", b"KICKED 0"), (b"kick x", b"BAD_FORMAT"),
    (b"kick 2abc", b"KICKED 0"), (b"reserve-with-timeout x", b"TIMED_OUT"),
    (b"reserve-with-timeout 4294967296", b"TIMED_OUT"),
    (b"reserve-with-timeout 9223372036854775808", b"BAD_FORMAT"),
    (b"pause-tubedefault 1", b"PAUSED"), (b"pause-tube -x 1", b"BAD_FORMAT"),
    (b"use caf\xc3\xa9", b"BAD_FORMAT"), (b"watch (x)+;/", b"WATCHING 2"),
    (b"list-tubes-watched", b"OK 14\r\n---\n- default\n"), (b"list-tube-used", b"USING default"),
])
def test_single_line_replies(server: Server, line: bytes, reply: bytes) -> None:
    assert talk(session(server), line + b"\r\n") == reply + b"\r\n"


def test_pause_tube_counted_despite_bad_name(server: Server) -> None:
    a = session(server)
    talk(a, b"pause-tube -foo 5\r\npause-tube x\r\n")
    assert server.ops.get("pause-tube") == 1


def test_quit_closes_and_ignores_the_rest(server: Server) -> None:
    a, b = session(server), session(server)
    talk(b, b"put 0 0 9 1\r\nx\r\n")
    assert talk(a, b"reserve\r\nquitter\r\nstats\r\n") == b"RESERVED 1 1\r\nx\r\n"
    assert a.closed
    assert server.ready_n == 1 and talk(a, b"stats\r\n") == b""


def test_waiting_reserve_buffers_input_and_continues(server: Server) -> None:
    a, b = session(server), session(server)
    assert talk(a, b"reserve\r\nlist-tube-used\r\nuse x\r\n") == b""
    assert a.waiting and not a.idle()
    b.feed(b"put 0 0 9 1\r\nj\r\n", 0)
    assert bytes(a.out) == b"" and server.outbox  # answered as data, not inside b's command
    assert settle(server) == [a]
    assert bytes(b.out) == b"INSERTED 1\r\n"
    assert bytes(a.out) == b"RESERVED 1 1\r\nj\r\nUSING default\r\nUSING x\r\n"
    assert a.idle()


def test_timeout_answered_by_advance(server: Server) -> None:
    a = session(server)
    assert talk(a, b"reserve-with-timeout 2\r\nlist-tube-used\r\n") == b""
    assert server.next_due() == 2 * SEC
    server.advance(2 * SEC)
    assert settle(server) == [a]
    assert bytes(a.out) == b"TIMED_OUT\r\nUSING default\r\n"


def test_deadline_soon_and_close_releases(server: Server) -> None:
    a, b = session(server), session(server)
    talk(b, b"put 0 0 1 1\r\nx\r\n")
    assert talk(a, b"reserve\r\nreserve\r\n") == b"RESERVED 1 1\r\nx\r\nDEADLINE_SOON\r\n"
    assert talk(b, b"reserve\r\n") == b""
    a.close(0)
    settle(server)
    assert bytes(b.out) == b"RESERVED 1 1\r\nx\r\n"


def test_hangup_while_waiting(server: Server) -> None:
    a = session(server)
    talk(a, b"reserve\r\nlist-tube-used\r\n")
    a.hangup(0)
    settle(server)
    assert bytes(a.out) == b"TIMED_OUT\r\nUSING default\r\n"
    assert server.waiting_n == 0


def test_max_out_stalls_until_fed_again(server: Server) -> None:
    a = session(server)
    a.max_out = 100
    a.feed(b"list-tube-used\r\n" * 50, 0)
    assert 100 <= len(a.out) < 130 and a.stalled
    total = len(a.out)
    while a.stalled:
        del a.out[:]
        a.feed(b"", 0)
        total += len(a.out)
    assert total == 50 * len(b"USING default\r\n") and a.idle()
