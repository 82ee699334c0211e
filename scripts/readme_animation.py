"""The README's animation: docs/crash-vs-hang.svg, a crashed and a hung consumer on one clock.

    python scripts/readme_animation.py           # write docs/crash-vs-hang.svg
    python scripts/readme_animation.py --check   # exit 1 if the file is not what it would write

Two runs, `crashed-consumer` and `hung-consumer` (seed 0), side by side: a token per job moves
between the producer, the tube's ready lane, the workers and the deleted bin at the times of the
runs' steps (`stalksim.flow.layout`). GitHub shows a README's SVG through <img>, so the file is
SMIL animation only: no script, no external font or link. Every time, job and name is read from
the layouts; all animations share one duration and loop with a pause at the end.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import textwrap
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from stalksim._viewutil import ARROW_LABELS, HUNG, MARKS, OKABE_ITO, STATE_COLOURS
from stalksim.forks import fork_of
from stalksim.scenarios import run_scenario
from stalksim.stories import secs

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "docs" / "crash-vs-hang.svg"
RUNS = ("crashed-consumer", "hung-consumer")
SUBTITLES = ("the worker's process dies", "the worker is stuck, connection open")
W, PW, TOP = 880, 440, 100  # canvas width, panel width, top of the workers column
MOVE, TRAIL, PAUSE, TICK = 0.5, 2.0, 2.5, 0.1  # s: a move, a label shown, end pause, clock step
R, GAP, WH = 13, 30, 56  # token radius, slot spacing, worker box height
CAPTION_CHARS = 56  # a caption line at 14 px fits the panel's 420 px
LANES = ("ready", "delayed", "buried")
FONT = '-apple-system,BlinkMacSystemFont,"Segoe UI",Helvetica,Arial,sans-serif'
LOOKS = {  # a token by where it is: circle fill, circle stroke, number fill
    "new": ("#ffffff", "#222", "#000"), "ready": (STATE_COLOURS["ready"], "#222", "#000"),
    "reserved": (STATE_COLOURS["reserved"], "#222", "#fff"),
    "hung": (HUNG["facecolor"], HUNG["color"], "#000"),  # and hatched on top
    "delayed": (STATE_COLOURS["delayed"], "#222", "#000"),
    "buried": (STATE_COLOURS["buried"], "#222", "#000"),
    "deleted": (MARKS["deleted"]["color"], "#222", "#fff")}
BOXES = {  # a worker box by status: fill, stroke, stroke width, dashes
    "working": ("#fafafa", STATE_COLOURS["reserved"], 2.5, ""),
    "hung": ("#fafafa", MARKS["hang"]["color"], 3, "8 4"),
    "crashed": ("#eeeeee", MARKS["crash"]["color"], 3, "")}
STATUS = {"hung": "hung, connection open", "crashed": "crashed", "idle": "idle"}
Point = tuple[float, float]
Timeline = list[tuple[float, str]]
Lay = dict[str, Any]
Named = tuple[str, float, list[Point]]  # a labelled move: cause, time, points


def num(x: float, nd: int = 1) -> str:
    """`x` rounded to `nd` decimals, without trailing zeros (stable text for the test)."""
    s = f"{x:.{nd}f}".rstrip("0").rstrip(".")
    return "0" if s in ("", "-0") else s


def status(lay: Lay, worker: str, t: float) -> str:
    """"crashed", "hung" or "" for `worker` at `t`."""
    if any(c["worker"] == worker and c["t"] <= t for c in lay["crashes"]):
        return "crashed"
    hung = any(h["worker"] == worker and h["start"] <= t < h["end"] for h in lay["hangs"])
    return "hung" if hung else ""


def places_at(lay: Lay, t: float) -> dict[int, dict[str, Any]]:
    """Each job's last step at or before `t`."""
    return {s["job"]: s for s in lay["steps"] if s["t"] <= t}


