// One deployment's dashboard: traffic (rate, latency percentiles, errors) from the gateway's rollups, and the
// monitor's windows (prediction distribution against the reference, every drift statistic with its threshold,
// accuracy) over a chosen time range, refreshed on a timer. Each chart links the API query it drew.

import { api, apiUrl, ApiError, chrome, driftBadge, el, fmtAgo, fmtNum, fmtTime, lineageHref, param, showError }
  from "./common.js";
import { barChart, lineChart } from "./chart.js";

chrome("/dashboard");
const main = document.getElementById("main");
const crn = param("crn");
const RANGES = [["15m", 15 * 60_000], ["1h", 3600_000], ["6h", 6 * 3600_000], ["24h", 86400_000],
  ["7d", 7 * 86400_000]];
const REFRESH = [["off", 0], ["10s", 10_000], ["30s", 30_000], ["1m", 60_000]];
// p-value tests decide "drifted" below their threshold; distances above it
const P_VALUE_TESTS = new Set(["chisquare", "ks"]);
let timer = null;

function range() {
  const from = Number(param("from"));
  const to = Number(param("to"));
  if (from && to && to > from) return { start: from, end: to, label: "custom" };
  const label = param("range") || "1h";
  const span = (RANGES.find(([k]) => k === label) || RANGES[1])[1];
  const end = Date.now();
  return { start: end - span, end, label };
}

function setParams(update) {
  const url = new URL(window.location.href);
  for (const [k, v] of Object.entries(update)) {
    if (v === null || v === undefined || v === "") url.searchParams.delete(k);
    else url.searchParams.set(k, String(v));
  }
  history.replaceState(null, "", url);
}

function toLocalInput(ms) {
  const d = new Date(ms - new Date(ms).getTimezoneOffset() * 60_000);
  return d.toISOString().slice(0, 16);
}

function controls(r) {
  const rangeSel = el("select", { id: "range", "aria-label": "time range" },
    RANGES.map(([k]) => el("option", { value: k, selected: r.label === k }, `last ${k}`)),
    el("option", { value: "custom", selected: r.label === "custom" }, "custom…"));
  const from = el("input", { type: "datetime-local", id: "from", value: toLocalInput(r.start), "aria-label": "from" });
  const to = el("input", { type: "datetime-local", id: "to", value: toLocalInput(r.end), "aria-label": "to" });
  const custom = el("span", { id: "custom", hidden: r.label !== "custom" }, from, " – ", to,
    el("button", { type: "button", id: "apply", onclick: () => {
      setParams({ range: null, from: new Date(from.value).getTime(), to: new Date(to.value).getTime() });
      refresh();
    } }, "Apply"));
  rangeSel.addEventListener("change", () => {
    if (rangeSel.value === "custom") {
      custom.hidden = false;
      return;
    }
    setParams({ range: rangeSel.value, from: null, to: null });
    refresh();
  });
  const every = param("refresh") || "30s";
  const refreshSel = el("select", { id: "refresh", "aria-label": "auto-refresh" },
    REFRESH.map(([k]) => el("option", { value: k, selected: every === k }, k === "off" ? "no auto-refresh"
      : `refresh every ${k}`)));
  refreshSel.addEventListener("change", () => {
    setParams({ refresh: refreshSel.value });
    schedule();
  });
  return el("div", { class: "toolbar" }, el("label", { for: "range" }, "Time range"), rangeSel, custom, refreshSel,
    el("button", { type: "button", id: "reload", onclick: refresh }, "Refresh"),
    el("span", { class: "muted", id: "updated" }));
}

function schedule() {
  clearInterval(timer);
  const every = (REFRESH.find(([k]) => k === (param("refresh") || "30s")) || REFRESH[2])[1];
  if (every) timer = setInterval(refresh, every);
}

function card(label, value, extra) {
  return el("div", { class: "card" }, el("div", { class: "label" }, label),
    el("div", { class: "value" }, value), extra ? el("div", { class: "muted" }, extra) : null);
}

function replicaTable(dep) {
  const rs = dep.replica_status || [];
  if (!rs.length) return el("p", { class: "muted" }, `No replica is running (status ${dep.status}).`);
  return el("table", { class: "list", id: "replicas" },
    el("thead", {}, el("tr", {}, ["Replica", "State", "PID", "Restarts"].map((h) => el("th", {}, h)))),
    el("tbody", {}, rs.map((x) => el("tr", { "data-replica": x.replica_id },
      el("td", { class: "mono" }, x.replica_id), el("td", {}, x.alive ? "in rotation" : "down"),
      el("td", {}, x.pid ?? "—"), el("td", {}, String(x.restarts ?? 0))))));
}

