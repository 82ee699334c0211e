// FlowView's drawing: one layout (stalksim.flow.layout) as an SVG of producers, tubes and
// workers, with a token per job. flowview.js (the controls) is appended to this file.
const NS = "http://www.w3.org/2000/svg";
const SPEEDS = [0.25, 0.5, 1, 2, 4, 8, 16];
const TRANSIT_WALL = 0.6; // wall seconds a move takes while playing (at most MAX_TRANSIT virtual)
const MAX_TRANSIT = 0.8;
const SETTLE_MS = 450; // after a step or a scrub, moves finish in this much wall time
const TRAIL = 2.0; // virtual seconds a TTR-expired / connection-closed path stays drawn
// Two geometries: the full view (a notebook's width), and the compact one that puts two runs
// side by side (the tour, lesson 3): narrower columns, lanes only for states the run uses,
// lane names above their lanes, shorter worker boxes. Both keep text >= 14 px at 1024 px.
const FULL = { W: 900, TOP: 44, R: 15, GAP: 36, WH: 86, prodH: 50, prodStep: 62,
  COL: { prod: [12, 120], tube: [146, 404], work: [574, 314] },
  lane: { x: 84, right: 10, h: 42, step: 48, top: 32 }, workText: 50, tokenX: 25,
  binH: 56, compact: false };
const COMPACT = { W: 400, TOP: 40, R: 13, GAP: 30, WH: 70, prodH: 40, prodStep: 48,
  COL: { prod: [4, 62], tube: [74, 152], work: [238, 158] },
  lane: { x: 8, right: 8, h: 36, step: 60, top: 48 }, workText: 38, tokenX: 19,
  binH: 42, compact: true };
const LABEL_H = 18, LABEL_PAD = 3; // a move label's line height and the room around it
const LABELS = { "ttr-expired": "TTR expired", "connection-closed": "connection closed",
  release: "release", bury: "bury", kick: "kick", "kick-job": "kick" };
let panelCount = 0;

function el(tag, attrs = {}, parent = null, text = null) {
  const e = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== null) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
function html(tag, attrs = {}, parent = null, text = null) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
  if (text !== null) e.textContent = text;
  if (parent) parent.appendChild(e);
  return e;
}
const fmt = (t) => `${(Math.round(t * 100) / 100).toFixed(2)} s`;
const short = (t) => `${+t.toFixed(3)} s`;

