"""The places where a plausible work-queue model differs from beanstalkd 1.12.

Each test is named after the pitfall it pins (test_pitfall_NN_...). Waiting-reserver order
and the raw-protocol parsing quirks are tested elsewhere.
"""

import greenstalk
import pytest
from greenstalk import Job

from tests.behaviour_util import (
    bury_in_order,
    cmd_deltas,
    raises_after,
    reserve_bodies,
    state,
    timed,
)

# 01: equal priorities are served by job id, not by the time a job became ready.


def test_pitfall_01_kicked_and_released_jobs_go_ahead_of_newer_equal_jobs(backend):
    """A job buried and kicked (or released) keeps its id, so it is served before jobs of
    the same priority that were put after it."""
    c = backend.client()
    c.put("old-buried", priority=10)  # 1
    c.put("old-released", priority=10)  # 2
    c.bury(c.reserve_job(1), priority=10)
    released = c.reserve_job(2)
    c.put("new", priority=10)  # 3
    c.release(released, priority=10)
    assert c.kick(1) == 1
    assert reserve_bodies(c) == ["old-buried", "old-released", "new"]


def test_pitfall_01_timed_out_and_matured_jobs_keep_their_id_place(backend):
    """A job back from a TTR expiry and a job whose delay ran out both sort by id among
    jobs of the same priority put later; a matured job with a better pri goes first."""
    c = backend.client()
    c.put("timed-out", priority=10, ttr=1)  # 1
    c.reserve(timeout=0)
    c.put("matured", priority=10, delay=1)  # 2
    c.put("plain", priority=10)  # 3
    c.put("matured-urgent", priority=9, delay=1)  # 4
    backend.wait(1.25)
    # Exactly four reserves: once all are held, a fifth would be DEADLINE_SOON (ttr 1).
    assert [c.reserve(timeout=0).body for _ in range(4)] == [
        "matured-urgent",
        "timed-out",
        "matured",
        "plain",
    ]


# 02: reserve over several tubes takes the global (pri, id) minimum of unpaused tubes.


def test_pitfall_02_reserve_is_a_global_minimum_not_round_robin(backend):
    """Jobs from three watched tubes come out strictly by (pri, id): no tube-by-tube or
    round-robin order, and a paused tube is skipped even if its job is best."""
    p = backend.client()
    p.use("t1")
    p.put("t1-a", priority=5)  # 1
    p.put("t1-b", priority=5)  # 2
    p.use("t2")
    p.put("t2-a", priority=5)  # 3
    p.put("t2-urgent", priority=4)  # 4
    p.use("t3")
    p.put("t3-best", priority=0)  # 5
    p.pause_tube("t3", 100)
    w = backend.client(watch=["t3", "t2", "t1"])
    assert reserve_bodies(w) == ["t2-urgent", "t1-a", "t1-b", "t2-a"]
    p.pause_tube("t3", 0)
    assert w.reserve(timeout=0).body == "t3-best"


# 03: buried FIFO, kick rules, used-tube versus any-tube commands.


def test_pitfall_03_buried_fifo_and_kick_never_mixes_states(backend):
    """Buried jobs leave in bury order whatever their pri and id; while one buried job
    remains, kick ignores delayed jobs even with a large bound."""
    c = backend.client()
    for body in "abcd":
        c.put(body)
    c.put("delayed", delay=100)  # 5
    bury_in_order(c, [4, 2, 3, 1], pris=[0, 1, 2, 3])
    assert c.kick(2) == 2
    assert [state(c, i) for i in (4, 2, 3, 1)] == ["ready", "ready", "buried", "buried"]
    assert c.kick(100) == 2
    assert state(c, 5) == "delayed"
    assert c.kick(100) == 1
    assert state(c, 5) == "ready"


def test_pitfall_03_job_id_commands_work_in_any_tube(backend):
    """peek, stats-job, kick-job, reserve-job and delete find jobs in tubes the caller
    neither uses nor watches, while peek-* and kick only see the used tube."""
    p = backend.client(use="far")
    p.put("ready")  # 1
    p.put("delayed", delay=100)  # 2
    p.put("buried")  # 3
    p.bury(p.reserve_job(3))
    c = backend.client(use="near", watch="near")
    assert c.peek(1).body == "ready"
    assert c.stats_job(1)["tube"] == "far"
    for call in (c.peek_ready, c.peek_delayed, c.peek_buried):
        with pytest.raises(greenstalk.NotFoundError):
            call()
    assert c.kick(10) == 0
    c.kick_job(3)
    assert state(c, 3) == "ready"
    assert c.reserve_job(2).body == "delayed"
    c.delete(1)
    with pytest.raises(greenstalk.NotFoundError):
        c.peek(1)


