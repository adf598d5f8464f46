// The router: hash routes (#/page/arg?params), the pages they name, links between them and the
// span-time window they carry. Free of side effects and of DOM work: it reads `location` only
// when called, and imports nothing, so every module may import it without a cycle.

/**
 * Page name -> the module under pages/ that renders it (its `render(container, ctx)`) and the
 * nav link it lights. The modules are named, not imported: main.js loads them on demand.
 */
export const ROUTES = Object.freeze({
  services: { module: "services", nav: "services" },
  map: { module: "map", nav: "map" },
  traces: { module: "traces", nav: "traces" },
  trace: { module: "trace", nav: "traces" },
  logs: { module: "logs", nav: "logs" },
  bottlenecks: { module: "bottlenecks", nav: "bottlenecks" },
  anomalies: { module: "anomalies", nav: "anomalies" },
  rca: { module: "rca", nav: "rca" },
  alerts: { module: "alerts", nav: "alerts" },
  sql: { module: "sql", nav: "sql" },
});

/** The route of a page name, or undefined; `url` is its module's, for import(). */
export function routeOf(page) {
  if (!Object.hasOwn(ROUTES, page)) return undefined;
  const route = ROUTES[page];
  return { ...route, url: new URL(`./pages/${route.module}.js`, import.meta.url).href };
}

/** The query parameters that hold the time window (kept across links). */
export const WINDOW_KEYS = ["range", "since", "until"];

const UNIT_NS = { m: 60n * 1_000_000_000n, h: 3600n * 1_000_000_000n };

/** The current location's {page, arg, params}; the services page when the hash is empty. */
export function parseHash(hash = location.hash) {
  const text = hash.replace(/^#\/?/, "");
  const [path, query = ""] = text.split("?");
  const [page, ...rest] = path.split("/");
  return { page: page || "services", arg: rest.map(decodeURIComponent).join("/"), params: new URLSearchParams(query) };
}

/** The current window as API parameters {since, until} (unix ns strings or undefined). Without
 * one in the address, the server's suggestion: all data, or a recent window on a large store. */
export function resolveWindow(params, extent) {
  const range = params.get("range") || (params.get("since") || params.get("until") ? "custom" : extent.default_range || "all");
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

/** Navigate to href(page, params, arg). */
export function go(page, params, arg) {
  location.hash = href(page, params, arg);
}
