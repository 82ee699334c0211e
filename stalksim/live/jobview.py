"""A `JobWatch`'s jobs, in words (`history`) and drawn as HTML (`html`) for `LiveView`.

Each job is a strip from its put to now (or its delete): where it was (ready, reserved by whom,
hatched while its holder was stopped), a line where a signal struck, a dashed one where a TTR
ran out, and under it the job's story in words, the lines new since the last look highlighted
(the newest job first; a deleted job with nothing new has its story folded). Colours are
stalksim.palette's, as in every view; the words are the ones `history` prints.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from stalksim._viewutil import hung_periods, split_holds
from stalksim.metrics import job_spans
from stalksim.palette import CRASH, HUNG_FILL, INK_FAINT, STATE_COLOURS, TTR, ink_on
from stalksim.trace import Record, Trace
from stalksim.widgets._render import chip, esc

if TYPE_CHECKING:
    from stalksim.live.watch import JobWatch

SIGNALS = {"crash": "SIGKILL (kill -9)", "hang": "SIGSTOP", "wake": "SIGCONT"}
MARK_COLOURS = {"crash": CRASH, "hang": TTR, "wake": INK_FAINT}
CSS = (
    "<style>.stalk-jobs{font-family:monospace;font-size:12px;margin:6px 0}"
    ".stalk-strip{position:relative;height:22px;background:#fff;border:1px solid #ccc;"
    "margin:2px 0 0 0}.stalk-strip>span{position:absolute;top:0;bottom:0;overflow:hidden;"
    "white-space:nowrap;text-overflow:ellipsis;font-size:11px;line-height:22px;"
    "padding-left:2px;box-sizing:border-box;border-right:1px solid #fff;min-width:2px}"
    ".stalk-strip>span>b{background:#fff;padding:0 2px}"
    ".stalk-strip>i{position:absolute;top:-3px;bottom:-3px;width:3px;margin-left:-1px}"
    f".stalk-axis{{display:flex;justify-content:space-between;color:{INK_FAINT};font-size:11px}}"
    ".stalk-head{margin-top:8px}.stalk-ev{margin:2px 0 4px 0;line-height:1.35}"
    f".stalk-ev>summary{{cursor:pointer;color:{INK_FAINT}}}"
    ".stalk-ev>div{white-space:pre-wrap}.stalk-ev>.stalk-chg{background:#ffe9a8}</style>"
)


# ---- words ------------------------------------------------------------------------------

def _last(records: list[Record], i: int, keep: tuple[str, ...], actor: str | None = None
          ) -> Record | None:
    """The last record before `records[i]` with a cause in `keep`: of its job, or (given
    `actor`) that actor's, of any job."""
    job = records[i].job
    return next((r for r in reversed(records[:i]) if r.cause in keep and (
        r.actor == actor if actor is not None else r.job == job)), None)


def describe(records: list[Record], i: int, ttr: int) -> str:
    """`records[i]`, from a watch's trace, in words (`ttr`: its job's TTR in seconds)."""
    r = records[i]
    if r.cause in SIGNALS:
        holding = " (holding it)" if r.job and r.cause != "wake" else ""
        frozen = ": frozen, its connection open" if r.cause == "hang" else ""
        return f"{r.actor}: {SIGNALS[r.cause]}{holding}{frozen}"
    if r.cause == "not-found":
        return f"{r.actor}'s late delete: NOT_FOUND"
    if r.cause == "reserve":
        return f"reserved by {r.actor}"
    if r.cause == "connection-closed":
        kill = _last(records, i, ("crash",), actor=r.actor)
        after = f", seen {1000 * (r.time - kill.time):.0f} ms after the SIGKILL" if kill else ""
        taken = _last(records, i, ("reserve",))
        left = f" ({taken.time + ttr - r.time:.1f} s of TTR left)" if taken else ""
        return f"ready again at once{after}: {r.actor}'s connection closed{left}"
    if r.cause == "ttr-expired":
        last = _last(records, i, ("hang", "wake", "crash"), actor=r.actor)
        how = " (stopped)" if last is not None and last.cause == "hang" else ""
        taken = _last(records, i, ("reserve",))
        after = f" ({r.time - taken.time:.2f} s after the reserve)" if taken else ""
        return f"ready again: its TTR of {ttr} s ran out{after}; {r.actor} held it{how}"
    if r.cause == "put":
        return f"put: {r.dst}"
    if r.cause == "delay-matured":
        return "its delay ended: ready"
    return f"deleted by {r.actor}" if r.dst == "deleted" else f"{r.dst} ({r.cause}) by {r.actor}"


def _lines(watch: JobWatch, tr: Trace, job: int) -> list[tuple[float, str]]:
    """The job's events in words, and the watch's nudges of its holders, in time order."""
    ttr, records = watch.jobs[job].ttr, list(tr)
    lines = [(r.time, 1, describe(records, i, ttr)) for i, r in enumerate(records)
             if r.job == job]
    lines += [(t, 0, f"still reserved {1000 * late:.0f} ms past its TTR (a beanstalkd 1.12 "
                  f"bug): the watch nudged {who}'s connection") for t, j, who, late in
              watch.nudges if j == job]
    return [(t, words) for t, _order, words in sorted(lines, key=lambda line: line[:2])]


