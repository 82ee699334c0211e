"""Issue 16: 1,000 connections on loopback, on both servers, with hostile clients during the
load (garbage, half lines, a 10 MB line, never-read replies, hang-ups mid-command, floods then
resets, a slow reader of 2,000 pipelined commands). Every job is reserved and deleted exactly
once, each hostile client gets what beanstalkd gives it, and afterwards the server holds no
connection or socket of theirs. Throughput is compared in `python -m benchmarks` (row 8)."""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks import wireload as W
from tests.wireserver import KINDS, make_server


@pytest.mark.parametrize("kind", KINDS)
def test_1000_connections_with_hostile_clients(kind: str) -> None:
    server = make_server(kind)
    try:
        proc = W.Proc(server.proc.pid)
        sockets = W.idle_sockets(server.address, proc)
        res = W.run_load(server.address, connections=1000, jobs=5000)
        assert len(res.put_ids) == res.jobs == len(set(res.put_ids))
        assert not [i for i, n in Counter(res.got).items() if n > 1], "a job delivered twice"
        assert sorted(res.got) == sorted(res.put_ids)
        assert res.hostile["huge_line"] == b"BAD_FORMAT\r\nUSING default\r\n"
        assert res.hostile["drop"].startswith(b"RESERVED ")
        assert res.hostile["pipeline"] == W.expected_pipeline_words(2_000)
        assert W.settle(server.address, proc, sockets) == sockets
        stats = W.stats(server.address)
        assert stats["current-connections"] == "1"
        assert stats["current-jobs-reserved"] == "0"
        c = W.Line(server.address)
        (tube,) = c.ask(b"stats-tube drop\r\n")
        assert b"current-jobs-ready: 1\n" in tube  # the job of the client that hung up
        c.close()
        print(f"\n{kind}: {res.jobs} jobs over 1000 connections in {res.elapsed:.2f} s "
              f"({res.rate:,.0f}/s); server RSS {proc.rss_kib() // 1024} MiB")
    finally:
        server.stop()
