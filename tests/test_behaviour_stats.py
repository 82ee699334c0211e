"""stats, stats-tube and stats-job: fields, their order, and how each number counts.

Counting rules of beanstalkd 1.12 pinned here:
- every global cmd-* counter goes up once per command that parsed, whatever its outcome
  (NOT_FOUND included), but not for BAD_FORMAT;
- reserve and reserve-with-timeout have separate counters; reserve-job and kick-job show
  up in no cmd-* field;
- a tube's cmd-delete and cmd-pause-tube count successes only;
- "urgent" means ready with priority < 1024;
- time-left, age and pause-time-left are whole seconds, truncated.

Machine-specific fields (pid, uptime, rusage-*, id, hostname, os, platform) are never
compared; total-connections only by difference (the real test harness makes one probe
connection while starting the server).
"""

import greenstalk
import pytest
from greenstalk import Job

from tests.behaviour_util import cmd_deltas

STATS_JOB_FIELDS = [
    "id",
    "tube",
    "state",
    "pri",
    "age",
    "delay",
    "ttr",
    "time-left",
    "file",
    "reserves",
    "timeouts",
    "releases",
    "buries",
    "kicks",
]

STATS_TUBE_FIELDS = [
    "name",
    "current-jobs-urgent",
    "current-jobs-ready",
    "current-jobs-reserved",
    "current-jobs-delayed",
    "current-jobs-buried",
    "total-jobs",
    "current-using",
    "current-watching",
    "current-waiting",
    "cmd-delete",
    "cmd-pause-tube",
    "pause",
    "pause-time-left",
]

CMD_FIELDS = [
    "cmd-put",
    "cmd-peek",
    "cmd-peek-ready",
    "cmd-peek-delayed",
    "cmd-peek-buried",
    "cmd-reserve",
    "cmd-reserve-with-timeout",
    "cmd-delete",
    "cmd-release",
    "cmd-use",
    "cmd-watch",
    "cmd-ignore",
    "cmd-bury",
    "cmd-kick",
    "cmd-touch",
    "cmd-stats",
    "cmd-stats-job",
    "cmd-stats-tube",
    "cmd-list-tubes",
    "cmd-list-tube-used",
    "cmd-list-tubes-watched",
    "cmd-pause-tube",
]

STATS_FIELDS = [
    "current-jobs-urgent",
    "current-jobs-ready",
    "current-jobs-reserved",
    "current-jobs-delayed",
    "current-jobs-buried",
    *CMD_FIELDS,
    "job-timeouts",
    "total-jobs",
    "max-job-size",
    "current-tubes",
    "current-connections",
    "current-producers",
    "current-workers",
    "current-waiting",
    "total-connections",
    "pid",
    "version",
    "rusage-utime",
    "rusage-stime",
    "uptime",
    "binlog-oldest-index",
    "binlog-current-index",
    "binlog-records-migrated",
    "binlog-records-written",
    "binlog-max-size",
    "draining",
    "id",
    "hostname",
    "os",
    "platform",
]


def test_stats_job_fields_in_order(backend):
    """stats-job lists exactly the 1.12 fields, in the 1.12 order, for a fresh job."""
    c = backend.client()
    c.put("x", priority=7, ttr=9)
    st = c.stats_job(1)
    assert list(st) == STATS_JOB_FIELDS
    assert st == {
        "id": 1,
        "tube": "default",
        "state": "ready",
        "pri": 7,
        "age": 0,
        "delay": 0,
        "ttr": 9,
        "time-left": 0,
        "file": 0,
        "reserves": 0,
        "timeouts": 0,
        "releases": 0,
        "buries": 0,
        "kicks": 0,
    }


def test_stats_tube_fields_in_order(backend):
    """stats-tube lists exactly the 1.12 fields in the 1.12 order (watching before
    waiting, pause counters last)."""
    c = backend.client()
    assert list(c.stats_tube("default")) == STATS_TUBE_FIELDS


