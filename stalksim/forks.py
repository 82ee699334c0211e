"""Forks of a run: the same scenario and seed, re-simulated with faults added by a click.

    f = fork("hung-consumer", seed=0, faults=[{"worker": "worker-2", "kind": "crash", "at": 6}])
    f.summary_line(fork("hung-consumer", seed=0))           # what the crash changed
    f.to_json(), f.python()                                  # shareable, reproducible

A fork is a scenario plus a list of faults; `Fork.layout()` is what FlowView draws.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from stalksim import metrics
from stalksim.flow import FAULT_KINDS, JobBook, layout
from stalksim.stories import count, secs
from stalksim.trace import Trace

if TYPE_CHECKING:
    from stalksim.scenarios import Result


@dataclass(frozen=True)
class Fault:
    """What happens to `worker` at `at` s: crash (its connection closes), hang (kept open,
    for `for_` s or for good) or slow (work from then on takes `factor` times as long)."""

    worker: str
    kind: str
    at: float
    for_: float | None = None
    factor: float = 3.0

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"fault kind must be one of {', '.join(FAULT_KINDS)}, not "
                             f"{self.kind!r}")
        if not self.at >= 0:
            raise ValueError(f"a fault's time must be >= 0 s, not {self.at!r}")

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"worker": self.worker, "kind": self.kind, "at": self.at}
        if self.kind == "hang" and self.for_ is not None:
            d["for_"] = self.for_
        if self.kind == "slow":
            d["factor"] = self.factor
        return d

    def describe(self) -> str:
        extra = {"hang": f" for {secs(self.for_)}" if self.for_ is not None else " for good",
                 "slow": f" ({self.factor:g}x slower)"}.get(self.kind, "")
        verb = {"crash": "crashes", "hang": "hangs", "slow": "slows down"}[self.kind]
        return f"{self.worker} {verb} at {secs(self.at)}{extra}"


def _fault(f: Fault | dict[str, Any]) -> Fault:
    return f if isinstance(f, Fault) else Fault(**f)


@dataclass
class Fork:
    """A scenario re-run with faults added: reproducible from its JSON or its Python line."""

    scenario: str
    seed: int
    params: dict[str, Any]
    faults: tuple[Fault, ...]
    until: float | None
    result: Result
    book: JobBook

    @property
    def trace(self) -> Trace:
        return self.result.trace

    def layout(self) -> dict[str, Any]:
        """`layout` of this run, with its priorities and TTRs."""
        title = f"{self.scenario} (seed {self.seed})"
        if self.faults:
            title += ": " + ", ".join(f.describe() for f in self.faults)
        return layout(self.trace, self.book, title)

    def spec(self) -> dict[str, Any]:
        d: dict[str, Any] = {"scenario": self.scenario, "seed": self.seed}
        if self.params:
            d["params"] = self.params
        d["faults"] = [f.to_dict() for f in self.faults]
        if self.until is not None:
            d["until"] = self.until
        return d

    def to_json(self) -> str:
        """The fork as a short JSON object; `Fork.from_json` runs it again."""
        return json.dumps(self.spec(), separators=(",", ":"))

    @classmethod
    def from_json(cls, text: str) -> Fork:
        return fork(**json.loads(text))

    def python(self) -> str:
        """A one-line Python call that makes this fork again."""
        d = self.spec()
        args = [repr(d.pop("scenario"))] + [f"{k}={v!r}" for k, v in d.items()]
        return f"stalksim.forks.fork({', '.join(args)})"

    def summary_line(self, base: Fork | Result | Trace) -> str:
        """What the faults changed against `base`: re-deliveries, duplicate work, finish."""
        before, after = _outcome(getattr(base, "trace", base)), _outcome(self.trace)
        what = ", ".join(f.describe() for f in self.faults) or "no fault"
        parts = [f"{label} {before[k]} → {after[k]}" for k, label in
                 (("redeliveries", "re-deliveries"), ("duplicate_work", "duplicate work"))]
        parts.append(f"{_finish(before)} → {_finish(after)}")
        return f"{what}: " + ", ".join(parts)


def _outcome(trace: Trace) -> dict[str, Any]:
    s = metrics.summary(trace)
    deletes = [r.time for r in trace if r.cause == "delete"]
    return {**s, "finish": max(deletes) if deletes else None}


def _finish(o: dict[str, Any]) -> str:
    if o["jobs_left"] or o["jobs_buried"]:
        return f"{count(o['jobs_left'] + o['jobs_buried'], 'job')} not done"
    return f"all done at {secs(o['finish'])}" if o["finish"] is not None else "nothing done"


def fork(scenario: str, seed: int = 0, params: dict[str, Any] | None = None,
         faults: Iterable[Fault | dict[str, Any]] = (), until: float | None = None) -> Fork:
    """Run `scenario` with `seed` and `params`, with `faults` added to its named workers.

    The same seed gives the same run up to the first fault, so a fault at `t` shows what
    would have happened had it struck then.
    """
    from stalksim.scenarios import Result, find
    from stalksim.simulation import Simulation
    from stalksim.workers import Crash, Hang, Worker

    sc, params, fs = find(scenario), dict(params or {}), tuple(map(_fault, faults))
    unknown = set(params) - set(sc.params)
    if unknown:
        raise TypeError(f"scenario {scenario!r} has no parameter(s) {', '.join(sorted(unknown))}")
    end = sc.default_until if until is None else until
    sim = Simulation(seed=seed)
    book = JobBook.attach(sim)
    actors = sc.build(sim, **params)
    named = {a.name: a for a in actors if isinstance(a, Worker)}
    for f in fs:
        w = named.get(f.worker)
        if w is None:
            raise ValueError(f"{scenario!r} has no worker {f.worker!r}; its workers: "
                             f"{', '.join(named) or 'none'}")
        if f.kind == "slow":
            w.service_time = _slowed(w, f)  # type: ignore[method-assign]
        else:
            w.faults.append(Crash(at=f.at) if f.kind == "crash" else Hang(at=f.at, for_=f.for_))
    sim.run(until=end)
    result = Result(sc, sim, seed, end, {**sc.params, **params}, actors)
    if fs:
        result.trace.meta["faults"] = [f.to_dict() for f in fs]
    return Fork(scenario, seed, params, fs, until, result, book)


def _slowed(w: Any, f: Fault) -> Any:
    plain = w.service_time

    def service_time(job: Any) -> float:
        return plain(job) * (f.factor if w.sim.now >= f.at else 1.0)
    return service_time


def fork_of(run: Result) -> Fork:
    """`run` made again as a fork with no fault (same seed, parameters and end), which
    also records its priorities and TTRs."""
    sc = run.scenario
    changed = {k: v for k, v in run.params.items() if sc.params.get(k) != v}
    return fork(sc.name, run.seed, changed, (), None if run.until == sc.default_until
                else run.until)
