"""Every ServerPanel error hint, checked by running the command on the simulator and on a real
beanstalkd 1.12: each situation a hint describes gives the reply word the hint explains."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import greenstalk
import pytest

pytest.importorskip("ipywidgets")

import stalksim  # noqa: E402
from stalksim.widgets.panel import HINTS, WORDS, ServerPanel, hint  # noqa: E402
from tests.backends import Backend  # noqa: E402

OK = "OK"


def word(call: Callable[[], Any]) -> str:
    try:
        call()
    except greenstalk.Error as e:
        return WORDS[type(e)]
    return OK


def _ready(b: Backend, me: Any, other: Any) -> int:
    return other.put("x")


def _delayed(b: Backend, me: Any, other: Any) -> int:
    return other.put("x", delay=60)


def _buried(b: Backend, me: Any, other: Any) -> int:
    jid = other.put("x")
    other.bury(other.reserve(timeout=0))
    return jid


def _reserved_by_other(b: Backend, me: Any, other: Any) -> int:
    jid = other.put("x")
    assert other.reserve(timeout=0).id == jid
    return jid


def _reserved_by_me(b: Backend, me: Any, other: Any) -> int:
    jid = other.put("x")
    assert me.reserve(timeout=0).id == jid
    return jid


def _missing(b: Backend, me: Any, other: Any) -> int:
    return 999


def _in_other_tube(make: Callable[..., int]) -> Callable[..., int]:
    """The same situation, with the job in a tube `me` neither uses nor watches."""
    def situation(b: Backend, me: Any, other: Any) -> int:
        other.use("elsewhere")
        other.watch("elsewhere")
        other.ignore("default")
        return make(b, me, other)
    return situation


COMMANDS: dict[str, Callable[[Any, int], Any]] = {
    "delete": lambda me, jid: me.delete(jid),
    "release": lambda me, jid: me.release(greenstalk.Job(jid, "")),
    "bury": lambda me, jid: me.bury(greenstalk.Job(jid, "")),
    "touch": lambda me, jid: me.touch(greenstalk.Job(jid, "")),
    "kick-job": lambda me, jid: me.kick_job(jid),
    "stats-job": lambda me, jid: me.stats_job(jid),
}
# (command, situation, reply word): what the hints say, one row per case they name.
CLAIMS = [
    ("delete", _ready, OK), ("delete", _delayed, OK), ("delete", _buried, OK),
    ("delete", _reserved_by_me, OK), ("delete", _in_other_tube(_buried), OK),
    ("delete", _reserved_by_other, "NOT_FOUND"), ("delete", _missing, "NOT_FOUND"),
    *((cmd, sit, w) for cmd in ("release", "bury", "touch") for sit, w in (
        (_reserved_by_me, OK), (_reserved_by_other, "NOT_FOUND"), (_ready, "NOT_FOUND"),
        (_buried, "NOT_FOUND"), (_missing, "NOT_FOUND"))),
    ("kick-job", _buried, OK), ("kick-job", _delayed, OK),
    ("kick-job", _in_other_tube(_buried), OK), ("kick-job", _in_other_tube(_delayed), OK),
    ("kick-job", _ready, "NOT_FOUND"), ("kick-job", _reserved_by_other, "NOT_FOUND"),
    ("kick-job", _reserved_by_me, "NOT_FOUND"), ("kick-job", _missing, "NOT_FOUND"),
    *(("stats-job", sit, OK) for sit in (_ready, _delayed, _buried, _reserved_by_other,
                                         _in_other_tube(_reserved_by_other))),
    ("stats-job", _missing, "NOT_FOUND"),
]


@pytest.mark.parametrize(("command", "situation", "expected"), CLAIMS,
                         ids=[f"{c}-{s.__name__.strip('_')}-{w}" for c, s, w in CLAIMS])
def test_job_command_replies_as_the_hint_says(backend, command, situation, expected):
    me, other = backend.client(), backend.client()
    jid = situation(backend, me, other)
    assert word(lambda: COMMANDS[command](me, jid)) == expected


def test_after_its_ttr_runs_out_the_slow_worker_may_delete_but_not_release(backend):
    """The finding of issue 11: a job that is ready again after its TTR is deleted by the
    worker that lost it (DELETED); release, bury and touch need it reserved (NOT_FOUND)."""
    producer, slow = backend.client(), backend.client()
    ids = [producer.put(f"job {n}", ttr=1) for n in range(4)]
    for jid in ids:
        assert slow.reserve(timeout=0).id == jid
    backend.wait(1.6)
    assert backend.client().stats_job(ids[0])["state"] == "ready"
    assert [word(lambda j=j, c=c: COMMANDS[c](slow, j))
            for j, c in zip(ids, ("release", "bury", "touch", "delete"), strict=True)] == [
        "NOT_FOUND", "NOT_FOUND", "NOT_FOUND", OK]


def _paused(b: Backend, me: Any, other: Any) -> None:
    other.put("x")
    other.pause_tube("default", 30)


REPLIES: list[tuple[str, str, Callable[[Backend, Any, Any], Any]]] = [
    ("reserve", "TIMED_OUT", lambda b, me, other: None),
    ("reserve", "TIMED_OUT", lambda b, me, other: other.put("x", delay=30)),
    ("reserve", "TIMED_OUT", _paused),
    ("reserve", "TIMED_OUT", _in_other_tube(_ready)),
    ("reserve", "TIMED_OUT", _reserved_by_other),
    ("reserve", "TIMED_OUT", _buried),
    ("reserve", "DEADLINE_SOON", lambda b, me, other: (other.put("x", ttr=1),
                                                       me.reserve(timeout=0))),
]


@pytest.mark.parametrize(("command", "expected", "situation"), REPLIES)
def test_reserve_replies_as_the_hint_says(backend, command, expected, situation):
    me, other = backend.client(), backend.client()
    situation(backend, me, other)
    assert word(lambda: me.reserve(timeout=0)) == expected


@pytest.mark.parametrize("name", ["bad tube!", "my tube", "-x", "x" * 201])
def test_bad_tube_names_are_bad_format(backend, name):
    c = backend.client()
    assert (word(lambda: c.use(name)), word(lambda: c.watch(name))) == ("BAD_FORMAT",) * 2
    assert word(lambda: c.use("a-Z_0+9/;.$(x)")) == OK and word(lambda: c.use("y" * 200)) == OK


def test_a_body_over_the_max_job_size_is_job_too_big(backend):
    c = backend.client()
    assert word(lambda: c.put("x" * 65536)) == "JOB_TOO_BIG"
    assert word(lambda: c.put("x" * 65535)) == OK


def test_every_hint_is_backed_by_a_tested_reply():
    tested = {(c, w) for c, _s, w in CLAIMS if w != OK} | {(c, w) for c, w, _s in REPLIES}
    tested |= {("reserve", "BAD_FORMAT"), ("put", "BAD_FORMAT"), ("kick", "BAD_FORMAT"),
               ("put", "JOB_TOO_BIG")}  # the two tests above
    assert set(HINTS) == tested


def test_the_delete_hint_does_not_say_delete_needs_a_reservation():
    text = hint("delete", "NOT_FOUND", 3)
    assert "another connection has it reserved" in text and "any client may delete" in text
    assert "ready, delayed or buried" in text and "job 3" in text
    assert "reserved by this connection" in hint("release", "NOT_FOUND", 3)
    kick = hint("kick-job", "NOT_FOUND", 3)
    assert "buried or delayed" in kick and "any tube" in kick and "reserved by" not in kick


def test_the_panel_shows_the_hint_of_the_command_that_failed():
    panel = ServerPanel(stalksim.Simulation(seed=0), clients=("producer", "worker", "other"))
    panel.buttons["put"].click()
    panel.who.value = "worker"
    panel.buttons["reserve"].click()
    panel.who.value = "other"
    for name in ("delete", "release", "kick-job"):
        panel.buttons[name].click()
        assert hint(name, "NOT_FOUND", 1) in panel.message.value.replace("&#x27;", "'")
    panel.who.value = "producer"
    panel.buttons["put"].click()  # job 2, ready: any client may delete it
    panel.who.value = "other"
    panel.buttons["delete"].click()
    assert "other: delete 2" in panel.message.value and 2 not in panel.sim.server.jobs