def history(watch: JobWatch, job: int) -> str:
    """The job's story, one line per event: seconds on the watch's clock, then words."""
    seen = watch.jobs[job]
    head = f"job {job} {seen.body!r} (TTR {seen.ttr} s), as beanstalkd showed it:"
    return "\n".join([head, *(f"{t:8.3f} s  {words}" for t, words in
                              _lines(watch, watch.trace(), job))])


# ---- the drawing --------------------------------------------------------------------------

class _Axis:
    """Seconds `t0`..`t1` as percentages of a strip's width."""

    def __init__(self, t0: float, t1: float) -> None:
        self.t0, self.width = t0, max(t1 - t0, 1e-3)

    def at(self, t: float) -> float:
        return 100 * (t - self.t0) / self.width


def _span(axis: _Axis, a: float, b: float, fill: str, text: str, title: str,
          ink: str | None = None) -> str:
    """A piece of the strip from `a` to `b`, labelled (on white where the fill is hatched)."""
    label = esc(text) if ink is None else f"<b>{esc(text)}</b>"
    background = fill if ink is None else (
        f"repeating-linear-gradient(45deg,{HUNG_FILL} 0 5px,{fill} 5px 7px)")
    return (f"<span style='left:{axis.at(a):.3f}%;width:{axis.at(b) - axis.at(a):.3f}%;"
            f"background:{background};color:{ink or ink_on(fill)}' title='{esc(title)}'>"
            f"{label}</span>")


def _line(axis: _Axis, t: float, colour: str, title: str, dashed: bool = False) -> str:
    style = f"border-left:2px dashed {colour};width:0" if dashed else f"background:{colour}"
    return f"<i style='left:{axis.at(t):.3f}%;{style}' title='{esc(title)}'></i>"


def strip(tr: Trace, job: int, ttr: int, end: float) -> str:
    """Job `job` from its put to `end` (seconds): a span per state, hatched while its holder
    was stopped, a line at each signal that struck its holder and a dashed one where each
    hold's TTR ran out; with the strip's first and last times under it."""
    spans = job_spans(tr.for_job(job), until=end)
    rows = list(zip(spans["state"], spans["start"], spans["end"], spans["actor"], strict=True))
    if not rows:
        return ""
    axis = _Axis(rows[0][1], end)
    out = [_span(axis, a, b, STATE_COLOURS[s], s, f"{s} {a:.2f}-{b:.2f} s")
           for s, a, b, _w in rows if s != "reserved"]
    held = [(a, b, w) for s, a, b, w in rows if s == "reserved"]
    working, stuck = split_holds(held, hung_periods(tr.raw, end))
    reserved = STATE_COLOURS["reserved"]
    for p in working:
        who = held[p.span][2]
        out.append(_span(axis, p.start, p.stop, reserved, who,
                         f"reserved by {who} {p.start:.2f}-{p.stop:.2f} s"))
    for p in stuck:
        who = held[p.span][2]
        out.append(_span(axis, p.start, p.stop, reserved, f"{who} stopped",
                         f"still reserved: {who} stopped {p.start:.2f}-{p.stop:.2f} s",
                         ink=reserved))
    out += [_line(axis, a + ttr, TTR, f"the TTR of the hold from {a:.2f} s runs out", True)
            for a, _b, _w in held if a + ttr <= end]
    out += [_line(axis, r.time, MARK_COLOURS[r.cause],
                  f"{r.actor}: {SIGNALS[r.cause]} at {r.time:.2f} s")
            for r in tr if r.job == job and r.cause in SIGNALS]
    return (f"<div class='stalk-strip'>{''.join(out)}</div><div class='stalk-axis'>"
            f"<span>{axis.t0:.2f} s</span><span>{end:.2f} s</span></div>")


def html(watch: JobWatch, shown: int = 0) -> tuple[str, int]:
    """The watch's workers and jobs as HTML; the event lines after the first `shown` (in the
    order recorded) are highlighted. Also returns how many lines there are now."""
    tr, now = watch.trace(), watch.now()
    who = "; ".join(f"{esc(w.name)} (pid {w.pid}) {w.state}" for w in watch.workers)
    parts = [CSS, "<div class='stalk-jobs'>",
             f"<div>worker processes: {who or 'none yet'}. Jobs as beanstalkd showed them "
             f"(stats-job every {1000 * watch.interval:g} ms), on the watch's clock:</div>"]
    count, blocks = 0, []
    for job, seen in list(watch.jobs.items()):
        holder = watch.holder(job)
        state = chip(seen.state, seen.state) + (f" by {esc(holder)}" if holder else "")
        if seen.state == "reserved" and "time-left" in seen.stats:
            state += f", {seen.stats['time-left']} s of its TTR left"
        lines = _lines(watch, tr, job)
        items, fresh = [], False
        for t, words in lines:
            mark = " class='stalk-chg'" if count >= shown else ""
            fresh = fresh or bool(mark)
            items.append(f"<div{mark}>{t:7.2f} s  {esc(words)}</div>")
            count += 1
        end = lines[-1][0] if seen.state == "deleted" and lines else now
        opened = " open" if fresh or seen.state != "deleted" else ""  # a finished story folds
        blocks.append(f"<div class='stalk-head'><b>job {job}</b> {esc(repr(seen.body))}, TTR "
                      f"{seen.ttr} s: now {state}</div>{strip(tr, job, seen.ttr, end)}"
                      f"<details class='stalk-ev'{opened}><summary>"
                      f"{len(items)} events</summary>{''.join(items)}</details>")
    return "".join(parts + blocks[::-1]) + "</div>", count  # the newest job first
