// Traces: search (service, operation, attributes, duration, status, time) and the trace
// view: a waterfall with the critical path, self time, span details and skew adjustments.
import { go, href } from "./app.js";
import {
  api, ApiError, errorBox, fmtNs, fmtPct, fmtTime, h, notice, s, serviceChip, serviceColor, stat,
} from "./util.js";

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

// ---- one trace ------------------------------------------------------------------------

export async function renderTrace(root, ctx) {
  const traceId = ctx.arg;
  const adjust = ctx.params.get("adjust_skew") === "1";
  let trace;
  try {
    trace = await api(`/api/traces/${encodeURIComponent(traceId)}`, { adjust_skew: adjust ? "1" : "" });
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      root.append(h("div", { class: "card" }, notice("Trace not found", `No spans of trace ${traceId} are in the store.`)));
      return;
    }
    throw error;
  }
  const spans = trace.spans;
  const byId = new Map(spans.map((span) => [span.span_id, span]));
  const root0 = spans.find((span) => span.depth === 0) || spans[0];
  const t0 = trace.start_ns, total = Math.max(trace.end_ns - trace.start_ns, 1);
  const criticalNs = trace.critical_path.reduce((sum, section) => sum + section.duration_ns, 0);
  const highlight = new Set(ctx.params.getAll("span"));

  const skewToggle = h("input", { type: "checkbox", checked: adjust, id: "adjust-skew" });
  skewToggle.addEventListener("change", () => {
    const params = Object.fromEntries(ctx.params);
    if (skewToggle.checked) params.adjust_skew = "1"; else delete params.adjust_skew;
    location.hash = href("trace", params, traceId);
  });
  const cpOnly = h("input", { type: "checkbox" });
  root.append(
    h("div", { class: "page-head" }, h("h1", {}, `${root0.service}: ${root0.operation}`), h("span", { class: "mono muted" }, trace.trace_id),
      h("div", { class: "spacer" }), h("a", { href: href("traces", {}) }, "← search")),
    h("div", { class: "card" }, h("div", { class: "stats" },
      stat(fmtNs(total), "duration"), stat(String(spans.length), "spans"), stat(String(Object.keys(trace.services).length), "services"),
      stat(String(Math.max(...spans.map((x) => x.depth)) + 1), "depth"),
      stat(h("span", { class: trace.error_count ? "bad" : "" }, String(trace.error_count)), "errors"),
      stat(`${fmtNs(criticalNs)} (${fmtPct(criticalNs / total)})`, "critical path"),
      stat(fmtTime(t0), "start")),
    h("div", { style: { marginTop: "10px", display: "flex", gap: "16px", flexWrap: "wrap", alignItems: "center" } },
      Object.entries(trace.services).map(([name, count]) => serviceChip(name, h("span", { class: "muted" }, String(count)))),
      h("div", { class: "spacer" }),
      h("label", { class: "check" }, cpOnly, "critical path only"),
      h("label", { class: "check", title: "Shift server spans that lie outside their client span (Jaeger's adjuster)" }, skewToggle,
        "adjust clock skew", trace.skew_detected ? h("span", { class: "badge accent" }, `${trace.skew_detected} span${trace.skew_detected > 1 ? "s" : ""} ${adjust ? "shifted" : "skewed"}`) : ""),
      trace.provisional_roots.length ? h("span", { class: "badge", title: "spans whose parent is missing from the trace" }, `${trace.provisional_roots.length} orphaned`) : "")),
  );

  // waterfall
  const pct = (offset) => (offset / total) * 100;
  const sections = new Map();
  for (const section of trace.critical_path) {
    if (!sections.has(section.span_id)) sections.set(section.span_id, []);
    sections.get(section.span_id).push(section);
  }
  const ticks = [0, 0.25, 0.5, 0.75, 1];
  const head = h("div", { class: "wf-head" }, h("div", { class: "wf-name muted" }, "Service: operation"),
    h("div", { class: "ticks" }, ticks.map((f) => h("span", { class: "tick", style: { left: `${f * 100}%`, transform: f === 1 ? "translateX(-100%)" : f === 0 ? "none" : "" } }, fmtNs(f * total))),
      ticks.slice(1, -1).map((f) => h("span", { class: "gridline", style: { left: `${f * 100}%` } }))));
  const children = new Map();
  for (const span of spans) {
    if (!children.has(span.parent_span_id)) children.set(span.parent_span_id, []);
    children.get(span.parent_span_id).push(span.span_id);
  }
  const collapsed = new Set();
  const rows = new Map();
  const body = h("div", {});
  for (const span of spans) {
    const kids = children.get(span.span_id) || [];
    const toggle = h("span", { class: "toggle" }, kids.length ? "▾" : "");
    const color = serviceColor(span.service);
    const left = pct(span.offset_ns), width = Math.max((span.duration_ns / total) * 100, 0.15);
    // the duration label: right of the bar, else left of it, else inside it
    const where = left + width <= 75 ? "right" : left >= 22 ? "left" : "inside";
    const lane = h("div", { class: "wf-lane" },
      ticks.slice(1, -1).map((f) => h("span", { class: "gridline", style: { left: `${f * 100}%` } })),
      h("div", { class: `wf-bar${span.error ? " error" : ""}`, style: { left: `${left}%`, width: `${width}%`, background: color }, title: `${fmtNs(span.duration_ns)}` }),
      (sections.get(span.span_id) || []).map((section) => h("div", { class: "cp-seg", dataset: { spanId: span.span_id, offsetNs: String(section.offset_ns), durationNs: String(section.duration_ns) },
        style: { left: `${pct(section.offset_ns)}%`, width: `${Math.max((section.duration_ns / total) * 100, 0.1)}%` }, title: `critical path ${fmtNs(section.duration_ns)}` })),
      h("span", { class: `wf-label ${where}`, style: where === "right" ? { left: `${left + width + 0.5}%` } : where === "left" ? { right: `${100 - left + 0.5}%` } : { left: `${left + 0.6}%` } },
        fmtNs(span.duration_ns), span.self_ns !== span.duration_ns ? ` · self ${fmtNs(span.self_ns)}` : ""));
    const row = h("div", { class: `wf-row${span.critical ? " critical" : ""}${highlight.has(span.span_id) ? " open" : ""}`, dataset: { spanId: span.span_id, critical: String(span.critical) } },
      h("div", { class: "wf-name", style: { paddingLeft: `${8 + span.depth * 14}px` } }, toggle,
        h("span", { class: "dot", style: { background: color } }),
        span.error ? h("span", { class: "err-icon", title: "error status" }, "!") : "",
        h("span", { class: "svc" }, span.service), h("span", { class: "op" }, span.operation),
        span.skew_shift_ns ? h("span", { class: "skew", title: `clock skew adjusted: shifted by ${fmtNs(span.skew_shift_ns)}` }, `~${fmtNs(span.skew_shift_ns)}`) : ""),
      lane);
    let detail = null;
    row.addEventListener("click", (event) => {
      if (event.target === toggle && kids.length) {
        if (collapsed.has(span.span_id)) collapsed.delete(span.span_id); else collapsed.add(span.span_id);
        toggle.textContent = collapsed.has(span.span_id) ? "▸" : "▾";
        applyVisibility();
        return;
      }
      if (detail) { detail.remove(); detail = null; row.classList.remove("open"); return; }
      detail = spanDetail(span, trace, byId);
      row.classList.add("open");
      row.after(detail);
    });
    rows.set(span.span_id, { row, span, close: () => { if (detail) { detail.remove(); detail = null; } } });
    body.append(row);
  }
  function applyVisibility() {
    for (const { row, span, close } of rows.values()) {
      let hidden = cpOnly.checked && !span.critical;
      for (let parent = byId.get(span.parent_span_id); parent && !hidden; parent = byId.get(parent.parent_span_id)) hidden = collapsed.has(parent.span_id);
      row.style.display = hidden ? "none" : "";
      if (hidden) close();
    }
  }
  cpOnly.addEventListener("change", applyVisibility);
  root.append(h("div", { class: "card flush waterfall", id: "waterfall" }, head, body));
  const first = [...highlight][0];
  if (first && rows.has(first)) rows.get(first).row.scrollIntoView({ block: "center" });

  // where the critical path's time goes, per operation
  const perOp = new Map();
  for (const section of trace.critical_path) {
    const key = `${section.service}\u0000${section.operation}`;
    const entry = perOp.get(key) || { service: section.service, operation: section.operation, ns: 0, spans: new Set() };
    entry.ns += section.duration_ns;
    entry.spans.add(section.span_id);
    perOp.set(key, entry);
  }
  const ops = [...perOp.values()].sort((a, b) => b.ns - a.ns);
  root.append(h("div", { class: "card" }, h("h2", {}, "Where the critical path's time goes"),
    h("p", { class: "muted" }, `${trace.critical_path.length} sections (Jaeger's algorithm; black on the bars above): the work that set the trace's duration. Shortening anything else would not make it faster.`),
    h("table", { class: "data", id: "critical-path" }, h("thead", {}, h("tr", {}, h("th", {}, "Service: operation"), h("th", { class: "num" }, "Spans"),
      h("th", { class: "num" }, "Critical time"), h("th", { class: "num" }, "Share of trace"), h("th", {}, ""))),
    h("tbody", {}, ops.map((op) => h("tr", {}, h("td", {}, serviceChip(op.service), " ", op.operation), h("td", { class: "num" }, String(op.spans.size)),
      h("td", { class: "num" }, fmtNs(op.ns)), h("td", { class: "num" }, fmtPct(op.ns / total)),
      h("td", { style: { width: "30%" } }, h("div", { class: "bar" }, h("span", { style: { width: `${(op.ns / total) * 100}%`, background: serviceColor(op.service) } })))))))));
}