def timeline(times: Iterable[float], value: Callable[[float], str]) -> Timeline:
    """`value` at 0 s and at each change time, repeats dropped."""
    return merge([(t, value(t)) for t in sorted({0.0, *times})])


def merge(tl: Timeline) -> Timeline:
    """`tl` without repeated values."""
    return [(t, v) for i, (t, v) in enumerate(tl) if i == 0 or tl[i - 1][1] != v]


def at(tl: list[tuple[float, Any]], t: float) -> Any:
    """A timeline's value at `t` (its first before it starts)."""
    return [tl[0][1], *(v for s, v in tl if s <= t)][-1]


def shown(tl: Timeline, values: Iterable[str]) -> Timeline:
    """Visible where the timeline has one of `values`, hidden elsewhere."""
    want = set(values)
    return merge([(t, "visible" if v in want else "hidden") for t, v in tl])


def window(start: float, end: float | None) -> Timeline:
    """Visible from `start` until `end` (None: to the end of the loop)."""
    tl = [(0.0, "hidden")] * (start > 0) + [(start, "visible")]
    return tl if end is None else [*tl, (end, "hidden")]


class Canvas:
    """The SVG being written: every animation shares one duration; the attributes hold the
    state at `poster` (what a viewer without SMIL shows)."""

    def __init__(self, dur: float, poster: float) -> None:
        self.dur, self.poster = dur, poster
        self.out: list[str] = []

    def add(self, *texts: str) -> None:
        self.out.extend(texts)

    def timing(self, times: Iterable[float]) -> str:
        """keyTimes (floored to 0.1 ms, so a change is never late) and the shared loop."""
        keys = ";".join(num(math.floor(min(1.0, t / self.dur) * 1e4 + 1e-6) / 1e4, 4)
                        for t in times)
        return f'keyTimes="{keys}" dur="{num(self.dur)}s" repeatCount="indefinite"'

    def el(self, tag: str, attrs: dict[str, Any], tls: dict[str, Timeline] | None = None,
           inner: str = "") -> str:
        """An element whose attributes in `tls` change at their timelines' times."""
        tls = tls or {}
        base = {**attrs, **{k: at(tl, self.poster) for k, tl in tls.items()}}
        text = "".join(f' {k}="{v}"' for k, v in base.items())
        anims = "".join(f'<animate attributeName="{k}" values="{";".join(v for _, v in tl)}" '
                        f'calcMode="discrete" {self.timing(t for t, _ in tl)}/>'
                        for k, tl in tls.items() if len(tl) > 1)
        return f"<{tag}{text}>{anims}{inner}</{tag}>"

    def translate(self, keys: list[tuple[float, Point]], discrete: bool = False) -> str:
        """A translate through `(time, point)` keyframes, held from 0 s and to the end."""
        keys = [(0.0, keys[0][1]), *keys] + ([] if discrete else [(self.dur, keys[-1][1])])
        vals = ";".join(f"{num(x)},{num(y)}" for _, (x, y) in keys)
        mode = ' calcMode="discrete"' if discrete else ""
        return (f'<animateTransform attributeName="transform" type="translate" values="{vals}"'
                f'{mode} {self.timing(t for t, _ in keys)}/>')


