// Lineage of one entity, left to right in layers like Atlas's lineage tab: data flows from sources (left) through
// processes and builds to deployments (right). Layers come from the API (longest path, so every edge points
// right); here they are only ordered to keep edges from crossing and drawn.

import { api, apiUrl, chrome, dashboardHref, el, fmtTime, lineageHref, param, showError, svg } from "./common.js";

chrome("/lineage");
const main = document.getElementById("main");

const NODE_W = 190;
const GAP_X = 64;
const MIN_SCALE = 0.75; // below this, names are too small to read: scroll instead
const ROW_H = 92;
const MARGIN = 24;
const KIND_LABEL = { s3: "S3 location", table: "Hive table", column: "column", process: "process", project: "project",
  build: "model build", deployment: "deployment", dataset: "data set", other: "entity" };

function target() {
  const t = {};
  for (const k of ["guid", "crn", "qualifiedName", "typeName"]) if (param(k)) t[k] = param(k);
  return t;
}

// Order nodes within each layer by the mean position of their neighbours (two sweeps each way): the barycentre
// heuristic of layered drawing, enough for lineage graphs, which are narrow.
function order(graph) {
  const layers = new Map();
  for (const n of graph.nodes) {
    if (!layers.has(n.layer)) layers.set(n.layer, []);
    layers.get(n.layer).push(n);
  }
  const keys = [...layers.keys()].sort((a, b) => a - b);
  for (const k of keys) layers.get(k).sort((a, b) => (a.kind + (a.name || "")).localeCompare(b.kind + (b.name || "")));
  const pos = new Map();
  const place = () => keys.forEach((k) => layers.get(k).forEach((n, i) => pos.set(n.guid, i)));
  const preds = new Map(graph.nodes.map((n) => [n.guid, []]));
  const succs = new Map(graph.nodes.map((n) => [n.guid, []]));
  for (const e of graph.edges) {
    if (preds.has(e.to_guid)) preds.get(e.to_guid).push(e.from_guid);
    if (succs.has(e.from_guid)) succs.get(e.from_guid).push(e.to_guid);
  }
  const sweep = (ks, nbrs) => {
    for (const k of ks) {
      const mean = (n) => {
        const ps = nbrs.get(n.guid).filter((g) => pos.has(g)).map((g) => pos.get(g));
        return ps.length ? ps.reduce((a, b) => a + b, 0) / ps.length : pos.get(n.guid);
      };
      const m = new Map(layers.get(k).map((n) => [n.guid, mean(n)]));
      layers.get(k).sort((a, b) => m.get(a.guid) - m.get(b.guid));
      layers.get(k).forEach((n, i) => pos.set(n.guid, i));
    }
  };
  place();
  for (let i = 0; i < 2; i++) {
    sweep(keys.slice(1), preds);
    sweep(keys.slice(0, -1).reverse(), succs);
  }
  return { keys, layers };
}

function shape(kind, w, h) {
  switch (kind) {
    case "s3": // a folder: S3 locations are prefixes
      return svg("path", { class: "shape", d: `M0,8 h${w * 0.32} l8,-8 h${w * 0.68 - 8} v${h} h-${w} z` });
    case "process": // a pill, as process nodes are drawn round in Atlas
      return svg("rect", { class: "shape", width: w, height: h, rx: h / 2 });
    case "table": {
      const g = svg("g", {}, svg("rect", { class: "shape", width: w, height: h, rx: 3 }));
      g.append(svg("line", { x1: 0, x2: w, y1: 16, y2: 16, class: "shape" }));
      return g;
    }
    case "deployment":
      return svg("g", {}, svg("rect", { class: "shape", width: w, height: h, rx: 8 }),
        svg("rect", { class: "shape", width: 7, height: h, rx: 3 }));
    case "build":
      return svg("rect", { class: "shape", width: w, height: h, rx: 8, "stroke-dasharray": "7 3" });
    default:
      return svg("rect", { class: "shape", width: w, height: h, rx: 2 });
  }
}