# 04: a connection going away gives its jobs back with no counter change.


def test_pitfall_04_closing_a_connection_releases_without_counting(backend):
    """When the owner closes, its reserved job is ready again with the same pri; reserves
    stays as it was; timeouts, releases and the global job-timeouts stay 0."""
    p = backend.client()
    p.put("x", priority=7, ttr=100)
    worker = backend.client()
    worker.reserve(timeout=0)
    backend.close(worker)
    backend.sleep(0.05)
    st = p.stats_job(1)
    assert (st["state"], st["pri"], st["reserves"], st["timeouts"], st["releases"]) == (
        "ready",
        7,
        1,
        0,
        0,
    )
    g = p.stats()
    assert (g["job-timeouts"], g["cmd-release"], g["current-jobs-reserved"]) == (0, 0, 0)


# 05: DEADLINE_SOON is about the connection and needs "nothing ready".


def test_pitfall_05_ttr_one_is_inside_the_margin_from_the_start(backend):
    """With a ttr-1 job reserved and nothing else ready, every reserve (with or without
    timeout) is DEADLINE_SOON at once, and touch does not help; a ready job still wins."""
    c = backend.client()
    c.put("a", ttr=1)
    job = c.reserve(timeout=0)
    assert raises_after(backend, greenstalk.DeadlineSoonError, c.reserve, timeout=0) < 0.2
    assert raises_after(backend, greenstalk.DeadlineSoonError, c.reserve) < 0.2
    c.touch(job)
    assert raises_after(backend, greenstalk.DeadlineSoonError, c.reserve, timeout=3) < 0.2
    c.put("b")
    other = c.reserve(timeout=0)
    assert other.body == "b"
    assert state(c, job.id) == "reserved"
    st = c.stats()  # DEADLINE_SOON answers are counted like any reserve
    assert (st["cmd-reserve"], st["cmd-reserve-with-timeout"]) == (1, 4)


def test_pitfall_05_finishing_the_soonest_job_clears_the_margin(backend):
    """Holding a ttr-1 and a ttr-100 job the connection is in the margin; once the ttr-1
    job is deleted the ttr-100 job decides, and reserve-with-timeout 0 just times out."""
    c = backend.client()
    c.put("long", ttr=100)
    c.put("short", ttr=1)
    c.reserve(timeout=0)
    short = c.reserve(timeout=0)
    raises_after(backend, greenstalk.DeadlineSoonError, c.reserve, timeout=0)
    c.delete(short)
    raises_after(backend, greenstalk.TimedOutError, c.reserve, timeout=0)


def test_pitfall_05_a_ready_job_in_another_watched_tube_beats_the_margin(backend):
    """Inside the margin, a ready job in any watched, unpaused tube is handed out instead
    of DEADLINE_SOON."""
    c = backend.client(watch=["default", "other"])
    c.put("held", ttr=1)
    c.reserve(timeout=0)
    c.use("other")
    c.put("elsewhere")
    assert c.reserve(timeout=0).body == "elsewhere"
    raises_after(backend, greenstalk.DeadlineSoonError, c.reserve, timeout=0)


def test_pitfall_05_deadline_soon_belongs_to_the_connection(backend):
    """Another connection watching the same empty tube times out normally while the owner
    of a ttr-1 job gets DEADLINE_SOON."""
    owner = backend.client()
    other = backend.client()
    owner.put("a", ttr=1)
    owner.reserve(timeout=0)
    raises_after(backend, greenstalk.DeadlineSoonError, owner.reserve, timeout=0)
    raises_after(backend, greenstalk.TimedOutError, other.reserve, timeout=0)


def test_pitfall_05_reserve_job_never_answers_deadline_soon(backend):
    """Inside the margin (ttr-1 job held), reserve-job still reserves ready, delayed and
    buried jobs."""
    c = backend.client()
    c.put("held", ttr=1)
    c.put("ready")
    c.put("delayed", delay=100)
    c.reserve_job(1)
    c.bury(c.reserve_job(2))
    assert c.reserve_job(2).body == "ready"
    assert c.reserve_job(3).body == "delayed"


