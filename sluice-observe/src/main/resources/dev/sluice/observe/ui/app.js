// The service map page: plain DOM and SVG, no libraries. Two server-sent event streams feed it:
// /events/graph (the map of the chosen namespace, and the namespaces seen) and /events/flows (table rows).
"use strict";

const SVG = "http://www.w3.org/2000/svg";
const BOX_W = 190, BOX_H = 46, COL_W = 360, ROW_H = 110, PAD = 30;
const MAX_ROWS = 500;

const params = new URLSearchParams(location.search);
let namespace = params.get("namespace") || "";
let filter = params.get("filter") || "";
let graphEvents = null, flowEvents = null;
let rows = [];
const problems = new Map();

const $ = (id) => document.getElementById(id);

function el(name, attrs, parent) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  if (parent) parent.appendChild(e);
  return e;
}

function setLive(on) {
  $("live").className = on ? "on" : "";
  $("live").textContent = on ? "live" : "reconnecting…";
}

// Columns by call depth: callers first, then what they call (Services), then the workloads behind them.
function layout(nodes, edges) {
  const depth = new Map(nodes.map((n) => [n.id, 0]));
  for (let pass = 0; pass < nodes.length; pass++) {
    let changed = false;
    for (const e of edges) {
      if (e.from === e.to) continue;
      const d = depth.get(e.from) + 1;
      if (d > depth.get(e.to) && d < nodes.length) { depth.set(e.to, d); changed = true; }
    }
    if (!changed) break;
  }
  const columns = new Map();
  for (const n of nodes) {
    const d = depth.get(n.id);
    if (!columns.has(d)) columns.set(d, []);
    columns.get(d).push(n);
  }
  const pos = new Map();
  let height = 0;
  for (const [d, col] of columns) {
    col.sort((a, b) => a.id.localeCompare(b.id));
    col.forEach((n, i) => pos.set(n.id, { x: PAD + d * COL_W, y: PAD + i * ROW_H }));
    height = Math.max(height, PAD * 2 + col.length * ROW_H);
  }
  const width = PAD * 2 + (Math.max(0, ...columns.keys()) + 1) * COL_W;
  return { pos, width, height };
}

function fmtRate(r) {
  return r >= 10 ? r.toFixed(0) : r >= 1 ? r.toFixed(1) : r.toFixed(2);
}

function drawGraph(snapshot) {
  const svg = $("map");
  svg.replaceChildren();
  $("empty").style.display = snapshot.nodes.length ? "none" : "block";
  const { pos, width, height } = layout(snapshot.nodes, snapshot.edges);
  svg.setAttribute("width", Math.max(width, 600));
  svg.setAttribute("height", Math.max(height + 80, 120)); // room for edges that bow below the last row
  const defs = el("defs", {}, svg);
  for (const [state, color] of [["forwarded", "#2e9d5b"], ["dropped", "#d93b3b"], ["l7-error", "#e8900c"], ["backend", "#9aa4b1"]]) {
    const m = el("marker", { id: "arrow-" + state, viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7, orient: "auto-start-reverse" }, defs);
    el("path", { d: "M0,0 L10,5 L0,10 z", fill: color }, m);
  }
  const edgeLayer = el("g", {}, svg), nodeLayer = el("g", {}, svg);
  // Edges between the same two columns fan out a little so that their labels do not sit on each other.
  const fan = new Map();
  for (const e of snapshot.edges) {
    const a = pos.get(e.from), b = pos.get(e.to);
    if (!a || !b) continue;
    const key = e.to;
    const k = fan.get(key) || 0; fan.set(key, k + 1);
    const x1 = a.x + BOX_W, y1 = a.y + BOX_H / 2, x2 = b.x, y2 = b.y + BOX_H / 2 + (k % 3 - 1) * 8;
    const back = x2 <= x1;
    // An edge that skips a column (a caller reaching a workload past its Service) bows below the boxes between.
    const skip = !back && x2 - x1 > COL_W;
    const c = back ? 120 : Math.max(40, (x2 - x1) / 2);
    const low = Math.max(y1, y2) + BOX_H + 24 + (k % 3) * 14;
    const g = el("g", { class: "edge " + e.state, "data-from": e.from, "data-to": e.to, "data-state": e.state,
      "data-dropped": e.dropped, "data-forwarded": e.forwarded, "data-l7-errors": e.l7Errors }, edgeLayer);
    const d = back ? `M${x1},${y1} C${x1 + c},${y1 - 70} ${x2 - c},${y2 - 70} ${x2},${y2}`
            : skip ? `M${x1},${y1} C${x1 + c},${low} ${x2 - c},${low} ${x2},${y2}`
                   : `M${x1},${y1} C${x1 + c},${y1} ${x2 - c},${y2} ${x2},${y2}`;
    el("path", { d, "marker-end": `url(#arrow-${e.state})` }, g);
    const title = el("title", {}, g);
    title.textContent = `${e.from} → ${e.to}: ${e.forwarded} forwarded, ${e.dropped} dropped, ${e.l7Errors} L7 errors`;
    if (e.backend) continue;
    // The label sits on the curve 40 % of the way from the caller, where edges into one box are still apart.
    const t = 0.4, u = 1 - t;
    const mx = skip ? (x1 + x2) / 2 : u * u * u * x1 + 3 * u * u * t * (x1 + c) + 3 * u * t * t * (x2 - c) + t * t * t * x2;
    const [cy1, cy2] = back ? [y1 - 70, y2 - 70] : skip ? [low, low] : [y1, y2];
    // A skipping edge's label sits at its middle, below the boxes it passes.
    const tt = skip ? 0.5 : t, uu = 1 - tt;
    const my = uu * uu * uu * y1 + 3 * uu * uu * tt * cy1 + 3 * uu * tt * tt * cy2 + tt * tt * tt * y2 + (skip ? 16 : -8);
    const lines = [[(e.protocols.join(", ") || "?") + (e.ports.length ? " · " + e.ports.join(", ") : ""), ""],
                   [fmtRate(e.ratePerSecond) + " " + e.rateUnit + (e.dropped ? ` · ${e.dropped} dropped` : "")
                     + (e.l7Errors ? ` · ${e.l7Errors} L7 errors` : ""), ""]];
    for (const [reason, n] of Object.entries(e.dropReasons)) lines.push([`${reason} (${n})`, "reason"]);
    lines.forEach(([text, cls], i) => {
      const label = el("text", { x: mx, y: skip ? my + i * 13 : my - (lines.length - 1 - i) * 13, "text-anchor": "middle", class: cls }, g);
      label.textContent = text;
    });
  }
  for (const n of snapshot.nodes) {
    const p = pos.get(n.id);
    const g = el("g", { class: "node " + n.kind, "data-id": n.id, transform: `translate(${p.x},${p.y})` }, nodeLayer);
    el("rect", { width: BOX_W, height: BOX_H, rx: 7 }, g);
    const kind = el("text", { x: 10, y: 16, class: "kind" }, g);
    kind.textContent = n.kind === "service" ? "service" : n.kind === "reserved" ? "identity" : "workload"
      + (n.namespace && n.namespace !== namespace ? " · " + n.namespace : "");
    const name = el("text", { x: 10, y: 34, class: "name" }, g);
    name.textContent = n.name.length > 26 ? n.name.slice(0, 25) + "…" : n.name;
  }
}