class Panel:
    """One run's places at x offset `ox`: producers, lanes, workers, the deleted bin."""

    def __init__(self, lay: Lay, ox: float) -> None:
        self.lay, self.ox = lay, ox
        self.slots: dict[str, tuple[float, float, float, int]] = {}  # x, y, step, capacity
        self.rects: list[tuple[str, float, float, float, float]] = []  # place, x, y, w, h
        for i, w in enumerate(lay["workers"]):
            y = TOP + i * (WH + 6)
            self.rects.append((f"worker:{w}", ox + 216, y, 214, WH))
            self.slots[f"worker:{w}"] = (ox + 240, y + WH / 2, GAP, 1)
        ybin = TOP + len(lay["workers"]) * (WH + 6)
        self.rects.append(("deleted", ox + 216, ybin, 214, 40))
        self.slots["deleted"] = (ox + 300, ybin + 20, GAP, 4)
        self.bottom, mid = ybin + 40, (TOP + ybin - 6) / 2
        lanes = sorted({p for s in lay["steps"] for p in (s["from"], s["to"])
                        if p.partition(":")[0] in LANES})
        for i, p in enumerate(lanes):
            top = mid - 18 + (i - (len(lanes) - 1) / 2) * 62
            self.rects.append((p, ox + 74, top, 130, 36))
            self.slots[p] = (ox + 184, top + 18, -GAP, 4)
        for i, p in enumerate(lay["producers"]):
            top = mid - 24 + (i - (len(lay["producers"]) - 1) / 2) * 62
            self.rects.append((f"producer:{p}", ox + 8, top, 56, 48))
            self.slots[f"producer:{p}"] = (ox + 36, top + 24, 0, 1)
        self.label_at = (ox + 139, mid + 56 + 31 * (len(lanes) - 1))

    def slot(self, place: str, i: int) -> Point:
        x, y, step, cap = self.slots[place]
        return (x + min(i, cap - 1) * step, y)

    def positions(self, where: dict[int, dict[str, Any]], order: dict[int, int]
                  ) -> dict[int, Point]:
        """Where each job rests: a lane in reserve order (priority, id), elsewhere in order
        of arrival."""
        by: dict[str, list[int]] = {}
        for job, s in where.items():
            by.setdefault(s["to"], []).append(job)
        out = {}
        for place, jobs in by.items():
            lane = place.partition(":")[0] in LANES
            pri = {j: 2**32 if where[j]["pri"] is None else where[j]["pri"] for j in jobs}
            jobs.sort(key=lambda j: (pri[j], j) if lane else (order[j], j))
            out.update({j: self.slot(place, i) for i, j in enumerate(jobs)})
        return out

    def motions(self) -> tuple[dict[int, list[tuple[float, Point]]], list[Named]]:
        """Each job's keyframes, and the named moves (cause, time, points) to label."""
        groups: dict[float, list[dict[str, Any]]] = {}
        for s in self.lay["steps"]:
            groups.setdefault(s["t"], []).append(s)
        times, arrivals = sorted(groups), itertools.count()
        keys: dict[int, list[tuple[float, Point]]] = {}
        order: dict[int, int] = {}
        named: list[Named] = []
        for i, t in enumerate(times):
            chains: dict[int, list[dict[str, Any]]] = {}
            for s in groups[t]:
                chains.setdefault(s["job"], []).append(s)
                order[s["job"]] = next(arrivals)
            span = min(MOVE, times[i + 1] - t) if i + 1 < len(times) else MOVE
            for job, end in self.positions(places_at(self.lay, t), order).items():
                old, chain = keys[job][-1][1] if job in keys else None, chains.get(job, [])
                if chain:
                    via = [self.slot(s["to"], 0) for s in chain[:-1]]
                    pts = [old or self.slot(chain[0]["from"], 0), *via, end]
                elif old == end:
                    continue
                else:
                    pts = [old or end, end]
                along(keys.setdefault(job, []), t, span, pts)
                named += [(s["cause"], t, pts) for s in chain if s["cause"] in ARROW_LABELS]
        return keys, named


def along(keys: list[tuple[float, Point]], t: float, span: float, pts: list[Point]) -> None:
    """Keyframes for a move through `pts` from `t` over `span` s, at an even speed."""
    lens = [math.dist(a, b) for a, b in itertools.pairwise(pts)]
    total, done = sum(lens) or 1.0, 0.0
    keys.append((t, pts[0]))
    for d, p in zip(lens, pts[1:], strict=True):
        done += d
        keys.append((t + span * done / total, p))