# 06: TTR minimum, touch, and hand-over of an expired job.


def test_pitfall_06_ttr_zero_behaves_as_one_second(backend):
    """A job put with ttr 0 reports ttr 1, is inside the margin at once, and is back to
    ready 1.25 s after being reserved."""
    c = backend.client()
    c.put("x", ttr=0)
    c.reserve(timeout=0)
    assert c.stats_job(1)["ttr"] == 1
    raises_after(backend, greenstalk.DeadlineSoonError, c.reserve, timeout=0)
    backend.wait(1.25)
    st = c.stats_job(1)
    assert (st["state"], st["timeouts"]) == ("ready", 1)


def test_pitfall_06_touch_restarts_a_full_ttr_from_now(backend):
    """touch sets the deadline to now + ttr (it does not add ttr to the old deadline):
    ttr 2, touched at 1.2 s, the job is still reserved at 2.4 s and ready at 3.4 s."""
    c = backend.client()
    c.put("a", ttr=2)
    job = c.reserve(timeout=0)
    backend.sleep(1.2)
    assert c.stats_job(job.id)["time-left"] == 0
    c.touch(job)
    assert c.stats_job(job.id)["time-left"] == 1
    backend.sleep(1.2)
    assert state(c, job.id) == "reserved"
    backend.wait(1.0)
    st = c.stats_job(job.id)
    assert (st["state"], st["timeouts"], st["releases"]) == ("ready", 1, 0)


def test_pitfall_06_expired_job_is_reservable_by_another_connection(backend):
    """A job E held with ttr 2 is ready again after 2.25 s and another connection F gets
    it (reserves 2, timeouts 1); E has lost it.

    (A reserver already blocked when the job expires is not used here: beanstalkd 1.12
    sometimes drops E from its timer heap and then releases the job only on E's next
    command, so a blocked F can time out instead.)"""
    e = backend.client()
    e.put("a", ttr=2)
    held = e.reserve()
    f = backend.client()
    backend.sleep(1.6)
    raises_after(backend, greenstalk.TimedOutError, f.reserve, timeout=0)
    backend.wait(0.65)
    job = f.reserve(timeout=0)
    assert job.id == held.id
    st = f.stats_job(job.id)
    assert (st["state"], st["reserves"], st["timeouts"]) == ("reserved", 2, 1)
    with pytest.raises(greenstalk.NotFoundError):
        e.release(held)
    f.delete(job)


# 08: pause only blocks the hand-out to reserve.


def test_pitfall_08_pause_only_blocks_reserve(backend):
    """In a paused tube a delayed job still matures; peek-ready sees it; reserve does not
    get it, reserve-job does; kick, kick-job, put and delete keep working; pause-tube 0
    resumes at once."""
    c = backend.client(use="t", watch="t")
    c.pause_tube("t", 100)
    c.put("matures", delay=1)
    backend.sleep(1.25)
    assert state(c, 1) == "ready"
    assert c.peek_ready().id == 1
    raises_after(backend, greenstalk.TimedOutError, c.reserve, timeout=0)
    job = c.reserve_job(1)
    c.bury(job)
    assert c.kick(1) == 1
    c.put("delayed", delay=100)
    c.kick_job(2)
    c.put("deleted")
    c.delete(3)
    raises_after(backend, greenstalk.TimedOutError, c.reserve, timeout=0)
    c.pause_tube("t", 0)
    assert c.reserve(timeout=0).id == 1
    assert c.stats_tube("t")["pause"] == 0


def test_pitfall_08_pause_of_a_missing_tube_does_not_create_it(backend):
    """pause-tube of a tube that does not exist is NOT_FOUND and creates nothing."""
    c = backend.client()
    with pytest.raises(greenstalk.NotFoundError):
        c.pause_tube("ghost", 5)
    assert c.tubes() == ["default"]


def test_pitfall_08_a_recreated_tube_forgets_pause_and_counters(backend):
    """After a tube is freed and created again, its counters and pause are back to 0 and
    its jobs are served at once."""
    c = backend.client(use="r")
    c.delete(c.put("x"))
    c.pause_tube("r", 100)
    st = c.stats_tube("r")
    assert (st["total-jobs"], st["cmd-delete"], st["cmd-pause-tube"], st["pause"]) == (
        1,
        1,
        1,
        100,
    )
    c.use("default")
    assert "r" not in c.tubes()
    c.use("r")
    st = c.stats_tube("r")
    assert (st["total-jobs"], st["cmd-delete"], st["cmd-pause-tube"], st["pause"]) == (
        0,
        0,
        0,
        0,
    )
    c.put("y")
    c.watch("r")
    assert c.reserve(timeout=0).body == "y"