function setNamespaces(list) {
  const select = $("namespace");
  if (!namespace) namespace = list.includes("default") ? "default" : (list[0] || "");
  const all = list.includes(namespace) || !namespace ? list : [namespace, ...list];
  if ([...select.options].map((o) => o.value).join() === all.join()) return;
  select.replaceChildren(...all.map((ns) => new Option(ns, ns, false, ns === namespace)));
  if (!graphEvents || graphEvents.ns !== namespace) openGraph();
  if (!flowEvents) openFlows();
}

function openGraph() {
  if (graphEvents) graphEvents.close();
  problems.clear();
  $("problems").textContent = "";
  graphEvents = new EventSource("events/graph?namespace=" + encodeURIComponent(namespace));
  graphEvents.ns = namespace;
  graphEvents.onopen = () => setLive(true);
  graphEvents.onerror = () => setLive(false);
  graphEvents.addEventListener("namespaces", (m) => setNamespaces(JSON.parse(m.data)));
  graphEvents.addEventListener("graph", (m) => drawGraph(JSON.parse(m.data)));
  graphEvents.addEventListener("problem", (m) => {
    // "TARGET: what is wrong", or "TARGET: reading again" once that node delivers flows again.
    const text = JSON.parse(m.data).message, at = text.indexOf(": ");
    const key = at > 0 ? text.slice(0, at) : text;
    if (text.endsWith(": reading again")) problems.delete(key); else problems.set(key, text);
    $("problems").textContent = [...problems.values()].join("; ");
  });
}

function openFlows() {
  if (flowEvents) flowEvents.close();
  rows = [];
  renderRows();
  $("filter-error").textContent = "";
  flowEvents = new EventSource("events/flows?namespace=" + encodeURIComponent(namespace) + "&filter=" + encodeURIComponent(filter));
  flowEvents.addEventListener("invalid", (m) => {
    $("filter-error").textContent = JSON.parse(m.data).message;
    flowEvents.close();
  });
  flowEvents.addEventListener("flows", (m) => {
    rows.push(...JSON.parse(m.data));
    rows.sort((a, b) => b.epochMs - a.epochMs);
    if (rows.length > MAX_ROWS) rows.length = MAX_ROWS;
    renderRows();
  });
}

function renderRows() {
  const body = $("flows");
  body.replaceChildren(...rows.map((r) => {
    const tr = document.createElement("tr");
    tr.className = r.verdict;
    for (const [key, cls] of [["timestamp", ""], ["node", ""], ["source", ""], ["destination", ""], ["type", ""], ["verdict", "verdict"], ["summary", "summary"]]) {
      const td = document.createElement("td");
      td.textContent = r[key] || "";
      if (cls) td.className = cls;
      tr.appendChild(td);
    }
    return tr;
  }));
  body.dataset.rows = rows.length;
}

$("namespace").addEventListener("change", (e) => {
  namespace = e.target.value;
  openGraph();
  openFlows();
});
$("filter").value = filter;
$("filter-form").addEventListener("submit", (e) => {
  e.preventDefault();
  filter = $("filter").value;
  openFlows();
});
openGraph();
if (namespace) openFlows();
