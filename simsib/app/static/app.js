// simsib live view: controls -> /api/update (money) or /api/simulate (model) -> numbers and charts.
// Every figure and sentence arrives formatted from the server (the same formatting as `simsib run`
// and the report); this script only lays them out and draws two SVG charts.
"use strict";

const TOKEN = window.SIMSIB_TOKEN;
const SVGNS = "http://www.w3.org/2000/svg";
const $ = (id) => document.getElementById(id);
const values = {};        // control key -> value sent to the server (weights: a list adding to 1)
let controls = [];
let lastView = null;      // the numbers on screen, and the settings they are for
let busy = false;         // a re-simulation is running: controls are locked

// --- formatting of control values (the server formats every result) ------------------------
function money(v) {
  const sign = v < 0 ? "−" : "", a = Math.abs(v);
  if (a >= 1e6) return `${sign}£${(a / 1e6).toFixed(2)}m`;
  if (a >= 1e3) return `${sign}£${(a / 1e3).toFixed(0)}k`;
  return `${sign}£${a.toFixed(a < 10 && a % 1 ? 2 : 0)}`;
}
function shown(c, v) {
  if (c.unit === "share") return `${(100 * v).toFixed(Number.isInteger(Math.round(1e6 * v) / 1e4) ? 0 : 1)}%`;
  if (c.unit === "£") return money(v);
  if (c.unit && c.unit.startsWith("£ ")) return `${money(v)} ${c.unit.slice(2)}`;
  return `${+v.toFixed(3)} ${c.unit || ""}`.trim();
}
// The number box shows £m for large sums and % for shares; `scale` converts it back to the value.
function boxScale(c) {
  if (c.unit === "share") return { scale: 0.01, suffix: "%" };
  if (c.unit === "£" && c.maximum >= 2e5) return { scale: 1e6, suffix: "£m" };
  return { scale: 1, suffix: c.unit || "" };
}
const clean = (x) => Number(x.toPrecision(12));

// --- building the controls -----------------------------------------------------------------
function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v; else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}
function evidence(ids, titles) {
  const box = el("span", { class: "evidence" });
  if (!ids.length) box.append("no evidence id");
  ids.forEach((id, i) => box.append(el("span", { title: titles[i] || id, text: id })));
  return box;
}
function capital(text) { return text.charAt(0).toUpperCase() + text.slice(1); }

function numberControl(c) {
  const { scale, suffix } = boxScale(c);
  const out = el("span", { class: "shown" });
  const range = el("input", { type: "range", min: c.minimum, max: c.maximum, step: c.step, "data-key": c.key,
                              "aria-label": c.short });
  const box = el("input", { type: "number", step: "any", "data-key": c.key, "aria-label": `${c.short} (${suffix})` });
  const node = el("div", { class: "control", "data-key": c.key },
    el("div", { class: "head" }, el("span", { class: "name", text: capital(c.short) }), out),
    el("div", { class: "meaning" }, `${capital(c.label)} `, evidence(c.evidence, c.evidence_titles)),
    el("div", { class: "row" }, range, box, el("span", { class: "suffix", text: suffix })),
    el("div", { class: "problem" }));
  node.set = (v) => { values[c.key] = v; range.value = v; box.value = clean(v / scale); out.textContent = shown(c, v); };
  range.addEventListener("input", () => {
    node.set(+range.value);
    if (c.kind === "money") requestUpdate();
  });
  range.addEventListener("change", () => { if (c.kind === "model") simulate(); });
  box.addEventListener("change", () => {
    const v = box.value === "" ? NaN : clean(+box.value * scale);
    values[c.key] = Number.isFinite(v) ? v : box.value;  // the server says what is wrong with it
    if (Number.isFinite(v)) { range.value = v; out.textContent = shown(c, v); }
    if (c.kind === "money") requestUpdate(); else simulate();
  });
  return node;
}

