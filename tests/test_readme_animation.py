"""The README's animation (docs/crash-vs-hang.svg): it is what scripts/readme_animation.py makes
from the current traces, safe for GitHub's <img>, and it tells the crash-versus-hang story that
the two runs tell: the SVG is read back and its SMIL animations evaluated at times taken from
the traces."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from stalksim.forks import fork_of
from stalksim.scenarios import run_scenario

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "scripts"))
import readme_animation  # noqa: E402

SVG = ROOT / "docs" / "crash-vs-hang.svg"
S = "{http://www.w3.org/2000/svg}"
EPS = 0.05  # s after a change, or before it


Layouts = tuple[dict[str, Any], dict[str, Any]]
Drawn = tuple[ET.Element, Layouts]
OTHER = {"at": 2.5, "ttr": 4}  # other parameters: the picture must follow the runs


def runs(**params: Any) -> Layouts:
    crash, hang = (fork_of(run_scenario(name, seed=0, **params)).layout()
                   for name in readme_animation.RUNS)
    return crash, hang


@pytest.fixture(scope="module")
def layouts() -> Layouts:
    return runs()


@pytest.fixture(scope="module")
def root() -> ET.Element:
    return ET.fromstring(SVG.read_text(encoding="utf-8"))


@pytest.fixture(scope="module", params=["committed", "other-parameters"])
def drawn(request: pytest.FixtureRequest, root: ET.Element, layouts: Layouts) -> Drawn:
    """The committed SVG with its runs, and a fresh one of runs with other parameters."""
    if request.param == "committed":
        return root, layouts
    other = runs(**OTHER)
    return ET.fromstring(readme_animation.render(*other)), other


def test_the_committed_svg_is_what_the_script_makes_from_the_current_traces(
        layouts: Layouts) -> None:
    fresh = readme_animation.render(*layouts)
    assert SVG.read_text(encoding="utf-8") == fresh, (
        "docs/crash-vs-hang.svg is out of date: run python scripts/readme_animation.py")
    assert readme_animation.build() == fresh  # the same runs, so the same bytes every time


def test_check_says_when_the_file_is_stale(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "readme_animation.py"),
                           "--check"], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    stale = tmp_path / "docs" / "crash-vs-hang.svg"
    stale.parent.mkdir()
    stale.write_text(SVG.read_text(encoding="utf-8").replace("t = 3.5 s", "t = 3.6 s"))
    monkeypatch.setattr(readme_animation, "ROOT", tmp_path)
    monkeypatch.setattr(readme_animation, "OUT", stale)
    assert readme_animation.main(["--check"]) == 1
    assert "out of date" in capsys.readouterr().out


def test_it_is_safe_for_an_img_tag_small_and_legible(root: ET.Element) -> None:
    text = SVG.read_text(encoding="utf-8")
    assert len(text.encode()) < 60_000
    assert root.tag == f"{S}svg" and root.get("width") == "880"
    assert root.get("viewBox") == f"0 0 880 {root.get('height')}"
    for el in root.iter():
        assert el.tag.removeprefix(S) not in ("script", "foreignObject", "image", "a", "use")
        for name, value in el.attrib.items():
            assert not name.lower().startswith("on"), (el.tag, name)
            assert "href" not in name, (el.tag, name)  # no links, no external anything
            assert "javascript:" not in value.lower()
    assert re.findall(r"url\(([^)]*)\)", text) and all(
        u.startswith("#") for u in re.findall(r"url\(([^)]*)\)", text))
    assert "@import" not in text and "@font-face" not in text and "http" not in text.replace(
        'xmlns="http://www.w3.org/2000/svg"', "")
    sizes = [float(s) for s in re.findall(r"font-size:([\d.]+)px", text)]
    assert sizes and min(sizes) >= 13  # at 880 px wide, GitHub's README width


# ---- reading the animation back ------------------------------------------------------------


def dur(root: ET.Element) -> float:
    durs = {a.get("dur") for a in root.iter() if a.tag in (f"{S}animate", f"{S}animateTransform")}
    assert len(durs) == 1, durs  # one clock: every animation loops together
    return float((durs.pop() or "").removesuffix("s"))


def value_at(el: ET.Element, attr: str, t: float, d: float) -> str:
    """`attr` of `el` at `t` s: its animation's value there, or the attribute."""
    for a in el:
        if a.tag in (f"{S}animate", f"{S}animateTransform") and a.get("attributeName") == attr:
            assert a.get("repeatCount") == "indefinite"
            keys = [float(k) for k in a.get("keyTimes", "").split(";")]
            vals = a.get("values", "").split(";")
            assert len(keys) == len(vals) and keys[0] == 0 and keys == sorted(keys)
            assert a.get("calcMode") == "discrete" or keys[-1] == 1
            f = t / d
            i = max(k for k, key in enumerate(keys) if key <= f)
            if a.get("calcMode") == "discrete" or i == len(keys) - 1 or keys[i + 1] == keys[i]:
                return vals[i]
            g = (f - keys[i]) / (keys[i + 1] - keys[i])
            a0, b0 = (float(v) for v in vals[i].split(","))
            a1, b1 = (float(v) for v in vals[i + 1].split(","))
            return f"{a0 + (a1 - a0) * g},{b0 + (b1 - b0) * g}"
    return el.get(attr, "")


