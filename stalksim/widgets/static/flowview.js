// FlowView's controls (appended to flowpanel.js): time-true playback, steps, scrub, captions,
// chapters, and a click on a worker that asks Python for a fork with a fault.

const NO_REPLY_MS = 8000; // a fork takes well under a second in Python
const NO_KERNEL = "No answer from Python: a fork needs the notebook's kernel running "
  + "(a saved or exported page only plays the run).";

function palette(root, colours) {
  for (const [k, v] of Object.entries(colours || {})) root.style.setProperty(`--fv-${k}`, v);
}

function eventTimes(lay) {
  const ts = new Set([0, lay.end]);
  for (const s of lay.steps) ts.add(s.t);
  for (const m of lay.marks) ts.add(m.t);
  for (const m of lay.moments) ts.add(m.t);
  return [...ts].sort((a, b) => a - b);
}

class Player {
  constructor(model, root) {
    this.model = model; this.root = root; this.T = 0; this.speed = 1; this.playing = false;
    this.stopAt = null; // playTo's target: play pauses there
    this.side = model.get("arrangement") === "side";
    if (this.side) root.classList.add("fv-side");
    this.settleFrom = performance.now(); this.last = null; this.frame = null;
    this.build();
    this.load();
  }
  build() {
    const root = this.root;
    root.setAttribute("tabindex", "0");
    root.setAttribute("data-lm-suppress-shortcuts", "true");
    const bar = html("div", { class: "fv-controls", role: "toolbar", "aria-label": "playback" }, root);
    this.prev = html("button", { class: "fv-prev", "aria-label": "previous event" }, bar, "◀ event");
    this.play = html("button", { class: "fv-play", "aria-label": "play" }, bar, "▶ Play");
    this.next = html("button", { class: "fv-next", "aria-label": "next event" }, bar, "event ▶");
    const sp = html("label", { class: "fv-speed-label" }, bar, "speed ");
    this.speedSel = html("select", { class: "fv-speed", "aria-label": "speed" }, sp);
    for (const s of SPEEDS) {
      const o = html("option", { value: s }, this.speedSel, `${s}×`);
      if (s === 1) o.selected = true;
    }
    const sk = html("label", { class: "fv-skip-label" }, bar);
    this.skip = html("input", { type: "checkbox", class: "fv-skip" }, sk);
    sk.appendChild(document.createTextNode(" skip idle"));
    this.clock = html("output", { class: "fv-time", "aria-live": "off" }, bar, "t = 0.00 s");
    this.scrub = html("input", { type: "range", class: "fv-scrub", min: 0, step: 0.01, value: 0,
      "aria-label": "virtual time (s)" }, root);
    const ch = html("label", { class: "fv-chapters-label" }, root, "moments ");
    this.chapters = html("select", { class: "fv-chapters", "aria-label": "moments" }, ch);
    this.caption = html("p", { class: "fv-caption", "aria-live": "polite" }, root, "");
    this.stage = html("div", { class: "fv-stage" }, root);
    this.menu = html("div", { class: "fv-menu", hidden: "", role: "dialog",
      "aria-label": "add a fault" }, root);
    this.summary = html("p", { class: "fv-summary", "aria-live": "polite" }, root, "");
    // the fork as a Python line and JSON: for a teacher who wants to keep it, folded away
    this.code = html("details", { class: "fv-code", hidden: "" }, root);
    html("summary", {}, this.code, "copy as code");
    this.spec = html("pre", { class: "fv-spec" }, this.code, "");
    const copy = html("button", { class: "fv-copy" }, this.code, "copy");
    copy.onclick = () => {
      const done = () => { copy.textContent = "copied"; };
      if (navigator.clipboard) navigator.clipboard.writeText(this.spec.textContent).then(done);
    };
    this.legend(root);
    this.play.onclick = () => this.toggle();
    this.prev.onclick = () => this.step(-1);
    this.next.onclick = () => this.step(1);
    this.speedSel.onchange = () => { this.speed = +this.speedSel.value; };
    this.scrub.oninput = () => { this.pause(); this.seek(+this.scrub.value); };
    this.chapters.onchange = () => {
      const m = this.moments[+this.chapters.value];
      if (m) { this.pause(); this.seek(m.t); }
    };
    root.addEventListener("keydown", (e) => this.key(e));
  }
  legend(root) {
    const items = [["put", "put"], ["reserve", "reserve"], ["delete", "delete"],
      ["release", "release"], ["bury", "bury"], ["kick", "kick"],
      ["ttr-expired", "TTR expired"], ["connection-closed", "connection closed"]];
    const lg = html("div", { class: "fv-legend", "aria-label": "legend" }, root);
    for (const [c, label] of items) {
      const it = html("span", { class: "fv-legend-item", "data-key": c }, lg);
      const s = el("svg", { width: 34, height: 14, "aria-hidden": "true" }, it);
      el("line", { x1: 2, y1: 7, x2: 32, y2: 7, class: `fv-move fv-cause-${c}` }, s);
      it.appendChild(document.createTextNode(label));
    }
    for (const [k, label] of [["ready", "ready"], ["reserved", "reserved (working)"],
      ["hung", "reserved, worker hung"], ["delayed", "delayed"], ["buried", "buried"]]) {
      const it = html("span", { class: `fv-legend-item fv-swatch fv-swatch-${k}`, "data-key": k },
        lg);
      html("i", { "aria-hidden": "true" }, it);
      it.appendChild(document.createTextNode(label));
    }
  }
  load() {
    this.lay = this.model.get("data");
    palette(this.root, this.model.get("palette"));
    this.times = eventTimes(this.lay);
    this.scrub.max = this.lay.end;
    this.loadCaptions();
    this.stage.replaceChildren();
    this.base = new Panel(this.lay, this.stage, "base", (w, g, p) => this.ask(w, g, p),
      this.geo());
    this.loadFork();
    this.T = Math.min(this.T, this.lay.end);
    this.settleFrom = performance.now();
    this.kick();
  }
  loadCaptions() {
    this.caps = this.model.get("captions") || [];
    this.moments = this.caps.filter((c) => c.moment);
    this.chapters.replaceChildren();
    html("option", { value: "" }, this.chapters, `${this.moments.length} moments: jump to…`);
    this.moments.forEach((m, i) => html("option", { value: i }, this.chapters,
      `${short(m.t)}: ${m.text}`));
  }
  loadFork() {
    if (this.fork) this.fork.svg.remove();
    const f = this.model.get("fork_data");
    this.fork = f && f.steps
      ? new Panel(f, this.stage, "fork", (w, g, p) => this.ask(w, g, p), this.geo()) : null;
    this.summary.textContent = this.model.get("summary") || "";
    this.setSpec(this.model.get("fork_spec") || "");
    this.settleFrom = performance.now();
    this.kick();
  }
  geo() { return this.side ? COMPACT : FULL; }
  end() { return Math.max(this.lay.end, this.fork ? this.fork.lay.end : 0); }
  setSpec(text) {
    this.spec.textContent = text;
    if (this.code) this.code.hidden = !text;
  }
  transit() { return Math.min(TRANSIT_WALL * this.speed, MAX_TRANSIT); }
  progress(t0) {
    if (this.playing) return Math.min(1, (this.T - t0) / this.transit());
    return Math.min(1, (performance.now() - this.settleFrom) / SETTLE_MS);
  }
  draw() {
    const p = (t0) => this.progress(t0);
    let busy = this.base.at(this.T, p);
    if (this.fork) busy = this.fork.at(this.T, p) || busy;
    this.root.dataset.time = String(this.T);
    this.clock.textContent = `t = ${fmt(this.T)}`;
    this.scrub.value = this.T;
    const text = this.captionAt(this.T);
    if (this.caption.textContent !== text) this.caption.textContent = text;
    return busy;
  }
  // The caption of the last instant at or before T (stalksim.flow.captions): what the
  // picture shows once every step up to T is drawn.
  captionAt(T) {
    let c = null;
    for (const x of this.caps) { if (x.t > T + 1e-9) break; c = x; }
    return c ? `${short(c.t)}: ${c.text}` : "Press Play (space) to start the run.";
  }
  loop(ts) {
    this.frame = null;
    if (this.playing) {
      const dt = this.last === null ? 0 : (ts - this.last) / 1000;
      this.last = ts;
      this.T += dt * this.speed;
      if (this.skip.checked && !this.anyMoving) {
        const nxt = this.times.find((t) => t > this.T + 1e-9);
        if (nxt !== undefined && nxt - this.T > 1) this.T = nxt - 0.5;
      }
      if (this.stopAt !== null && this.T >= this.stopAt) { this.T = this.stopAt; this.pause(); }
      if (this.T >= this.end()) { this.T = this.end(); this.pause(); }
    }
    this.anyMoving = this.draw();
    if (this.playing || this.anyMoving) this.frame = requestAnimationFrame((t) => this.loop(t));
  }
  kick() { if (this.frame === null) this.frame = requestAnimationFrame((t) => this.loop(t)); }
  toggle() { if (this.playing) this.pause(); else this.start(); }
  // Play from now until t (the tour's steps), then pause there.
  playTo(t) {
    if (t <= this.T + 1e-9) { this.seek(t); return; }
    this.start(t);
  }
  start(stopAt = null) {
    this.stopAt = stopAt;
    if (stopAt === null && this.T >= this.end() - 1e-9) this.seek(0);
    this.menu.hidden = true;
    this.playing = true; this.last = null;
    this.play.textContent = "❚❚ Pause"; this.play.setAttribute("aria-label", "pause");
    this.kick();
  }
  pause() {
    if (!this.playing) return;
    this.playing = false; this.stopAt = null; this.settleFrom = performance.now();
    this.onPause();
    this.play.textContent = "▶ Play"; this.play.setAttribute("aria-label", "play");
    this.kick();
  }
  onPause() {} // the tour's narration follows the clock
  settle() { this.settleFrom = -Infinity; this.draw(); } // every move done now (tests)
  seek(t) {
    this.T = Math.max(0, Math.min(t, this.end()));
    this.settleFrom = performance.now();
    this.draw();
    this.kick();
  }
  step(dir) {
    this.pause();
    const ts = this.times;
    const t = dir > 0 ? ts.find((x) => x > this.T + 1e-9)
      : [...ts].reverse().find((x) => x < this.T - 1e-9);
    if (t !== undefined) this.seek(t);
  }
  key(e) {
    const tag = e.target.tagName;
    if (e.key === " " && tag !== "SELECT") { this.toggle(); }
    else if (e.key === "ArrowRight" && tag !== "INPUT" && tag !== "SELECT") this.step(1);
    else if (e.key === "ArrowLeft" && tag !== "INPUT" && tag !== "SELECT") this.step(-1);
    else if (e.key === "Escape") this.menu.hidden = true;
    else return;
    e.preventDefault(); e.stopPropagation();
  }
  faults() { return this.model.get("fault_kinds") || ["crash", "hang", "slow"]; }
  ask(worker, g, panel = this.base) {
    this.pause();
    const lay = panel ? panel.lay : this.lay;
    this.menu.replaceChildren();
    if (!lay.scenario) {
      html("p", {}, this.menu, "Forks need a scenario run (FlowView(run_scenario(...))).");
    } else {
      const at = Math.round(this.T * 100) / 100;
      const where = this.side ? ` (${panel.kind === "base" ? "left" : "right"})` : "";
      html("p", { class: "fv-menu-title" }, this.menu, `What if ${worker}${where}, at ${fmt(at)}…`);
      const kinds = this.faults();
      for (const [kind, label] of [["crash", "crashes (connection closes)"],
        ["hang", "hangs (connection stays open)"], ["slow", "slows down (3× longer work)"]]
        .filter(([k]) => kinds.includes(k))) {
        const b = html("button", { class: `fv-fault fv-fault-${kind}` }, this.menu, label);
        b.onclick = () => {
          this.menu.hidden = true;
          this.summary.textContent = `re-simulating: ${worker} ${kind} at ${fmt(at)}…`;
          clearTimeout(this.waiting);
          this.waiting = setTimeout(() => { this.summary.textContent = NO_KERNEL; }, NO_REPLY_MS);
          this.model.send({ type: "fork", worker, kind, at, panel: panel ? panel.kind : "base" });
        };
      }
    }
    html("button", { class: "fv-cancel" }, this.menu, "cancel").onclick = () => {
      this.menu.hidden = true; this.root.focus();
    };
    this.menu.hidden = false;
    const first = this.menu.querySelector("button");
    if (first) first.focus();
    void g;
  }
}

function render({ model, el: host }) {
  const root = html("div", { class: "fv-root" }, host);
  const player = new Player(model, root);
  model.on("change:data", () => player.load());
  model.on("change:fork_data", () => player.loadFork());
  model.on("change:captions", () => { player.loadCaptions(); player.draw(); });
  model.on("change:summary", () => { player.summary.textContent = model.get("summary"); });
  model.on("msg:custom", (msg) => {
    if (msg && msg.type !== "forked") return;
    clearTimeout(player.waiting);
    player.summary.textContent = model.get("summary") || "";
  });
  model.on("change:fork_spec", () => player.setSpec(model.get("fork_spec")));
  root.__flow = player;
  return () => { player.pause(); };
}