// One layout drawn in one SVG; `at(T, progress)` moves every token to where it is at T.
class Panel {
  constructor(lay, parent, kind, onWorker, geo = FULL) {
    this.lay = lay; this.kind = kind; this.id = ++panelCount; this.geo = geo;
    this.steps = lay.steps; this.k = 0; this.jobs = new Map(); this.dirty = true;
    this.svg = el("svg", { class: `fv-svg${geo.compact ? " fv-compact" : ""}`,
      "data-panel": kind, role: "group",
      "aria-label": `${kind === "fork" ? "forked run" : "run"}: ${lay.title}` }, parent);
    const hatch = el("pattern", { id: `fvhatch${this.id}`, patternUnits: "userSpaceOnUse",
      width: 7, height: 7, patternTransform: "rotate(45)" }, el("defs", {}, this.svg));
    el("rect", { width: 7, height: 7, class: "fv-hatch-bg" }, hatch);
    el("line", { x1: 0, y1: 0, x2: 0, y2: 7, class: "fv-hatch-line" }, hatch);
    el("text", { x: 16, y: 26, class: "fv-title" }, this.svg, lay.title);
    this.places = new Map(); this.workers = new Map();
    this.drawColumns(onWorker);
    this.obstacles = null; // the static texts' boxes, which move labels keep clear of
    this.moves = el("g", { class: "fv-moves" }, this.svg);
    this.tokens = el("g", { class: "fv-tokens" }, this.svg);
    this.labels = el("g", { class: "fv-labels" }, this.svg);
    this.widths = new Map();
  }
  drawColumns(onWorker) {
    const lay = this.lay, svg = this.svg, g0 = this.geo, { COL, TOP, WH, R, GAP } = g0;
    let y = TOP;
    for (const p of lay.producers) {
      el("rect", { x: COL.prod[0], y, width: COL.prod[1], height: g0.prodH, rx: 6,
        class: "fv-box" }, svg);
      el("text", { x: COL.prod[0] + 10, y: y + g0.prodH / 2 + 6, class: "fv-name" }, svg, p);
      this.places.set(`producer:${p}`, { x: COL.prod[0] + COL.prod[1] - 20, y: y + g0.prodH / 2 });
      y += g0.prodStep;
    }
    let yt = TOP;
    const [tx, tw] = COL.tube, L = g0.lane;
    const states = g0.compact ? usedStates(lay) : ["ready", "delayed", "buried"];
    for (const t of lay.tubes) {
      const th = L.top + states.length * L.step - (L.step - L.h) + 8;
      el("rect", { x: tx, y: yt, width: tw, height: th, rx: 8, class: "fv-tube" }, svg);
      el("text", { x: tx + 10, y: yt + 22, class: "fv-name" }, svg, `tube ${t}`);
      states.forEach((s, i) => {
        const ly = yt + L.top + i * L.step, lw = tw - L.x - L.right;
        el("rect", { x: tx + L.x, y: ly, width: lw, height: L.h, rx: L.h / 2,
          class: `fv-lane fv-lane-${s}`, "data-place": `${s}:${t}` }, svg);
        if (g0.compact) el("text", { x: tx + L.x + 4, y: ly - 5, class: "fv-label" }, svg, s);
        else el("text", { x: tx + 10, y: ly + 27, class: "fv-label" }, svg, s);
        const more = el("text", { x: tx + L.x + 12, y: ly + L.h / 2 + 6, class: "fv-more" }, svg, "");
        this.places.set(`${s}:${t}`, { x: tx + tw - L.right - R - 6, y: ly + L.h / 2, lane: true,
          cap: Math.floor((lw - 12) / GAP), more });
      });
      yt += th + 16;
    }
    this.slot = { x: tx + tw / 2, y: yt + 10 }; // compact: where move labels are listed
    let yw = TOP;
    const [wx, ww] = COL.work, tx0 = wx + g0.workText, line = g0.compact ? 18 : 22;
    for (const w of lay.workers) {
      // its name is what it shows (its name, status, TTR); what a press does is its description
      const hint = `fvhint${this.id}-${w}`;
      const g = el("g", { class: "fv-worker", "data-worker": w, tabindex: 0, role: "button",
        "aria-describedby": hint }, svg);
      el("desc", { id: hint }, g, "Pause, then press to crash, hang or slow this worker.");
      el("rect", { x: wx, y: yw, width: ww, height: WH, rx: 8, class: "fv-box",
        "data-place": `worker:${w}` }, g);
      el("text", { x: tx0, y: yw + line, class: "fv-name" }, g, w);
      const status = el("text", { x: tx0, y: yw + 2 * line, class: "fv-status" }, g, "idle");
      const ttr = el("text", { x: tx0, y: yw + 3 * line, class: "fv-countdown" }, g, "");
      const by = yw + WH - 12;
      el("rect", { x: tx0, y: by, width: ww - g0.workText - 14, height: 6, class: "fv-bar-bg" }, g);
      const bar = el("rect", { x: tx0, y: by, width: 0, height: 6, class: "fv-bar" }, g);
      g.addEventListener("click", () => onWorker(w, g, this));
      g.addEventListener("keydown", (e) => { if (e.key === "Enter") onWorker(w, g, this); });
      this.workers.set(w, { g, status, ttr, bar, full: ww - g0.workText - 14 });
      this.places.set(`worker:${w}`, { x: wx + g0.tokenX, y: yw + WH / 2, worker: true });
      yw += WH + 10;
    }
    el("rect", { x: wx, y: yw, width: ww, height: g0.binH, rx: 8, class: "fv-bin",
      "data-place": "deleted" }, svg);
    this.binText = el("text", { x: tx0, y: yw + g0.binH / 2 + 6, class: "fv-name" }, svg,
      "deleted: 0");
    this.places.set("deleted", { x: wx + g0.tokenX, y: yw + g0.binH / 2 });
    const h = Math.max(y, yt, yw + g0.binH) + 16;
    this.svg.setAttribute("viewBox", `0 0 ${g0.W} ${h}`);
    this.svg.style.maxWidth = `${g0.W}px`;
  }
  job(id) {
    let j = this.jobs.get(id);
    if (!j) {
      const g = el("g", { class: "fv-token", "data-job": id, display: "none" }, this.tokens);
      el("circle", { r: this.geo.R }, g); el("text", { y: 5 }, g, String(id));
      j = { id, g, place: null, pri: null, seq: 0, deadline: null, ttrFrom: 0, rest: null,
        transit: null, xy: null, cls: "" };
      this.jobs.set(id, j);
    }
    return j;
  }
  reset() {
    for (const j of this.jobs.values()) {
      Object.assign(j, { place: null, transit: null, rest: null, deadline: null });
    }
    this.k = 0; this.dirty = true; this.deleted = 0;
  }
  anchor(place) { const p = this.places.get(place); return p ? { x: p.x, y: p.y } : { x: 0, y: 0 }; }
  apply(T) {
    if (this.k > 0 && this.steps[this.k - 1].t > T) this.reset();
    while (this.k < this.steps.length && this.steps[this.k].t <= T) {
      const s = this.steps[this.k++], j = this.job(s.job);
      if (j.transit && Math.abs(j.transit.t0 - s.t) < 1e-6) {
        j.transit.pts.push(this.anchor(s.from)); j.transit.causes.push(s.cause);
      } else {
        // from where the token rests, unless that rest is stale (steps applied in one go)
        const from = j.rest && j.rest.place === s.from ? j.rest : this.anchor(s.from);
        j.transit = { t0: s.t, from, pts: [], causes: [s.cause] };
      }
      j.place = s.to; j.pri = s.pri; j.seq = this.k;
      if ("deadline" in s) { j.deadline = s.deadline; j.ttrFrom = s.t; }
      this.dirty = true;
    }
  }
  layoutRest() {
    const groups = new Map();
    for (const j of this.jobs.values()) {
      if (!j.place) continue;
      if (!groups.has(j.place)) groups.set(j.place, []);
      groups.get(j.place).push(j);
    }
    for (const p of this.places.values()) if (p.lane) p.more.textContent = "";
    let deleted = 0, last = null;
    for (const [place, list] of groups) {
      const p = this.places.get(place) || { x: 0, y: 0 };
      if (place.startsWith("ready:")) {
        list.sort((a, b) => (a.pri ?? 2 ** 32) - (b.pri ?? 2 ** 32) || a.id - b.id);
      } else list.sort((a, b) => (place.startsWith("buried:") ? a.seq - b.seq : a.id - b.id));
      if (place === "deleted") {
        deleted = list.length; last = list.reduce((m, j) => (j.seq > (m ? m.seq : -1) ? j : m), null);
      }
      list.forEach((j, i) => {
        const hidden = (p.lane && i >= p.cap) || (place === "deleted" && j !== last);
        const gap = this.geo.GAP;
        j.rest = { x: p.x + (p.lane ? -i * gap : p.worker ? i * gap : 0), y: p.y, hidden, place };
      });
      if (p.lane) p.more.textContent = list.length > p.cap ? `+${list.length - p.cap} more` : "";
    }
    this.binText.textContent = `deleted: ${deleted}`;
    this.dirty = false;
  }
  status(w, T) {
    const crash = this.lay.crashes.find((c) => c.worker === w && c.t <= T);
    if (crash) return "crashed";
    return this.lay.hangs.some((h) => h.worker === w && h.start <= T && T < h.end) ? "hung" : "";
  }
  // Draw the state at T; `progress(j)` says how far along its move each token is (0..1).
  at(T, progress) {
    this.apply(T);
    if (this.dirty) this.layoutRest();
    let busy = false;
    const movesHtml = [];
    for (const j of this.jobs.values()) {
      if (!j.place || !j.rest) { j.g.setAttribute("display", "none"); continue; }
      let xy = j.rest, f = 1;
      if (j.transit) {
        f = progress(j.transit.t0);
        const pts = [j.transit.from, ...j.transit.pts, j.rest];
        if (f < 1) { xy = along(pts, f); busy = true; }
        const trail = j.transit.causes.some((c) => c in LABELS) && T - j.transit.t0 < TRAIL;
        if (f < 1 || trail) movesHtml.push([pts, j.transit.causes, trail && f >= 1, j.id]);
        if (f >= 1 && !trail) j.transit = null;
      }
      const hiddenNow = j.rest.hidden && f >= 1;
      const kind = j.place.split(":")[0];
      const hung = kind === "worker" && this.status(j.place.slice(7), T) === "hung";
      const cls = `fv-token fv-at-${hung ? "hung" : kind}`;
      if (cls !== j.cls) { j.g.setAttribute("class", cls); j.cls = cls; }
      if (hung) j.g.querySelector("circle").setAttribute("fill", `url(#fvhatch${this.id})`);
      else j.g.querySelector("circle").removeAttribute("fill");
      j.g.setAttribute("data-place", j.place);
      const disp = hiddenNow ? "none" : "inline";
      if (j.g.getAttribute("display") !== disp) j.g.setAttribute("display", disp);
      if (!j.xy || j.xy.x !== xy.x || j.xy.y !== xy.y) {
        j.g.setAttribute("transform", `translate(${xy.x.toFixed(1)},${xy.y.toFixed(1)})`);
        j.xy = xy;
      }
    }
    this.drawMoves(movesHtml);
    this.drawWorkers(T);
    return busy;
  }
  // One polyline per move; the named ones (TTR expired, connection closed, release, bury,
  // kick) get a label above the leg that cause moved (a token can make several moves in one
  // instant: connection closed, then reserved again), placed by placeLabels so that no two
  // overlap, and naming its job (data-job).
  drawMoves(moves) {
    const lines = this.moves.childNodes, named = [];
    while (lines.length > moves.length) this.moves.lastChild.remove();
    moves.forEach(([pts, causes, faded, job], i) => {
      const line = lines[i] || el("polyline", {}, this.moves);
      const cause = causes.find((c) => c in LABELS) || causes[causes.length - 1];
      line.setAttribute("points", pts.map((p) => `${p.x},${p.y}`).join(" "));
      line.setAttribute("class", `fv-move fv-cause-${cause}${faded ? " fv-faded" : ""}`);
      if (!(cause in LABELS)) return;
      const k = causes.indexOf(cause), a = pts[k], b = pts[k + 1];
      named.push({ text: LABELS[cause], cause, x: (a.x + b.x) / 2, jobs: [job],
        y: Math.min(a.y, b.y) - 14, below: Math.max(a.y, b.y) + 14 + LABEL_H });
    });
    const nodes = this.labels.childNodes;
    if (named.length && this.obstacles === null) this.obstacles = this.textBoxes();
    const placed = this.geo.compact ? slotLabels(named, this.slot)
      : placeLabels(named, (t) => this.width(t), this.geo.W, this.obstacles || []);
    while (nodes.length > placed.length) this.labels.lastChild.remove();
    placed.forEach((o, i) => {
      const t = nodes[i] || el("text", {}, this.labels);
      for (const [k, v] of [["x", o.x], ["y", o.y], ["data-x0", o.x0], ["data-y0", o.y0],
        ["data-job", o.jobs.join(" ")], ["class", `fv-move-label fv-cause-${o.cause}`]]) {
        t.setAttribute(k, v);
      }
      if (t.textContent !== o.label) t.textContent = o.label;
    });
  }
  // Boxes (centre x, centre y, width) of the panel's names and lane labels, as placeLabels
  // takes them; none while the panel is not rendered.
  textBoxes() {
    const out = [];
    for (const t of this.svg.querySelectorAll(".fv-title, .fv-name, .fv-label")) {
      const b = t.getBBox();
      if (b.width > 0) out.push({ x: b.x + b.width / 2, y: b.y + b.height - 4, w: b.width });
    }
    return out;
  }
  width(text) {
    if (!this.widths.has(text)) {
      const t = el("text", { class: "fv-move-label", x: 0, y: -99 }, this.labels, text);
      const w = t.getComputedTextLength();
      t.remove();
      this.widths.set(text, w > 0 ? w : text.length * 9);
    }
    return this.widths.get(text);
  }
  drawWorkers(T) {
    for (const [w, v] of this.workers) {
      const st = this.status(w, T);
      const held = [...this.jobs.values()].filter((j) => j.place === `worker:${w}`);
      // compact: the held token is in the box already, so "working" says enough
      const text = st || (held.length ? (this.geo.compact ? "working"
        : `working on job ${held.map((j) => j.id).join(", ")}`) : "idle");
      let frac = 0, soon = false, count = "";
      const j = held.find((x) => x.deadline !== null && x.deadline !== undefined);
      if (j && st !== "crashed") {
        const left = Math.max(0, j.deadline - T), ttr = Math.max(1e-9, j.deadline - j.ttrFrom);
        soon = left <= 1;
        count = `TTR left ${left.toFixed(1)} s${soon && !this.geo.compact ? " · DEADLINE_SOON" : ""}`;
        frac = Math.min(1, left / ttr);
      }
      if (v.status.textContent !== text) v.status.textContent = text;
      if (v.ttr.textContent !== count) v.ttr.textContent = count;
      v.bar.setAttribute("width", (frac * v.full).toFixed(1));
      v.g.setAttribute("class", `fv-worker fv-${st || (held.length ? "working" : "idle")}${soon ? " fv-soon" : ""}`);
      v.g.setAttribute("data-status", st || (held.length ? "working" : "idle"));
    }
  }
}