// Weights of a mixture's strands: sliders in whole percent that always add up to 100.
function rebalance(pcts, changed, v) {
  const others = pcts.map((_, i) => i).filter((i) => i !== changed);
  const rest = 100 - v, total = others.reduce((s, i) => s + pcts[i], 0);
  const raw = others.map((i) => (total > 0 ? pcts[i] * rest / total : rest / others.length));
  const floor = raw.map(Math.floor);
  let left = rest - floor.reduce((s, x) => s + x, 0);
  raw.map((x, j) => [x - floor[j], j]).sort((a, b) => b[0] - a[0]).forEach(([, j]) => { if (left > 0) { floor[j]++; left--; } });
  const out = pcts.slice();
  out[changed] = v;
  others.forEach((i, j) => { out[i] = floor[j]; });
  return out;
}
function weightsControl(c) {
  const ranges = [], outs = [];
  const strands = c.strands.map((s, i) => {
    ranges.push(el("input", { type: "range", min: 0, max: 100, step: 1, "data-key": c.key, "data-strand": i,
                              "aria-label": `${c.short}: ${s.label}` }));
    outs.push(el("span", { class: "shown" }));
    return el("div", { class: "strand" },
      el("div", { class: "head" }, el("span", { class: "label" }, `${capital(s.label)} · ${s.note} `,
        evidence(s.evidence, s.evidence.map((id) => (c.evidence_titles.find((t) => t.startsWith(id + ":")) || id)))), outs[i]),
      el("div", { class: "row" }, ranges[i]));
  });
  const node = el("div", { class: "control", "data-key": c.key },
    el("div", { class: "head" }, el("span", { class: "name", text: `${capital(c.short)}: weight of each strand` })),
    el("div", { class: "meaning" }, `${capital(c.label)}, drawn from a mixture of evidence strands `,
      evidence(c.evidence, c.evidence_titles)), ...strands, el("div", { class: "problem" }));
  let pcts = [];
  node.set = (weights) => {
    pcts = weights.map((w) => Math.round(100 * w));
    values[c.key] = weights.slice();
    ranges.forEach((r, i) => { r.value = pcts[i]; outs[i].textContent = `${pcts[i]}%`; });
  };
  ranges.forEach((r, i) => {
    r.addEventListener("input", () => {
      pcts = rebalance(pcts, i, +r.value);
      values[c.key] = pcts.map((p) => p / 100);
      ranges.forEach((q, j) => { q.value = pcts[j]; outs[j].textContent = `${pcts[j]}%`; });
    });
    r.addEventListener("change", simulate);
  });
  return node;
}

function buildControls(list) {
  controls = list;
  for (const c of list) {
    const node = c.widget === "weights" ? weightsControl(c) : numberControl(c);
    $(c.group === "Contract terms" ? "group-terms" : "group-assumptions").append(node);
    node.set(c.value);
  }
}
function setControls(settings) {
  for (const node of document.querySelectorAll(".control")) {
    const key = node.getAttribute("data-key");
    if (key in settings) node.set(settings[key]);
  }
}

// --- talking to the server -----------------------------------------------------------------
async function post(path, body) {
  return fetch(path, { method: "POST", headers: { "Content-Type": "application/json", "X-Simsib-Token": TOKEN },
                       body: JSON.stringify(body) });
}

// Latest value wins: one request in flight; values moved past while it runs are sent next.
let inflight = false, pending = false;
function requestUpdate() { pending = true; if (!inflight) pump(); }
async function pump() {
  inflight = true;
  while (pending && !busy) {
    pending = false;
    const started = performance.now();
    let reply;
    try { reply = await (await post("/api/update", { settings: { ...values } })).json(); }
    catch (e) { showProblems({ message: `lost contact with simsib app (${e})`, problems: [] }); break; }
    if (pending) continue;
    if (reply.needs_simulation) { inflight = false; simulate(); return; }
    if (reply.error) { showProblems(reply.error); continue; }
    render(reply.view);
    status(`updated in ${Math.round(performance.now() - started)} ms`);
  }
  inflight = false;
}

async function simulate() {
  if (busy) return;
  setBusy(true);
  const started = performance.now();
  status("simulating…");
  try {
    const reply = await post("/api/simulate", { settings: { ...values } });
    if ((reply.headers.get("content-type") || "").includes("application/json")) {
      const body = await reply.json();
      showProblems(body.error);
      restore();
      return;
    }
    const reader = reply.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = "";
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buffer += value;
      let cut;
      while ((cut = buffer.indexOf("\n")) >= 0) {
        const message = JSON.parse(buffer.slice(0, cut));
        buffer = buffer.slice(cut + 1);
        if ("total" in message) {
          $("progress").value = message.done / message.total;
          status(`simulating… ${message.done.toLocaleString()} of ${message.total.toLocaleString()} draws`);
        } else if (message.status === "done") {
          render(message.view);
          status(`simulated and settled in ${((performance.now() - started) / 1000).toFixed(1)} s`);
        } else if (message.status === "cancelled") {
          restore();
          status("cancelled: the numbers are for the settings shown");
        } else if (message.status === "error") {
          showProblems(message.error);
          restore();
        }
      }
    }
  } catch (e) {
    showProblems({ message: `lost contact with simsib app (${e})`, problems: [] });
  } finally {
    setBusy(false);
  }
}
function restore() { if (lastView) setControls(lastView.settings); }
function setBusy(on) {
  busy = on;
  $("progress-box").hidden = !on;
  $("progress").value = 0;
  for (const input of document.querySelectorAll("aside input, #reset")) input.disabled = on;
}
function status(text) { $("status").textContent = text; }