def test_stats_fields_in_order_and_fixed_values(backend):
    """stats lists the 1.12 fields in order; a fresh server reports version 1.12, the
    default max-job-size 65535, no binlog, not draining, and counts only what we did."""
    c = backend.client()
    st = c.stats()
    assert list(st) == STATS_FIELDS
    assert st["version"] == "1.12"
    assert st["max-job-size"] == 65535
    assert st["draining"] == "false"
    assert st["binlog-max-size"] == 10485760
    for field in (
        "binlog-oldest-index",
        "binlog-current-index",
        "binlog-records-migrated",
        "binlog-records-written",
    ):
        assert st[field] == 0
    assert {k: v for k, v in st.items() if k.startswith("cmd-") and v} == {"cmd-stats": 1}
    assert st["current-tubes"] == 1
    assert st["current-connections"] == 1
    assert (st["current-producers"], st["current-workers"], st["current-waiting"]) == (0, 0, 0)
    assert (st["total-jobs"], st["job-timeouts"]) == (0, 0)


def test_stats_tube_of_a_used_tube_after_put_and_delete(backend):
    """A tube that was used, put into and had its job deleted: total-jobs 1, cmd-delete 1,
    using 1, watching 0; default at the same time: using 0, watching 1."""
    c = backend.client()
    c.use("tubea")
    c.delete(c.put("x"))
    assert c.stats_tube("tubea") == {
        "name": "tubea",
        "current-jobs-urgent": 0,
        "current-jobs-ready": 0,
        "current-jobs-reserved": 0,
        "current-jobs-delayed": 0,
        "current-jobs-buried": 0,
        "total-jobs": 1,
        "current-using": 1,
        "current-watching": 0,
        "current-waiting": 0,
        "cmd-delete": 1,
        "cmd-pause-tube": 0,
        "pause": 0,
        "pause-time-left": 0,
    }
    st = c.stats_tube("default")
    assert (st["current-using"], st["current-watching"], st["total-jobs"]) == (0, 1, 0)


def test_every_cmd_counter_counts_parsed_commands_whatever_the_outcome(backend):
    """Each command bumps its own cmd-* counter once, NOT_FOUND and TIMED_OUT included;
    BAD_FORMAT bumps nothing; reserve-job and kick-job bump nothing."""
    c = backend.client()
    before = c.stats()
    c.put("one")
    c.put("two")
    c.put("three")
    c.peek(1)
    with pytest.raises(greenstalk.NotFoundError):
        c.peek(99)
    c.peek_ready()
    for call in (c.peek_delayed, c.peek_buried):
        with pytest.raises(greenstalk.NotFoundError):
            call()
    one = c.reserve(timeout=0)
    two = c.reserve(timeout=0)
    three = c.reserve()  # a job is ready, so this returns at once
    with pytest.raises(greenstalk.TimedOutError):
        c.reserve(timeout=0)
    c.delete(three)
    with pytest.raises(greenstalk.NotFoundError):
        c.delete(99)
    c.release(one)
    with pytest.raises(greenstalk.NotFoundError):
        c.release(Job(99, ""))
    c.bury(two)
    with pytest.raises(greenstalk.NotFoundError):
        c.bury(Job(99, ""))
    with pytest.raises(greenstalk.NotFoundError):
        c.touch(Job(99, ""))
    assert c.kick(5) == 1
    c.use("t")
    c.watch("t")
    c.ignore("t")
    assert c.ignore("never-watched") == 1
    c.stats_job(1)
    with pytest.raises(greenstalk.NotFoundError):
        c.stats_job(99)
    c.stats_tube("t")
    with pytest.raises(greenstalk.NotFoundError):
        c.stats_tube("nope")
    c.tubes()
    c.using()
    c.watching()
    c.pause_tube("t", 0)
    with pytest.raises(greenstalk.NotFoundError):
        c.pause_tube("nope", 1)
    # Not counted anywhere: reserve-job and kick-job, found or not.
    c.bury(c.reserve_job(2))
    c.kick_job(2)
    with pytest.raises(greenstalk.NotFoundError):
        c.reserve_job(99)
    with pytest.raises(greenstalk.NotFoundError):
        c.kick_job(99)
    # Not counted: BAD_FORMAT.
    for call, arg in ((c.use, "-x"), (c.watch, "-x"), (c.ignore, "-x"), (c.stats_tube, "-x")):
        with pytest.raises(greenstalk.BadFormatError):
            call(arg)
    for call in (c.peek, c.delete, c.stats_job, c.kick_job, c.reserve_job):
        with pytest.raises(greenstalk.BadFormatError):
            call(-1)
    with pytest.raises(greenstalk.BadFormatError):
        c.pause_tube("t", -1)
    with pytest.raises(greenstalk.BadFormatError):
        c.release(Job(1, ""), priority=-1)
    after = c.stats()
    assert cmd_deltas(before, after) == {
        "cmd-put": 3,
        "cmd-peek": 2,
        "cmd-peek-ready": 1,
        "cmd-peek-delayed": 1,
        "cmd-peek-buried": 1,
        "cmd-reserve": 1,
        "cmd-reserve-with-timeout": 3,
        "cmd-delete": 2,
        "cmd-release": 2,
        "cmd-use": 1,
        "cmd-watch": 1,
        "cmd-ignore": 2,
        "cmd-bury": 3,
        "cmd-kick": 1,
        "cmd-touch": 1,
        "cmd-stats": 1,
        "cmd-stats-job": 2,
        "cmd-stats-tube": 2,
        "cmd-list-tubes": 1,
        "cmd-list-tube-used": 1,
        "cmd-list-tubes-watched": 1,
        "cmd-pause-tube": 2,
    }