function truncate(text, max) {
  const s = String(text || "");
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

function nodeElement(n, x, y, baseGuid, select) {
  const h = 64;
  const g = svg("g", { class: `node kind-${n.kind}${n.status === "DELETED" ? " deleted" : ""}${n.guid === baseGuid
    ? " base" : ""}`, transform: `translate(${x},${y})`, tabindex: 0, role: "button", "data-guid": n.guid,
  "data-kind": n.kind, "data-layer": n.layer, "data-name": n.name || n.qualified_name || n.guid,
  "data-status": n.status, "aria-label": `${KIND_LABEL[n.kind] || n.kind} ${n.name || n.qualified_name}` },
  svg("title", {}, `${n.type_name}: ${n.qualified_name || n.name}`), shape(n.kind, NODE_W, h));
  g.append(svg("text", { class: "kindlabel", x: 14, y: 12 }, (KIND_LABEL[n.kind] || n.kind).toUpperCase()));
  if (n.status === "DELETED") g.append(svg("text", { class: "deleted-label", x: NODE_W - 8, y: 12,
    "text-anchor": "end" }, "DELETED"));
  g.append(svg("text", { class: "name", x: 14, y: 32 }, truncate(n.name || n.qualified_name || n.guid, 24)));
  let cx = 14;
  const own = new Set((n.classifications || []).filter((c) => !c.propagated).map((c) => c.name));
  const chips = new Map(); // one chip per tag name, own before propagated (a tag may reach from several sources)
  for (const c of n.classifications || []) {
    if (!chips.has(c.name) && (!c.propagated || !own.has(c.name))) chips.set(c.name, c);
  }
  for (const c of chips.values()) {
    const w = 10 + 6.2 * c.name.length;
    if (cx + w > NODE_W - 6) break;
    g.append(svg("g", { class: `tagchip${c.propagated ? " propagated" : ""}`, transform: `translate(${cx},42)`,
      "data-tag": c.name, "data-propagated": c.propagated ? "true" : "false" },
    svg("rect", { width: w, height: 15, rx: 3 }), svg("text", { x: 5, y: 11 }, c.name)));
    cx += w + 4;
  }
  g.addEventListener("click", () => select(n));
  g.addEventListener("keydown", (ev) => { if (ev.key === "Enter") select(n); });
  g.addEventListener("dblclick", () => recentre(n.guid));
  return g;
}

function draw(graph, select) {
  const { keys, layers } = order(graph);
  const tallest = Math.max(...keys.map((k) => layers.get(k).length));
  const width = MARGIN * 2 + keys.length * NODE_W + (keys.length - 1) * GAP_X;
  const height = MARGIN * 2 + tallest * ROW_H;
  const at = new Map();
  keys.forEach((k, col) => {
    const nodes = layers.get(k);
    const top = MARGIN + ((tallest - nodes.length) * ROW_H) / 2;
    nodes.forEach((n, i) => at.set(n.guid, { x: MARGIN + col * (NODE_W + GAP_X), y: top + i * ROW_H }));
  });
  const root = svg("svg", { width, height, viewBox: `0 0 ${width} ${height}`, id: "lineage-svg",
    role: "img", "aria-label": "lineage graph" },
  svg("defs", {}, svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: 10, refY: 5, markerWidth: 7,
    markerHeight: 7, orient: "auto-start-reverse" }, svg("path", { d: "M0,0 L10,5 L0,10 z", fill: "#8d96a8" }))));
  const byGuid = new Map(graph.nodes.map((n) => [n.guid, n]));
  for (const e of graph.edges) {
    const a = at.get(e.from_guid);
    const b = at.get(e.to_guid);
    if (!a || !b) continue;
    const x1 = a.x + NODE_W;
    const y1 = a.y + 32;
    const x2 = b.x;
    const y2 = b.y + 32;
    const mx = (x1 + x2) / 2;
    const deleted = [e.from_guid, e.to_guid].some((g) => byGuid.get(g).status === "DELETED");
    root.append(svg("path", { class: `edge${deleted ? " deleted" : ""}`, d: `M${x1},${y1} C${mx},${y1} ${mx},${y2}
      ${x2},${y2}`, "marker-end": "url(#arrow)", "data-from": e.from_guid, "data-to": e.to_guid }));
  }
  for (const n of graph.nodes) {
    const p = at.get(n.guid);
    root.append(nodeElement(n, p.x, p.y, graph.base_guid, select));
  }
  return root;
}

// Shrink a wide graph to the box's width, down to MIN_SCALE (the viewBox keeps the drawing's coordinates).
function fit(drawing, box) {
  const natural = Number(drawing.getAttribute("width"));
  const scale = Math.max(MIN_SCALE, Math.min(1, (box.clientWidth - 2) / natural));
  drawing.setAttribute("width", String(natural * scale));
  drawing.setAttribute("height", String(Number(drawing.getAttribute("height")) * scale));
}