# 09: tube lifetime.


def test_pitfall_09_a_tube_lives_while_it_holds_a_job_in_any_state(backend):
    """Ready, reserved, buried and delayed jobs each keep their tube alive (a reserved job
    alone is enough); it goes away when the last job is deleted."""
    p = backend.client(use="j")
    p.put("x")
    p.use("default")
    assert "j" in p.tubes()  # ready job
    w = backend.client()
    job = w.reserve_job(1)
    assert "j" in p.tubes()  # reserved job, nobody uses or watches j
    w.bury(job)
    assert "j" in p.tubes()
    w.release(w.reserve_job(1), delay=100)
    assert state(w, 1) == "delayed"
    assert "j" in p.tubes()
    assert p.stats_tube("j")["current-jobs-delayed"] == 1
    w.delete(1)
    assert p.tubes() == ["default"]
    with pytest.raises(greenstalk.NotFoundError):
        p.stats_tube("j")


def test_pitfall_09_lookups_never_create_tubes(backend):
    """stats-tube and ignore of a missing tube leave the tube list unchanged."""
    c = backend.client()
    with pytest.raises(greenstalk.NotFoundError):
        c.stats_tube("ghost")
    assert c.ignore("ghost") == 1
    assert c.tubes() == ["default"]
    assert c.stats()["current-tubes"] == 1


# 10: ids.


def test_pitfall_10_refused_puts_use_up_no_id(backend):
    """JOB_TOO_BIG and BAD_FORMAT puts do not consume an id."""
    c = backend.client()
    with pytest.raises(greenstalk.JobTooBigError):
        c.put("x" * 65536)
    bad = backend.client()
    with pytest.raises(greenstalk.BadFormatError):
        bad.put("", delay=-1)
    backend.close(bad)
    assert c.put("first") == 1
    assert c.put("second") == 2


# 11: delete and owner-only commands.


def test_pitfall_11_delete_from_any_connection_except_reserved_by_another(backend):
    """Another connection may delete ready, delayed and buried jobs but not a job reserved
    by someone else; release, bury and touch are owner-only too."""
    owner = backend.client()
    owner.put("ready")
    owner.put("delayed", delay=100)
    owner.put("buried")
    owner.put("reserved")
    owner.bury(owner.reserve_job(3))
    held = owner.reserve_job(4)
    other = backend.client()
    for job_id in (1, 2, 3):
        other.delete(job_id)
    for call in (other.delete, other.release, other.bury, other.touch):
        with pytest.raises(greenstalk.NotFoundError):
            call(held)
    assert state(other, 4) == "reserved"
    owner.delete(held)
    assert owner.stats()["current-jobs-reserved"] == 0


# 12: counters.


def test_pitfall_12_per_tube_cmd_delete_counts_only_successes(backend):
    """A refused delete of another connection's reserved job bumps the global cmd-delete
    but not the tube's; the owner's delete bumps both."""
    owner = backend.client(use="t", watch="t")
    other = backend.client()
    owner.put("x")
    job = owner.reserve(timeout=0)
    with pytest.raises(greenstalk.NotFoundError):
        other.delete(job)
    assert other.stats_tube("t")["cmd-delete"] == 0
    assert other.stats()["cmd-delete"] == 1
    owner.delete(job)
    assert other.stats_tube("t")["cmd-delete"] == 1
    assert other.stats()["cmd-delete"] == 2


def test_pitfall_12_reserve_kinds_are_counted_apart(backend):
    """reserve and reserve-with-timeout have separate counters; reserve-job and kick-job
    appear in no cmd-* field; a kick-job is not a cmd-kick."""
    c = backend.client()
    for body in "abcd":
        c.put(body)
    before = c.stats()
    c.reserve()
    c.reserve(timeout=0)
    c.reserve(timeout=1)
    c.bury(c.reserve_job(4))
    c.kick_job(4)
    after = c.stats()
    assert cmd_deltas(before, after) == {
        "cmd-reserve": 1,
        "cmd-reserve-with-timeout": 2,
        "cmd-bury": 1,
        "cmd-stats": 1,
    }
    assert c.stats_job(4)["reserves"] == 1
    assert c.stats_job(4)["kicks"] == 1


