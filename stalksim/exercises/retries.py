"""Lesson 4: release with a delay (back-off), bury poison jobs, kick them back."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from stalksim.exercises._core import (
    Exercise,
    Feedback,
    Hint,
    failed,
    listing,
    passed,
    plural,
    register,
)
from stalksim.exercises._harness import Run, ServiceDown, bound_note, by_job, reserves, run_workers
from stalksim.exercises._sandbox import call, guard, learner_function
from stalksim.simulation import Simulation
from stalksim.trace import Record, replay


def release_delays(events: list[Record]) -> list[float]:
    """The delay of each release of one job (0 for a release straight to ready)."""
    out = []
    for i, r in enumerate(events):
        if r.cause == "release":
            matured = next((m.time for m in events[i + 1:] if m.cause == "delay-matured"), None)
            out.append(0.0 if r.dst == "ready" or matured is None else matured - r.time)
    return out


def increasing(delays: list[float]) -> bool:
    return all(d > 0 for d in delays) and all(b > a for a, b in zip(delays, delays[1:],
                                                                      strict=False))


def fmt(delays: list[float]) -> str:
    return ", ".join(f"{d:g}" for d in delays) + " s"


def run_retries(handle: Callable[..., Any], bodies: list[str], extra: tuple = (),
                until: float = 600.0, sim: Simulation | None = None) -> Run:
    """Two workers: reserve, 0.5 s of work, then `handle(client, job, *extra)`."""
    sim = sim or Simulation(seed=0)
    producer = sim.client()
    for body in bodies:
        producer.put(body, ttr=60)
    run = Run(sim)

    def handle_job(conn: Any, job: Any, name: str) -> None:
        call(handle, conn, job, *extra, what="Your handle()")

    return run_workers(run, handle_job, ["w1", "w2"], service=0.5, until=until)


# ---- l4-backoff ---------------------------------------------------------------------------------
L4_BODIES = ["ok-1", "fail", "ok-2", "ok-3", "fail", "ok-4"]


def check_l4(answer: Any) -> Feedback:
    ex = "l4-backoff"
    bad = learner_function(ex, answer, "handle(client, job)")
    if bad is not None:
        return bad
    run = run_retries(answer, L4_BODIES)
    if run.failure():
        return failed(ex, run.failure(), run.failure_hint())
    trace = run.trace
    final = replay(trace, strict=False)
    jobs = by_job(trace)
    poison = [j for j, b in enumerate(L4_BODIES, 1) if b == "fail"]
    good_left = {j: final[j] for j, b in enumerate(L4_BODIES, 1) if b != "fail"
                 and final[j] != "deleted"}
    if any(final[j] == "deleted" for j in poison):
        return failed(ex, "you deleted a poison job: it failed, and now nobody can find out "
                      "why or retry it.", Hint(
                          "a poison job fails every time, and deleting it throws away the "
                          "evidence: after a few attempts, set it aside where nobody reserves "
                          "it but a human can look at it and kick it later.",
                          "after the third failed attempt, bury the job (client.bury(job)) so "
                          "that a human can inspect and kick it later."), trace=trace)
    for j in poison:
        if final[j] != "buried":
            return failed(ex, f"poison job {j} was never buried: it was reserved "
                          f"{plural(len(reserves(jobs[j])), 'time')}{bound_note(run)}.",
                          Hint("the server counts how many times each job was released: "
                               "read that count to tell a job's third attempt from its first "
                               "two, and set the job aside on the third.",
                               "read client.stats_job(job)[\"releases\"]: 0 and 1 -> release "
                               "with a delay, 2 (the third attempt) -> client.bury(job)."),
                          trace=trace)
    if good_left:
        j, state = next(iter(good_left.items()))
        return failed(ex, f"good job {j} (`{L4_BODIES[j - 1]}`) was not deleted: it ended "
                      f"{state}{bound_note(run)}.", "a job that does not fail is done after "
                      "its work: delete it.", trace=trace)
    right = "Good jobs are deleted."
    for j in poison:
        n = len(reserves(jobs[j]))
        delays = release_delays(jobs[j])
        if n != 3:
            when = "too early" if n < 3 else "too late"
            return failed(ex, f"poison job {j} was buried {when}: after {plural(n, 'attempt')}"
                          f", not 3.", Hint(
                              "the release count says how many times the job was released so "
                              "far, which is not the number of the attempt: what is it on the "
                              "first attempt?", "stats_job(job)[\"releases\"] counts the "
                              "releases so far: it is 0 on the first attempt, 1 on the second, "
                              "2 on the third (the one that should bury)."),
                          right=right, trace=trace)
        if not increasing(delays):
            return failed(ex, f"poison job {j} was released with delays {fmt(delays)}: "
                          f"that is not a back-off.", Hint(
                              "a back-off waits longer after each failure: let the delay grow "
                              "with the number of releases so far, and never be zero.",
                              "make each delay bigger than the last, e.g. delay=2 ** releases "
                              "or 10 * (releases + 1), and never 0."),
                          right=right + " Poison jobs are buried after 3 attempts.",
                          trace=trace)
    return passed(ex, f"Right: good jobs deleted; each poison job was released with growing "
                  f"delays ({fmt(release_delays(jobs[poison[0]]))}) and buried after its "
                  f"third attempt.", trace=trace)


register(Exercise(
    "l4-backoff", 4, "Retry with back-off, then bury",
    """Write `handle(client, job)`, called by a worker for each job it reserved. Jobs whose