function trafficCharts(traffic, r, query) {
  const pts = traffic.points;
  const series = (name, key, cls) => ({ name, cls, points: pts.map((p) => [p.t_ms, p[key]]) });
  const rangeXs = [r.start, r.end];
  return [
    lineChart({ title: "Request rate", unit: "/s", range: rangeXs, query, series: [series("requests/s", "rate_per_s",
      "s0")] }),
    lineChart({ title: "Latency", unit: " ms", range: rangeXs, query, series: [series("p50", "p50_ms", "s0"),
      series("p95", "p95_ms", "s1"), series("p99", "p99_ms", "s2")] }),
    lineChart({ title: "Error rate", unit: "", range: rangeXs, query, yMax: Math.max(0.05, ...pts.map((p) =>
      p.error_rate)), series: [series("errors / requests", "error_rate", "s1")] }),
  ];
}

// The prediction's distribution summed over the windows (each window keeps its counts, or its histogram over the
// reference's deciles for a numeric prediction), against the reference's.
function distribution(windows, predictionKey, query) {
  const observed = new Map();
  const expected = new Map();
  let numeric = null;
  for (const w of windows) {
    const d = w.result.prediction_distribution;
    if (!d) continue;
    if (d.kind === "categorical") {
      d.categories.forEach((c, i) => {
        observed.set(c, (observed.get(c) || 0) + d.observed[i]);
        expected.set(c, (expected.get(c) || 0) + d.expected[i]);
      });
    } else if (d.kind === "numeric") {
      numeric = numeric || { edges: d.edges, ref: d.reference_fractions, cur: d.window_fractions.map(() => 0), n: 0 };
      d.window_fractions.forEach((f, i) => { numeric.cur[i] += f * d.n; });
      numeric.n += d.n;
    }
  }
  const title = `Predictions (${predictionKey}) against the reference`;
  if (observed.size) {
    const cats = [...observed.keys()].sort();
    const sum = (m) => [...m.values()].reduce((a, b) => a + b, 0) || 1;
    const no = sum(observed);
    const ne = sum(expected);
    return barChart({ title, categories: cats, query, note: `${no} predictions in ${windows.length} windows`,
      series: [{ name: "this range", cls: "s0", values: cats.map((c) => observed.get(c) / no) },
        { name: "reference", cls: "s1", values: cats.map((c) => expected.get(c) / ne) }] });
  }
  if (numeric) {
    const cats = numeric.ref.map((_, i) => `≤${fmtNum(numeric.edges[i + 1])}`);
    return barChart({ title, categories: cats, query, note: `${numeric.n} predictions`, series: [
      { name: "this range", cls: "s0", values: numeric.cur.map((c) => c / (numeric.n || 1)) },
      { name: "reference", cls: "s1", values: numeric.ref }] });
  }
  return barChart({ title, categories: [], series: [], query, empty: "no computed window in this range" });
}

function driftCharts(windows, monitor, r, query) {
  const byKey = new Map();
  const ordered = [...windows].reverse(); // the API answers newest first
  for (const w of ordered) {
    for (const t of w.result.tests || []) {
      const key = `${t.column}\u0000${t.test}`;
      if (!byKey.has(key)) byKey.set(key, { column: t.column, test: t.test, threshold: t.threshold, points: [] });
      const s = byKey.get(key);
      s.threshold = t.threshold;
      const v = P_VALUE_TESTS.has(t.test) ? t.p_value : t.statistic;
      if (v !== null && v !== undefined) s.points.push([w.end_ms, v]);
    }
  }
  const pk = monitor.config.prediction_key;
  const keys = [...byKey.values()].sort((a, b) => (a.column === pk ? -1 : b.column === pk ? 1 : 0) ||
    a.column.localeCompare(b.column) || a.test.localeCompare(b.test));
  const share = ordered.filter((w) => w.result && w.result.drifted_share !== null && w.result.drifted_share !==
    undefined).map((w) => [w.end_ms, w.result.drifted_share]);
  const charts = [lineChart({ title: "Share of drifted columns", range: [r.start, r.end], query, yMax: 1,
    thresholds: [{ value: monitor.config.thresholds?.drift_share ?? 0.5, label: "drifting at" }],
    series: [{ name: "drifted share", cls: "s2", points: share }] })];
  for (const s of keys) {
    const pv = P_VALUE_TESTS.has(s.test);
    charts.push(lineChart({ title: `${s.column} · ${s.test}${pv ? " p-value" : ""}`, range: [r.start, r.end], query,
      yMax: pv ? 1 : undefined, thresholds: [{ value: s.threshold, label: pv ? "drift below" : "drift above" }],
      series: [{ name: pv ? "p-value" : s.test, cls: "s0", points: s.points }] }));
  }
  return charts;
}

function accuracyChart(windows, monitor, r, query) {
  const ordered = [...windows].reverse();
  const acc = [];
  const mae = [];
  for (const w of ordered) {
    if (w.result.accuracy !== null && w.result.accuracy !== undefined) acc.push([w.end_ms, w.result.accuracy]);
    if (w.result.mae !== null && w.result.mae !== undefined) mae.push([w.end_ms, w.result.mae]);
  }
  const min = monitor.config.min_accuracy;
  if (mae.length && !acc.length) {
    return lineChart({ title: "Error (MAE) on labelled predictions", range: [r.start, r.end], query,
      series: [{ name: "MAE", cls: "s1", points: mae }] });
  }
  return lineChart({ title: "Accuracy on labelled predictions", range: [r.start, r.end], query, yMax: 1,
    thresholds: min !== null && min !== undefined ? [{ value: min, label: "minimum" }] : [],
    series: [{ name: "accuracy", cls: "s3", points: acc }],
    empty: "no window with delayed ground truth in this range" });
}