// Labels of moves drawn at the same time: same-named ones that would touch become one
// ("kick ×3", over the middle of theirs); each is then raised a line at a time until it
// touches none placed before it and none of the panel's own texts (`obstacles`), or, out of
// room above, lowered below its move.
function placeLabels(items, width, W, obstacles = []) {
  const groups = [];
  for (const it of items) {
    const near = (g) => g.text === it.text && Math.abs(g.y0 - it.y) < LABEL_H &&
      g.xs.some((x) => Math.abs(x - it.x) < width(it.text) + LABEL_PAD);
    const g = groups.find(near);
    if (g) { g.xs.push(it.x); g.jobs = [...g.jobs, ...it.jobs]; }
    else groups.push({ ...it, x0: it.x, y0: it.y, xs: [it.x] });
  }
  const placed = [], fixed = [...obstacles];
  const hits = (o, y) => [...fixed, ...placed].some((p) => Math.abs(p.x - o.x) < (p.w + o.w) / 2
    + LABEL_PAD && Math.abs(p.y - y) < LABEL_H + LABEL_PAD);
  for (const g of groups.sort((a, b) => a.x0 - b.x0 || a.y0 - b.y0)) {
    g.label = g.xs.length > 1 ? `${g.text} ×${g.xs.length}` : g.text;
    g.w = width(g.label);
    const mid = g.xs.reduce((a, b) => a + b, 0) / g.xs.length;
    g.x = Math.max(g.w / 2 + 2, Math.min(W - g.w / 2 - 2, mid));
    let y = g.y0;
    while (hits(g, y) && y - 2 * LABEL_H - LABEL_PAD > 0) y -= LABEL_H + LABEL_PAD;
    if (hits(g, y)) for (y = g.below; hits(g, y);) y += LABEL_H + LABEL_PAD;
    g.y = y;
    placed.push(g);
  }
  return placed;
}