def test_job_counters_reserves_releases_buries_kicks(backend):
    """reserves counts reserve, reserve-with-timeout and reserve-job; releases and buries
    count successful commands; kicks counts kick and kick-job."""
    c = backend.client()
    c.put("x")
    c.release(c.reserve())
    c.bury(c.reserve(timeout=0))
    c.kick(1)
    c.bury(c.reserve_job(1))
    c.kick_job(1)
    c.release(c.reserve_job(1), delay=50)
    c.kick_job(1)
    st = c.stats_job(1)
    assert (st["reserves"], st["releases"], st["buries"], st["kicks"], st["timeouts"]) == (
        4,
        2,
        2,
        3,
        0,
    )


def test_per_tube_cmd_pause_tube_counts_only_successes(backend):
    """pause-tube of a missing tube bumps only the global counter; a successful one bumps
    the tube's too."""
    c = backend.client(use="t")
    with pytest.raises(greenstalk.NotFoundError):
        c.pause_tube("missing", 5)
    c.pause_tube("t", 5)
    c.pause_tube("t", 0)
    assert c.stats_tube("t")["cmd-pause-tube"] == 2
    assert c.stats()["cmd-pause-tube"] == 3


def test_global_job_counts_add_up_over_tubes(backend):
    """Global current-jobs-* and total-jobs are the sums over all tubes."""
    c = backend.client()
    c.use("a")
    c.put("a1")
    c.put("a2", delay=100)
    c.use("b")
    c.put("b1")
    c.put("b2")
    c.bury(c.reserve_job(4))
    c.reserve_job(3)
    g = c.stats()
    assert (
        g["current-jobs-ready"],
        g["current-jobs-reserved"],
        g["current-jobs-delayed"],
        g["current-jobs-buried"],
        g["total-jobs"],
    ) == (1, 1, 1, 1, 4)
    assert [c.stats_tube(t)["total-jobs"] for t in ("a", "b", "default")] == [2, 2, 0]
    assert g["current-tubes"] == 3


def test_time_left_is_truncated_to_whole_seconds(backend):
    """Right after reserving: ttr 3 shows time-left 2, ttr 1 shows 0; a delay-20 job shows
    time-left 19."""
    c = backend.client()
    c.put("three", ttr=3)
    c.put("one", ttr=1)
    c.put("delayed", delay=20)
    c.reserve_job(1)
    assert c.stats_job(1)["time-left"] == 2
    c.reserve_job(2)
    assert c.stats_job(2)["time-left"] == 0
    assert c.stats_job(3)["time-left"] == 19


def test_delayed_job_becomes_ready_and_keeps_its_delay_field(backend):
    """A delay-1 job is delayed (ready 0, delayed 1, total-jobs 1); 1.25 s later it is
    ready, age 1, and its stats-job delay still says 1."""
    c = backend.client()
    c.put("x", delay=1)
    st = c.stats()
    assert (st["current-jobs-ready"], st["current-jobs-delayed"], st["total-jobs"]) == (0, 1, 1)
    assert c.stats_job(1)["age"] == 0
    backend.sleep(1.25)
    st = c.stats()
    assert (st["current-jobs-ready"], st["current-jobs-delayed"]) == (1, 0)
    job = c.stats_job(1)
    assert (job["state"], job["delay"], job["age"], job["time-left"]) == ("ready", 1, 1, 0)


