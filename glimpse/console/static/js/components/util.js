// Shared helpers: DOM building, API calls, number and time formatting, colours.

/** h("div", {class: "x", onclick: f}, child, "text", [more]) -> an element. */
export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else if (key === "style" && typeof value === "object") Object.assign(el.style, value);
    else if (key === "dataset") Object.assign(el.dataset, value);
    else if (key === "html") el.innerHTML = value;
    else el.setAttribute(key, value === true ? "" : String(value));
  }
  append(el, children);
  return el;
}

function append(el, children) {
  for (const child of children) {
    if (child === undefined || child === null || child === false) continue;
    if (Array.isArray(child)) append(el, child);
    else el.append(child instanceof Node ? child : String(child));
  }
}

const SVG_NS = "http://www.w3.org/2000/svg";
/** The same for SVG elements. */
export function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null) continue;
    if (key.startsWith("on") && typeof value === "function") el.addEventListener(key.slice(2), value);
    else el.setAttribute(key, String(value));
  }
  append(el, children);
  return el;
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

/** GET /api/<path>?params (undefined/empty values dropped) -> parsed JSON, or ApiError.
 * A server started with --token-file answers 401 without its bearer token: then the console
 * asks for the token, keeps it for the tab and sends it with every call from then on. */
export async function api(path, params = {}, init = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => url.searchParams.append(key, v));
    else url.searchParams.set(key, value);
  }
  let response;
  for (;;) {
    const token = storedToken();
    const headers = new Headers(init.headers || {});
    if (token) headers.set("authorization", `Bearer ${token}`);
    response = await fetch(url, { ...init, headers });
    if (response.status !== 401) break;
    // another call may have been given a new token meanwhile: try that before asking
    if (storedToken() === token) await askForToken(Boolean(token));
  }
  let body = null;
  try {
    body = await response.json();
  } catch {
    body = null;
  }
  if (!response.ok) throw new ApiError(response.status, (body && body.error) || `${response.status} ${response.statusText}`);
  return body;
}

// The token lives in sessionStorage: this tab keeps it across reloads and pages, and it
// goes with the tab; localStorage would keep a credential on disk for every later visit.
const TOKEN_KEY = "glimpse.token";
let tokenPrompt = null; // one form for all the calls refused at the same time
let pageToken = null; // where storage is disabled: kept until the page reloads

function storedToken() {
  try {
    return sessionStorage.getItem(TOKEN_KEY) ?? pageToken;
  } catch {
    return pageToken;
  }
}

/** Show the token form; resolves once a token is stored. */
function askForToken(refused) {
  tokenPrompt ??= new Promise((resolve) => {
    const input = h("input", { type: "password", id: "token-input", name: "token", autocomplete: "off", required: true, placeholder: "bearer token" });
    const message = refused ? "The server refused that token. Try another one." : "This glimpse server wants a bearer token (a line of its token file).";
    const form = h("form", { id: "token-form", class: "token-form" },
      h("h2", {}, "Token"), h("p", { class: refused ? "bad" : "muted" }, message), input,
      h("button", { type: "submit", class: "btn primary" }, "Continue"),
      h("p", { class: "muted small" }, "Kept in this browser tab only."));
    const overlay = h("div", { class: "token-overlay", role: "dialog", "aria-modal": "true", "aria-label": "token" }, form);
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      pageToken = input.value.trim();
      try {
        sessionStorage.setItem(TOKEN_KEY, pageToken);
      } catch {
        /* storage disabled: pageToken serves until the page reloads */
      }
      overlay.remove();
      tokenPrompt = null;
      resolve();
    });
    document.body.append(overlay);
    input.focus();
  });
  return tokenPrompt;
}

export function postJson(path, payload) {
  return api(path, {}, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(payload) });
}

// ---- numbers -------------------------------------------------------------------------

/** Milliseconds -> "812 µs", "12.3 ms", "1.24 s", "2 m 03 s". */
export function fmtMs(ms) {
  if (ms === null || ms === undefined || Number.isNaN(ms)) return "–";
  const abs = Math.abs(ms);
  if (abs === 0) return "0 ms";
  if (abs < 1) return `${trim(ms * 1000, abs < 0.01 ? 2 : abs < 0.1 ? 1 : 0)} µs`;
  if (abs < 1000) return `${trim(ms, abs < 10 ? 2 : abs < 100 ? 1 : 0)} ms`;
  if (abs < 60_000) return `${trim(ms / 1000, 2)} s`;
  const minutes = Math.floor(abs / 60_000);
  const seconds = Math.round((abs % 60_000) / 1000);
  if (minutes < 60) return `${ms < 0 ? "-" : ""}${minutes} m ${String(seconds).padStart(2, "0")} s`;
  return `${trim(ms / 3_600_000, 1)} h`;
}
export const fmtNs = (ns) => (ns === null || ns === undefined ? "–" : fmtMs(ns / 1e6));

