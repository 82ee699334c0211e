"""Load on loopback: 500 idle connections held open, 20 producers and 20 consumers moving
20,000 jobs through `stalksim serve`, while robustness clients send garbage, half lines, a
huge line, a body that never finishes, never read their replies, hang up mid-command, flood
then reset (clients from benchmarks/wireload.py; tests/test_serve_load.py runs the same on
both servers at 1,000 connections).

Every job put is reserved and deleted exactly once; afterwards the server still answers and
`stats` shows no lost job.
"""

from __future__ import annotations

from collections import Counter

import pytest

from benchmarks import wireload as W
from tests.wireserver import StalksimServe

pytestmark = pytest.mark.slow


def test_load_every_job_once() -> None:
    server = StalksimServe().start()
    try:
        res = W.run_load(server.address, connections=580, jobs=20_000, producers=20,
                         consumers=20)
        assert len(res.put_ids) == 20_000 and len(set(res.put_ids)) == 20_000
        dupes = [id for id, n in Counter(res.got).items() if n > 1]
        assert not dupes, f"reserved and deleted twice: {dupes[:10]}"
        assert sorted(res.got) == sorted(res.put_ids)
        assert res.hostile["huge_line"] == b"BAD_FORMAT\r\nUSING default\r\n"
        fields = W.stats(server.address)
        assert fields["current-jobs-reserved"] == "0"
        assert int(fields["current-jobs-ready"]) >= 1  # the job of the client that hung up
        assert int(fields["total-jobs"]) > 20_000
        rss = W.Proc(server.proc.pid).rss_kib()
        print(f"\n20,000 jobs over 580 connections in {res.elapsed:.1f} s; server RSS "
              f"{rss // 1024} MiB")
        assert rss < 512 * 1024
    finally:
        server.stop()