def test_pitfall_12_urgent_means_ready_with_priority_below_1024(backend):
    """Only ready jobs with pri < 1024 are urgent: not pri 1024, not delayed, buried or
    reserved ones, in the tube and in the global stats."""
    p = backend.client(use="u", watch="u")
    p.put("urgent-0", priority=0)  # 1
    p.put("urgent-1023", priority=1023)  # 2
    p.put("not-1024", priority=1024)  # 3
    p.put("delayed", priority=0, delay=100)  # 4
    p.put("buried", priority=0)  # 5
    p.put("reserved", priority=0)  # 6
    p.bury(p.reserve_job(5), priority=0)
    p.reserve_job(6)
    st = p.stats_tube("u")
    assert st["current-jobs-urgent"] == 2
    assert (
        st["current-jobs-ready"],
        st["current-jobs-reserved"],
        st["current-jobs-delayed"],
        st["current-jobs-buried"],
    ) == (3, 1, 1, 1)
    g = p.stats()
    assert (g["current-jobs-urgent"], g["current-jobs-ready"]) == (2, 3)
    p.release(p.reserve_job(1), priority=1024)
    assert p.stats_tube("u")["current-jobs-urgent"] == 1


def test_pitfall_12_kicked_job_keeps_its_delay_field(backend):
    """Kicking a delayed job (put with delay 30, or released with delay 20) leaves the
    stats-job delay as it was set."""
    c = backend.client()
    c.put("put-delayed", delay=30)
    c.put("released")
    c.release(c.reserve_job(2), delay=20)
    c.kick_job(1)
    assert c.kick(1) == 1
    assert [c.stats_job(i)["state"] for i in (1, 2)] == ["ready", "ready"]
    assert [c.stats_job(i)["delay"] for i in (1, 2)] == [30, 20]


def test_pitfall_12_pause_time_left_is_truncated(backend):
    """Right after pause-tube t 5, stats-tube shows pause 5 and pause-time-left 4."""
    c = backend.client()
    c.pause_tube("default", 5)
    st = c.stats_tube("default")
    assert (st["pause"], st["pause-time-left"]) == (5, 4)


# 13: limits.


def test_pitfall_13_body_of_exactly_max_job_size_is_accepted(backend):
    """With the default limit a 65535-byte body is INSERTED and 65536 is JOB_TOO_BIG; the
    refused put uses no id and no total-jobs, but counts in cmd-put."""
    c = backend.client(encoding=None)
    assert c.put(b"x" * 65535) == 1
    with pytest.raises(greenstalk.JobTooBigError):
        c.put(b"x" * 65536)
    assert c.put(b"") == 2
    st = c.stats()
    assert (st["total-jobs"], st["cmd-put"]) == (2, 3)
    assert len(c.reserve(timeout=0).body) == 65535


def test_pitfall_13_configured_limit_is_inclusive(backend_factory):
    """With max-job-size 10, a 10-byte body is accepted and 11 bytes are JOB_TOO_BIG."""
    c = backend_factory(max_job_size=10).client()
    assert c.put("0123456789") == 1
    with pytest.raises(greenstalk.JobTooBigError):
        c.put("0123456789a")


def test_pitfall_13_numbers_are_unsigned_32_bit_and_ids_64_bit(backend):
    """pri/delay/ttr accept 0..4294967295; ids accept the whole u64 range (NOT_FOUND) but
    not 2**64 (BAD_FORMAT)."""
    c = backend.client()
    c.put("x", priority=2**32 - 1, delay=0, ttr=2**32 - 1)
    with pytest.raises(greenstalk.BadFormatError):
        c.touch(Job(2**64, ""))
    with pytest.raises(greenstalk.NotFoundError):
        c.touch(Job(2**64 - 1, ""))
    with pytest.raises(greenstalk.BadFormatError):
        c.pause_tube("default", 2**32)
    c.pause_tube("default", 2**32 - 1)
    assert c.stats_tube("default")["pause"] == 2**32 - 1


