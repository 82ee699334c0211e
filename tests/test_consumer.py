"""The consumer written once (stalksim.consumer): its steps as data, and the same story from
its two drivers, the simulator (stalksim.workers.Worker) and a real beanstalkd
(stalksim.live.driver.LiveWorker), for faults that strike while a worker waits in reserve."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from stalksim import live
from stalksim.consumer import (
    CLOSE,
    Alarm,
    Command,
    Consumer,
    Crash,
    Hang,
    Mark,
    PoisonJob,
    Reserve,
    Reserves,
    Wait,
)
from stalksim.scenarios import SCENARIOS, Scenario, run_scenario
from stalksim.workers import Producer, Worker
from tests.realserver import RealBeanstalkd, require_beanstalkd


class Job:
    def __init__(self, id: int, body: str = "job") -> None:
        self.id, self.body = id, body


class Fixed(Consumer):
    def __init__(self, seconds: float, **kw: Any) -> None:
        super().__init__(**kw)
        self.seconds = seconds

    def service_time(self, job: Any) -> float:
        return self.seconds


def steps(consumer: Consumer, answers: Callable[[Any], Any], count: int) -> list[Any]:
    """The first `count` steps of `consumer.run`, each answered by `answers(step)`."""
    gen, out, answer = consumer.run(lambda: 0.0), [], None
    for _ in range(count):
        step = gen.send(answer)
        out.append(step)
        answer = answers(step)
    gen.send(answer)  # the last step's answer counts too
    return out


def test_the_loop_is_a_sequence_of_steps_with_touches_and_alarms() -> None:
    c = Fixed(2.5, faults=[Crash(at=9.0), Hang(after_jobs=0, for_=1.0)])
    c.every = 1.0
    job = Job(7)
    got = steps(c, lambda s: job if isinstance(s, Reserve) else True, 9)
    assert got == [Alarm(Crash(at=9.0), 9.0), Reserve(),
                   Alarm(Hang(after_jobs=0, for_=1.0), 1.25), Wait(1.0), Command("touch", job),
                   Wait(1.0), Command("touch", job), Wait(0.5), Command("delete", job)]
    assert (c.touched, c.done, c.state) == (2, 1, "idle")


def test_not_found_is_marked_and_a_poison_job_is_released_then_buried() -> None:
    c = Fixed(1.0, faults=[PoisonJob("bad", tries=2, backoff=3)])
    job, reserves = Job(1, "bad"), iter([1, 2])

    def answer(step: Any) -> Any:
        if isinstance(step, Reserve):
            return job
        if isinstance(step, Reserves):
            return next(reserves)
        return not (isinstance(step, Command) and step.what == "bury")  # bury: NOT_FOUND

    got = steps(c, answer, 9)
    assert got == [Reserve(), Wait(1.0), Reserves(job), Command("release", job, 3), Reserve(),
                   Wait(1.0), Reserves(job), Command("bury", job), Mark("not-found")]
    assert (c.released, c.buried, c.not_found) == (1, 0, 1)


def test_a_fault_is_its_own_sequence_of_steps() -> None:
    c = Fixed(1.0)
    assert list(c.suffer(Hang(at=1.0, for_=2.0))) == [Mark("hang"), Wait(2.0), Mark("wake")]
    crash = c.suffer(Crash(at=1.0))
    assert [next(crash), next(crash)] == [Mark("crash"), CLOSE] and c.state == "crashed"


def test_deadline_soon_is_marked_and_the_consumer_waits_a_second() -> None:
    got = steps(Fixed(1.0), lambda s: None, 4)
    assert got == [Reserve(), Mark("deadline-soon"), Wait(1.0), Reserve()]


# ---- both drivers ------------------------------------------------------------------------------

def _idle_faults(sim: Any) -> list[Any]:
    """w hangs while blocked in reserve (the job put meanwhile waits for it to wake), then
    crashes while blocked again; v gets the next job. The second pair: a crash ends a hang
    that would last for ever, and the job is ready at once."""
    return [Producer(at=[2.0, 6.5], ttr=5, name="p").start(sim),
            Worker(service=1.0, name="w", faults=[Hang(at=1.0, for_=3.0), Crash(at=6.0)]
                   ).start(sim),
            Worker(service=1.0, name="v").start(sim),
            Producer("long", at=[0.0], ttr=100, name="q").start(sim),
            Worker("long", service=5.0, name="x", faults=[Hang(at=1.0), Crash(at=4.0)]
                   ).start(sim),
            Worker("long", service=1.0, name="y", start=0.5).start(sim)]


def story(trace: Any) -> list[tuple[str, str, str, float]]:
    return [(r.tube, r.cause, r.actor, r.time) for r in trace]


@pytest.mark.real
def test_faults_while_blocked_in_reserve_tell_the_same_story_live(
        monkeypatch: pytest.MonkeyPatch) -> None:
    require_beanstalkd()
    builds: list[float] = []

    def build(sim: Any) -> list[Any]:
        builds.append(sim.now)
        return _idle_faults(sim)

    monkeypatch.setitem(SCENARIOS, "idle-faults", Scenario(
        "idle-faults", lambda p: ("idle faults", ""), build, 8.0))
    simulated = story(run_scenario("idle-faults").trace)
    assert [s[:3] for s in simulated if s[2] in ("w", "v")] == [
        ("", "hang", "w"), ("default", "reserve", "w"), ("", "wake", "w"),
        ("default", "delete", "w"), ("", "crash", "w"), ("default", "reserve", "v"),
        ("default", "delete", "v")]
    assert [s[1:3] for s in simulated if s[2] in ("x", "y")] == [
        ("reserve", "x"), ("hang", "x"), ("crash", "x"), ("connection-closed", "x"),
        ("reserve", "y"), ("delete", "y")]
    with RealBeanstalkd() as server:
        builds.clear()
        trace = live.run_live("idle-faults", speed=2, address=server.address, prefix="t.")
    assert len(builds) == 1  # run_live builds the scenario once: its simulated run is the plan
    for actor in ("p", "q", "w", "v", "x", "y", ""):  # each one's own story, in order
        live_story = [s for s in story(trace) if s[2] == actor]
        sim_story = [s for s in simulated if s[2] == actor]
        assert [s[:3] for s in live_story] == [s[:3] for s in sim_story], actor
        # within 0.4 s (0.2 s real at speed 2): threads start late on a busy machine
        assert [s[3] for s in live_story] == pytest.approx([s[3] for s in sim_story], abs=0.4)