def panel(root: ET.Element, scenario: str) -> ET.Element:
    (g,) = [g for g in root.iter(f"{S}g") if g.get("id") == scenario]
    return g


def token(p: ET.Element, job: int) -> ET.Element:
    (g,) = [g for g in p.iter(f"{S}g") if g.get("class") == "tok" and g.get("data-job") == str(job)]
    return g


def where(p: ET.Element, job: int, t: float, d: float) -> str:
    """The place whose box holds job's token at `t` ("" if none, or the token is hidden)."""
    g = token(p, job)
    if value_at(g, "visibility", t, d) == "hidden":
        return ""
    x, y = (float(v) for v in value_at(g, "transform", t, d).split(","))
    for r in p.iter(f"{S}rect"):
        if r.get("data-place"):
            x0, y0 = float(r.get("x", 0)), float(r.get("y", 0))
            if x0 <= x <= x0 + float(r.get("width", 0)) and y0 <= y <= y0 + float(
                    r.get("height", 0)):
                return r.get("data-place", "")
    return ""


def hatched(p: ET.Element, job: int, t: float, d: float) -> bool:
    (c,) = [c for c in token(p, job) if c.get("class") == "hatch"]
    return value_at(c, "visibility", t, d) == "visible"


def visible_texts(p: ET.Element, t: float, d: float, cls: str) -> list[str]:
    return ["".join(e.itertext()) for e in p.iter(f"{S}text")
            if e.get("class") == cls and value_at(e, "visibility", t, d) != "hidden"]


def status(p: ET.Element, worker: str, t: float, d: float) -> list[str]:
    (g,) = [g for g in p.iter(f"{S}g") if g.get("data-worker") == worker]
    return visible_texts(g, t, d, "st")


# ---- the story, with its times and names from the traces -------------------------------------


def story(crash: dict[str, Any], hang: dict[str, Any]) -> dict[str, Any]:
    """The crash's worker, job and time; when the hung worker's job ran out and who took it."""
    (c,) = crash["crashes"]
    (closed,) = [s for s in crash["steps"] if s["cause"] == "connection-closed"]
    (expired,) = [s for s in hang["steps"] if s["cause"] == "ttr-expired"]
    (again,) = [s for s in hang["steps"] if s["job"] == expired["job"] and s["t"] ==
                expired["t"] and s["to"].startswith("worker:")]
    (h,) = hang["hangs"]
    assert closed["from"] == f"worker:{c['worker']}" and closed["t"] == c["t"]
    assert expired["from"] == f"worker:{h['worker']}" and h["start"] < expired["t"]
    return {"worker": c["worker"], "job": closed["job"], "crash": c["t"], "ready": closed["to"],
            "hung": h["worker"], "hang": h["start"], "hjob": expired["job"],
            "expired": expired["t"], "taker": again["to"]}


def test_crash_hands_the_job_back_at_once_hang_holds_it_until_its_ttr_runs_out(
        drawn: Drawn) -> None:
    root, (crash, hang) = drawn
    st, d = story(crash, hang), dur(root)
    move = readme_animation.MOVE
    cp, hp = panel(root, crash["scenario"]), panel(root, hang["scenario"])
    worker, job = f"worker:{st['worker']}", st["job"]
    # the crash: at worker-1 until its connection closes, then in the ready lane at once
    assert where(cp, job, st["crash"] - EPS, d) == worker
    assert where(cp, job, st["crash"] + move + EPS, d) == st["ready"]
    assert status(cp, st["worker"], st["crash"] - EPS, d) == [f"working on job {job}"]
    assert status(cp, st["worker"], st["crash"] + EPS, d) == ["crashed"]
    assert not any(hatched(cp, job, t / 10, d) for t in range(int(d * 10)))
    # the hang: the same job stays with the hung worker, hatched, until its TTR runs out
    hung, hjob = f"worker:{st['hung']}", st["hjob"]
    for t in (st["hang"] - EPS, st["crash"] + move + EPS, st["expired"] - EPS):
        assert where(hp, hjob, t, d) == hung, t
        assert hatched(hp, hjob, t, d) == (t >= st["hang"]), t
    assert status(hp, st["hung"], st["hang"] + EPS, d) == ["hung, connection open"]
    assert where(hp, hjob, st["expired"] + move + EPS, d) == st["taker"]
    assert not hatched(hp, hjob, st["expired"] + EPS, d)


