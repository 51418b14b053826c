// What every page shares: API calls that ask for a key when the API wants one, DOM building from nodes and text
// (catalog text is user input: it is only ever set as text), and time formatting.

const KEY = "mlcatalog.key";

export class ApiError extends Error {
  constructor(status, code, message) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

// The API's URL for `path` and `params` (undefined/null/"" params are left out): also shown as the "query" link
// under each chart, so a person can fetch exactly what the page drew.
export function apiUrl(path, params = {}) {
  const url = new URL(path, window.location.origin);
  for (const [k, v] of Object.entries(params)) {
    if (v !== undefined && v !== null && v !== "") url.searchParams.set(k, String(v));
  }
  return url.pathname + url.search;
}

let asking = null; // one key dialog at a time, however many calls were refused

// GET an API path as JSON. On 401/403 the page asks for a key (kept for this tab only) and retries; a person who
// cancels gets the API's own message.
export async function api(path, params = {}) {
  const url = apiUrl(path, params);
  for (;;) {
    const headers = { Accept: "application/json" };
    const key = sessionStorage.getItem(KEY);
    if (key) headers.Authorization = `Bearer ${key}`;
    const r = await fetch(url, { headers });
    let body = null;
    try {
      body = await r.json();
    } catch {
      body = null;
    }
    if (r.ok) return body;
    const message = (body && body.message) || `HTTP ${r.status}`;
    if ((r.status === 401 || r.status === 403) && (await askForKey(message))) continue;
    throw new ApiError(r.status, body && body.code, message);
  }
}

function askForKey(message) {
  if (!asking) {
    asking = new Promise((resolve) => {
      const dialog = document.getElementById("key-dialog");
      const input = dialog.querySelector("input");
      dialog.querySelector(".why").textContent = message;
      input.value = "";
      const done = (ok) => {
        dialog.close();
        asking = null;
        resolve(ok);
      };
      dialog.querySelector("form").onsubmit = (ev) => {
        ev.preventDefault();
        const value = input.value.trim();
        if (value) sessionStorage.setItem(KEY, value);
        done(Boolean(value));
      };
      dialog.querySelector(".cancel").onclick = () => done(false);
      dialog.showModal();
      input.focus();
    });
  }
  return asking;
}

export function forgetKey() {
  sessionStorage.removeItem(KEY);
}

// el("a", {href: "/x", class: "c"}, "text", child, ...): attributes set as attributes (data-*, aria-* too);
// `on*` functions become listeners; strings become text nodes.
export function el(tag, attrs = {}, ...children) {
  const node = tag.startsWith("svg:")
    ? document.createElementNS("http://www.w3.org/2000/svg", tag.slice(4))
    : document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : String(v));
  }
  for (const c of children.flat()) {
    if (c === undefined || c === null || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function svg(tag, attrs = {}, ...children) {
  return el(`svg:${tag}`, attrs, ...children);
}

export function param(name) {
  return new URLSearchParams(window.location.search).get(name);
}

export function fmtTime(ms) {
  if (ms === undefined || ms === null) return "—";
  const d = new Date(ms);
  const pad = (n) => String(n).padStart(2, "0");
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())} ${pad(d.getHours())}:${pad(
    d.getMinutes(),
  )}:${pad(d.getSeconds())}`;
}

export function fmtAgo(ms, now = Date.now()) {
  if (ms === undefined || ms === null) return "never";
  const s = Math.max(0, Math.round((now - ms) / 1000));
  if (s < 60) return `${s} s ago`;
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return `${Math.round(s / 86400)} d ago`;
}

export function fmtNum(v, digits = 3) {
  if (v === undefined || v === null || Number.isNaN(v)) return "—";
  if (Math.abs(v) >= 1000 || Number.isInteger(v)) return String(Math.round(v * 100) / 100);
  return Number(v).toPrecision(digits);
}

export function driftBadge(status) {
  const s = status || "none";
  return el("span", { class: `badge drift-${s}`, "data-drift": s }, status || "no monitor");
}

export function tagBadges(tags) {
  return (tags || []).map((t) =>
    el("span", { class: "tag", title: t.propagated ? `propagated from ${t.source_name || "upstream"}` : "own" },
      typeof t === "string" ? t : t.name),
  );
}

export function lineageHref(params) {
  return apiUrl("/lineage", params);
}

export function dashboardHref(crn) {
  return apiUrl("/dashboard", { crn });
}

// Show an error where the page's content goes (replacing it), as a person would read it.
export function showError(container, err) {
  container.replaceChildren(el("p", { class: "error", role: "alert" }, err.message || String(err)));
}

// The bar at the top of every page and the key dialog that api() opens.
export function chrome(active) {
  const link = (href, text) => el("a", { href, "aria-current": active === href ? "page" : null }, text);
  document.body.prepend(el("header", { class: "top" },
    el("a", { class: "brand", href: "/" }, "mlcatalog"),
    el("nav", {}, link("/", "Catalog"), link("/docs", "API docs"), link("/api/v1/openapi.json", "OpenAPI")),
    el("span", { class: "spacer" }),
    el("button", { type: "button", class: "forget", title: "forget the key this tab uses",
      onclick: () => { forgetKey(); window.location.reload(); } }, "Forget key")));
  document.body.append(el("dialog", { id: "key-dialog" },
    el("form", { method: "dialog" },
      el("h2", {}, "A key is needed"),
      el("p", { class: "why" }),
      el("label", { for: "key-input" }, "API key (kept for this browser tab only)"),
      el("input", { id: "key-input", type: "password", autocomplete: "off", name: "key" }),
      el("div", { class: "toolbar" }, el("button", { type: "submit", class: "primary" }, "Use key"),
        el("button", { type: "button", class: "cancel" }, "Cancel")))));
}
