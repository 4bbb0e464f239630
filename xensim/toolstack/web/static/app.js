// The xensim live view: polls /frames a few times a second and draws them.
// Each frame holds only what changed since the previous one (see recorder.py); this
// script keeps the history the charts need and drops what scrolled out of view.
"use strict";

const TOKEN = new URLSearchParams(location.search).get("token");
const POLL_MS = 200;
const TIMELINE_NS = 4e9;     // pCPU timeline: last 4 simulated seconds
const SHARE_NS = 30e9;       // CPU share chart: last 30 simulated seconds
const PALETTE = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#637939", "#8c6d31", "#843c39",
                 "#7b4173", "#3182bd", "#e6550d", "#31a354", "#756bb1", "#636363"];

let since = 0;
let latest = null;
let closed = [];             // finished slices [cpu, start, end, domid, vcpu, boost, open]
let open = [];               // slices still running at the latest frame
const share = [];            // [t_ns, {domid: CPU% over the last second}]
const names = new Map();     // domid -> name, for the legend of domains that left
let lastOk = 0;

function color(domid) {
  return domid === 0 ? "#b0b0b0" : PALETTE[(domid - 1) % PALETTE.length];
}

function absorb(frame) {
  since = frame.seq;
  latest = frame;
  for (const d of frame.domains) names.set(d.domid, d.name);
  for (const s of frame.slices) if (!s[6]) closed.push(s);
  open = frame.slices.filter((s) => s[6]);
  share.push([frame.t_ns, Object.fromEntries(frame.domains.map((d) => [d.domid, d.cpu_pct]))]);
  const dm = document.getElementById("dmesg");
  const atBottom = dm.scrollTop + dm.clientHeight >= dm.scrollHeight - 4;
  for (const [t, msg] of frame.dmesg) dm.textContent += `(XEN) [${(t / 1e9).toFixed(6)}] ${msg}\n`;
  if (atBottom) dm.scrollTop = dm.scrollHeight;
}

function prune() {
  const now = latest.t_ns;
  closed = closed.filter((s) => s[2] > now - TIMELINE_NS);
  while (share.length && share[0][0] < now - SHARE_NS) share.shift();
}

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function drawTable() {
  const body = document.querySelector("#domains tbody");
  const rows = [];
  for (const d of latest.domains) {
    const tr = document.createElement("tr");
    tr.dataset.name = d.name;
    const name = cell("", "name");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = color(d.domid);
    name.append(sw, d.name);
    const sched = Object.entries(d.sched).map(([k, v]) => `${k}=${v}`).join(" ");
    const w = latest.wake_us[d.domid];
    tr.append(name, cell(d.domid), cell(d.mem_mib), cell(d.vcpus), cell(d.state),
              cell((d.cpu_ns / 1e9).toFixed(1)), cell(d.cpu_pct.toFixed(1)),
              cell(sched, "name"), cell(w ? w.p50.toFixed(0) : "-"),
              cell(w ? w.p99.toFixed(0) : "-"), cell(w ? w.max.toFixed(0) : "-"));
    tr.querySelector("td:nth-child(7)").className = "cpu";
    rows.push(tr);
  }
  body.replaceChildren(...rows);
}

