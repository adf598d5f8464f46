// Traces: search by service, operation, attributes, duration, status and time; the results
// as a scatter of duration over time and a sortable list.
import { go, href } from "../router.js";
import { api, errorBox, fmtNs, fmtTime, h, notice, s, serviceChip, serviceColor } from "../components/util.js";

const SEARCH_KEYS = ["service", "operation", "attr", "min_duration", "max_duration", "status", "limit"];

/** "k=v k2=\"a b\"" -> ["k=v", "k2=a b"] (logfmt, as Jaeger's tag box). */
export function parseAttributes(text) {
  const out = [];
  const re = /([^\s=]+)=(?:"((?:[^"\\]|\\.)*)"|(\S*))/g;
  let match;
  while ((match = re.exec(text))) out.push(`${match[1]}=${match[2] !== undefined ? match[2].replace(/\\(.)/g, "$1") : match[3]}`);
  return out;
}

function formatAttributes(pairs) {
  return pairs.map((pair) => {
    const [key, ...rest] = pair.split("=");
    const value = rest.join("=");
    return /\s/.test(value) ? `${key}="${value.replace(/"/g, '\\"')}"` : `${key}=${value}`;
  }).join(" ");
}

export async function render(root, ctx) {
  const p = ctx.params;
  const services = (await api("/api/services", { since: ctx.window.since, until: ctx.window.until })).services.map((x) => x.service);
  const service = h("select", { name: "service", id: "search-service" }, h("option", { value: "" }, "All services"),
    services.map((name) => h("option", { value: name, selected: name === p.get("service") }, name)));
  const operation = h("select", { name: "operation", id: "search-operation" }, h("option", { value: "" }, "All operations"));
  async function loadOperations() {
    operation.replaceChildren(h("option", { value: "" }, "All operations"));
    if (!service.value) return;
    const detail = await api("/api/services", { since: ctx.window.since, until: ctx.window.until, service: service.value });
    const names = [...new Set(detail.operations.map((o) => o.operation))].sort();
    operation.append(...names.map((name) => h("option", { value: name, selected: name === p.get("operation") }, name)));
  }
  service.addEventListener("change", loadOperations);
  await loadOperations();
  const attrs = h("input", { name: "attr", placeholder: 'http.route=/checkout error.type="Timeout"', value: formatAttributes(p.getAll("attr")) });
  const minDuration = h("input", { name: "min_duration", placeholder: "e.g. 100ms", value: p.get("min_duration") || "" });
  const maxDuration = h("input", { name: "max_duration", placeholder: "e.g. 2s", value: p.get("max_duration") || "" });
  const status = h("select", { name: "status" }, [["", "Any status"], ["error", "With errors"], ["ok", "Without errors"]]
    .map(([value, label]) => h("option", { value, selected: value === (p.get("status") || "") }, label)));
  const limit = h("select", { name: "limit" }, ["20", "50", "100", "500"].map((n) => h("option", { value: n, selected: n === (p.get("limit") || "50") }, `${n} traces`)));
  const traceId = h("input", { placeholder: "Trace ID", "aria-label": "trace id", class: "mono" });
  const form = h("form", { class: "search-form", id: "trace-search" },
    h("label", { class: "field" }, "Service", service), h("label", { class: "field" }, "Operation", operation),
    h("label", { class: "field", style: { gridColumn: "span 2" } }, "Attributes (span or resource, key=value …)", attrs),
    h("label", { class: "field" }, "Min duration", minDuration), h("label", { class: "field" }, "Max duration", maxDuration),
    h("label", { class: "field" }, "Status", status), h("label", { class: "field" }, "Limit", limit),
    h("button", { class: "btn primary", type: "submit" }, "Find traces"));
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const params = {};
    for (const key of ["range", "since", "until"]) if (p.get(key)) params[key] = p.get(key);
    Object.assign(params, { service: service.value, operation: operation.value, attr: parseAttributes(attrs.value),
      min_duration: minDuration.value.trim(), max_duration: maxDuration.value.trim(), status: status.value, limit: limit.value });
    location.hash = href("traces", params);
  });
  const lookup = h("form", { style: { display: "flex", gap: "6px" } }, traceId, h("button", { class: "btn", type: "submit" }, "Open"));
  lookup.addEventListener("submit", (event) => { event.preventDefault(); if (traceId.value.trim()) go("trace", {}, traceId.value.trim().toLowerCase()); });
  root.append(h("div", { class: "page-head" }, h("h1", {}, "Traces"), h("span", { class: "sub" },
    "a trace matches when one span has the service, operation and attributes; duration and status are the whole trace's"),
    h("div", { class: "spacer" }), lookup), h("div", { class: "card" }, form));

  const query = { since: ctx.window.since, until: ctx.window.until, limit: p.get("limit") || "50" };
  for (const key of SEARCH_KEYS) if (key !== "limit" && p.getAll(key).length) query[key] = key === "attr" ? p.getAll(key) : p.get(key);
  const results = h("div", { id: "trace-results" }, h("p", { class: "muted" }, "Searching…"));
  root.append(results);
  let found;
  try {
    found = await api("/api/traces", query);
  } catch (error) {
    results.replaceChildren(errorBox(error));
    return;
  }
  if (!found.traces.length) {
    results.replaceChildren(h("div", { class: "card" }, notice("No trace matches", "Widen the time window or remove a filter.")));
    return;
  }
  const SORTS = { newest: (a, b) => b.start_ns - a.start_ns, longest: (a, b) => b.duration_ns - a.duration_ns,
    shortest: (a, b) => a.duration_ns - b.duration_ns, spans: (a, b) => b.span_count - a.span_count, errors: (a, b) => b.error_count - a.error_count };
  const sort = h("select", { "aria-label": "sort traces", id: "trace-sort" }, [["newest", "Most recent"], ["longest", "Longest first"],
    ["shortest", "Shortest first"], ["spans", "Most spans"], ["errors", "Most errors"]].map(([value, label]) => h("option", { value }, label)));
  const list = h("div", { class: "card flush" }, traceList(found.traces));
  sort.addEventListener("change", () => list.replaceChildren(traceList([...found.traces].sort(SORTS[sort.value]))));
  results.replaceChildren(
    h("div", { class: "card" }, h("div", { class: "chart-title" }, `${found.traces.length}${found.truncated ? "+" : ""} traces · duration over time (red: with errors) · click a dot to open it`), scatter(found.traces)),
    h("div", { class: "toolbar" }, sort), list,
    found.truncated ? h("p", { class: "muted" }, `Showing the newest ${found.traces.length}; raise the limit or narrow the search for more.`) : "");
}

