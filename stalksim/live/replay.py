"""`run_live`: one named scenario on a real beanstalkd, in real time scaled down by `speed`.

The scenario is built and run once, in the simulator; that run sets the plan. Its producers'
puts (when, what, with which priority, delay and TTR) are put again, its operator's kicks and
pauses are made again, and each of its workers runs the same consumer (`stalksim.consumer`,
driven by `stalksim.live.driver.LiveWorker`) with the same service-time draws and faults, in
threads with greenstalk clients against the real server. Every client connects, and every
worker that starts at t=0 is blocked in its reserve, before the scenario clock starts, so a
slow start on a busy machine delays the whole run instead of reordering it. Whole seconds on
the wire (TTRs and delays) are scenario seconds divided by `speed`, rounded; TTRs are at least
2 s, because beanstalkd 1.12 may never expire a 1 s TTR (a worker that deleted a job and at
once reserved a ttr=1 job kept it for good in our runs). For the same quirk (1.12 releases an
expired job only at its holder's next command), a worker whose job's TTR runs out while it
works sends one harmless `list-tube-used` just after the deadline, so the release happens when
the rules say.
"""

from __future__ import annotations

import secrets
import socket
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

import greenstalk

from stalksim._browser import refuse
from stalksim.live import default_address
from stalksim.live.driver import LiveRun, LiveWorker, Stopped
from stalksim.scenarios import run_scenario
from stalksim.trace import NS, Trace
from stalksim.workers import Producer, Worker, rng_for

MAX_THREADS = 24
MIN_TTR = 2  # real seconds
QUEUE_WAIT = 5.0  # real seconds a worker thread may take to block in its first reserve


def produce(run: LiveRun, p: Producer, c: greenstalk.Client) -> None:
    """Put the simulated producer's jobs again on `c`, at its times, with its priorities,
    delays and TTRs."""
    for put in p.puts:
        run.sleep_until(put.time)
        delay, ttr = run.whole(put.delay), run.whole(put.ttr, least=MIN_TTR)
        with run.rec.lock:  # so no worker records its reserve before we record the put
            jid = c.put(put.body, priority=put.priority, delay=delay, ttr=ttr)
            run.rec.put(str(p.name), jid, p.tube, delay * run.speed, ttr * run.speed)


def operate(run: LiveRun, actions: list[tuple[float, str, str, float]],
            c: greenstalk.Client) -> None:
    """An operator's kicks and pauses on `c`, at the times the simulated run had them."""
    for t, what, tube, arg in actions:
        run.sleep_until(t)
        with run.rec.lock:
            if what == "kick":
                c.use(run.tube(tube))
                run.rec.kicked("operator", tube, c.kick(int(arg)))
            else:
                seconds = run.whole(arg, least=1)
                c.pause_tube(run.tube(tube), seconds)
                run.rec.paused("operator", tube, seconds * run.speed)


def operator_actions(trace: Trace, actors: set[str]) -> list[tuple[float, str, str, float]]:
    """Kicks (with how many jobs) and pauses (with how long) by anyone not in `actors`."""
    kicks: dict[tuple[int, str], int] = {}
    pauses: list[tuple[float, str, str, float]] = []
    for t, job, tube, _src, _dst, cause, actor in trace.raw:
        if actor in actors:
            continue
        if cause == "kick":
            kicks[t, tube] = kicks.get((t, tube), 0) + 1
        elif cause == "pause" and not job:
            end = next((at for at, _j, on, _s, _d, why, _a in trace.raw
                        if at >= t and on == tube and why == "pause-ended"), None)
            pauses.append((t / NS, "pause", tube, ((end or t) - t) / NS))
    return sorted([(t / NS, "kick", tube, n) for (t, tube), n in kicks.items()] + pauses)


def _drain(run: LiveRun, tubes: set[str]) -> None:
    """Delete what this run left in its (namespaced) tubes, so the server is clean again."""
    with greenstalk.Client(run.address, watch=[run.tube(t) for t in tubes]) as c:
        for tube in tubes:
            c.use(run.tube(tube))
            for peek in (c.peek_ready, c.peek_delayed, c.peek_buried):
                for _ in range(10_000):
                    try:
                        c.delete(peek())
                    except greenstalk.NotFoundError:
                        break