def moments(lay: Lay) -> list[tuple[float, str]]:
    """The caption from each key moment on: the start, crashes, hangs, jobs handed back,
    jobs delivered again, a worker free while a hung one holds a job, the end, a wake."""
    steps, out = lay["steps"], []
    delivered: set[int] = set()
    told: set[int] = set()
    deletes = [s for s in steps if s["cause"] == "delete"]
    holds = {(h["worker"], h["job"]): h for h in lay["holds"]}
    for t in sorted({s["t"] for s in steps} | {m["t"] for m in lay["marks"]}):
        parts, now = [], [s for s in steps if s["t"] == t]
        if now and now[0] is steps[0]:
            parts.append(f"{', '.join(lay['producers'])} puts jobs into {', '.join(lay['tubes'])}"
                         f"; {' and '.join(lay['workers'])} reserve and delete them")
        for m in (m for m in lay["marks"] if m["t"] == t):
            w, j, h = m["actor"], m["job"], holds.get((m["actor"], m["job"]))
            holding = f"holding job {j}" if j else "while idle"
            until = f" until its TTR runs out at {secs(h['deadline'])}" if h and h[
                "deadline"] is not None else ""
            parts.append({
                "crash": f"{w} crashes {holding}: its connection closes",
                "hang": f"{w} hangs {holding}, its connection open" + (
                    f": the job stays reserved{until}" if j else ""),
                "wake": f"{w} wakes up",
                "not-found": f"its command on job {j} gets NOT_FOUND: the job is no longer "
                             f"its own"}.get(m["kind"], ""))
        for s in now:
            j = s["job"]
            parts.append({"connection-closed": f"job {j} is ready again at once",
                          "ttr-expired": f"job {j}'s TTR ran out: it is ready again"}
                         .get(s["cause"], ""))
            if s["to"].startswith("worker:") and s["cause"] != "touch":
                parts.append(f"{s['actor']} reserves job {j} again" if j in delivered else "")
                delivered.add(j)
        held = {s["to"] for s in places_at(lay, t).values()}
        free = [s["actor"] for s in now if s["cause"] == "delete" and s["from"] not in held
                and not status(lay, s["actor"], t)]
        for h in lay["holds"]:
            if free and h["job"] not in told and any(a <= t < b for a, b in h["hung"]):
                told.add(h["job"])
                parts.append(f"{free[0]} is free, but job {h['job']} stays reserved to the "
                             f"hung {h['worker']}")
        if deletes and deletes[-1] is steps[-1] and t == steps[-1]["t"]:
            parts.append(f"{steps[-1]['actor']} deletes job {steps[-1]['job']}: all jobs are "
                         f"done at {secs(t)}")
        if any(parts):
            out.append((t, "; ".join(p for p in parts if p)))
    return out