function scatter(traces) {
  const width = 1300, height = 200, padL = 56, padB = 22, padT = 10;
  const t0 = Math.min(...traces.map((t) => t.start_ns)), t1 = Math.max(...traces.map((t) => t.start_ns));
  const maxDur = Math.max(...traces.map((t) => t.duration_ns), 1);
  const x = (ns) => padL + (t1 > t0 ? (ns - t0) / (t1 - t0) : 0.5) * (width - padL - 10);
  const y = (d) => height - padB - (d / maxDur) * (height - padB - padT);
  const ticks = [0, 0.5, 1].map((f) => s("text", { x: padL - 6, y: y(f * maxDur) + 4, "text-anchor": "end", "font-size": 11, fill: "currentColor", opacity: 0.6 }, fmtNs(f * maxDur)));
  const xt = [0, 0.5, 1].map((f) => s("text", { x: padL + f * (width - padL - 10), y: height - 4, "text-anchor": f === 0 ? "start" : f === 1 ? "end" : "middle", "font-size": 11, fill: "currentColor", opacity: 0.6 },
    fmtTime(t0 + f * (t1 - t0), { date: false, millis: false })));
  const dots = traces.map((t) => s("circle", { cx: x(t.start_ns), cy: y(t.duration_ns), r: 3 + Math.min(6, Math.sqrt(t.span_count) / 2),
    fill: t.error_count ? "#e5484d" : serviceColor(t.root_service), onclick: () => go("trace", {}, t.trace_id) },
  s("title", {}, `${t.root_service}: ${t.root_operation}\n${fmtNs(t.duration_ns)} · ${t.span_count} spans`)));
  return s("svg", { class: "scatter", viewBox: `0 0 ${width} ${height}`, preserveAspectRatio: "xMinYMin meet" },
    s("line", { x1: padL, x2: width - 10, y1: height - padB, y2: height - padB, stroke: "currentColor", opacity: 0.2 }), ticks, xt, dots);
}

function traceList(traces) {
  const maxDur = Math.max(...traces.map((t) => t.duration_ns), 1);
  const rows = traces.map((t) => h("tr", { class: "trace-row clickable", dataset: { traceId: t.trace_id }, onclick: () => go("trace", {}, t.trace_id) },
    h("td", {}, h("div", { class: "name" }, h("a", { href: href("trace", {}, t.trace_id) }, `${t.root_service}: ${t.root_operation}`)),
      h("div", { class: "id" }, t.trace_id)),
    h("td", {}, t.services.map((name) => serviceChip(name))),
    h("td", { class: "num" }, `${t.span_count} spans`, t.error_count ? h("div", { class: "bad" }, `${t.error_count} errors`) : ""),
    h("td", { style: { width: "22%" } }, h("div", { class: "num" }, fmtNs(t.duration_ns)),
      h("div", { class: "dur-bar", style: { width: `${(t.duration_ns / maxDur) * 100}%`, background: t.error_count ? "#e5484d" : "" } })),
    h("td", { class: "num muted" }, fmtTime(t.start_ns))));
  return h("table", { class: "data" }, h("thead", {}, h("tr", {}, h("th", {}, "Trace"), h("th", {}, "Services"), h("th", { class: "num" }, "Spans"),
    h("th", { class: "num" }, "Duration"), h("th", { class: "num" }, "Start"))), h("tbody", {}, rows));
}
