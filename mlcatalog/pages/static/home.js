// The catalog home: projects → models → builds → deployments, with each deployment's live status from the
// serving platform, and a search over names, qualifiedNames/CRNs and classifications.

import {
  api, chrome, dashboardHref, driftBadge, el, fmtAgo, fmtTime, lineageHref, param, showError, tagBadges,
} from "./common.js";

chrome("/");
const main = document.getElementById("main");

async function load() {
  const [projects, models, builds, deployments] = await Promise.all(
    ["/api/v1/projects", "/api/v1/models", "/api/v1/builds", "/api/v1/deployments"].map((p) => api(p)));
  let serving = null;
  try {
    serving = await api("/api/v1/serving/deployments");
  } catch (err) {
    // the catalog alone (mlcatalog api), or no key given: the live columns say so instead of failing the page
    serving = { error: err.message };
  }
  return { projects, models, builds, deployments, serving };
}

// One row per entity, parents first; each row knows the text a search matches and its ancestors' rows.
function rows(data) {
  const live = new Map(Array.isArray(data.serving) ? data.serving.map((d) => [d.crn, d]) : []);
  const out = [];
  const add = (row, parent) => {
    row.parent = parent;
    out.push(row);
    return row;
  };
  const buildsOf = (model) => data.builds.filter((b) => b.model_crn === model.crn);
  const deploymentsOf = (build) => data.deployments.filter((d) => d.build_crn === build.crn);
  const seenModels = new Set();
  const seenBuilds = new Set();
  const seenDeps = new Set();
  const addModel = (m, parent) => {
    seenModels.add(m.crn);
    const mr = add({ kind: "model", level: parent ? 1 : 0, e: m, text: [m.name, m.crn] }, parent);
    for (const b of buildsOf(m)) addBuild(b, mr);
  };
  const addBuild = (b, parent) => {
    seenBuilds.add(b.crn);
    const br = add({ kind: "build", level: parent ? parent.level + 1 : 0, e: b,
      text: [b.name, b.crn, b.git_commit, b.version && `v${b.version}`] }, parent);
    for (const d of deploymentsOf(b)) addDeployment(d, br);
  };
  const addDeployment = (d, parent) => {
    seenDeps.add(d.crn);
    add({ kind: "deployment", level: parent ? parent.level + 1 : 0, e: d, live: live.get(d.crn),
      text: [d.name, d.crn, d.model_name, d.endpoint_url, ...(d.classifications || [])] }, parent);
  };
  for (const p of data.projects) {
    const pr = add({ kind: "project", level: 0, e: p, text: [p.name, p.crn, p.git_url] }, null);
    for (const m of data.models.filter((m) => m.project_crn === p.crn)) addModel(m, pr);
  }
  for (const m of data.models) if (!seenModels.has(m.crn)) addModel(m, null);
  for (const b of data.builds) if (!seenBuilds.has(b.crn)) addBuild(b, null);
  for (const d of data.deployments) if (!seenDeps.has(d.crn)) addDeployment(d, null);
  return out;
}

function matches(row, q) {
  return row.text.some((t) => t && String(t).toLowerCase().includes(q));
}

function liveCells(row, servingError) {
  if (row.kind !== "deployment") return [el("td"), el("td"), el("td"), el("td")];
  const d = row.e;
  const live = row.live;
  const status = (live && live.status) || d.status;
  const replicas = live ? (live.replica_status || []) : [];
  const up = replicas.filter((r) => r.alive || r.status === "running" || r.healthy).length;
  const replicaText = live ? `${up || replicas.length || live.replicas}/${live.replicas}` : (d.replicas ?? "—");
  const last = live ? (live.last_request_ms ?? live.last_prediction_ms) : undefined;
  return [
    el("td", {}, el("span", { class: `badge status-${status}` }, status || "—")),
    el("td", { title: live ? "replicas up / wanted" : servingError || "" }, String(replicaText)),
    el("td", {}, driftBadge((live && live.drift_status) || d.drift_status),
      (d.drift_columns || []).length ? el("div", { class: "muted" }, d.drift_columns.join(", ")) : null),
    el("td", { title: last ? fmtTime(last) : servingError || "" }, live ? fmtAgo(last) : "—"),
  ];
}

function rowElement(row, servingError) {
  const e = row.e;
  const links = [el("a", { href: lineageHref({ crn: e.crn }) }, "lineage")];
  if (row.kind === "deployment") links.push(" · ", el("a", { href: dashboardHref(e.crn) }, "dashboard"));
  const tags = row.kind === "deployment" ? tagBadges(e.classifications) : [];
  return el("tr", { class: `level-${row.level} row-${row.kind}`, "data-kind": row.kind, "data-crn": e.crn },
    el("td", {}, el("span", { class: "kind" }, row.kind), " ", el("strong", {}, e.name || "(unnamed)"),
      row.kind === "build" && e.version ? el("span", { class: "muted" }, ` v${e.version}`) : null),
    el("td", { class: "mono" }, e.crn),
    ...liveCells(row, servingError),
    el("td", {}, tags),
    el("td", {}, links));
}

function render(data, q) {
  const all = rows(data);
  const query = q.trim().toLowerCase();
  let shown = all;
  if (query) {
    const keep = new Set();
    for (const r of all.filter((r) => matches(r, query))) {
      for (let a = r; a; a = a.parent) keep.add(a);
    }
    shown = all.filter((r) => keep.has(r));
  }
  const servingError = data.serving && data.serving.error;
  const table = el("table", { class: "list", id: "catalog" },
    el("thead", {}, el("tr", {}, ["Name", "CRN", "Status", "Replicas", "Drift", "Last prediction", "Tags", ""]
      .map((h) => el("th", {}, h)))),
    el("tbody", {}, shown.map((r) => rowElement(r, servingError))));
  const counts = ["project", "model", "build", "deployment"].map((k) =>
    `${all.filter((r) => r.kind === k).length} ${k}s`).join(" · ");
  const results = document.getElementById("results");
  const parts = [el("p", { class: "muted", id: "counts" }, counts,
    query ? ` — ${shown.filter((r) => matches(r, query)).length} matching “${q.trim()}”` : "")];
  if (servingError) parts.push(el("p", { class: "muted" }, `Live status unavailable: ${servingError}`));
  if (query && /[.:/@]/.test(query)) {
    parts.push(el("p", {}, "Any other data set or process: ",
      el("a", { href: lineageHref({ qualifiedName: q.trim() }), id: "qn-lineage" }, `lineage of “${q.trim()}”`)));
  }
  parts.push(shown.length ? table : el("p", { class: "empty" }, query ? "Nothing in the catalog matches." :
    "The catalog is empty: deploy a model (mlcatalog deploy) or run mlcatalog up --demo."));
  results.replaceChildren(...parts);
}

async function start() {
  const search = el("input", { type: "search", id: "search", placeholder:
    "Search by name, qualifiedName, CRN or classification (e.g. PII)", value: param("q") || "",
    "aria-label": "search the catalog" });
  main.replaceChildren(el("h1", {}, "Catalog"), el("div", { class: "toolbar" }, search), el("div", { id: "results" }));
  let data;
  try {
    data = await load();
  } catch (err) {
    showError(document.getElementById("results"), err);
    return;
  }
  const update = () => {
    const url = new URL(window.location.href);
    if (search.value) url.searchParams.set("q", search.value);
    else url.searchParams.delete("q");
    history.replaceState(null, "", url);
    render(data, search.value);
  };
  search.addEventListener("input", update);
  render(data, search.value);
  main.setAttribute("aria-busy", "false");
}

start();
