// The tour (stalksim.tour, appended after flowpanel.js and flowview.js): two runs side by side
// on one clock, one sentence per step, Back / Next, Play between steps in proportion to time,
// and a last step where a click on a worker crashes it (the forks are in the data: no kernel).

const TOUR_SPEED = 1; // virtual seconds per wall second while Next plays to the next step

// A stand-in for the widget model: the tour's state, with change events.
function staticModel(state) {
  const handlers = {};
  return {
    get: (k) => state[k],
    set: (k, v) => { state[k] = v; (handlers[`change:${k}`] || []).forEach((f) => f()); },
    on: (ev, f) => { (handlers[ev] = handlers[ev] || []).push(f); },
    send: () => {},
  };
}

class TourPlayer extends Player {
  build() {
    const root = this.root;
    root.setAttribute("tabindex", "0");
    root.setAttribute("data-lm-suppress-shortcuts", "true");
    root.setAttribute("role", "region");
    root.setAttribute("aria-label", "guided tour: a crashed worker and a hung one, side by side");
    const bar = html("div", { class: "fv-controls tour-controls", role: "toolbar",
      "aria-label": "tour" }, root);
    this.back = html("button", { class: "tour-back", "aria-label": "back: previous step" }, bar,
      "◀ Back");
    this.play = html("button", { class: "fv-play", "aria-label": "play" }, bar, "▶ Play");
    this.fwd = html("button", { class: "tour-next", "aria-label": "next step" }, bar, "Next ▶");
    this.count = html("span", { class: "tour-count" }, bar, "");
    this.clock = html("output", { class: "fv-time", "aria-live": "off" }, bar, "t = 0.00 s");
    this.say = html("p", { class: "tour-say", "aria-live": "polite", "aria-atomic": "true" },
      root, "");
    this.stage = html("div", { class: "fv-stage" }, root);
    this.menu = html("div", { class: "fv-menu", hidden: "", role: "dialog",
      "aria-label": "crash a worker" }, root);
    this.summary = html("p", { class: "fv-summary", "aria-live": "polite" }, root, "");
    this.reset = html("button", { class: "tour-reset", hidden: "" }, root, "↺ Back to the two runs");
    // what Player expects to find, unused by the tour
    this.caption = html("p", { hidden: "" }); this.spec = html("pre", { hidden: "" });
    this.scrub = html("input", { type: "range", hidden: "" });
    this.chapters = html("select", { hidden: "" }); this.skip = { checked: false };
    this.speedSel = html("select", { hidden: "" });
    this.legend(root);
    this.play.onclick = () => this.toggle();
    this.back.onclick = () => this.go(this.k - 1);
    this.fwd.onclick = () => this.go(this.k + 1);
    this.reset.onclick = () => this.restore();
    root.addEventListener("keydown", (e) => this.key(e));
  }
  key(e) {
    const tag = e.target.tagName;
    if (tag === "BUTTON" && (e.key === " " || e.key === "Enter")) return; // the button's own
    if (e.key === "ArrowRight") this.go(this.k + 1);
    else if (e.key === "ArrowLeft") this.go(this.k - 1);
    else if (e.key === " ") this.toggle();
    else if (e.key === "Escape") this.menu.hidden = true;
    else return;
    e.preventDefault(); e.stopPropagation();
  }
  setup(tour) {
    this.tour = tour;
    this.steps = [...tour.steps, { t: tour.try.t, text: tour.try.text, turn: true }];
    this.k = 0; this.speed = TOUR_SPEED;
    this.show();
  }
  // Step k: Next plays forwards to its time (in proportion to time), Back jumps.
  go(k) {
    if (k < 0 || k >= this.steps.length) return;
    const forward = k > this.k;
    this.pause(); // first: a pause lets the sentence follow the clock, which is moving on
    if (this.steps[this.k].turn && !this.steps[k].turn) this.restore(false);
    this.k = k;
    this.menu.hidden = true;
    const t = this.steps[k].t;
    if (forward && !REDUCED && !this.steps[k].turn) this.playTo(t);
    else this.seek(t);
    this.show();
  }
  show() {
    const s = this.steps[this.k];
    this.root.dataset.step = String(this.k);
    this.root.classList.toggle("tour-turn", !!s.turn);
    if (this.say.textContent !== s.text) this.say.textContent = s.text;
    this.count.textContent = `step ${this.k + 1} of ${this.steps.length}`;
    this.back.disabled = this.k === 0;
    this.fwd.disabled = this.k === this.steps.length - 1;
  }
  // While playing freely, the sentence is the last step whose time has come.
  onPause() { this.follow(); }
  draw() {
    const busy = super.draw();
    if (this.playing && this.stopAt === null) this.follow();
    if (busy && !this.root.dataset.firstFrame) {
      this.root.dataset.firstFrame = String(performance.now());
    }
    return busy;
  }
  follow() {
    if (!this.steps || this.steps[this.k].turn || this.stopAt !== null) return;
    let k = 0;
    this.steps.forEach((s, i) => { if (!s.turn && s.t <= this.T + 1e-9) k = i; });
    if (k !== this.k) { this.k = k; this.show(); }
  }
  ask(worker, g, panel = this.base) {
    this.pause();
    this.menu.replaceChildren();
    const turn = this.steps[this.k].turn;
    if (!turn) {
      html("p", { class: "fv-menu-title" }, this.menu,
        "You crash a worker yourself in the last step of the tour.");
      html("button", { class: "tour-to-turn" }, this.menu, "Go there now").onclick = () => {
        this.go(this.steps.length - 1);
      };
    } else {
      const side = panel.kind === "base" ? "left" : "right";
      const f = this.tour.try.forks[`${panel.kind}/${worker}`];
      html("p", { class: "fv-menu-title" }, this.menu,
        `Crash ${worker} (${side}) at ${fmt(this.tour.try.t)}?`);
      const b = html("button", { class: "fv-fault fv-fault-crash" }, this.menu,
        "crash it (its connection closes)");
      b.onclick = () => { this.menu.hidden = true; this.crash(panel.kind, f); };
    }
    html("button", { class: "fv-cancel" }, this.menu, "cancel").onclick = () => {
      this.menu.hidden = true; this.root.focus();
    };
    this.menu.hidden = false;
    this.menu.querySelector("button").focus();
    void g;
  }
  // Show the fork in the panel that was clicked, with its one-line summary, and play it on.
  crash(kind, f) {
    if (!f || f.note) { this.summary.textContent = f ? f.note : "no such worker"; return; }
    this.model.set(kind === "base" ? "data" : "fork_data", f.layout);
    this.model.set("summary", f.summary);
    this.reset.hidden = false;
    this.root.dataset.forked = kind;
    this.seek(this.tour.try.t);
    if (!REDUCED) this.start();
  }
  restore(seek = true) {
    this.model.set("data", this.tour.left);
    this.model.set("fork_data", this.tour.right);
    this.model.set("summary", "");
    this.reset.hidden = true;
    delete this.root.dataset.forked;
    if (seek) { this.pause(); this.seek(this.tour.try.t); }
  }
}

const REDUCED = typeof matchMedia === "function"
  && matchMedia("(prefers-reduced-motion: reduce)").matches;

// Start a tour in the element before `script` (the tour's HTML puts its script right after).
function bootTour(script, tour) {
  let host = script.previousElementSibling;
  while (host && !host.classList.contains("stalksim-tour")) host = host.previousElementSibling;
  if (!host || host.dataset.booted) return;
  host.dataset.booted = "1";
  host.replaceChildren();
  const root = html("div", { class: "fv-root fv-tour" }, host);
  const model = staticModel({ data: tour.left, fork_data: tour.right, captions: [],
    summary: "", fork_spec: "", palette: tour.palette, arrangement: "side",
    fault_kinds: ["crash"] });
  const player = new TourPlayer(model, root);
  player.setup(tour);
  model.on("change:data", () => player.load());
  model.on("change:fork_data", () => player.loadFork());
  model.on("change:summary", () => { player.summary.textContent = model.get("summary"); });
  root.__flow = player; root.__tour = player;
  if (!REDUCED) player.go(1); // things move at once: the first jobs, up to the first delete
}