function drawTimeline() {
  const cv = document.getElementById("timeline");
  const ctx = cv.getContext("2d");
  const n = latest.pcpus;
  const left = 44;
  const rowH = Math.max(14, Math.min(34, Math.floor((cv.height - 20) / n)));
  const needed = n * rowH + 20;
  if (cv.height !== needed) cv.height = needed;
  ctx.clearRect(0, 0, cv.width, cv.height);
  const now = latest.t_ns;
  const t0 = now - TIMELINE_NS;
  const x = (t) => left + ((Math.max(t, t0) - t0) / TIMELINE_NS) * (cv.width - left - 4);
  ctx.font = "11px monospace";
  ctx.fillStyle = "#333";
  for (let c = 0; c < n; c++) ctx.fillText(`cpu${c}`, 4, c * rowH + rowH / 2 + 4);
  for (const s of closed.concat(open)) {
    const [cpu, start, end, domid, , boost] = s;
    if (end < t0) continue;
    const x0 = x(start);
    const wdt = Math.max(1, x(end) - x0);
    ctx.fillStyle = color(domid);
    ctx.fillRect(x0, cpu * rowH + 2, wdt, rowH - 4);
    if (boost) {
      ctx.fillStyle = "#ffffff";
      ctx.fillRect(x0, cpu * rowH + 2, wdt, 3);
    }
  }
  ctx.fillStyle = "#555";
  for (let s = 0; s <= TIMELINE_NS / 1e9; s++) {
    const xs = x(now - s * 1e9);
    ctx.fillRect(xs, n * rowH, 1, 5);
    ctx.fillText(s ? `-${s}s` : "now", xs - 10, n * rowH + 16);
  }
}

function drawShare() {
  const cv = document.getElementById("share");
  const ctx = cv.getContext("2d");
  ctx.clearRect(0, 0, cv.width, cv.height);
  if (share.length < 2) return;
  const now = latest.t_ns;
  const left = 40;
  const bottom = cv.height - 18;
  let ymax = 100;
  for (const [, p] of share) for (const v of Object.values(p)) ymax = Math.max(ymax, v);
  ymax = Math.ceil(ymax / 50) * 50;
  const x = (t) => left + ((t - (now - SHARE_NS)) / SHARE_NS) * (cv.width - left - 110);
  const y = (v) => bottom - (v / ymax) * (bottom - 8);
  ctx.font = "11px monospace";
  ctx.strokeStyle = "#eee";
  ctx.fillStyle = "#555";
  for (let v = 0; v <= ymax; v += 50) {
    ctx.beginPath(); ctx.moveTo(left, y(v)); ctx.lineTo(cv.width - 110, y(v)); ctx.stroke();
    ctx.fillText(`${v}`, 4, y(v) + 4);
  }
  const domids = new Set();
  for (const [, p] of share) for (const k of Object.keys(p)) domids.add(Number(k));
  const needed = Math.max(220, 14 * domids.size + 20);  // room for every legend entry
  if (cv.height !== needed) { cv.height = needed; return drawShare(); }
  let ly = 14;
  for (const domid of [...domids].sort((a, b) => a - b)) {
    ctx.strokeStyle = color(domid);
    ctx.lineWidth = 1.6;
    ctx.beginPath();
    let started = false;
    for (const [t, p] of share) {
      if (!(domid in p)) { started = false; continue; }
      if (started) ctx.lineTo(x(t), y(p[domid])); else ctx.moveTo(x(t), y(p[domid]));
      started = true;
    }
    ctx.stroke();
    ctx.fillStyle = color(domid);
    ctx.fillRect(cv.width - 104, ly - 8, 10, 10);
    ctx.fillStyle = "#333";
    ctx.fillText(names.get(domid) || `d${domid}`, cv.width - 90, ly + 1);
    ly += 14;
  }
  ctx.lineWidth = 1;
}

async function poll() {
  try {
    const q = `since=${since}` + (TOKEN ? `&token=${encodeURIComponent(TOKEN)}` : "");
    const r = await fetch(`frames?${q}`, { cache: "no-store" });
    if (!r.ok) throw new Error(`HTTP ${r.status}`);
    const frames = await r.json();
    for (const f of frames) absorb(f);
    if (frames.length) {
      prune();
      drawTable(); drawTimeline(); drawShare();
      lastOk = Date.now();
      const st = document.getElementById("status");
      st.className = "";
      st.textContent = `${latest.kind}, ${latest.pcpus} pCPUs, ${latest.scheduler}, ` +
                       `t = ${(latest.t_ns / 1e9).toFixed(1)} s simulated`;
    }
  } catch (e) {
    const st = document.getElementById("status");
    st.className = "stale";
    st.textContent = `no answer from the host (${e.message})`;
  }
  setTimeout(poll, POLL_MS);
}

poll();