function details(n, graph) {
  const names = new Map(graph.nodes.map((x) => [x.guid, x.name || x.qualified_name || x.guid]));
  const facts = [["type", n.type_name], ["status", n.status], ["qualifiedName", n.qualified_name], ["guid", n.guid]];
  for (const [k, v] of Object.entries(n.details || {})) {
    facts.push([k, /Time$/.test(k) && typeof v === "number" ? fmtTime(v) : typeof v === "object" ? JSON.stringify(v)
      : v]);
  }
  const tags = (n.classifications || []).map((c) => el("li", {},
    el("span", { class: `tag${c.propagated ? " propagated" : ""}` }, c.name),
    c.propagated ? [" propagated from ", el("a", { href: lineageHref({ guid: c.source_guid }) },
      names.get(c.source_guid) || "an entity further upstream")] : " (own)"));
  const crn = n.details && n.details.crn;
  return el("div", { class: "panel", id: "details", "data-guid": n.guid },
    el("h2", {}, n.name || n.qualified_name || n.guid),
    el("div", { class: "muted" }, KIND_LABEL[n.kind] || n.kind),
    el("div", { class: "actions" },
      n.guid !== graph.base_guid ? el("button", { type: "button", id: "recentre", onclick: () => recentre(n.guid) },
        "Centre lineage here") : null,
      n.atlas_url ? el("a", { href: n.atlas_url, target: "_blank", rel: "noopener", id: "atlas-link" },
        "Open in Atlas") : null,
      n.kind === "deployment" && crn ? el("a", { href: dashboardHref(crn) }, "Dashboard") : null),
    tags.length ? el("div", {}, el("strong", {}, "Classifications"), el("ul", {}, tags)) : null,
    el("dl", { class: "facts" }, facts.filter(([, v]) => v !== undefined && v !== null && v !== "")
      .flatMap(([k, v]) => [el("dt", {}, k), el("dd", { class: "mono" }, String(v))])));
}

function recentre(guid) {
  const depth = param("depth");
  const direction = param("direction");
  history.pushState(null, "", lineageHref({ guid, depth, direction }));
  show();
}

async function show() {
  const t = target();
  const depth = Number(param("depth") || 3);
  const direction = param("direction") || "BOTH";
  const query = apiUrl("/api/v1/lineage", { ...t, depth, direction });
  const depthSel = el("select", { id: "depth", "aria-label": "depth" },
    [1, 2, 3, 4, 5, 6, 8, 10].map((d) => el("option", { value: d, selected: d === depth }, String(d))));
  const dirSel = el("select", { id: "direction", "aria-label": "direction" },
    [["BOTH", "upstream and downstream"], ["INPUT", "upstream"], ["OUTPUT", "downstream"]].map(([v, label]) =>
      el("option", { value: v, selected: v === direction }, label)));
  const change = () => {
    history.pushState(null, "", lineageHref({ ...t, depth: depthSel.value, direction: dirSel.value }));
    show();
  };
  depthSel.addEventListener("change", change);
  dirSel.addEventListener("change", change);
  const side = el("aside", { id: "side" }, el("div", { class: "panel muted" }, "Click a node for its details."));
  const graphBox = el("div", { id: "graph" }, el("p", { class: "muted empty" }, "Loading lineage…"));
  main.replaceChildren(el("h1", { id: "title" }, "Lineage"),
    el("div", { class: "toolbar" }, el("label", { for: "depth" }, "Depth"), depthSel,
      el("label", { for: "direction" }, "Direction"), dirSel, el("a", { href: query, class: "query" }, "API query")),
    el("div", { class: "lineage-layout" }, graphBox, side));
  if (!Object.keys(t).length) {
    showError(graphBox, new Error("Say whose lineage: ?crn=…, ?guid=… or ?qualifiedName=… (search on the catalog page)"));
    return;
  }
  let graph;
  try {
    graph = await api("/api/v1/lineage", { ...t, depth, direction });
  } catch (err) {
    showError(graphBox, err);
    return;
  }
  const base = graph.nodes.find((n) => n.guid === graph.base_guid);
  document.getElementById("title").textContent = `Lineage of ${base ? base.name || base.qualified_name : "?"}`;
  document.title = `Lineage of ${base ? base.name : "?"} · mlcatalog`;
  let selected = null;
  const select = (n) => {
    if (selected) selected.classList.remove("selected");
    selected = graphBox.querySelector(`g.node[data-guid="${CSS.escape(n.guid)}"]`);
    if (selected) selected.classList.add("selected");
    side.replaceChildren(details(n, graph));
  };
  const more = [graph.more_upstream && "more upstream", graph.more_downstream && "more downstream"].filter(Boolean);
  const drawn = draw(graph, select);
  graphBox.replaceChildren(drawn);
  fit(drawn, graphBox);
  if (more.length) graphBox.append(el("p", { class: "muted", id: "more" }, `There is ${more.join(" and ")}` +
    " beyond this depth."));
  if (base) select(base);
  main.setAttribute("aria-busy", "false");
}

window.addEventListener("popstate", show);
show();