// Each problem is listed above the numbers and shown under the control it concerns.
function showProblems(error) {
  const box = $("problems");
  for (const node of document.querySelectorAll(".control.bad")) node.classList.remove("bad");
  if (!error) { box.hidden = true; box.replaceChildren(); return; }
  const list = el("ul");
  for (const p of error.problems) {
    list.append(el("li", { text: p.message }));
    for (const node of document.querySelectorAll(".control")) {
      const key = node.getAttribute("data-key");
      if (p.key === key || key.startsWith(p.key + ".") || p.key.startsWith(key + ".")) {
        node.classList.add("bad");
        node.querySelector(".problem").textContent = p.text;
      }
    }
  }
  box.replaceChildren(el("div", { text: error.message }), list);
  box.hidden = false;
}

// --- showing the numbers -------------------------------------------------------------------
function render(view) {
  lastView = view;
  showProblems(null);
  $("scenario-name").textContent = `· ${view.scenario}`;
  $("description").textContent = view.description;
  $("run-line").textContent = `${view.draws.toLocaleString()} Monte Carlo draws, seed ${view.seed}; ` +
    "every setting uses the same random numbers, so differences between settings are the effect of the change.";
  $("sentences").replaceChildren(...view.sentences.map((s) => el("li", { text: s })));
  $("figures").replaceChildren(...view.figures.map((f) => el("div", { class: "tile", id: `fig-${f.id}` },
    el("div", { class: "label", text: f.label }),
    el("div", {}, el("span", { class: "value", text: f.text }), " ", el("span", { class: "se", text: `± ${f.se_text}` })),
    ...(f.p05 !== undefined ? [el("div", { class: "range", text: `90% of draws: ${f.p05} to ${f.p95}` })] : []),
    ...(f.change_text ? [el("div", { class: f.change_text === "unchanged" ? "change same" : "change",
                                     text: `${f.change_text} vs the scenario` })] : []))));
  drawHistogram($("moic-chart"), view.moic);
  drawScatter($("council-chart"), view.scatter, view.cap);
  $("budget-years").textContent = view.budget_years;
  $("budget").tBodies[0].replaceChildren(...view.budget.map((r) => el("tr", r.year === "total" ? { class: "total" } : {},
    ...[r.year, r.mean, r.p05, r.p50, r.p95].map((t) => el("td", { text: t })))));
  $("tranche-box").hidden = !view.tranches.length;
  $("tranches").tBodies[0].replaceChildren(...view.tranches.map((t) => el("tr", {},
    ...[t.name, t.prob_loss, t.median_moic].map((x) => el("td", { text: x })))));
  $("set-line").textContent = view.set_line;
}