def draw_panel(cv: Canvas, lay: Lay, ox: float, subtitle: str, cap_y: float) -> None:
    """One run: title, places, worker states, tokens, named moves and captions."""
    p = Panel(lay, ox)
    change = sorted({s["t"] for s in lay["steps"]} | {c["t"] for c in lay["crashes"]}
                    | {h[k] for h in lay["hangs"] for k in ("start", "end")})
    cv.add(f'<g id="{escape(lay["scenario"])}">',
           f'<text x="{num(ox + 10)}" y="58" class="b t">{escape(lay["scenario"])}</text>'
           f'<text x="{num(ox + 10)}" y="78">{escape(subtitle)}</text>')
    for place, x, y, w, h in p.rects:
        kind, _, name = place.partition(":")
        if kind == "worker":
            cv.add(worker_box(cv, lay, name, (x, y, w, h), change))
            continue
        cls = {"producer": "box", "deleted": "bin"}.get(kind, "lane")
        cv.add(f'<rect x="{num(x)}" y="{num(y)}" width="{w}" height="{h}" '
               f'rx="{18 if cls == "lane" else 6}" class="{cls}" data-place="{escape(place)}"/>')
        if kind == "deleted":
            cv.add(f'<text x="{num(x + 10)}" y="{num(y + 25)}" class="b">deleted</text>')
            continue
        title = escape(name if kind == "producer" else f"tube {name}")
        cv.add(f'<text x="{num(x + w / 2)}" y="{num(y - 8)}" class="b c">{title}</text>')
        if cls == "lane":
            cv.add(f'<text x="{num(x + w / 2)}" y="{num(y + h + 17)}" class="c s">{kind}</text>')
    keys, named = p.motions()
    (lx, ly), starts = p.label_at, list[float]()
    for cause, t, pts in named:
        row = sum(1 for u in starts if t < u + TRAIL)
        starts.append(t)
        vis = {"visibility": window(t, t + TRAIL)}
        dash = {"stroke-dasharray": "9 4"} if cause == "ttr-expired" else {}
        line = " ".join(f"{num(x)},{num(y)}" for x, y in pts)
        cv.add(cv.el("polyline", {"points": line, "fill": "none", "stroke":
                                  MARKS[cause]["color"], "stroke-width": "4", **dash}, vis),
               cv.el("text", {"x": num(lx), "y": num(ly + 18 * row), "class": "lbl",
                              "data-cause": cause}, vis, escape(ARROW_LABELS[cause])))
    for job in sorted(keys):
        cv.add(token(cv, lay, job, keys[job], change))
    caps = moments(lay)
    for i, (t, text) in enumerate(caps):
        end = caps[i + 1][0] if i + 1 < len(caps) else None
        lines = "".join(f'<tspan x="{num(ox + 10)}" dy="{18 * (k > 0)}">{escape(s)}</tspan>'
                        for k, s in enumerate(textwrap.wrap(text, CAPTION_CHARS)))
        cv.add(cv.el("text", {"y": num(cap_y), "class": "cap", "data-t": num(t, 3)},
                     {"visibility": window(t, end)}, lines))
    cv.add("</g>")


def worker_box(cv: Canvas, lay: Lay, w: str, rect: tuple[float, ...], change: list[float]
               ) -> str:
    """A worker's box (outlined by its status), name, status line and TTR bar."""
    def state(t: float) -> str:
        held = sorted(j for j, s in places_at(lay, t).items() if s["to"] == f"worker:{w}")
        st = status(lay, w, t)
        return st or (f"working on job {', '.join(map(str, held))}" if held else "idle")
    x, y, width, height = rect
    look = timeline(change, state)
    kind = [(t, v if v in STATUS else "working") for t, v in look]
    box = {"x": num(x), "y": num(y), "width": num(width), "height": num(height), "rx": "8"}
    out = [f'<g data-worker="{escape(w)}">',
           cv.el("rect", {**box, "class": "box", "data-place": f"worker:{escape(w)}"})]
    for st in dict.fromkeys(v for _, v in kind if v in BOXES):
        fill, stroke, sw, dash = BOXES[st]
        style = {"fill": fill, "stroke": stroke, "stroke-width": sw, "data-status": st,
                 **({"stroke-dasharray": dash} if dash else {})}
        out.append(cv.el("rect", {**box, **style},
                         {"visibility": shown(kind, [st])}))
    out.append(f'<text x="{num(x + 46)}" y="{num(y + 21)}" class="b">{escape(w)}</text>')
    for text in dict.fromkeys(STATUS.get(v, v) for _, v in look):
        vis = shown(look, [v for _, v in look if STATUS.get(v, v) == text])
        out.append(cv.el("text", {"x": num(x + 46), "y": num(y + 39), "class": "st"},
                         {"visibility": vis}, escape(text)))
    full, bar, poster = 150.0, [(0.0, 0.0)], 0.0
    for h in (h for h in lay["holds"] if h["worker"] == w and h["deadline"] is not None):
        end = h["end"] if h["end"] is not None else cv.dur
        left = [full * max(0.0, (h["deadline"] - t) / (h["deadline"] - h["start"]))
                for t in (end, cv.poster)]
        bar += [(h["start"], 0.0), (h["start"], full), (end, left[0]), (end, 0.0)]
        poster = left[1] if h["start"] <= cv.poster < end else poster
    bar.append((cv.dur, 0.0))
    colour = merge([(t, MARKS["hang"]["color"] if v == "hung" else STATE_COLOURS["reserved"])
                    for t, v in kind])
    widths = (f'<animate attributeName="width" values="{";".join(num(v) for _, v in bar)}" '
              f'{cv.timing(t for t, _ in bar)}/>')
    out += [f'<rect x="{num(x + 46)}" y="{num(y + 45)}" width="{num(full)}" height="5" '
            f'fill="#e6e6e6"/>',
            cv.el("rect", {"x": num(x + 46), "y": num(y + 45), "height": "5", "class": "ttr",
                           "width": num(poster)},
                  {"fill": colour}, widths)]
    return "".join(out) + "</g>"