def run_live(name: str, *, speed: float = 5.0, seed: int = 0, until: float | None = None,
             address: tuple[str, int] | greenstalk.Client | None = None,
             prefix: str | None = None,
             **params: Any) -> Trace:
    """Run scenario `name` on the real beanstalkd at `address` (default: `default_address()`)
    in `until / speed` real seconds; return the trace its clients observed (scenario seconds).
    `address` may also be a connected greenstalk.Client (its server is used).

    Tubes get a unique `prefix` on the server (so runs never mix) but not in the trace.
    """
    refuse("stalksim.live.run_live()")
    if not speed > 0:
        raise ValueError(f"speed must be > 0, not {speed!r}")
    simulated = run_scenario(name, seed=seed, until=until, **params)  # the plan
    until = simulated.until
    actors = simulated.actors
    producers = [a for a in actors if isinstance(a, Producer)]
    workers = [a for a in actors if isinstance(a, Worker)]
    if len(producers) + len(workers) + 1 > MAX_THREADS:
        raise ValueError(f"run_live runs at most {MAX_THREADS - 1} producers and workers")
    ops = operator_actions(simulated.trace, {a.name for a in actors})
    prefix = f"live-{secrets.token_hex(3)}." if prefix is None else prefix
    if isinstance(address, greenstalk.Client):
        address = address._address
    run = LiveRun(address or default_address(), speed, until, prefix,
                  {"scenario": name, "seed": seed, "until": until, "params": simulated.params,
                   "live": True, "speed": speed})
    errors: list[BaseException] = []

    def guard(target: Callable[[], None]) -> None:
        try:
            target()
        except Stopped:
            pass
        except BaseException as e:  # reported to the caller below
            errors.append(e)

    threads: list[threading.Thread] = []
    try:  # however it ends, every client hangs up and every thread unwinds
        # every actor connects before the clock starts (a slow connect cannot make one late);
        # workers first: they take their place in the server's queue of waiting reservers in
        # the simulated order (see _start), so the same worker gets the same job as in the
        # simulation
        crew = [LiveWorker(run, w, rng_for(simulated.sim, str(w.name))) for w in workers]
        for worker in crew:
            worker.connect()
        feeds = [(p, run.client(use=run.tube(p.tube))) for p in producers]
        desk = run.client() if ops else None
        targets: list[Callable[[], None]] = [worker.main for worker in crew]
        targets += [lambda p=p, c=c: produce(run, p, c) for p, c in feeds]
        if desk is not None:
            targets.append(lambda: operate(run, ops, desk))
        threads = [threading.Thread(target=guard, args=(t,), daemon=True) for t in targets]
        _start(run, threads, [w.start_at == 0 for w in workers])
        run.stop.wait(until / speed)
        trace = run.rec.finish(until)
    finally:
        run.end()
        _close(run, threads)
    _drain(run, {t for p in producers for t in [p.tube]} | {t for w in workers for t in w.tubes})
    if errors:
        raise errors[0]
    return trace


def _close(run: LiveRun, threads: Sequence[threading.Thread] = ()) -> None:
    """Hang up every client of the run (ending the reserves blocked on them), let its
    threads unwind, and close the clients."""
    for c in run.clients:
        try:
            c._sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
    for th in threads:
        if th.ident is not None:
            th.join(timeout=5)
    for c in run.clients:
        c.close()


def _start(run: LiveRun, threads: list[threading.Thread], waits_at_once: list[bool]) -> None:
    """Start the threads, then the scenario clock. Each worker that reserves at t=0 is let in
    only once the previous one is blocked in reserve (bounded by QUEUE_WAIT), as the simulated
    workers queue up in start order; on a busy machine a thread can take a good part of a
    second to get there, and the clock starts only then (the puts at t=0 wait for it)."""
    probe = greenstalk.Client(run.address)
    try:
        waiting = probe.stats()["current-waiting"]
        for i, th in enumerate(threads):
            th.start()
            if i < len(waits_at_once) and waits_at_once[i]:
                deadline = time.monotonic() + QUEUE_WAIT
                while probe.stats()["current-waiting"] <= waiting:
                    if time.monotonic() > deadline:
                        break
                    time.sleep(0.002)
                waiting += 1
    finally:
        probe.close()
    run.start_clock()