body is `"fail"` always fail (they are *poison*); all other jobs succeed.

* a job that succeeds: delete it;
* a `"fail"` job on its 1st and 2nd attempt: release it with a delay that grows from one
  attempt to the next (back-off);
* a `"fail"` job on its 3rd attempt: bury it.

`client.stats_job(job)["releases"]` says how many times the job was released so far. The check
runs two workers on a few good jobs and two poison jobs.""",
    "def handle(client, job):\n    client.delete(job)  # change me\n\n\nanswer = handle\n",
    '''def handle(client, job):
    if job.body != "fail":
        client.delete(job)
        return
    releases = client.stats_job(job)["releases"]
    if releases >= 2:
        client.bury(job)
    else:
        client.release(job, delay=5 * 2 ** releases)


answer = handle
''',
    check_l4,
    explanation="The server counts releases per job, so the worker needs no memory: 0 and 1 "
                "releases mean retry later (5 s, then 10 s); the third failure buries."))

# ---- ex-backoff ---------------------------------------------------------------------------------
OUTAGE = 60.0
MAX_ATTEMPTS = 10


def check_backoff(answer: Any) -> Feedback:
    ex = "ex-backoff"
    bad = learner_function(ex, answer, "handle(client, job, call_service)")
    if bad is not None:
        return bad
    bodies = [f"payment-{i}" for i in range(1, 4)]
    sim_box: list[Simulation] = []

    def call_service(job: Any) -> None:
        if sim_box[0].now < OUTAGE:
            raise ServiceDown(f"payment service unavailable at t={sim_box[0].now:g} s")

    run = _run_backoff(answer, bodies, call_service, sim_box)
    if run.error is not None and isinstance(run.error.exc, ServiceDown):
        return failed(ex, run.failure(), Hint(
            "a service that is down is expected here, not a bug: catch that exception in your "
            "handle and give the job back with a delay, so that it is tried again later.",
            "catch it: `except ServiceDown:` then release the job with a delay, so that it is "
            "tried again later."))
    if run.failure():
        return failed(ex, run.failure(), run.failure_hint())
    trace = run.trace
    final = replay(trace, strict=False)
    jobs = by_job(trace)
    attempts = {j: len(reserves(ev)) for j, ev in jobs.items()}
    buried = [j for j in jobs if final[j] == "buried"]
    if buried:
        return failed(ex, f"you buried {plural(len(buried), 'job')} ({listing(buried)}), but "
                      f"these jobs are fine: the service was only down for a while.", Hint(
                          "bury is for poison jobs that can never succeed; a service that is "
                          "down for a while calls for giving the job back with a delay, to try "
                          "again later.", "bury is for poison jobs that can never succeed; on "
                          "ServiceDown, release the job with a delay and let it try again "
                          "later."), trace=trace)
    worst = max(attempts, key=lambda j: attempts[j])
    if attempts[worst] > MAX_ATTEMPTS:
        return failed(ex, f"job {worst} was tried {attempts[worst]} times during the "
                      f"{OUTAGE:g} s outage{bound_note(run)}: that hammers a service that "
                      f"is already down.", Hint(
                          "a service that is down needs time to come back: wait longer after "
                          "each failed attempt, counting the attempts with the server's "
                          "release count.", "release with a delay that grows each time (e.g. "
                          "2 ** releases seconds, from client.stats_job(job)['releases'])."),
                      trace=trace)
    lost = {j: final[j] for j in jobs if final[j] != "deleted"}
    if lost:
        j, state = next(iter(lost.items()))
        return failed(ex, f"job {j} ended {state}, not done{bound_note(run)}.",
                      Hint("when the service call returns without an error, the payment is "
                           "made: the job is done.", "when call_service(job) returns, the "
                           "payment is made: delete the job."),
                      trace=trace)
    flat = [j for j, ev in jobs.items() if len(release_delays(ev)) > 1
            and not increasing(release_delays(ev))]
    if flat:
        return failed(ex, f"job {flat[0]} was retried after {fmt(release_delays(jobs[flat[0]]))}"
                      f": the delay does not grow.", Hint(
                          "with a fixed delay you either hammer the service (short) or wait "
                          "too long when it is back (long): let the delay grow with each "
                          "release.", "with a fixed delay you either hammer the service "
                          "(short) or wait too long when it is back (long); double the delay "
                          "on each release instead."),
                      right=f"All jobs were done, with at most {attempts[worst]} attempts.",
                      trace=trace)
    return passed(ex, f"Right: every payment went through once the service was back, with at "
                  f"most {attempts[worst]} attempts per job (delays "
                  f"{fmt(release_delays(jobs[worst]))}).", trace=trace)


def _run_backoff(handle: Callable[..., Any], bodies: list[str],
                 call_service: Callable[[Any], None], box: list[Simulation]) -> Run:
    sim = Simulation(seed=0)
    box.append(sim)  # the learner's service reads the virtual clock while the run goes on
    return run_retries(handle, bodies, (call_service,), sim=sim)


register(Exercise(
    "ex-backoff", 4, "Back off while a service is down",
    f"""Each job is a payment. `handle(client, job, call_service)` is called after a worker
