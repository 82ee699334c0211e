"""The scale, memory, growth, client and interactivity workloads of the benchmark.

Memory and peak-RSS workloads run in a fresh subprocess (`python -m benchmarks.workloads NAME
ARGS...`) so that one workload's garbage does not count against another.
"""

from __future__ import annotations

import gc
import json
import os
import random
import socket
import statistics
import subprocess
import sys
import time

import stalksim

PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(pid: int | str = "self") -> int:
    """Resident set size of a process, from /proc."""
    with open(f"/proc/{pid}/statm") as f:
        return int(f.read().split()[1]) * PAGE


def _in_subprocess(name: str, *args: object) -> dict:
    out = subprocess.run(
        [sys.executable, "-m", "benchmarks.workloads", name, *map(str, args)],
        check=True, capture_output=True, text=True,
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


# ---- 3: a million jobs through 50 workers ---------------------------------------------------
def million(jobs: int) -> dict:
    """`jobs` jobs through 50 workers watching 3 tubes, with priorities and TTR 30."""
    sim = stalksim.Simulation(seed=3, trace=False)
    env = sim.env
    rng = random.Random(3)
    producer = sim.connect("producer")
    tubes = ["orders", "emails", "reports"]
    pris = [0, 100, 1024, 65536]

    def produce():
        current = None
        for _ in range(jobs):
            yield env.timeout(rng.expovariate(100.0))
            tube = tubes[rng.randrange(3)]
            if tube != current:
                producer.use(tube)
                current = tube
            producer.put(b"payload", priority=pris[rng.randrange(4)], ttr=30)

    def work(conn, r):
        while True:
            job = yield conn.reserve()
            yield env.timeout(r.expovariate(2.2))
            conn.delete(job)

    sim.process(produce())
    for i in range(50):
        sim.process(work(sim.connect(f"w{i}", watch=tubes), random.Random(100 + i)))
    t0 = time.perf_counter()
    sim.run()  # until the producer is done and every job deleted
    wall = time.perf_counter() - t0
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"jobs": sim.server.ops.get("delete", 0), "wall": wall, "peak_rss": peak,
            "virtual": sim.now}


# ---- 4: memory per ready job ----------------------------------------------------------------
BODY = b"0123456789abcdef"  # a small job body


def memory_stalksim(jobs: int) -> dict:
    sim = stalksim.Simulation(trace=False)
    c = sim.client(encoding=None)
    gc.collect()
    before = rss_bytes()
    for _ in range(jobs):
        c.put(BODY)
    gc.collect()
    return {"bytes_per_job": (rss_bytes() - before) / jobs}


def memory_beanstalkd(jobs: int) -> dict:
    from tests.realserver import RealBeanstalkd

    with RealBeanstalkd() as server:
        sock = socket.create_connection(server.address)
        before = rss_bytes(server.proc.pid)
        cmd = b"put 0 0 60 %d\r\n%s\r\n" % (len(BODY), BODY)
        batch = 5000
        for start in range(0, jobs, batch):
            n = min(batch, jobs - start)
            sock.sendall(cmd * n)
            got = 0
            while got < n:
                got += sock.recv(1 << 20).count(b"\r\n")
        after = rss_bytes(server.proc.pid)
        sock.close()
    return {"bytes_per_job": (after - before) / jobs}


# ---- 5: cost growth with a deep queue -------------------------------------------------------
def cycle_cost(queued: int, cycles: int = 20000) -> float:
    """Seconds per put+reserve+delete while `queued` other jobs wait (lower pri)."""
    sim = stalksim.Simulation(trace=False)
    filler = sim.client()
    for _ in range(queued):
        filler.put(b"f", priority=4000)
    c = sim.client()
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(cycles):
            c.put(b"x", priority=0)
            c.delete(c.reserve())
        best = min(best, (time.perf_counter() - t0) / cycles)
    return best


# ---- 6: the synchronous client against greenstalk on a real server -------------------------
def _cycles_per_second(client, cycles: int) -> float:
    best = 0.0
    for _ in range(3):
        t0 = time.perf_counter()
        for _ in range(cycles):
            client.put(b"x")
            client.delete(client.reserve())
        best = max(best, cycles / (time.perf_counter() - t0))
    return best


def client_rates(cycles: int) -> tuple[float, float]:
    """(sim cycles/s, greenstalk-on-beanstalkd cycles/s), best of 3 each."""
    import greenstalk

    from tests.realserver import RealBeanstalkd

    sim_rate = _cycles_per_second(stalksim.Simulation(trace=False).client(), cycles)
    with RealBeanstalkd() as server:
        c = greenstalk.Client(server.address)
        real_rate = _cycles_per_second(c, cycles)
        c.close()
    return sim_rate, real_rate


# ---- 7: interactivity ------------------------------------------------------------------------
def interactivity(jobs: int = 1000, repeats: int = 9) -> tuple[float, float]:
    """Median seconds to redraw the job timeline of a `jobs`-job trace, and one time step."""
    import matplotlib

    matplotlib.use("Agg")
    from stalksim import views
    from stalksim.trace import TraceIndex

    trace = _scenario_trace(jobs)
    draws = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fig = views.job_timeline(trace)
        fig.canvas.draw()
        draws.append(time.perf_counter() - t0)
    step = _time_control_step(trace) or _index_step(TraceIndex(trace), trace)
    return statistics.median(draws), step


def _scenario_trace(jobs: int):
    sim = stalksim.Simulation(seed=7)
    env = sim.env
    rng = random.Random(7)
    producer = sim.connect("producer")

    def produce():
        for _ in range(jobs):
            yield env.timeout(rng.expovariate(20.0))
            producer.put(b"j", ttr=2)

    def work(conn, r):
        while True:
            job = yield conn.reserve()
            yield env.timeout(r.expovariate(5.0))
            try:
                conn.delete(job)
            except Exception:  # the TTR ran out first: that's part of the story
                pass

    sim.process(produce())
    for i in range(5):
        sim.process(work(sim.connect(f"w{i}"), random.Random(i)))
    sim.run()
    return sim.trace


def _time_control_step(trace) -> float | None:
    """Median seconds per step of the notebooks' TimeControl widget, if it is installed."""
    try:
        from stalksim.widgets import TimeControl
    except Exception:
        return None
    tc = TimeControl(trace)
    slider = getattr(tc, "slider", None)
    if slider is None:
        return None
    times = []
    for i in range(1, 12):
        t0 = time.perf_counter()
        slider.value = min(slider.max, slider.min + i * (slider.max - slider.min) / 12)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _index_step(index, trace) -> float:
    end = trace.end_time
    times = []
    for i in range(1, 50):
        t0 = time.perf_counter()
        index.state_at(end * i / 50)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


if __name__ == "__main__":
    fn = {"million": million, "memory_stalksim": memory_stalksim,
          "memory_beanstalkd": memory_beanstalkd}[sys.argv[1]]
    print(json.dumps(fn(*(int(a) for a in sys.argv[2:]))))