def test_release_without_delay_resets_the_delay_field(backend):
    """release with delay 0 sets the delay field to 0 again."""
    c = backend.client()
    c.put("x", delay=30)
    c.release(c.reserve_job(1), delay=0)
    assert c.stats_job(1)["delay"] == 0


def test_connection_counters(backend):
    """current-connections and total-connections follow opens and closes; a producer is a
    connection that put a job (a too-big or malformed put does not count); a worker is one
    that issued reserve/reserve-with-timeout (even timed out) or a successful reserve-job."""
    watcher = backend.client()
    start = watcher.stats()
    producer = backend.client(use="elsewhere")
    producer.put("x")
    too_big = backend.client()
    with pytest.raises(greenstalk.JobTooBigError):
        too_big.put("y" * 65536)
    bad = backend.client()
    with pytest.raises(greenstalk.BadFormatError):
        bad.put("z", priority=-1)
    backend.close(bad)  # its stream is out of step now (see the put desync tests)
    backend.sleep(0.05)
    waiter = backend.client()
    with pytest.raises(greenstalk.TimedOutError):
        waiter.reserve(timeout=0)
    picker = backend.client()
    with pytest.raises(greenstalk.NotFoundError):
        picker.reserve_job(99)
    st = watcher.stats()
    assert st["current-connections"] == 5
    assert st["total-connections"] - start["total-connections"] == 5
    assert (st["current-producers"], st["current-workers"]) == (1, 1)
    picker.reserve_job(1)
    assert watcher.stats()["current-workers"] == 2
    backend.close(waiter)
    backend.close(producer)
    backend.sleep(0.05)
    st = watcher.stats()
    assert (st["current-connections"], st["current-producers"], st["current-workers"]) == (
        3,
        0,
        1,
    )
    assert st["total-connections"] - start["total-connections"] == 5


def test_max_job_size_option_shows_in_stats(backend_factory):
    """A server started with max-job-size 10 reports it in stats; a limit above 1 GiB is
    cut to 1073741824."""
    assert backend_factory(max_job_size=10).client().stats()["max-job-size"] == 10
    huge = backend_factory(max_job_size=2**31).client()
    assert huge.stats()["max-job-size"] == 1073741824


def test_time_left_age_and_pause_time_left_count_down_in_whole_seconds(backend):
    """1.25 s after: a delay-3 job, a reserved ttr-3 job and a 3 s pause all show 1 second
    left (1.75 truncated), and the jobs are 1 second old."""
    c = backend.client()
    c.put("delayed", delay=3)
    c.put("reserved", ttr=3)
    c.reserve_job(2)
    c.pause_tube("default", 3)
    backend.sleep(1.25)
    assert [c.stats_job(i)["time-left"] for i in (1, 2)] == [1, 1]
    assert [c.stats_job(i)["age"] for i in (1, 2)] == [1, 1]
    assert c.stats_tube("default")["pause-time-left"] == 1


def test_total_jobs_counts_successful_puts_only(backend):
    """A tube's and the server's total-jobs ignore refused puts and do not go down when
    jobs are deleted."""
    c = backend.client(use="t")
    with pytest.raises(greenstalk.JobTooBigError):
        c.put("x" * 65536)
    c.delete(c.put("kept in the count"))
    c.put("second")
    assert c.stats_tube("t")["total-jobs"] == 2
    assert c.stats()["total-jobs"] == 2


def test_using_and_watching_counts_per_tube(backend):
    """current-using and current-watching count connections, and drop when one closes."""
    a = backend.client(use="t")
    b = backend.client(use="t", watch="t")
    c = backend.client(watch=["t", "u"])
    st = a.stats_tube("t")
    assert (st["current-using"], st["current-watching"]) == (2, 2)
    assert a.stats_tube("default")["current-watching"] == 1
    backend.close(b)
    backend.close(c)
    backend.sleep(0.05)
    st = a.stats_tube("t")
    assert (st["current-using"], st["current-watching"]) == (1, 0)