function kvList(object) {
  const entries = Object.entries(object || {});
  if (!entries.length) return h("div", { class: "muted" }, "none");
  return h("div", { class: "kv" }, entries.sort(([a], [b]) => a.localeCompare(b)).flatMap(([key, value]) => [
    h("div", { class: "k" }, key), h("div", { class: "v" }, typeof value === "string" ? value : JSON.stringify(value))]));
}

function spanDetail(span, trace, byId) {
  const parent = byId.get(span.parent_span_id);
  const overview = {
    "span id": span.span_id, "parent": span.parent_span_id ? `${span.parent_span_id}${parent ? ` (${parent.service}: ${parent.operation})` : " (missing)"}` : "root",
    kind: span.kind, "start": `+${fmtNs(span.offset_ns)} (${fmtTime(span.start_ns)})`, duration: fmtNs(span.duration_ns),
    "self time": fmtNs(span.self_ns), "on critical path": span.critical_ns ? fmtNs(span.critical_ns) : "no",
    status: `${span.status_code || (span.error ? "Error" : "Unset")}${span.status_message ? `: ${span.status_message}` : ""}`,
  };
  if (span.skew_shift_ns) overview["clock skew"] = `shifted by ${fmtNs(span.skew_shift_ns)} into its client span`;
  if (span.scope && span.scope.name) overview.scope = `${span.scope.name} ${span.scope.version || ""}`;
  if (span.trace_state) overview["trace state"] = span.trace_state;
  const events = (span.events || []).map((event) => h("div", { class: "event" },
    h("strong", {}, event.name), h("span", { class: "muted" }, `  +${fmtNs(event.time_ns - span.start_ns)} into the span`), kvList(event.attributes)));
  const links = (span.links || []).map((link) => h("div", { class: "event" },
    h("a", { href: href("trace", { span: link.span_id }, link.trace_id), class: "mono" }, `${link.trace_id} / ${link.span_id}`), kvList(link.attributes)));
  const box = h("div", { class: "wf-detail", onclick: (event) => event.stopPropagation() },
    h("div", { class: "grid2" },
      h("div", {}, h("h3", {}, "Span"), kvList(overview), h("h3", {}, "Attributes"), kvList(span.attributes)),
      h("div", {}, h("h3", {}, `Events (${events.length})`), events.length ? events : h("div", { class: "muted" }, "none"),
        h("h3", {}, `Links (${links.length})`), links.length ? links : h("div", { class: "muted" }, "none"),
        h("h3", {}, "Resource"), kvList(span.resource))));
  return box;
}

