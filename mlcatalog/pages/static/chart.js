// Small SVG charts: time series (one or more lines, optional threshold lines) and grouped bars. Every plotted
// value is a <circle class="point"> (or a <rect class="bar">) carrying its value, so what is drawn can be counted
// and compared with what the API returned.

import { el, fmtNum, fmtTime, svg } from "./common.js";

const W = 560;
const H = 200;
const PAD = { left: 52, right: 12, top: 12, bottom: 28 };

function niceTicks(min, max, count = 4) {
  if (!(max > min)) return [min];
  const raw = (max - min) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) || raw;
  const ticks = [];
  for (let v = Math.ceil(min / step) * step; v <= max + step * 1e-9; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function timeLabel(ms, span) {
  const s = fmtTime(ms);
  return span > 2 * 86400_000 ? s.slice(5, 16) : s.slice(11, span > 3 * 3600_000 ? 16 : 19);
}

// series: [{name, cls, points: [[t_ms, value], ...]}]; thresholds: [{value, label}]; range: [t0, t1] (ms).
export function lineChart({ title, series, thresholds = [], range, unit = "", yMin = 0, yMax, query, empty }) {
  const values = series.flatMap((s) => s.points.map((p) => p[1])).concat(thresholds.map((t) => t.value));
  const finite = values.filter((v) => Number.isFinite(v));
  let lo = Math.min(yMin ?? Infinity, ...finite);
  let hi = yMax ?? Math.max(...finite, lo + 1e-9);
  if (!Number.isFinite(lo)) lo = 0;
  if (!(hi > lo)) hi = lo + 1;
  hi += (hi - lo) * 0.05;
  const [t0, t1] = range;
  const x = (t) => PAD.left + ((t - t0) / Math.max(1, t1 - t0)) * (W - PAD.left - PAD.right);
  const y = (v) => H - PAD.bottom - ((v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const plot = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title });
  for (const v of niceTicks(lo, hi)) {
    plot.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "grid" }));
    plot.append(svg("text", { x: PAD.left - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" }, fmtNum(v) + unit));
  }
  for (const t of niceTicks(t0, t1, 5)) {
    plot.append(svg("text", { x: x(t), y: H - 8, class: "tick", "text-anchor": "middle" }, timeLabel(t, t1 - t0)));
  }
  plot.append(svg("line", { x1: PAD.left, x2: PAD.left, y1: PAD.top, y2: H - PAD.bottom, class: "axis" }));
  plot.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: H - PAD.bottom, y2: H - PAD.bottom, class: "axis" }));
  for (const th of thresholds) {
    plot.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(th.value), y2: y(th.value), class: "threshold" },
      svg("title", {}, `${th.label}: ${fmtNum(th.value)}`)));
  }
  series.forEach((s, i) => {
    const cls = s.cls || `s${i}`;
    const pts = s.points.filter((p) => Number.isFinite(p[1]));
    if (pts.length > 1) {
      plot.append(svg("polyline", { class: `line ${cls}`, points: pts.map((p) => `${x(p[0])},${y(p[1])}`).join(" ") }));
    }
    for (const [t, v] of pts) {
      plot.append(svg("circle", { class: `point ${cls}`, cx: x(t), cy: y(v), r: 2.6, "data-series": s.name,
        "data-t": t, "data-value": v }, svg("title", {}, `${s.name} ${fmtTime(t)}: ${fmtNum(v)}${unit}`)));
    }
  });
  const total = series.reduce((n, s) => n + s.points.length, 0);
  const legend = el("div", { class: "legend" },
    series.map((s, i) => el("span", { class: `key ${s.cls || `s${i}`}` }, s.name)),
    thresholds.map((t) => el("span", { class: "key threshold" }, `${t.label} ${fmtNum(t.value)}`)));
  return figure(title, total ? plot : el("p", { class: "empty" }, empty || "no data in this time range"), legend,
    query);
}

// categories: ["Excellent", "Poor"]; series: [{name, cls, values: [share per category]}] (0..1)
export function barChart({ title, categories, series, query, empty, note }) {
  if (!categories.length) return figure(title, el("p", { class: "empty" }, empty || "no data"), null, query);
  const groupW = (W - PAD.left - PAD.right) / categories.length;
  const barW = Math.min(48, (groupW * 0.8) / series.length);
  const hi = Math.max(1e-9, ...series.flatMap((s) => s.values)) * 1.1;
  const y = (v) => H - PAD.bottom - (v / hi) * (H - PAD.top - PAD.bottom);
  const plot = svg("svg", { viewBox: `0 0 ${W} ${H}`, class: "chart", role: "img", "aria-label": title });
  for (const v of niceTicks(0, hi)) {
    plot.append(svg("line", { x1: PAD.left, x2: W - PAD.right, y1: y(v), y2: y(v), class: "grid" }));
    plot.append(svg("text", { x: PAD.left - 6, y: y(v) + 4, class: "tick", "text-anchor": "end" },
      `${Math.round(v * 100)}%`));
  }
  categories.forEach((c, ci) => {
    const gx = PAD.left + ci * groupW + (groupW - barW * series.length) / 2;
    series.forEach((s, si) => {
      const v = s.values[ci] || 0;
      plot.append(svg("rect", { class: `bar ${s.cls || `s${si}`}`, x: gx + si * barW, y: y(v), width: barW - 2,
        height: Math.max(0, H - PAD.bottom - y(v)), "data-series": s.name, "data-category": c, "data-value": v },
        svg("title", {}, `${s.name} ${c}: ${(v * 100).toFixed(1)}%`)));
    });
    plot.append(svg("text", { x: PAD.left + ci * groupW + groupW / 2, y: H - 8, class: "tick",
      "text-anchor": "middle" }, c));
  });
  const legend = el("div", { class: "legend" }, series.map((s, i) => el("span", { class: `key ${s.cls || `s${i}`}` },
    s.name)), note ? el("span", { class: "note" }, note) : null);
  return figure(title, plot, legend, query);
}

function figure(title, body, legend, query) {
  return el("figure", { class: "panel", "data-chart": title },
    el("figcaption", {}, el("span", { class: "title" }, title),
      query ? el("a", { class: "query", href: query, title: "the API query this chart shows" }, "query") : null),
    body, legend);
}
