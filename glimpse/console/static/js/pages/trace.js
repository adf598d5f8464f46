// One trace: a waterfall with the critical path, self time, span details (with the span's log
// records) and skew adjustments. `?span=ID` highlights a span and opens its details.
import { href } from "../router.js";
import { api, ApiError, fmtNs, fmtPct, fmtTime, h, notice, serviceChip, serviceColor, severityBadge, stat } from "../components/util.js";

export async function render(root, ctx) {
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
      stat(fmtTime(t0), "start"),
      stat(trace.log_count ? h("a", { href: href("logs", { trace_id: trace.trace_id, range: "all", since: "", until: "" }), id: "trace-logs-link" }, String(trace.log_count)) : "0", "log records")),
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
      (span.logs || []).filter((record) => record.offset_ns !== null && record.offset_ns !== undefined).map((record) => h("span", {
        class: `log-mark sev-${record.severity}`, style: { left: `${Math.min(Math.max(pct(record.offset_ns), 0), 100)}%` }, title: `${record.severity} +${fmtNs(record.offset_ns)}: ${record.message}` })),
      (sections.get(span.span_id) || []).map((section) => h("div", { class: "cp-seg", dataset: { spanId: span.span_id, offsetNs: String(section.offset_ns), durationNs: String(section.duration_ns) },
        style: { left: `${pct(section.offset_ns)}%`, width: `${Math.max((section.duration_ns / total) * 100, 0.1)}%` }, title: `critical path ${fmtNs(section.duration_ns)}` })),
      h("span", { class: `wf-label ${where}`, style: where === "right" ? { left: `${left + width + 0.5}%` } : where === "left" ? { right: `${100 - left + 0.5}%` } : { left: `${left + 0.6}%` } },
        fmtNs(span.duration_ns), span.self_ns !== span.duration_ns ? ` · self ${fmtNs(span.self_ns)}` : ""));
    const row = h("div", { class: `wf-row${span.critical ? " critical" : ""}${highlight.has(span.span_id) ? " open" : ""}`, dataset: { spanId: span.span_id, critical: String(span.critical) } },
      h("div", { class: "wf-name", style: { paddingLeft: `${8 + span.depth * 14}px` } }, toggle,
        h("span", { class: "dot", style: { background: color } }),
        span.error ? h("span", { class: "err-icon", title: "error status" }, "!") : "",
        h("span", { class: "svc" }, span.service), h("span", { class: "op" }, span.operation),
        span.skew_shift_ns ? h("span", { class: "skew", title: `clock skew adjusted: shifted by ${fmtNs(span.skew_shift_ns)}` }, `~${fmtNs(span.skew_shift_ns)}`) : "",
        logCount(span.logs || [])),
      lane);
    let detail = null;
    const open = () => {
      detail = spanDetail(span, trace, byId);
      row.classList.add("open");
      row.after(detail);
    };
    row.addEventListener("click", (event) => {
      if (event.target === toggle && kids.length) {
        if (collapsed.has(span.span_id)) collapsed.delete(span.span_id); else collapsed.add(span.span_id);
        toggle.textContent = collapsed.has(span.span_id) ? "▸" : "▾";
        applyVisibility();
        return;
      }
      if (detail) { detail.remove(); detail = null; row.classList.remove("open"); return; }
      open();
    });
    rows.set(span.span_id, { row, span, open, close: () => { if (detail) { detail.remove(); detail = null; } } });
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
  if (first && rows.has(first)) {
    rows.get(first).open();
    rows.get(first).row.scrollIntoView({ block: "center" });
  }
  if (trace.unattached_logs && trace.unattached_logs.length) {
    root.append(h("div", { class: "card", id: "unattached-logs" }, h("h2", {}, `Log records of this trace without a span in it (${trace.unattached_logs.length})`),
      trace.unattached_logs.map((record) => logEntry(record, trace, true))));
  }

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
  const logs = span.logs || [];
  const box = h("div", { class: "wf-detail", onclick: (event) => event.stopPropagation() },
    h("div", { class: "grid2" },
      h("div", {}, h("h3", {}, "Span"), kvList(overview), h("h3", {}, "Attributes"), kvList(span.attributes)),
      h("div", {}, h("h3", {}, `Events (${events.length})`), events.length ? events : h("div", { class: "muted" }, "none"),
        h("h3", {}, `Links (${links.length})`), links.length ? links : h("div", { class: "muted" }, "none"),
        h("h3", {}, "Resource"), kvList(span.resource))),
    h("div", { class: "span-logs" }, h("h3", {}, `Logs (${logs.length})`),
      logs.length ? logs.map((record) => logEntry(record, trace, false)) : h("div", { class: "muted" }, "none")));
  return box;
}

/** A span's log records in its row: how many, red when one is an error. */
function logCount(logs) {
  if (!logs.length) return "";
  const bad = logs.some((record) => record.severity === "ERROR" || record.severity === "FATAL");
  return h("span", { class: `log-count${bad ? " bad" : ""}`, title: `${logs.length} log record${logs.length > 1 ? "s" : ""}` }, `${logs.length} log${logs.length > 1 ? "s" : ""}`);
}

/** One log record: when (from the trace's start), level, message, its template (a link to the
 * window's records of that template) and attributes. */
function logEntry(record, trace, withSpan) {
  const window = trace.logs_window;
  const template = record.template_id && window
    ? h("a", { class: "mono template-link", title: `records of this template around the trace: ${record.template}`,
      href: href("logs", { template: record.template_id, range: "custom", since: String(window.since_ns), until: String(window.until_ns) }) },
    `template ${record.template_id}`)
    : "";
  const attributes = Object.keys(record.attributes || {}).length ? kvList(record.attributes) : "";
  return h("div", { class: "log-entry", dataset: { templateId: record.template_id || "" } },
    h("span", { class: "muted num" }, record.offset_ns === null || record.offset_ns === undefined ? "–" : `+${fmtNs(record.offset_ns)}`),
    severityBadge(record.severity, `${record.severity_text || "no text"} (${record.severity_number})`),
    h("span", { class: "log-body" }, record.message),
    h("div", { class: "log-meta muted small" }, template, withSpan ? `  ${record.service}${record.span_id ? ` · span ${record.span_id}` : ""}` : "",
      record.event_name ? `  event ${record.event_name}` : ""),
    attributes);
}

