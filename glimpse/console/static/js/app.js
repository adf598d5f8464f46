// The console shell: hash routes (#/page/arg?params), the span-time window picker, the theme.
import { api, errorBox, fmtTime, fromLocalInput, h, setServiceNames, toLocalInput } from "./util.js";

const PAGES = {
  services: () => import("./services.js"),
  map: () => import("./map.js"),
  traces: () => import("./traces.js"),
  trace: () => import("./traces.js").then((m) => ({ render: m.renderTrace })),
  bottlenecks: () => import("./bottlenecks.js"),
  anomalies: () => import("./incidents.js").then((m) => ({ render: m.renderAnomalies })),
  rca: () => import("./incidents.js").then((m) => ({ render: m.renderRootCauses })),
  sql: () => import("./sql.js"),
};

// Window presets, relative to the newest span in the store (analysis is in span time).
const RANGES = [["all", "All data"], ["5m", "Last 5 min"], ["15m", "Last 15 min"], ["1h", "Last hour"],
  ["6h", "Last 6 hours"], ["24h", "Last 24 hours"], ["custom", "Custom…"]];
const UNIT_NS = { m: 60n * 1_000_000_000n, h: 3600n * 1_000_000_000n };
const WINDOW_KEYS = ["range", "since", "until"];

let renderToken = 0;

function parseHash() {
  const text = location.hash.replace(/^#\/?/, "");
  const [path, query = ""] = text.split("?");
  const [page, ...rest] = path.split("/");
  return { page: page || "services", arg: rest.map(decodeURIComponent).join("/"), params: new URLSearchParams(query) };
}

/** The current window as API parameters {since, until} (unix ns strings or undefined). */
export function resolveWindow(params, extent) {
  const range = params.get("range") || (params.get("since") || params.get("until") ? "custom" : "all");
  if (range === "custom") return { since: params.get("since") || undefined, until: params.get("until") || undefined, range };
  const match = /^(\d+)([mh])$/.exec(range);
  if (!match || extent.last_ns === null) return { since: undefined, until: undefined, range: "all" };
  const until = BigInt(extent.last_ns) + 1n;
  const since = until - BigInt(match[1]) * UNIT_NS[match[2]];
  return { since: String(since), until: String(until), range };
}

/** "#/page/arg?params" keeping the current window unless params override it. */
export function href(page, params = {}, arg) {
  const current = parseHash().params;
  const query = new URLSearchParams();
  for (const key of WINDOW_KEYS) if (current.get(key) && !(key in params)) query.set(key, current.get(key));
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) value.forEach((v) => query.append(key, v)); else query.set(key, value);
  }
  const q = query.toString();
  return `#/${page}${arg ? "/" + encodeURIComponent(arg) : ""}${q ? "?" + q : ""}`;
}

export function go(page, params, arg) {
  location.hash = href(page, params, arg);
}

function windowPicker(ctx) {
  const box = document.getElementById("window-picker");
  const { extent, window: win } = ctx;
  const select = h("select", { "aria-label": "time window", id: "range" },
    RANGES.map(([value, label]) => h("option", { value, selected: value === win.range }, label)));
  const since = h("input", { type: "datetime-local", step: 1, value: win.since ? toLocalInput(win.since) : extent.first_ns ? toLocalInput(extent.first_ns) : "" });
  const until = h("input", { type: "datetime-local", step: 1, value: win.until ? toLocalInput(win.until) : extent.last_ns ? toLocalInput(BigInt(extent.last_ns) + 1_000_000_000n) : "" });
  const custom = h("span", { style: { display: win.range === "custom" ? "inline-flex" : "none", gap: "6px" } }, since, "→", until,
    h("button", { class: "btn small", onclick: () => apply("custom") }, "Apply"));
  function apply(range) {
    const params = Object.fromEntries(ctx.params);
    for (const key of WINDOW_KEYS) delete params[key];
    if (range === "custom") Object.assign(params, { range, since: fromLocalInput(since.value), until: fromLocalInput(until.value) });
    else if (range !== "all") params.range = range;
    location.hash = `#/${ctx.page}${ctx.arg ? "/" + encodeURIComponent(ctx.arg) : ""}?${new URLSearchParams(params)}`;
  }
  select.addEventListener("change", () => {
    if (select.value === "custom") custom.style.display = "inline-flex"; else apply(select.value);
  });
  const span = extent.first_ns === null ? "no data yet"
    : `data ${fmtTime(extent.first_ns, { millis: false })} → ${fmtTime(extent.last_ns, { date: false, millis: false })}`;
  box.replaceChildren(h("span", { class: "extent", title: "span time of the oldest and newest span in the store" }, span), select, custom);
}

async function route() {
  const token = ++renderToken;
  const { page, arg, params } = parseHash();
  const root = document.getElementById("page");
  root.dataset.ready = "false";
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === (page === "trace" ? "traces" : page));
  const load = PAGES[page];
  if (!load) {
    root.replaceChildren(errorBox(`no page ${page}`));
    return;
  }
  let extent;
  try {
    extent = await api("/api/extent");
    setServiceNames(extent.service_names || []);
  } catch (error) {
    root.replaceChildren(errorBox(error));
    return;
  }
  const ctx = { page, arg, params, extent, window: resolveWindow(params, extent), isCurrent: () => token === renderToken };
  windowPicker(ctx);
  root.dataset.page = page;
  try {
    const module = await load();
    const container = h("div", { class: "page" });
    root.replaceChildren(container);
    await module.render(container, ctx);
  } catch (error) {
    console.error(error);
    if (token === renderToken) root.replaceChildren(errorBox(error));
  }
  if (token === renderToken) root.dataset.ready = "true";
}

function initTheme() {
  const button = document.getElementById("theme-toggle");
  const order = ["auto", "light", "dark"];
  const apply = (theme) => {
    if (theme === "auto") delete document.documentElement.dataset.theme;
    else document.documentElement.dataset.theme = theme;
    button.textContent = { auto: "◐", light: "☀", dark: "☾" }[theme];
    button.title = `Theme: ${theme} (click to change)`;
  };
  let theme = localStorage.getItem("glimpse-theme") || "auto";
  apply(theme);
  button.addEventListener("click", () => {
    theme = order[(order.indexOf(theme) + 1) % order.length];
    localStorage.setItem("glimpse-theme", theme);
    apply(theme);
    window.dispatchEvent(new CustomEvent("glimpse-theme"));
  });
}

initTheme();
window.addEventListener("hashchange", route);
route();