function trim(value, digits) {
  return Number(value.toFixed(digits)).toLocaleString("en-US", { maximumFractionDigits: digits });
}

/** Per-second rate -> "12.4/s", "3.0/min" below 1/s. */
export function fmtRate(perSecond) {
  if (perSecond === null || perSecond === undefined) return "–";
  if (perSecond === 0) return "0/s";
  if (perSecond < 1) return `${trim(perSecond * 60, perSecond * 60 < 10 ? 1 : 0)}/min`;
  return `${trim(perSecond, perSecond < 10 ? 2 : perSecond < 100 ? 1 : 0)}/s`;
}

/** A fraction -> "0.12 %", "12 %". */
export function fmtPct(fraction, digits) {
  if (fraction === null || fraction === undefined || Number.isNaN(fraction)) return "–";
  const pct = fraction * 100;
  const d = digits ?? (pct === 0 ? 0 : pct < 1 ? 2 : pct < 10 ? 1 : 0);
  return `${trim(pct, d)} %`;
}

export function fmtCount(n) {
  if (n === null || n === undefined) return "–";
  if (Math.abs(n) >= 1e6) return `${trim(n / 1e6, 2)} M`;
  if (Math.abs(n) >= 1e4) return `${trim(n / 1e3, 1)} k`;
  return Number(n).toLocaleString("en-US");
}

// ---- time ----------------------------------------------------------------------------

const pad = (n, w = 2) => String(n).padStart(w, "0");

/** Unix ns -> "2023-11-14 22:13:20.123" in the browser's time zone. */
export function fmtTime(ns, { date = true, millis = true } = {}) {
  if (ns === null || ns === undefined) return "–";
  const d = new Date(Number(BigInt(ns) / 1_000_000n));
  const day = `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}`;
  const time = `${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${millis ? "." + pad(d.getMilliseconds(), 3) : ""}`;
  return date ? `${day} ${time}` : time;
}