def token(cv: Canvas, lay: Lay, job: int, keys: list[tuple[float, Point]], change: list[float]
          ) -> str:
    """A job's token: hidden until put, coloured by where it is, hatched while its holder
    is hung, moving along `keys`."""
    def look(t: float) -> str:
        s = places_at(lay, t).get(job)
        kind, _, name = s["to"].partition(":") if s else ("hidden", "", "")
        if kind == "worker":
            return "hung" if status(lay, name, t) == "hung" else "reserved"
        return kind if kind in LOOKS or kind == "hidden" else "new"
    tl = timeline([*change, keys[0][0]], look)
    paint = [(t, LOOKS.get(v, LOOKS["new"])) for t, v in tl]
    fill = merge([(t, v[0]) for t, v in paint])
    circle = cv.el("circle", {"r": str(R), "stroke-width": "1.5"},
                   {"fill": fill, "stroke": merge([(t, v[1]) for t, v in paint])})
    hatch = cv.el("circle", {"r": str(R - 1), "fill": "url(#hatch)", "class": "hatch"},
                  {"visibility": shown(tl, ["hung"])})
    label = cv.el("text", {"y": "5"}, {"fill": merge([(t, v[2]) for t, v in paint]),
                                       "stroke": fill}, str(job))
    x, y = at(keys, cv.poster)
    return cv.el("g", {"class": "tok", "data-job": str(job),
                       "transform": f"translate({num(x)},{num(y)})"},
                 {"visibility": shown(tl, [v for _, v in tl if v != "hidden"])},
                 cv.translate(keys) + circle + hatch + label)


def legend(cv: Canvas) -> None:
    """What the token colours and the bar mean, on the clock's row."""
    x = 250.0
    for look, text in (("ready", "ready"), ("reserved", "reserved"),
                       ("hung", "reserved, worker hung"), ("deleted", "deleted")):
        hatch = f'<circle cx="{num(x)}" cy="20" r="7" fill="url(#hatch)"/>' * (look == "hung")
        cv.add(f'<circle cx="{num(x)}" cy="20" r="8" fill="{LOOKS[look][0]}" stroke="'
               f'{LOOKS[look][1]}" stroke-width="1.5"/>{hatch}<text x="{num(x + 13)}" y="25" '
               f'class="s">{text}</text>')
        x += 26 + 7.2 * len(text)
    cv.add(f'<rect x="{num(x - 8)}" y="17" width="24" height="5" fill="'
           f'{STATE_COLOURS["reserved"]}"/><text x="{num(x + 22)}" y="25" class="s">TTR left'
           f'</text>')


def clock(cv: Canvas, end: float) -> None:
    """"t = 3.5 s": a column of one text per tick behind a window, stepped up at each tick."""
    ticks = [k * TICK for k in range(math.ceil(round(end / TICK, 6)) + 1)]
    shift = [(t, (0.0, -30.0 * k)) for k, t in enumerate(ticks)]
    cv.add('<clipPath id="clock"><rect x="0" y="4" width="200" height="28"/></clipPath>'
           f'<g clip-path="url(#clock)"><g id="clock-ticks" transform="translate(0,'
           f'{num(at(shift, cv.poster)[1])})">{cv.translate(shift, discrete=True)}',
           "".join(f'<text x="14" y="{26 + 30 * k}" class="clk">t = {t:.1f} s</text>'
                   for k, t in enumerate(ticks)), "</g></g>")