reserved a job; `call_service(job)` makes the payment, or raises
`stalksim.exercises.ServiceDown` while the payment service is down. In the check it is down
for the first {OUTAGE:g} s.

Write `handle` so that every payment is made once the service is back, no job is tried more
than {MAX_ATTEMPTS} times, and the delay between attempts grows (back-off). Use
`client.release(job, delay=...)` and `client.stats_job(job)["releases"]`.""",
    "from stalksim.exercises import ServiceDown\n\n\ndef handle(client, job, call_service):\n"
    "    call_service(job)\n    client.delete(job)\n\n\nanswer = handle\n",
    '''from stalksim.exercises import ServiceDown


def handle(client, job, call_service):
    try:
        call_service(job)
    except ServiceDown:
        releases = client.stats_job(job)["releases"]
        client.release(job, delay=min(2 ** releases, 300))
    else:
        client.delete(job)


answer = handle
''',
    check_backoff,
    explanation="Doubling delays (1, 2, 4, ... s) cover a 60 s outage in 7 attempts; a cap "
                "keeps the wait bounded when the outage is long."))

# ---- ex-bury-kick -------------------------------------------------------------------------------


def _buried_server() -> tuple[Simulation, Any]:
    """orders: 5 jobs, 3 buried (poison); emails: 3 jobs, 2 buried (another bug)."""
    sim = Simulation(seed=0, max_wait=600.0, max_events=100_000)
    producer, worker = sim.client(), sim.client(watch=["orders", "emails"])
    for tube, n, poison in (("orders", 5, {2, 4, 5}), ("emails", 3, {1, 3})):
        producer.use(tube)
        for i in range(1, n + 1):
            producer.put(f"{tube[:-1]}-{i}")
        for i in range(1, n + 1):
            job = worker.reserve(timeout=0)
            if i in poison:
                worker.bury(job)
            elif tube == "orders":
                worker.delete(job)
            else:
                worker.release(job)
    return sim, sim.client()


def check_bury_kick(answer: Any) -> Feedback:
    ex = "ex-bury-kick"
    bad = learner_function(ex, answer, "recover(client)")
    if bad is not None:
        return bad
    sim, client = _buried_server()
    with guard():
        call(answer, client, what="Your recover()")
    inspector = sim.client()
    orders, emails = inspector.stats_tube("orders"), inspector.stats_tube("emails")
    o_buried, o_ready = orders["current-jobs-buried"], orders["current-jobs-ready"]
    kicked = 3 - o_buried
    if emails["current-jobs-buried"] < 2:
        return failed(ex, "you kicked the buried `emails` jobs too: their bug is not fixed, "
                      "so they will fail again.", "kick only in the tube whose bug is fixed, "
                      "and leave `emails` alone.",
                      right=f"{kicked} of 3 orders kicked.")
    if sum(orders[f"current-jobs-{s}"] for s in ("ready", "reserved", "delayed", "buried")
           ) < 3:
        return failed(ex, "buried orders were deleted: the customers' orders are gone.",
                      Hint("buried jobs are not lost: kicking puts them back to ready, where "
                           "the fixed workers will find them; a delete throws them away.",
                           "kick them back to ready (client.kick(n) or client.kick_job(id)); "
                           "the fixed workers will handle them."))
    if kicked == 0:
        hint = (Hint("kick works on the tube the client *uses* (like put), not on the watched "
                     "tubes: which tube does your client use when it kicks?",
                     "kick works on the tube the client *uses* (like put), not on the watched "
                     "tubes: make the client use the tube whose jobs you want to kick, then "
                     "kick.") if client.using() != "orders" else
                Hint("kick moves at most as many buried jobs as its bound, from the tube in "
                     "use.", "client.kick(bound) moves up to `bound` buried jobs of the used "
                     "tube to ready."))
        return failed(ex, f"all 3 buried orders are still buried (the client uses "
                      f"`{client.using()}`).", hint)
    if o_buried:
        return failed(ex, f"{o_buried} of the 3 buried orders are still buried.", Hint(
                          "kick moves at most as many jobs as its bound: how many are buried?",
                          "kick(bound) kicks at most `bound` jobs: kick(3), or a bigger bound, "
                          "gets them all."),
                      right=f"{kicked} kicked from the right tube.")
    if o_ready < 3:
        return failed(ex, f"the kicked orders are not waiting for the workers: only {o_ready} "
                      f"of 3 are ready (did recover() reserve them?).", Hint(
                          "your function should only kick; the fixed workers will reserve the "
                          "jobs.", "recover() should only kick; the fixed workers will reserve "
                          "the jobs."))
    return passed(ex, "Right: the 3 buried orders are ready again and the broken emails stay "
                  "buried.")


register(Exercise(
    "ex-bury-kick", 4, "Kick the poison jobs back",
    """A bug made the order workers bury three orders (tube `orders`); another bug made the
email workers bury two emails (tube `emails`). The order bug is now fixed, the email bug is
not.

Write `recover(client)` that puts the three buried orders back to ready, and leaves the buried
emails alone. `client` is a fresh client (it uses and watches `default`).""",
    "def recover(client):\n    client.kick(10)\n\n\nanswer = recover\n",
    "def recover(client):\n    client.use(\"orders\")\n    client.kick(100)\n\n\n"
    "answer = recover\n",
    check_bury_kick,
    explanation="kick acts on the tube in use, like put; kick(bound) moves at most `bound` "
                "buried jobs to ready."))