function svg(tag, attrs = {}, text) {
  const node = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  if (text !== undefined) node.textContent = text;
  return node;
}
function niceTicks(lo, hi, count) {
  const span = hi - lo || 1, raw = span / count, mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw);
  const out = [];
  for (let t = Math.ceil(lo / step) * step; t <= hi + 1e-9 * span; t += step) out.push(+t.toPrecision(10));
  return out;
}
const BOX = { w: 560, h: 270, l: 50, r: 14, t: 30, b: 38 };
function axes(node, xs, ys, xLabel, yLabel, fx, fy) {
  const { w, h, l, r, t, b } = BOX;
  for (const v of ys.ticks) {
    node.append(svg("line", { class: "grid", x1: l, x2: w - r, y1: ys.at(v), y2: ys.at(v) }));
    node.append(svg("text", { x: l - 5, y: ys.at(v) + 4, "text-anchor": "end" }, fy(v)));
  }
  for (const v of xs.ticks) node.append(svg("text", { x: xs.at(v), y: h - b + 14, "text-anchor": "middle" }, fx(v)));
  node.append(svg("line", { class: "axis", x1: l, x2: w - r, y1: h - b, y2: h - b, stroke: "#999" }));
  node.append(svg("text", { x: (l + w - r) / 2, y: h - 6, "text-anchor": "middle" }, xLabel));
  node.append(svg("text", { x: 12, y: (t + h - b) / 2, transform: `rotate(-90 12 ${(t + h - b) / 2})`,
                            "text-anchor": "middle" }, yLabel));
}
function scale(lo, hi, a, b, count) {
  return { at: (v) => a + (v - lo) / (hi - lo || 1) * (b - a), ticks: niceTicks(lo, hi, count) };
}
function legend(node, items) {
  let x = BOX.l;
  for (const [cls, text] of items) {
    node.append(svg("line", { class: cls, x1: x, x2: x + 22, y1: 12, y2: 12 }));
    const label = svg("text", { class: "legend", x: x + 27, y: 16 }, text);
    node.append(label);
    x += 40 + 6.2 * text.length;
  }
}
function drawHistogram(node, h) {
  node.replaceChildren();
  const { w, h: height, l, r, t, b } = BOX;
  const top = Math.max(...h.shares, 0.01) * 1.08;
  const xs = scale(h.edges[0], h.edges[h.edges.length - 1], l, w - r, 8);
  const ys = scale(0, top, height - b, t, 4);
  axes(node, xs, ys, "money multiple on committed capital (× capital committed)", "share of draws",
       (v) => `${v}×`, (v) => `${Math.round(100 * v)}%`);
  h.shares.forEach((s, i) => {
    if (s > 0) node.append(svg("rect", { class: "bar", x: xs.at(h.edges[i]), width: Math.max(xs.at(h.edges[i + 1]) - xs.at(h.edges[i]) - 0.6, 0.5),
                                         y: ys.at(s), height: ys.at(0) - ys.at(s) }));
  });
  const marks = [["break-even", h.break_even, `break-even ${h.break_even.toFixed(2)}×`]];
  if (h.reference !== null) marks.push(["reference", h.reference, `scenario's reference ${h.reference_text}`]);
  for (const [cls, v] of marks) node.append(svg("line", { class: cls, x1: xs.at(v), x2: xs.at(v), y1: t, y2: height - b }));
  legend(node, marks.map(([cls, , text]) => [cls, text]));
}
function drawScatter(node, points, cap) {
  node.replaceChildren();
  const { w, h, l, r, t, b } = BOX;
  const xsAll = points.savings, ysAll = points.payments;
  const capM = cap === null ? null : cap / 1e6;
  const xlo = Math.min(0, ...xsAll), xhi = Math.max(1, ...xsAll);
  const yhi = Math.max(1, ...ysAll, capM || 0) * 1.05;
  const xs = scale(xlo, xhi, l, w - r, 7), ys = scale(0, yhi, h - b, t, 5);
  axes(node, xs, ys, "true savings: cost of the care avoided (£m)", "outcome payments (£m)", (v) => `${v}`, (v) => `${v}`);
  const lo = Math.max(xlo, 0), hi = Math.min(xhi, yhi);
  node.append(svg("line", { class: "break-even", x1: xs.at(lo), y1: ys.at(lo), x2: xs.at(hi), y2: ys.at(hi) }));
  if (capM !== null) node.append(svg("line", { class: "cap", x1: l, x2: w - r, y1: ys.at(capM), y2: ys.at(capM) }));
  const dots = svg("g");
  for (let i = 0; i < xsAll.length; i++) dots.append(svg("circle", { class: "dot", cx: xs.at(xsAll[i]), cy: ys.at(ysAll[i]), r: 2.2 }));
  node.append(dots);
  legend(node, [["break-even", "pays what it saves (above: pays more)"], ...(capM !== null ? [["cap", `cap ${money(cap)}`]] : [])]);
}

// --- start ---------------------------------------------------------------------------------
$("reset").addEventListener("click", () => {
  setControls(Object.fromEntries(controls.map((c) => [c.key, c.value])));
  requestUpdate();
});
$("cancel").addEventListener("click", () => { post("/api/cancel", {}); status("cancelling…"); });
$("copy").addEventListener("click", () => navigator.clipboard.writeText($("set-line").textContent)
  .then(() => status("command copied")));

(async () => {
  const state = await (await fetch("/api/state")).json();
  buildControls(state.controls);
  if (state.view) { setControls(state.view.settings); render(state.view); status("ready"); }
})();