def render(crash: Lay, hang: Lay) -> str:
    """The SVG for the layouts of a crashed-consumer and a hung-consumer run."""
    end = max([0.0] + [e["t"] for lay in (crash, hang) for e in lay["steps"] + lay["marks"]])
    held = [b for h in hang["holds"] for _, b in h["hung"]]
    cv = Canvas(round(end + PAUSE, 1), max(0.0, min(held) - MOVE) if held else end)
    rows = max(len(textwrap.wrap(text, CAPTION_CHARS)) for lay in (crash, hang)
               for _, text in moments(lay))
    cap_y = max(Panel(lay, 0).bottom for lay in (crash, hang)) + 30
    height = num(cap_y + 18 * (rows - 1) + 12)
    cv.add(f'<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{height}" '
           f'viewBox="0 0 {W} {height}" fill="#222" role="img" aria-labelledby="title">',
           '<title id="title">A crashed versus a hung beanstalkd consumer</title><desc>Two '
           'simulated runs on one clock: when a worker crashes its connection closes and its '
           'job is ready again at once; when it hangs with its connection open, the job stays '
           'reserved until its TTR runs out.</desc>',
           f"<style>text{{font-family:{FONT};font-size:14px}}"
           ".b{font-weight:700}.t{font-size:15px}.c,.lbl,.tok text{text-anchor:middle}"
           ".s{font-size:13px;fill:#444}.st{font-size:13px}"
           ".clk{font-size:20px;font-weight:700;font-variant-numeric:tabular-nums}"
           ".box{fill:#fafafa;stroke:#777;stroke-width:1.2}.lane{fill:#f3f7fb;stroke:#bbb}"
           ".bin{fill:#f0f0f0;stroke:#222;stroke-width:1.2;stroke-dasharray:5 3}"
           ".tok text{font-weight:700;stroke-width:3px;paint-order:stroke}.lbl{font-weight:700;"
           "stroke:#fff;stroke-width:4px;paint-order:stroke;stroke-linejoin:round}</style>",
           f'<defs><pattern id="hatch" patternUnits="userSpaceOnUse" width="6" height="6" '
           f'patternTransform="rotate(45)"><rect width="6" height="6" '
           f'fill="{HUNG["facecolor"]}"/><line x1="0" y1="0" x2="0" y2="6" '
           f'stroke="{HUNG["color"]}" stroke-width="2.5"/></pattern></defs>',
           f'<rect width="{W}" height="{height}" fill="#fff"/>')
    clock(cv, end)
    legend(cv)
    cv.add(f'<path d="M0 36H{W}M{PW} 42V{num(float(height) - 6)}" stroke='
           f'"{OKABE_ITO["black"]}" stroke-opacity="0.2"/>')
    for i, lay in enumerate((crash, hang)):
        draw_panel(cv, lay, i * PW, SUBTITLES[i], cap_y)
    cv.add("</svg>")
    return "\n".join(cv.out) + "\n"


def build() -> str:
    """The SVG from fresh runs of the two scenarios (seed 0)."""
    crash, hang = (fork_of(run_scenario(name, seed=0)).layout() for name in RUNS)
    return render(crash, hang)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if the file differs from what this would write")
    svg, name = build(), OUT.relative_to(ROOT)
    if parser.parse_args(argv).check:
        ok = OUT.exists() and OUT.read_text(encoding="utf-8") == svg
        print(f"{name} is up to date" if ok else
              f"{name} is out of date: run python scripts/readme_animation.py")
        return 0 if ok else 1
    OUT.write_text(svg, encoding="utf-8")
    print(f"wrote {name} ({len(svg.encode())} bytes)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