def test_the_moves_are_labelled_when_they_happen(
        drawn: Drawn) -> None:
    root, (crash, hang) = drawn
    st, d = story(crash, hang), dur(root)
    for scenario, t, label in ((crash["scenario"], st["crash"], "connection closed"),
                               (hang["scenario"], st["expired"], "TTR expired")):
        p = panel(root, scenario)
        assert label not in visible_texts(p, t - EPS, d, "lbl")
        assert visible_texts(p, t + EPS, d, "lbl") == [label]
    other = panel(root, hang["scenario"])
    assert visible_texts(other, st["crash"] + EPS, d, "lbl") == []  # a hang closes nothing


def test_one_clock_covers_both_runs_and_reads_the_trace_times(
        drawn: Drawn) -> None:
    root, (crash, hang) = drawn
    st, d = story(crash, hang), dur(root)
    ends = [max([s["t"] for s in lay["steps"]] + [m["t"] for m in lay["marks"]])
            for lay in (crash, hang)]
    assert d >= max(ends) + 1  # both runs play out, then a pause before the loop
    (ticks,) = [g for g in root.iter(f"{S}g") if g.get("id") == "clock-ticks"]
    texts = ["".join(e.itertext()) for e in ticks.iter(f"{S}text")]
    for t in (st["crash"], st["expired"], max(ends)):
        dy = float(value_at(ticks, "transform", t + 1e-3, d).split(",")[1])
        assert texts[round(-dy / 30)] == f"t = {t:.1f} s"
    # every job's last move is over before the loop starts again
    for lay in (crash, hang):
        p = panel(root, lay["scenario"])
        for s in lay["steps"]:
            assert where(p, s["job"], d - EPS, d) == where(p, s["job"], max(ends) + 1, d)


def test_each_panel_has_a_caption_for_the_fault(
        drawn: Drawn) -> None:
    root, (crash, hang) = drawn
    st, d = story(crash, hang), dur(root)
    (c,) = visible_texts(panel(root, crash["scenario"]), st["crash"] + EPS, d, "cap")
    assert f"{st['worker']} crashes holding job {st['job']}" in c and "at once" in c
    (h,) = visible_texts(panel(root, hang["scenario"]), st["hang"] + EPS, d, "cap")
    assert f"{st['hung']} hangs holding job {st['hjob']}" in h and "connection open" in h
    (e,) = visible_texts(panel(root, hang["scenario"]), st["expired"] + EPS, d, "cap")
    assert "TTR ran out" in e


def test_places_do_not_overlap_and_stay_in_their_panel(drawn: Drawn) -> None:
    root = drawn[0]
    height = float(root.get("height", 0))
    caption_y = min(float(e.get("y", 0)) for e in root.iter(f"{S}text") if e.get("class") == "cap")
    for i, scenario in enumerate(readme_animation.RUNS):
        p = panel(root, scenario)
        subtitle_y = max(float(e.get("y", 0)) for e in p.findall(f"{S}text") if not e.get("class"))
        rects = [r for r in p.iter(f"{S}rect") if r.get("data-place")]
        boxes = [tuple(float(r.get(k, 0)) for k in ("x", "y", "width", "height")) for r in rects]
        left, right = i * readme_animation.PW, (i + 1) * readme_animation.PW
        for k, (r, (x, y, w, h)) in enumerate(zip(rects, boxes, strict=True)):
            titled = r.get("data-place", "").split(":")[0] not in ("worker", "deleted")
            assert y - (22 if titled else 0) > subtitle_y + 4, r.attrib  # below the title
            assert left < x and x + w < right and y + h < caption_y - 14 < height
            for x1, y1, w1, h1 in boxes[k + 1:]:
                assert x + w <= x1 or x1 + w1 <= x or y + h <= y1 or y1 + h1 <= y
        for e in p.iter(f"{S}text"):
            if e.get("class") == "lbl":  # under the lanes, above the captions
                y = float(e.get("y", 0))
                assert max(y0 + h for x, y0, w, h in boxes if x < left + 210) + 14 < y
                assert y < caption_y - 14