// The states a compact panel draws lanes for: ready always, delayed and buried when used.
function usedStates(lay) {
  const used = new Set(lay.steps.map((s) => s.to.split(":")[0]));
  return ["ready", "delayed", "buried"].filter((s) => s === "ready" || used.has(s));
}

// Compact panels have no room beside their moves: the labels are listed under the tube, one a
// line, same-named ones as one ("connection closed ×2"), in the colour of their cause.
function slotLabels(items, slot) {
  const groups = [];
  for (const it of items) {
    const g = groups.find((x) => x.text === it.text);
    if (g) { g.n += 1; g.jobs = [...g.jobs, ...it.jobs]; }
    else groups.push({ ...it, n: 1, x0: it.x, y0: it.y });
  }
  return groups.map((g, i) => ({ ...g, label: g.n > 1 ? `${g.text} ×${g.n}` : g.text,
    x: slot.x, y: slot.y + i * (LABEL_H + LABEL_PAD) }));
}

function along(pts, f) {
  const seg = [];
  let total = 0;
  for (let i = 1; i < pts.length; i++) {
    const d = Math.hypot(pts[i].x - pts[i - 1].x, pts[i].y - pts[i - 1].y);
    seg.push(d); total += d;
  }
  let want = f * total;
  for (let i = 0; i < seg.length; i++) {
    if (want <= seg[i] || i === seg.length - 1) {
      const g = seg[i] ? Math.min(1, want / seg[i]) : 1;
      return { x: pts[i].x + (pts[i + 1].x - pts[i].x) * g, y: pts[i].y + (pts[i + 1].y - pts[i].y) * g };
    }
    want -= seg[i];
  }
  return pts[pts.length - 1];
}