/** Unix ns -> "YYYY-MM-DDTHH:MM" for <input type=datetime-local> (local time). */
export function toLocalInput(ns) {
  const d = new Date(Number(BigInt(ns) / 1_000_000n));
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
export function fromLocalInput(text) {
  const ms = new Date(text).getTime();
  return Number.isNaN(ms) ? undefined : String(BigInt(ms) * 1_000_000n);
}

// ---- colours -------------------------------------------------------------------------

const PALETTE = ["#4f7cff", "#17a589", "#e67e22", "#9b59b6", "#e84393", "#00a8c6", "#8e9a2f", "#c0392b",
  "#2e86de", "#16a085", "#d35400", "#6c5ce7", "#b7950b", "#1abc9c", "#a93226", "#5d6d7e"];

let known = new Map();

/** Give the store's services (sorted) distinct colours, the same on every page. */
export function setServiceNames(names) {
  known = new Map(names.map((name, i) => [name, PALETTE[i % PALETTE.length]]));
}

/** A stable colour per service name. */
export function serviceColor(name) {
  if (known.has(name)) return known.get(name);
  let hash = 2166136261;
  for (let i = 0; i < name.length; i++) hash = Math.imul(hash ^ name.charCodeAt(i), 16777619);
  return PALETTE[Math.abs(hash) % PALETTE.length];
}

/** Error rate (0..1) -> green, amber, red (5 % and more is red). */
export function errorColor(rate) {
  if (!rate) return "#2fb26b";
  const t = Math.min(1, rate / 0.05);
  return t < 0.5 ? mix("#2fb26b", "#e9b018", t * 2) : mix("#e9b018", "#e5484d", (t - 0.5) * 2);
}

export function mix(a, b, t) {
  const pa = [1, 3, 5].map((i) => parseInt(a.slice(i, i + 2), 16));
  const pb = [1, 3, 5].map((i) => parseInt(b.slice(i, i + 2), 16));
  return "#" + pa.map((v, i) => Math.round(v + (pb[i] - v) * t).toString(16).padStart(2, "0")).join("");
}

export function cssVar(name) {
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim();
}

// ---- small widgets -------------------------------------------------------------------

export function serviceChip(name, extra) {
  return h("span", { class: "chip" }, h("span", { class: "dot", style: { background: serviceColor(name) } }), name, extra);
}

export function notice(title, text) {
  return h("div", { class: "notice" }, h("strong", {}, title), text);
}

export function errorBox(error) {
  return h("div", { class: "error-box" }, error instanceof Error ? error.message : String(error));
}

export function stat(value, key) {
  return h("div", { class: "stat" }, h("div", { class: "v" }, value), h("div", { class: "k" }, key));
}

/** A log record's severity level (TRACE … FATAL, UNSPECIFIED) as a coloured badge. */
export function severityBadge(level, title) {
  return h("span", { class: `badge sev sev-${level}`, title }, level);
}

export function traceLink(traceId, text) {
  return h("a", { href: `#/trace/${traceId}`, class: "mono", title: traceId }, text || traceId.slice(0, 12) + "…");
}

/** An inline SVG sparkline of numbers (nulls are gaps). */
export function sparkline(values, { width = 120, height = 26, color = "#4f7cff", max } = {}) {
  const finite = values.filter((v) => v !== null && v !== undefined);
  const top = max ?? Math.max(1e-12, ...finite);
  const step = values.length > 1 ? width / (values.length - 1) : width;
  let d = "";
  let area = "";
  let pen = false;
  values.forEach((v, i) => {
    if (v === null || v === undefined) { pen = false; return; }
    const x = (i * step).toFixed(1);
    const y = (height - 2 - (v / top) * (height - 4)).toFixed(1);
    d += `${pen ? "L" : "M"}${x},${y}`;
    pen = true;
  });
  if (finite.length) area = `${d}L${width},${height}L0,${height}Z`;
  return s("svg", { class: "spark", width, height, viewBox: `0 0 ${width} ${height}` },
    s("path", { d: area && values.every((v) => v !== null) ? area : "", fill: color, "fill-opacity": 0.12 }),
    s("path", { d, fill: "none", stroke: color, "stroke-width": 1.5 }));
}

/** A sortable, filterable table. columns: [{key, label, num, render(row), sort(row)}]. */
export function dataTable(columns, rows, { sortKey, desc = true, onRowClick, filter, rowClass, detail } = {}) {
  let key = sortKey;
  let descending = desc;
  let query = "";
  const thead = h("thead");
  const tbody = h("tbody");
  const table = h("table", { class: "data" }, thead, tbody);
  let openRow = null;

  function header() {
    thead.replaceChildren(h("tr", {}, columns.map((c) => h("th", {
      class: [c.num ? "num" : "", c.sort !== false ? "sortable" : "", key === c.key ? "sorted" : "", key === c.key && !descending ? "asc" : ""].join(" "),
      title: c.title,
      onclick: c.sort === false ? undefined : () => {
        if (key === c.key) descending = !descending; else { key = c.key; descending = !!c.num; }
        header(); body();
      },
    }, c.label))));
  }
  function value(c, row) {
    return c.sort ? c.sort(row) : row[c.key];
  }
  function body() {
    const col = columns.find((c) => c.key === key);
    let shown = rows.filter((row) => !query || (filter ? filter(row) : JSON.stringify(row)).toLowerCase().includes(query));
    if (col) {
      shown = [...shown].sort((a, b) => {
        const va = value(col, a), vb = value(col, b);
        if (va === vb) return 0;
        if (va === null || va === undefined) return 1;
        if (vb === null || vb === undefined) return -1;
        const order = typeof va === "number" ? va - vb : String(va).localeCompare(String(vb));
        return descending ? -order : order;
      });
    }
    tbody.replaceChildren(...shown.map((row) => {
      const tr = h("tr", { class: [onRowClick || detail ? "clickable" : "", rowClass ? rowClass(row) : ""].join(" ") },
        columns.map((c) => h("td", { class: c.num ? "num" : "" }, c.render ? c.render(row) : row[c.key])));
      tr.addEventListener("click", (event) => {
        if (event.target.closest("a")) return;
        if (onRowClick) onRowClick(row, tr);
        if (detail) {
          const wasOpen = openRow && openRow.previousSibling === tr;
          if (openRow) { openRow.previousSibling?.classList.remove("selected"); openRow.remove(); openRow = null; }
          if (!wasOpen) {
            openRow = h("tr", { class: "detail-row" }, h("td", { colspan: columns.length }, detail(row)));
            tr.classList.add("selected");
            tr.after(openRow);
          }
        }
      });
      return tr;
    }));
    if (!shown.length) tbody.append(h("tr", {}, h("td", { colspan: columns.length, class: "muted" }, "Nothing matches.")));
  }
  header();
  body();
  table.setFilter = (text) => { query = text.trim().toLowerCase(); body(); };
  return table;
}

export function bar(fraction, color) {
  return h("div", { class: "bar", title: fmtPct(fraction) },
    h("span", { style: { width: `${Math.max(0, Math.min(1, fraction)) * 100}%`, background: color || "" } }));
}

/** Download text as a file. */
export function download(filename, text, type = "text/csv") {
  const url = URL.createObjectURL(new Blob([text], { type }));
  const a = h("a", { href: url, download: filename });
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