def test_pitfall_13_tube_name_length_and_alphabet(backend):
    """A 200-character name and every allowed punctuation mark pass; 201 characters, a
    leading '-' or any other character is BAD_FORMAT."""
    c = backend.client()
    c.use("A" * 200)
    c.use("z9-+/;.$_()")
    for name in ("A" * 201, "-z", "a&b", "a%b", "a\\b", "a|b", "a[b]", "a{b}", "a<b>", "a?b"):
        with pytest.raises(greenstalk.BadFormatError):
            c.watch(name)
    assert c.using() == "z9-+/;.$_()"


# 15: timers falling due together.


def test_pitfall_15_a_job_maturing_as_a_reserve_times_out_is_delivered(backend):
    """A delay-1 job and a reserve-with-timeout 1 started right after it: the job is
    handed out, not TIMED_OUT (delayed jobs are promoted before reserve timeouts)."""
    c = backend.client()
    c.put("x", delay=1)
    job, elapsed = timed(backend, c.reserve, timeout=1)
    assert job.id == 1
    assert 0.8 <= elapsed <= 1.5


def test_pitfall_15_a_pause_ending_as_a_reserve_times_out_delivers_the_job(backend):
    """pause-tube default 1 then reserve-with-timeout 1: the job is handed out (pauses are
    cleared before reserve timeouts are handled)."""
    c = backend.client()
    c.put("x")
    c.pause_tube("default", 1)
    job, elapsed = timed(backend, c.reserve, timeout=1)
    assert job.id == 1
    assert 0.8 <= elapsed <= 1.5


# 16: greenstalk's own quirks.


def test_pitfall_16_release_and_bury_default_to_priority_65536(backend):
    """greenstalk's release() and bury() without a priority set pri 65536, not the job's
    old priority."""
    c = backend.client()
    c.put("a", priority=3)
    c.put("b", priority=4)
    c.release(c.reserve_job(1))
    c.bury(c.reserve_job(2))
    assert [c.stats_job(i)["pri"] for i in (1, 2)] == [65536, 65536]


def test_pitfall_16_numeric_tube_names_come_back_as_int_in_stats(backend):
    """A tube named 123 is the int 123 in stats-tube name and stats-job tube, but a str in
    list-tubes, list-tube-used and list-tubes-watched; anything Python's int() accepts
    ('007', '+5', '1_000') is turned into a number too."""
    c = backend.client(use="123", watch="123")
    c.put("x")
    assert c.stats_tube("123")["name"] == 123
    assert c.stats_job(1)["tube"] == 123
    assert "123" in c.tubes()
    assert c.using() == "123"
    assert c.watching() == ["123"]
    for name, parsed in (("007", 7), ("+5", 5), ("1_000", 1000), ("9lives", "9lives")):
        c.use(name)
        assert c.stats_tube(name)["name"] == parsed


def test_pitfall_16_bad_format_put_leaves_the_body_in_the_stream(backend):
    """After a put with a bad number, beanstalkd reads the body as a command and answers
    UNKNOWN_COMMAND; greenstalk hands that stale reply to the next call, which raises
    UnknownCommandError although its own command (here a put) did run. From then on every
    call reads the reply of the call before it."""
    c = backend.client()
    with pytest.raises(greenstalk.BadFormatError):
        c.put("body", priority=-1)
    with pytest.raises(greenstalk.UnknownCommandError):
        c.put("first")
    assert c.put("second") == 1  # the reply meant for "first"
    assert c.put("third") == 2  # the reply meant for "second"
    other = backend.client()
    assert [other.peek(i).body for i in (1, 2, 3)] == ["first", "second", "third"]


def test_pitfall_16_bad_format_put_then_unknown_command_then_a_reply(backend):
    """The call right after a BadFormatError put raises UnknownCommandError; the call after
    that returns normally (with the previous call's reply)."""
    c = backend.client()
    with pytest.raises(greenstalk.BadFormatError):
        c.put("", priority=2**32)
    with pytest.raises(greenstalk.UnknownCommandError):
        c.using()
    assert c.using() == "default"


@pytest.mark.parametrize(("timeout", "delay"), [(-1, 2), (2**31, 1)])
def test_pitfall_16_negative_or_wrapping_reserve_timeout_waits_forever(backend, timeout, delay):
    """reserve(timeout=-1) (and 2**31, which wraps negative on 1.12) neither times out at
    once nor after a second: it waits like a plain reserve, here until a delayed job
    matures."""
    c = backend.client()
    c.put("x", delay=delay)
    job, elapsed = timed(backend, c.reserve, timeout=timeout)
    assert job.id == 1
    assert delay - 0.2 <= elapsed <= delay + 0.5