async function monitorData(r) {
  try {
    const monitor = await api(`/api/v1/serving/monitors/${crn}`);
    const windows = await api(`/api/v1/serving/monitors/${crn}/windows`, { start_ms: r.start, end_ms: r.end,
      limit: 10000 });
    return { monitor, windows: windows.filter((w) => w.status === "done" && w.result) };
  } catch (err) {
    if (err instanceof ApiError && err.status === 404) return { monitor: null, windows: [] };
    throw err;
  }
}

async function refresh() {
  const r = range();
  const box = document.getElementById("content");
  let dep;
  let traffic;
  let mon;
  try {
    [dep, traffic, mon] = await Promise.all([
      api(`/api/v1/serving/deployments/${crn}`),
      api(`/api/v1/serving/deployments/${crn}/traffic`, { start_ms: r.start, end_ms: r.end }),
      monitorData(r)]);
  } catch (err) {
    showError(box, err);
    return;
  }
  const trafficQuery = apiUrl(`/api/v1/serving/deployments/${crn}/traffic`, { start_ms: r.start, end_ms: r.end });
  const windowsQuery = apiUrl(`/api/v1/serving/monitors/${crn}/windows`, { start_ms: r.start, end_ms: r.end,
    limit: 10000 });
  document.getElementById("title").textContent = `${dep.name} · ${dep.model_name}`;
  const requests = traffic.points.reduce((n, p) => n + p.requests, 0);
  const errors = traffic.points.reduce((n, p) => n + p.errors, 0);
  const last = traffic.points[traffic.points.length - 1];
  const latest = mon.windows[0] && mon.windows[0].result;
  const alive = (dep.replica_status || []).filter((x) => x.alive).length;
  const parts = [
    el("div", { class: "cards" },
      card("Status", el("span", { class: `badge status-${dep.status}` }, dep.status)),
      card("Replicas in rotation", `${alive}/${dep.replicas}`),
      card("Requests", String(requests), `${errors} errors`),
      card("Latency p95 (latest)", last ? `${fmtNum(last.p95_ms)} ms` : "—"),
      card("Drift", driftBadge(mon.monitor ? mon.monitor.drift_status : null),
        latest ? `window ending ${fmtTime(latest.end_ms)}` : null),
      card("Accuracy (latest)", latest && latest.accuracy !== null && latest.accuracy !== undefined
        ? fmtNum(latest.accuracy) : "—", latest && latest.labelled ? `${latest.labelled} labelled` : null),
      card("Last prediction", fmtAgo(dep.last_request_ms), dep.last_request_ms ? fmtTime(dep.last_request_ms) : null)),
    el("h2", {}, "Traffic"), el("div", { class: "grid-2", id: "traffic" }, trafficCharts(traffic, r, trafficQuery)),
  ];
  if (mon.monitor) {
    parts.push(el("h2", {}, "Predictions and accuracy"),
      el("div", { class: "grid-2", id: "quality" }, distribution(mon.windows, mon.monitor.config.prediction_key,
        windowsQuery), accuracyChart(mon.windows, mon.monitor, r, windowsQuery)),
      el("h2", {}, "Drift statistics"),
      el("p", { class: "muted" }, `Monitor every ${mon.monitor.every} over ${mon.monitor.window} windows; reference: ${
        mon.monitor.reference.description}. ${mon.windows.length} windows in this range.`),
      el("div", { class: "grid-3", id: "drift" }, driftCharts(mon.windows, mon.monitor, r, windowsQuery)));
  } else {
    parts.push(el("h2", {}, "Drift and accuracy"), el("p", { class: "muted", id: "no-monitor" },
      `No monitor watches this deployment: mlcatalog monitor add ${crn} --every 30m`));
  }
  parts.push(el("h2", {}, "Replicas"), replicaTable(dep));
  box.replaceChildren(...parts);
  document.getElementById("updated").textContent = `updated ${fmtTime(Date.now())}`;
  main.setAttribute("aria-busy", "false");
}

function start() {
  if (!crn) {
    main.replaceChildren(el("h1", {}, "Deployment dashboard"),
      el("p", { class: "error" }, "Say which deployment: ?crn=… (the catalog page links each one)."));
    return;
  }
  main.replaceChildren(
    el("h1", { id: "title" }, "Deployment"),
    el("p", { class: "mono muted" }, crn, " · ", el("a", { href: lineageHref({ crn }) }, "lineage"), " · ",
      el("a", { href: apiUrl(`/api/v1/deployments/${crn}`) }, "catalog entry"), " · ",
      el("a", { href: apiUrl("/api/v1/metrics", { model_deployment_crn: crn, start_timestamp_ms: range().start }) },
        "metrics (CML API)")),
    controls(range()), el("div", { id: "content" }, el("p", { class: "muted" }, "Loading…")));
  refresh();
  schedule();
}

start();
